"""Bad inputs to every writable file and every name-taking operation.

Each input is refused with one errno and changes nothing on Neon (no POST, PATCH, PUT or
DELETE reaches the API), or is accepted as DESIGN.md documents it. One mount serves the
whole module: a refused input leaves nothing behind, and an accepted one is undone by its
test.
"""
import errno
import json
import os
import threading
import types

import pytest

from mountlib import SANITIZER, Mount, reset_project, sql

ATT_MAX = 65536
MUTATING = ("POST", "PATCH", "PUT", "DELETE")


@pytest.fixture(scope="module")
def m(neon_stack, tmp_path_factory):
    neon_stack.reset()
    reset_project(neon_stack)
    d = tmp_path_factory.mktemp("badinput")
    path = str(d / "mnt")
    os.mkdir(path)
    fs = Mount(neon_stack, path, str(d / "neonfs.log"),
               ["cache_ttl=30", "api_timeout=5", "poll_min=600", "poll_max=600",
                "attachment_max=%d" % ATT_MAX])
    ok = False
    try:
        os.mkdir(fs.p("snapshots", "a"))
        os.mkdir(fs.p("snapshots", "b"))
        os.mkdir(fs.p("branches", "br"))
        ns = types.SimpleNamespace(
            fs=fs, stack=neon_stack,
            ids={"a": fs.read("snapshots", "a", "id").strip(),
                 "b": fs.read("snapshots", "b", "id").strip(),
                 "br": fs.read("branches", "br", "id").strip(),
                 "main": fs.read("active", "id").strip()})
        yield ns
        ok = True
    finally:
        rc = fs.unmount()
        out = fs.output()
        if ok:
            assert rc == 0, "neonfs exited with %s:\n%s" % (rc, out[-4000:])
            assert not SANITIZER.search(out), out[-8000:]


@pytest.fixture
def clean(m):
    """The module's mount with an empty request log, and the check that a case left the
    tree as it found it."""
    m.stack.wait_idle()
    m.stack.clear_requests()
    yield m
    assert sorted(os.listdir(m.fs.p("snapshots"))) == ["a", "b"]
    assert sorted(os.listdir(m.fs.p("branches"))) == ["br", "main"]


def mutations(m):
    return [(r["method"], r["path"]) for r in m.stack.requests() if r["method"] in MUTATING]


def bpath(m, *parts):
    """A path as bytes, so that names need not be valid UTF-8."""
    return b"/".join([os.fsencode(m.fs.path)] + [os.fsencode(p) for p in parts])


def errno_of(fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return e.errno
    return 0


def name(e):
    return errno.errorcode.get(e, str(e)) if e else "0"


def assert_errno(expected, fn, *args):
    got = errno_of(fn, *args)
    assert got == expected, "expected %s, got %s" % (name(expected), name(got))


def assert_untouched(m):
    assert mutations(m) == []
    assert json.loads(m.fs.read("active", "restore")) == {"state": "idle"}
    assert m.fs.read("active", "id").strip() == m.ids["main"]


# ---- active/restore ----------------------------------------------------------------------

# (id, bytes written in one write after open(O_WRONLY | O_TRUNC), errno, where it comes)
RESTORE_WRITES = [
    ("empty", b"", errno.EINVAL, "close"),
    ("newline", b"\n", errno.EINVAL, "write"),
    ("two-newlines", b"\n\n", errno.EINVAL, "write"),
    ("two-lines", b"a\nb\n", errno.EINVAL, "write"),
    ("two-lines-no-eol", b"a\nb", errno.EINVAL, "write"),
    ("name-blank-line", b"a\n\n", errno.EINVAL, "write"),
    ("crlf-only", b"\r\n", errno.EINVAL, "write"),
    ("cr-inside", b"\ra\n", errno.EINVAL, "write"),
    ("crlf-unknown", b"nosuch\r\n", errno.ENOENT, "write"),
    ("nul-after", b"a\0", errno.EINVAL, "write"),
    ("nul-before", b"\0a", errno.EINVAL, "write"),
    ("nul-inside", b"a\0b\n", errno.EINVAL, "write"),
    ("nul-only", b"\0", errno.EINVAL, "write"),
    ("nul-after-newline", b"a\n\0", errno.EINVAL, "write"),
    ("leading-space", b" a\n", errno.ENOENT, "write"),
    ("trailing-space", b"a \n", errno.ENOENT, "write"),
    ("space-only", b" \n", errno.ENOENT, "write"),
    ("tab", b"\ta\n", errno.EINVAL, "write"),
    ("bell", b"a\x07", errno.EINVAL, "write"),
    ("escape", b"\x1b[31ma", errno.EINVAL, "write"),
    ("del", b"a\x7f", errno.EINVAL, "write"),
    ("c1-control", b"a\xc2\x85", errno.EINVAL, "write"),
    ("invalid-utf8", b"\xff\xfe", errno.EINVAL, "write"),
    ("truncated-utf8", b"a\xc3", errno.EINVAL, "write"),
    ("overlong-utf8", b"\xc0\xaf", errno.EINVAL, "write"),
    ("overlong-3-byte-utf8", b"\xe0\x80\xaf", errno.EINVAL, "write"),
    ("surrogate-utf8", b"\xed\xa0\x80", errno.EINVAL, "write"),
    ("beyond-unicode-utf8", b"\xf4\x90\x80\x80", errno.EINVAL, "write"),
    ("lone-continuation", b"\x85", errno.EINVAL, "write"),
    ("256-bytes", b"x" * 256, errno.ENOENT, "write"),
    ("256-bytes-newline", b"x" * 256 + b"\n", errno.ENOENT, "write"),
    ("257-bytes", b"x" * 257, errno.EINVAL, "write"),
    ("300-bytes-newline", b"x" * 300 + b"\n", errno.EINVAL, "write"),
    ("4KiB", b"x" * 4096, errno.EINVAL, "write"),
    ("4KiB-lines", b"a\n" * 2048, errno.EINVAL, "write"),
    ("1MiB", b"x" * (1 << 20), errno.EINVAL, "write"),
    ("unknown-name", b"nosuch\n", errno.ENOENT, "write"),
    ("unknown-id", b"snap-does-not-exist-000000\n", errno.ENOENT, "write"),
    ("dot", b".\n", errno.ENOENT, "write"),
    ("dotdot", b"..\n", errno.ENOENT, "write"),
    ("slash", b"/\n", errno.ENOENT, "write"),
    ("path", b"snapshots/a\n", errno.ENOENT, "write"),
    ("relative-path", b"../snapshots/a\n", errno.ENOENT, "write"),
    ("trailing-slash", b"a/\n", errno.ENOENT, "write"),
    ("json", b'{"snapshot": "a"}\n', errno.ENOENT, "write"),
    ("bom", b"\xef\xbb\xbfa\n", errno.ENOENT, "write"),
    ("upper-case", b"A\n", errno.ENOENT, "write"),
]


@pytest.mark.parametrize("data,err,where", [c[1:] for c in RESTORE_WRITES],
                         ids=[c[0] for c in RESTORE_WRITES])
def test_restore_write(clean, data, err, where):
    fd = os.open(clean.fs.p("active", "restore"), os.O_WRONLY | os.O_TRUNC)
    got = []
    try:
        os.write(fd, data)
    except OSError as e:
        got.append(("write", name(e.errno)))
    try:
        os.close(fd)
    except OSError as e:
        got.append(("close", name(e.errno)))
    assert got == [(where, name(err))]
    assert_untouched(clean)


def test_restore_branch_id_is_not_a_snapshot(clean):
    fd = os.open(clean.fs.p("active", "restore"), os.O_WRONLY | os.O_TRUNC)
    try:
        assert_errno(errno.ENOENT, os.write, fd, clean.ids["br"].encode() + b"\n")
    finally:
        os.close(fd)
    assert_untouched(clean)


@pytest.mark.parametrize("off", [1, 5, 4096, 1 << 40])
def test_restore_write_at_an_offset(clean, off):
    """A write past the start is the rest of a name written before: never a whole name."""
    fd = os.open(clean.fs.p("active", "restore"), os.O_WRONLY | os.O_TRUNC)
    try:
        assert_errno(errno.EINVAL, os.pwrite, fd, b"a\n", off)
    finally:
        os.close(fd)
    assert_untouched(clean)


def test_restore_o_append(clean):
    """O_APPEND writes at the end of the status text, not at the start."""
    fd = os.open(clean.fs.p("active", "restore"), os.O_WRONLY | os.O_APPEND)
    try:
        assert_errno(errno.EINVAL, os.write, fd, b"a\n")
    finally:
        os.close(fd)
    assert_untouched(clean)


def test_restore_two_writes_in_one_open(clean):
    """One open, one restore: a second write is refused even at offset 0."""
    fd = os.open(clean.fs.p("active", "restore"), os.O_WRONLY | os.O_TRUNC)
    try:
        assert_errno(errno.ENOENT, os.write, fd, b"nosuch\n")
        assert_errno(errno.EINVAL, os.pwrite, fd, b"a\n", 0)
        assert_errno(errno.EINVAL, os.write, fd, b"a\n")
    finally:
        os.close(fd)
    assert_untouched(clean)


def test_restore_open_without_truncate(clean):
    fd = os.open(clean.fs.p("active", "restore"), os.O_RDWR)
    try:
        assert_errno(errno.ENOENT, os.write, fd, b"nosuch\n")
    finally:
        os.close(fd)
    assert_untouched(clean)


def test_restore_exclusive_create_is_eexist(clean):
    assert_errno(errno.EEXIST, os.open, clean.fs.p("active", "restore"),
                 os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    assert_untouched(clean)


@pytest.mark.parametrize("size", [1, 4096, 1 << 40, 1 << 62])
def test_restore_truncate_to_a_size(clean, size):
    """There is nothing to cut or grow: only a truncate to 0 (echo's O_TRUNC) is taken."""
    path = clean.fs.p("active", "restore")
    assert_errno(errno.EINVAL, os.truncate, path, size)
    fd = os.open(path, os.O_WRONLY)
    try:
        assert_errno(errno.EINVAL, os.ftruncate, fd, size)
    finally:
        # Nothing was written through it: the close says so, as for `: > restore`.
        assert_errno(errno.EINVAL, os.close, fd)
    assert_untouched(clean)


def test_restore_truncate_to_zero_is_accepted(clean):
    os.truncate(clean.fs.p("active", "restore"), 0)
    assert_untouched(clean)


def test_restore_negative_truncate(clean):
    assert_errno(errno.EINVAL, os.truncate, clean.fs.p("active", "restore"), -1)
    assert_untouched(clean)


# ---- names: mkdir snapshots/<x>, mkdir branches/<x>, mv snapshots/a <x>, ln -s <x> ----------

def op_mkdir_snapshot(m, n):
    os.mkdir(bpath(m, "snapshots", n))


def op_mkdir_branch(m, n):
    os.mkdir(bpath(m, "branches", n))


def op_mv_snapshot(m, n):
    os.rename(bpath(m, "snapshots", "a"), bpath(m, "snapshots", n))


def op_ln_preview(m, n):
    os.symlink(b"../snapshots/a", bpath(m, "branches", n))


OPS = {"mkdir-snapshot": op_mkdir_snapshot, "mkdir-branch": op_mkdir_branch,
       "mv-snapshot": op_mv_snapshot, "ln-preview": op_ln_preview}

E, N, X = errno.EINVAL, errno.ENAMETOOLONG, errno.EEXIST
# (id, name, errno for each of mkdir-snapshot, mkdir-branch, mv-snapshot, ln-preview).
# FUSE hands neonfs names of up to 1024 bytes; neonfs holds them to statfs's 255
# (ENAMETOOLONG, where Neon would take 256). A path component over PATH_MAX, ".", ".." and a
# taken entry are the kernel's answers; an id of the list is neonfs's EEXIST.
BAD_NAMES = [
    ("256-bytes", b"x" * 256, (N, N, N, N)),
    ("257-bytes", b"x" * 257, (N, N, N, N)),
    ("256-bytes-utf8", "é".encode() * 128, (N, N, N, N)),
    ("1025-bytes", b"x" * 1025, (N, N, N, N)),
    ("4KiB", b"x" * 4096, (N, N, N, N)),
    ("invalid-utf8", b"\xff", (E, E, E, E)),
    ("truncated-utf8", b"a\xc3", (E, E, E, E)),
    ("overlong-utf8", b"\xc0\xaf", (E, E, E, E)),
    ("overlong-3-byte-utf8", b"\xe0\x80\xaf", (E, E, E, E)),
    ("surrogate-utf8", b"\xed\xa0\x80", (E, E, E, E)),
    ("beyond-unicode-utf8", b"\xf4\x90\x80\x80", (E, E, E, E)),
    ("lone-continuation", b"\x80x", (E, E, E, E)),
    ("soh", b"a\x01", (E, E, E, E)),
    ("newline", b"a\nb", (E, E, E, E)),
    ("cr", b"a\rb", (E, E, E, E)),
    ("tab", b"a\tb", (E, E, E, E)),
    ("escape", b"\x1b[31m", (E, E, E, E)),
    ("del", b"\x7f", (E, E, E, E)),
    ("c1-control", b"a\xc2\x85", (E, E, E, E)),
    ("dot", b".", (X, X, errno.EBUSY, X)),
    ("dotdot", b"..", (X, X, errno.EBUSY, X)),
    ("taken-entry", "@taken", (X, X, X, X)),
    ("own-list-id", "@id", (X, X, X, X)),
    ("missing-parent", b"no/such", (errno.ENOENT,) * 4),
]


def resolve(m, op, n):
    """@taken: an entry of the op's list; @id: an id of an object of that list."""
    snapshot = op in ("mkdir-snapshot", "mv-snapshot")
    if n == "@taken":
        return b"b" if snapshot else b"br"
    if n == "@id":
        return (m.ids["b"] if snapshot else m.ids["br"]).encode()
    return n


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("n,errs", [c[1:] for c in BAD_NAMES], ids=[c[0] for c in BAD_NAMES])
def test_bad_name(clean, op, n, errs):
    assert_errno(errs[list(OPS).index(op)], OPS[op], clean, resolve(clean, op, n))
    assert_untouched(clean)


def test_own_id_as_a_new_name_is_eexist(clean):
    assert_errno(errno.EEXIST, op_mv_snapshot, clean, clean.ids["a"].encode())
    assert_errno(errno.EEXIST, op_mkdir_branch, clean, clean.ids["main"].encode())
    assert_untouched(clean)


ACCEPTED = [
    ("mkdir-snapshot", "with space"),
    ("mkdir-snapshot", "日本語 🙂"),
    ("mkdir-snapshot", "x" * 255),
    ("mkdir-snapshot", " lead"),
    ("mkdir-branch", "with space"),
    ("mkdir-branch", "ünïcödé"),
    ("mkdir-branch", "a"),            # a snapshot's name is free in branches/
    ("mv-snapshot", "ünïcödé"),
    ("mv-snapshot", "trail "),
    ("mv-snapshot", "A"),
    ("mv-snapshot", "$(rm -rf) 'q\" %s"),
    ("ln-preview", "preview 🙂"),
    ("ln-preview", "y" * 255),
]


def undo(m, op, n):
    if op == "mkdir-snapshot":
        os.rmdir(m.fs.p("snapshots", n))
    elif op == "mkdir-branch":
        os.rmdir(m.fs.p("branches", n))
    elif op == "mv-snapshot":
        os.rename(m.fs.p("snapshots", n), m.fs.p("snapshots", "a"))
    else:
        os.unlink(m.fs.p("branches", n))


@pytest.mark.parametrize("op,n", ACCEPTED, ids=["%s-%d" % (c[0], i) for i, c in enumerate(ACCEPTED)])
def test_accepted_name(clean, op, n):
    OPS[op](clean, n.encode())
    try:
        where = "snapshots" if op.endswith("snapshot") else "branches"
        assert n in os.listdir(clean.fs.p(where))
        if op == "ln-preview":
            assert os.readlink(clean.fs.p("branches", n)) == "../snapshots/a"
        else:
            assert os.path.isdir(clean.fs.p(where, n))
            assert clean.fs.read(where, n, "meta.json")
        if op == "mv-snapshot":
            assert "a" not in os.listdir(clean.fs.p("snapshots"))
    finally:
        undo(clean, op, n)
    clean.stack.wait_idle()


# ---- link targets: ln -s <target> branches/p ---------------------------------------------

BAD_TARGETS = [
    ("etc-passwd", b"/etc/passwd", errno.EINVAL),
    ("snapshots-dir-slash", b"../snapshots/", errno.EINVAL),
    ("snapshots-dir", b"../snapshots", errno.EINVAL),
    ("no-such-snapshot", b"../snapshots/none", errno.ENOENT),
    ("up-two", b"../../x", errno.EINVAL),
    ("nested", b"snapshots/a/b", errno.EINVAL),
    ("below-a-snapshot", b"../snapshots/a/b", errno.EINVAL),
    ("snapshot-dotdot", b"../snapshots/..", errno.EINVAL),
    ("snapshot-dot", b"../snapshots/.", errno.EINVAL),
    ("branch", b"../branches/br", errno.EINVAL),
    ("without-dotdot", b"snapshots/a", errno.EINVAL),
    ("elsewhere-relative", b"foo/snapshots/a", errno.EINVAL),
    ("root", b"/", errno.EINVAL),
    ("dot", b".", errno.EINVAL),
    ("snapshot-id", "@id", errno.ENOENT),
    ("control-char", b"../snapshots/a\x01", errno.ENOENT),
    ("newline", b"../snapshots/a\n", errno.ENOENT),
    ("empty", b"", errno.ENOENT),
    ("4KiB", b"x" * 4096, errno.ENAMETOOLONG),
]


@pytest.mark.parametrize("target,err", [c[1:] for c in BAD_TARGETS],
                         ids=[c[0] for c in BAD_TARGETS])
def test_bad_link_target(clean, target, err):
    if target == "@id":
        target = b"../snapshots/" + clean.ids["a"].encode()
    assert_errno(err, os.symlink, target, bpath(clean, "branches", "p"))
    assert_untouched(clean)


def test_bad_target_and_taken_name_is_the_target_einval(clean):
    """The target is checked first: a name that is a branch's id does not hide it."""
    assert_errno(errno.EINVAL, os.symlink, b"/etc/passwd",
                 bpath(clean, "branches", clean.ids["br"]))
    assert_untouched(clean)


@pytest.mark.parametrize("target", ["../snapshots/b/", "@abs"])
def test_accepted_link_target(clean, target):
    if target == "@abs":
        target = clean.fs.p("snapshots", "b")
    os.symlink(target, clean.fs.p("branches", "p"))
    try:
        assert os.readlink(clean.fs.p("branches", "p")) == "../snapshots/b"
    finally:
        os.unlink(clean.fs.p("branches", "p"))
    clean.stack.wait_idle()


# ---- attachments: files in snapshots/a/ --------------------------------------------------

@pytest.fixture
def att(clean):
    """A fresh attachment path in snapshots/a/; removed afterwards."""
    path = clean.fs.p("snapshots", "a", "att.bin")
    yield path
    if os.path.exists(path):
        os.unlink(path)
    assert mutations(clean) == []


def write_file(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def content(path):
    with open(path, "rb") as f:
        data = f.read()
    assert os.stat(path).st_size == len(data)
    return data


@pytest.mark.parametrize("off", [1, 4095, 4096, 10000, ATT_MAX - 1])
def test_attachment_sparse_write(att, off):
    write_file(att, b"ab")
    fd = os.open(att, os.O_WRONLY)
    try:
        assert os.pwrite(fd, b"z", off) == 1
    finally:
        os.close(fd)
    expect = bytearray(b"ab" + b"\0" * max(0, off + 1 - 2))
    expect[off] = ord("z")
    assert content(att) == bytes(expect)


@pytest.mark.parametrize("off", [ATT_MAX, ATT_MAX + 1, 1 << 40])
def test_attachment_write_beyond_the_limit_is_efbig(att, off):
    write_file(att, b"keep")
    fd = os.open(att, os.O_WRONLY)
    try:
        assert_errno(errno.EFBIG, os.pwrite, fd, b"z", off)
    finally:
        os.close(fd)
    assert content(att) == b"keep"


def test_attachment_o_append(att):
    write_file(att, b"abc")
    write_file(att, b"def", os.O_WRONLY | os.O_APPEND)
    write_file(att, b"ghi", os.O_WRONLY | os.O_APPEND)
    assert content(att) == b"abcdefghi"


def test_attachment_o_append_over_the_limit_is_efbig(att):
    write_file(att, b"x" * ATT_MAX)
    assert_errno(errno.EFBIG, write_file, att, b"y", os.O_WRONLY | os.O_APPEND)
    assert content(att) == b"x" * ATT_MAX


@pytest.mark.parametrize("size", [ATT_MAX + 1, 1 << 40, 1 << 62])
def test_attachment_truncate_over_the_limit_is_efbig(att, size):
    write_file(att, b"keep")
    assert_errno(errno.EFBIG, os.truncate, att, size)
    fd = os.open(att, os.O_WRONLY)
    try:
        assert_errno(errno.EFBIG, os.ftruncate, fd, size)
    finally:
        os.close(fd)
    assert content(att) == b"keep"


@pytest.mark.parametrize("size", [0, 3, ATT_MAX])
def test_attachment_truncate(att, size):
    write_file(att, b"abcdef")
    os.truncate(att, size)
    assert content(att) == (b"abcdef" + b"\0" * size)[:size]


def test_attachment_ftruncate_down_then_write(att):
    write_file(att, b"abcdef")
    fd = os.open(att, os.O_RDWR)
    try:
        os.ftruncate(fd, 2)
        os.pwrite(fd, b"Z", 4)
    finally:
        os.close(fd)
    assert content(att) == b"ab\0\0Z"


def test_attachment_negative_truncate(att):
    write_file(att, b"keep")
    assert_errno(errno.EINVAL, os.truncate, att, -1)
    assert content(att) == b"keep"


def test_attachment_one_write_over_the_limit_is_efbig(att):
    fd = os.open(att, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        assert_errno(errno.EFBIG, os.write, fd, b"x" * (ATT_MAX + 1))
    finally:
        os.close(fd)
    # The create succeeded and nothing was written: an empty file, truthfully shown.
    assert content(att) == b""


def test_attachment_at_the_limit_is_accepted(att):
    write_file(att, b"q" * ATT_MAX)
    assert content(att) == b"q" * ATT_MAX


# The snapshot's own files: a made-through-the-mount snapshot shows id, meta.json and schema,
# so a create opens them for writing (EACCES); O_EXCL finds them (EEXIST). connection_uri is
# not shown without a preview, and its name is still the snapshot's.
OWN_NAMES = [
    ("id", os.O_WRONLY | os.O_CREAT, errno.EACCES),
    ("meta.json", os.O_WRONLY | os.O_CREAT, errno.EACCES),
    ("schema", os.O_WRONLY | os.O_CREAT, errno.EACCES),
    ("connection_uri", os.O_WRONLY | os.O_CREAT, errno.EACCES),
    ("id", os.O_WRONLY | os.O_CREAT | os.O_EXCL, errno.EEXIST),
    ("meta.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, errno.EEXIST),
    ("schema", os.O_WRONLY | os.O_CREAT | os.O_EXCL, errno.EEXIST),
    ("connection_uri", os.O_WRONLY | os.O_CREAT | os.O_EXCL, errno.EACCES),
]


@pytest.mark.parametrize("fname,flags,err", OWN_NAMES,
                         ids=["%s-%s" % (c[0], "excl" if c[1] & os.O_EXCL else "create")
                              for c in OWN_NAMES])
def test_attachment_named_like_a_snapshot_file(clean, fname, flags, err):
    d = clean.fs.p("snapshots", "b")
    before = sorted(os.listdir(d))
    assert_errno(err, os.open, os.path.join(d, fname), flags, 0o644)
    assert sorted(os.listdir(d)) == before == ["expires_at", "id", "meta.json", "schema"]
    assert_untouched(clean)


# Attachment names: any bytes a Linux file name may hold, except what the meta database's
# text cannot (invalid UTF-8) and what the tree cannot (over 255 bytes).
BAD_ATT_NAMES = [
    ("256-bytes", b"x" * 256, errno.ENAMETOOLONG),
    ("1024-bytes", b"x" * 1024, errno.ENAMETOOLONG),
    ("1025-bytes", b"x" * 1025, errno.ENAMETOOLONG),
    ("invalid-utf8", b"\xff", errno.EINVAL),
    ("truncated-utf8", b"a\xc3", errno.EINVAL),
    ("surrogate-utf8", b"\xed\xa0\x80", errno.EINVAL),
]


def att_rows(m, snap):
    return sql(m.stack.meta_url, "SELECT name FROM attachments WHERE snapshot_id = %s",
               (m.ids[snap],))


@pytest.mark.parametrize("n,err", [c[1:] for c in BAD_ATT_NAMES], ids=[c[0] for c in BAD_ATT_NAMES])
def test_bad_attachment_name(clean, n, err):
    d = bpath(clean, "snapshots", "a")
    before = sorted(os.listdir(d))
    rows = att_rows(clean, "a")
    assert_errno(err, os.open, d + b"/" + n, os.O_WRONLY | os.O_CREAT, 0o644)
    assert sorted(os.listdir(d)) == before
    assert att_rows(clean, "a") == rows
    assert_untouched(clean)


@pytest.mark.parametrize("n,err", [c[1:] for c in BAD_ATT_NAMES if c[2] == errno.ENAMETOOLONG],
                         ids=[c[0] for c in BAD_ATT_NAMES if c[2] == errno.ENAMETOOLONG])
def test_attachment_renamed_to_a_bad_name(clean, att, n, err):
    write_file(att, b"x")
    rows = att_rows(clean, "a")
    assert_errno(err, os.rename, os.fsencode(att), os.fsencode(os.path.dirname(att)) + b"/" + n)
    assert content(att) == b"x"
    assert att_rows(clean, "a") == rows


ODD_ATT_NAMES = [b"x" * 255, "é 日本".encode(), b" lead", b".hidden", b"a\x01", b"a\nb",
                 b"a\x7f", b"-rf", b"id.bak"]


@pytest.mark.parametrize("n", ODD_ATT_NAMES, ids=["odd-%d" % i for i in range(len(ODD_ATT_NAMES))])
def test_attachment_name_any_file_name_takes(clean, n):
    path = bpath(clean, "snapshots", "a", n)
    write_file(path, b"kept")
    try:
        assert n in os.listdir(bpath(clean, "snapshots", "a"))
        assert content(path) == b"kept"
    finally:
        os.unlink(path)
    assert n not in os.listdir(bpath(clean, "snapshots", "a"))
    assert_untouched(clean)


def test_attachment_renamed_to_a_snapshot_file_is_eperm(att):
    write_file(att, b"x")
    assert_errno(errno.EPERM, os.rename, att, os.path.join(os.path.dirname(att), "meta.json"))
    assert content(att) == b"x"


def test_concurrent_writers_to_one_open_file(att):
    """Two threads write the whole file through one descriptor: each write lands whole."""
    size = 32768
    fd = os.open(att, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    start = threading.Barrier(2)
    errors = []

    def writer(ch):
        try:
            start.wait()
            for _ in range(20):
                assert os.pwrite(fd, ch * size, 0) == size
        except Exception as e:       # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=writer, args=(c,)) for c in (b"A", b"B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.close(fd)
    assert errors == []
    assert content(att) in (b"A" * size, b"B" * size)


def test_two_opens_last_close_wins(att):
    write_file(att, b"old")
    f1 = os.open(att, os.O_WRONLY | os.O_TRUNC)
    f2 = os.open(att, os.O_WRONLY | os.O_TRUNC)
    os.write(f1, b"first, longer content")
    os.write(f2, b"second")
    os.close(f2)
    assert content(att) == b"second"
    os.close(f1)
    assert content(att) == b"first, longer content"


def test_concurrent_writers_through_two_opens(att):
    """Each thread opens, writes its whole content and closes: the file holds one of them."""
    start = threading.Barrier(2)
    errors = []
    # One length: a size the kernel still holds from the other close is another matter
    # (test_two_opens_last_close_wins).
    datas = {b"A": b"A" * 30000, b"B": b"B" * 30000}

    def writer(ch):
        try:
            start.wait()
            for _ in range(10):
                write_file(att, datas[ch])
        except Exception as e:       # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=writer, args=(c,)) for c in datas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert content(att) in datas.values()


# ---- read-only files and directories that take no new files -------------------------------

RO_FILES = [
    ("active", "id"), ("active", "meta.json"), ("active", "schema"),
    ("active", "connection_uri"),
    ("snapshots/a", "id"), ("snapshots/a", "meta.json"), ("snapshots/a", "schema"),
    ("branches/br", "id"), ("branches/br", "meta.json"), ("branches/br", "schema"),
    ("branches/br", "connection_uri"),
]


def unchanged_part(path):
    """What a refused write could have changed: a branch's meta.json without its "live"
    facts, which are read from the database (its WAL position and size move on their
    own); any other file whole."""
    data = content(path)
    if path.endswith("meta.json") and "/snapshots/" not in path:
        doc = json.loads(data)
        doc.pop("live", None)
        return doc
    return data


@pytest.mark.parametrize("how", ["write", "append", "rdwr", "truncate"])
@pytest.mark.parametrize("d,fname", RO_FILES, ids=["%s/%s" % c for c in RO_FILES])
def test_read_only_file(clean, d, fname, how):
    path = clean.fs.p(d, fname)
    before = unchanged_part(path)
    if how == "truncate":
        assert_errno(errno.EACCES, os.truncate, path, 0)
    else:
        flags = {"write": os.O_WRONLY | os.O_TRUNC, "append": os.O_WRONLY | os.O_APPEND,
                 "rdwr": os.O_RDWR}[how]
        assert_errno(errno.EACCES, os.open, path, flags)
    assert unchanged_part(path) == before
    assert_untouched(clean)


NO_CREATE = [
    ("active", "new", errno.EACCES),
    ("active", "restore.tmp", errno.EACCES),
    ("branches/br", "new", errno.EACCES),
    ("branches/main", "notes.txt", errno.EACCES),
    ("branches", "file", errno.EPERM),
    ("snapshots", "file", errno.EPERM),
    ("", "file", errno.EPERM),
]


@pytest.mark.parametrize("d,fname,err", NO_CREATE, ids=["%s/%s" % c[:2] for c in NO_CREATE])
def test_create_where_files_are_the_mounts(clean, d, fname, err):
    dirpath = clean.fs.p(d) if d else clean.fs.path
    before = sorted(os.listdir(dirpath))
    assert_errno(err, os.open, os.path.join(dirpath, fname), os.O_WRONLY | os.O_CREAT, 0o644)
    assert sorted(os.listdir(dirpath)) == before
    assert_untouched(clean)


@pytest.mark.parametrize("d", ["active", "branches/br", "snapshots/a"])
def test_mkdir_and_symlink_inside_an_object_is_eperm(clean, d):
    assert_errno(errno.EPERM, os.mkdir, clean.fs.p(d, "sub"))
    assert_errno(errno.EPERM, os.symlink, "../snapshots/a", clean.fs.p(d, "link"))
    assert_untouched(clean)
