"""events and watchers: the `events` file, changes made elsewhere, inotify, backup-watcher.

Every read of `events` here is bounded: readers are opened O_NONBLOCK and waited on with
select() and a deadline; blocking reads are done by child processes (cat, tail), which can
be killed. Every fd opened on a mount is closed before the test ends, or the unmount would
fail.
"""
import ctypes
import ctypes.util
import errno
import json
import os
import re
import select
import signal
import struct
import subprocess
import threading
import time

import pytest

from mountlib import REPO, wait_for, wait_idle

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
BACKUP_WATCHER = os.path.join(REPO, "examples", "backup-watcher")
# Options of a mount that looks for changes made elsewhere. The long caches make sure only
# the watcher's invalidation (not an expiring cache) can make a remote change show.
WATCHING = ("poll_min=0.2", "poll_max=1", "cache_ttl=30", "attr_timeout=30")
POLL_BOUND = 5.0  # poll_max plus the API calls, with room for a loaded machine


# ---- the project, through the API ----

def pid(stack):
    return stack.env["NEON_PROJECT_ID"]


def api_ok(stack, method, suffix, body=None, query=None):
    status, out = stack.api(method, "/projects/%s%s" % (pid(stack), suffix), body, query)
    assert status in (200, 201, 202, 204), (method, suffix, status, out)
    return out


def api_branches(stack):
    return {b["name"]: b for b in api_ok(stack, "GET", "/branches")["branches"]}


def api_snapshot(stack, name):
    """Takes a snapshot of main with the API, as another client would; returns its id."""
    main = api_branches(stack)["main"]["id"]
    out = api_ok(stack, "POST", "/branches/%s/snapshot" % main, query={"name": name})
    wait_idle(stack)
    return out["snapshot"]["id"]


def watcher_polls_after(stack, since, n=2, timeout=15):
    """Waits until the watcher listed snapshots @n times after @since (time.time()): the
    diff of every poll but the last has been made and its events emitted."""
    path = "/projects/%s/snapshots" % pid(stack)

    def polls():
        return len([r for r in stack.requests()
                    if r["method"] == "GET" and r["path"] == path and r["t"] > since]) >= n
    wait_for(polls, timeout, "%d polls of the snapshots listing" % n)


def write_restore(mount, name):
    fd = os.open(mount.p("active", "restore"), os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, name.encode() + b"\n")
    finally:
        os.close(fd)


def abort_mount(m):
    """Ends a wedged mount: aborts its FUSE connection, so every request stuck on it
    returns, then kills the daemon. The fixture then reports the daemon's exit."""
    subprocess.run(["umount", "-f", m.path], capture_output=True)  # FUSE's umount_begin aborts
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == m.path:
                abort = "/sys/fs/fuse/connections/%s/abort" % fields[2].split(":")[1]
                if os.path.exists(abort):
                    with open(abort, "w") as a:
                        a.write("1")
    m.proc.kill()
    m.proc.wait()
    subprocess.run(["fusermount3", "-u", "-z", m.path], capture_output=True)


def bounded(m, fn, timeout, what):
    """Runs fn() with a deadline. A deadlocked mount would hang the test forever: past the
    deadline the mount is aborted and the test fails."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # re-raised in the test's thread
            out["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        abort_mount(m)
        t.join(10)
        raise AssertionError("%s did not end within %.0fs: the mount hangs" % (what, timeout))
    if "error" in out:
        raise out["error"]
    return out.get("value")


# ---- readers of <mnt>/events ----

class Reader:
    """One open of <mnt>/events. O_NONBLOCK, so the test never hangs: waits are select()
    with a deadline. .raw holds every line read so far (bytes, newline kept) but the
    progress lines (restore.progress, snapshot.progress, ...): they say an action waits
    on Neon for a second or more, which a loaded machine makes happen, and are no change."""

    def __init__(self, mount):
        self.fd = os.open(mount.p("events"), os.O_RDONLY | os.O_NONBLOCK)
        self.pending = b""
        self.raw = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                os.close(fd)
            except OSError:
                pass  # a mount the test had to abort

    def drain(self, timeout=0.0):
        """Reads what is there (waiting up to @timeout for the first byte); returns how many
        whole lines were added."""
        before = len(self.raw)
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return 0
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            assert chunk, "events ended (read returned 0) while the mount is up"
            self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        self.raw.extend(line + b"\n" for line in lines
                        if not json.loads(line)["kind"].endswith(".progress"))
        return len(self.raw) - before

    @property
    def events(self):
        return [json.loads(line) for line in self.raw]

    def take(self, n, timeout=15.0):
        """The first @n events, waiting for them until the deadline."""
        deadline = time.monotonic() + timeout
        while len(self.raw) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("got %d of %d event lines within %.0fs: %s"
                                     % (len(self.raw), n, timeout, self.raw))
            self.drain(left)
        return self.events[:n]

    def until(self, pred, timeout=POLL_BOUND, what="an event"):
        """Reads until an event satisfies @pred; returns it."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for ev in self.events[seen:]:
                if pred(ev):
                    return ev
            seen = len(self.raw)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s within %.0fs; got: %s" % (what, timeout, self.raw))
            self.drain(left)

    def assert_nothing_pending(self):
        with pytest.raises(BlockingIOError):
            os.read(self.fd, 4096)
        assert self.pending == b""


def check(ev, kind, local, **fields):
    """One event: its kind, where it was made, a real time, and the given ids/names."""
    assert ev["kind"] == kind, ev
    assert ev["local"] is local, ev
    assert TIME.match(ev["time"]), ev
    for k, v in fields.items():
        assert ev.get(k) == v, (k, v, ev)


class Follower:
    """A child process that reads <mnt>/events with blocking reads (cat, tail); its output
    is read with select() and a deadline; it is killed at the end."""

    def __init__(self, argv, events_path):
        self.events_path = events_path
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL)
        self.out = b""
        wait_for(self._opened, 10, "%s to open %s" % (argv[0], events_path))

    def _opened(self):
        assert self.proc.poll() is None, self.proc.stderr.read()
        fd_dir = "/proc/%d/fd" % self.proc.pid
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(os.path.join(fd_dir, fd)) == self.events_path:
                    return True
            except OSError:
                pass
        return False

    def read_lines(self, n, timeout):
        deadline = time.monotonic() + timeout
        while self.out.count(b"\n") < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    break
                self.out += chunk
        return self.out.split(b"\n")[:-1]

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Ends the process (its blocked read is interrupted); returns whether it ended in
        time. Kills it for good either way."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
            ended = True
        except subprocess.TimeoutExpired:
            ended = False
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return ended


# ---- inotify through ctypes ----

IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")


class Inotify:
    def __init__(self):
        self.libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.fd = self.libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.seen = []  # (wd, mask, cookie, name)
        self.buf = ctypes.create_string_buffer(1 << 16)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        os.close(self.fd)

    def watch(self, path, mask):
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(path), ctypes.c_uint32(mask))
        if wd < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + path)
        return wd

    def _read(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return
        n = self.libc.read(self.fd, self.buf, len(self.buf))
        if n < 0:
            e = ctypes.get_errno()
            if e == errno.EAGAIN:
                return
            raise OSError(e, "read inotify")
        data, off = self.buf.raw[:n], 0
        while off < n:
            wd, mask, cookie, length = _EVENT.unpack_from(data, off)
            off += _EVENT.size
            name = data[off:off + length].rstrip(b"\0").decode()
            off += length
            self.seen.append((wd, mask, cookie, name))

    def wait(self, mask, name, timeout=POLL_BOUND):
        """The first event not yet taken with all bits of @mask for @name."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (_wd, m, cookie, n) in enumerate(self.seen):
                if m & mask == mask and n == name:
                    del self.seen[i]
                    return m, cookie
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no inotify event %#x for %r within %.0fs; got %s"
                                     % (mask, name, timeout, self.seen))
            self._read(left)


# ---- 1. one line per change, in order ----

def test_a_reader_gets_one_line_per_change_in_order(fs, project):
    with Reader(fs) as rd:
        rd.assert_nothing_pending()
        os.mkdir(fs.p("snapshots", "a"))
        a_id = fs.read("snapshots", "a", "id").strip()
        os.rename(fs.p("snapshots", "a"), fs.p("snapshots", "b"))
        os.rmdir(fs.p("snapshots", "b"))
        os.mkdir(fs.p("branches", "x"))
        x_id = fs.read("branches", "x", "id").strip()
        os.rmdir(fs.p("branches", "x"))
        os.mkdir(fs.p("snapshots", "r"))
        r_id = fs.read("snapshots", "r", "id").strip()
        before = fs.read("active", "id").strip()
        write_restore(fs, "r")
        after = fs.read("active", "id").strip()
        assert after != before and after == api_branches(project)["main"]["id"]

        rd.until(lambda e: e["kind"] == "restore.finished", what="restore.finished")
        evs = rd.events
        assert len(evs) == 8, evs
        check(evs[0], "snapshot.created", True, id=a_id, name="a")
        check(evs[1], "snapshot.renamed", True, id=a_id, name="b", old_name="a")
        check(evs[2], "snapshot.deleted", True, id=a_id, name="b")
        check(evs[3], "branch.created", True, id=x_id, name="x")
        check(evs[4], "branch.deleted", True, id=x_id, name="x")
        check(evs[5], "snapshot.created", True, id=r_id, name="r")
        check(evs[6], "restore.started", True, snapshot_id=r_id, snapshot_name="r",
              branch_id=before)
        check(evs[7], "restore.finished", True, snapshot_id=r_id, snapshot_name="r",
              branch_id_before=before, branch_id=after)
        # Each change was emitted before its system call returned: nothing else comes.
        assert all(line.endswith(b"}\n") and line.count(b"\n") == 1 for line in rd.raw)
        assert [e["time"] for e in evs] == sorted(e["time"] for e in evs)
        rd.assert_nothing_pending()


def test_tail_f_prints_each_change(fs, project):
    """`tail -f <mnt>/events`, as the README and DESIGN.md show it."""
    tail = Follower(["tail", "-f", fs.p("events")], fs.p("events"))
    try:
        os.mkdir(fs.p("snapshots", "t1"))
        lines = tail.read_lines(1, 4)
        assert lines, ("tail -f printed nothing within 4s of a change: GNU tail reads a "
                       "non-seekable file to its end (read() == 0) before printing the last "
                       "lines, and a read of events never returns 0")
        check(json.loads(lines[0]), "snapshot.created", True, name="t1")
        os.rmdir(fs.p("snapshots", "t1"))
        lines = tail.read_lines(2, 4)
        assert len(lines) == 2
        check(json.loads(lines[1]), "snapshot.deleted", True, name="t1")
    finally:
        ended = tail.stop()
    assert ended, "tail did not end on SIGTERM"


# tail writes through stdio: to a pipe it would hold lines in its buffer (as it does when
# piped in a shell); stdbuf -oL makes it write each line as a terminal would get it.
@pytest.mark.parametrize("argv", [["cat"], ["stdbuf", "-oL", "tail", "-n", "+1", "-f"]],
                         ids=["cat", "tail-n+1-f"])
def test_a_blocking_read_waits_for_a_change_and_a_signal_ends_it(fs, project, argv):
    follower = Follower(argv + [fs.p("events")], fs.p("events"))
    try:
        # Parked in read(): nothing to print yet.
        assert follower.read_lines(1, 0.3) == []
        os.mkdir(fs.p("snapshots", "c1"))
        c1 = fs.read("snapshots", "c1", "id").strip()
        os.rename(fs.p("snapshots", "c1"), fs.p("snapshots", "c2"))
        lines = follower.read_lines(2, 10)
        assert len(lines) == 2, lines
        check(json.loads(lines[0]), "snapshot.created", True, id=c1, name="c1")
        check(json.loads(lines[1]), "snapshot.renamed", True, id=c1, name="c2", old_name="c1")
    finally:
        # SIGTERM while blocked in read: the kernel interrupts the request, the read ends.
        ended = follower.stop()
    assert ended, "%s did not end on SIGTERM while blocked in read" % argv[-2]


# ---- 2. concurrent readers ----

@pytest.mark.concurrency
def test_two_readers_each_get_every_line(fs, project):
    with Reader(fs) as r1, Reader(fs) as r2:
        os.mkdir(fs.p("snapshots", "s"))
        sid = fs.read("snapshots", "s", "id").strip()
        os.rename(fs.p("snapshots", "s"), fs.p("snapshots", "t"))
        r1.take(2)  # one reader consuming does not take lines from the other
        os.rmdir(fs.p("snapshots", "t"))
        e1 = r1.take(3)
        r2.take(3)
        assert r1.raw == r2.raw
        check(e1[0], "snapshot.created", True, id=sid, name="s")
        check(e1[1], "snapshot.renamed", True, id=sid, name="t", old_name="s")
        check(e1[2], "snapshot.deleted", True, id=sid, name="t")
        # A reader opened later gets only what came after it opened.
        with Reader(fs) as r3:
            os.mkdir(fs.p("snapshots", "u"))
            check(r3.take(1)[0], "snapshot.created", True, name="u")
            assert len(r3.raw) == 1
        r1.take(4)
        r1.assert_nothing_pending()
        r2.take(4)
        r2.assert_nothing_pending()


# ---- 3. poll() ----

@pytest.mark.concurrency
def test_poll_wakes_when_a_snapshot_is_created(fs, project):
    with Reader(fs) as rd:
        p = select.poll()
        p.register(rd.fd, select.POLLIN)
        assert p.poll(0) == []
        assert p.poll(300) == []  # a poll that waits, with nothing pending, is not woken
        done = threading.Event()

        def make():
            os.mkdir(fs.p("snapshots", "p1"))
            done.set()
        t = threading.Thread(target=make)
        t.start()
        try:
            assert not done.is_set()
            got = p.poll(15000)  # parked here while mkdir runs: only a notification wakes it
            assert got and got[0][0] == rd.fd and got[0][1] & select.POLLIN, got
        finally:
            t.join(60)
        assert done.is_set()
        check(rd.take(1)[0], "snapshot.created", True, name="p1")
        assert p.poll(0) == []  # read to the end: not readable any more
        # select() speaks through the same poll operation.
        os.rmdir(fs.p("snapshots", "p1"))
        assert select.select([rd.fd], [], [], 10)[0] == [rd.fd]
        check(rd.take(2)[1], "snapshot.deleted", True, name="p1")


# ---- 4. a reader that does not read ----

@pytest.mark.concurrency
def test_a_reader_that_never_reads_does_not_stall_changes(fs, project):
    project.config(operation_ms=0)
    with Reader(fs) as idle:
        names = ["n%d" % i for i in range(10)]
        done = threading.Event()
        failure = []

        def changes():
            try:
                for n in names:
                    os.mkdir(fs.p("snapshots", n))
                for n in names:
                    os.rename(fs.p("snapshots", n), fs.p("snapshots", n + "x"))
                for n in names:
                    os.rmdir(fs.p("snapshots", n + "x"))
            except OSError as e:
                failure.append(e)
            done.set()
        t = threading.Thread(target=changes)
        t.start()
        t.join(90)
        assert done.is_set(), "30 changes did not complete while a reader sat unread"
        assert not failure, failure
        evs = idle.take(30)
        assert [e["kind"] for e in evs] == (["snapshot.created"] * 10 + ["snapshot.renamed"] * 10
                                            + ["snapshot.deleted"] * 10)
        assert [e["name"] for e in evs] == names + [n + "x" for n in names] * 2
        assert all(e["local"] is True for e in evs)
        idle.assert_nothing_pending()


def test_a_reader_that_falls_behind_loses_the_oldest_lines_and_is_told(mount_factory, project):
    """The 1024-line queue overflows: the reader's next read starts with events.missed."""
    project.config(operation_ms=0)
    ids = [api_snapshot(project, "o%d" % i) for i in range(10)]
    try:
        # No API budget: the watcher's fast polls are what fills the queue.
        m = mount_factory("poll_min=0.02", "poll_max=0.02", "api_rate=0")
        with Reader(m) as slow, Reader(m) as fast:
            final, rnd = {}, 0
            deadline = time.monotonic() + 40
            while len(fast.raw) < 1100:
                assert time.monotonic() < deadline, "only %d events" % len(fast.raw)
                rnd += 1
                for i, sid in enumerate(ids):
                    final[sid] = "o%d-%d" % (i, rnd)
                    api_ok(project, "PATCH", "/snapshots/" + sid,
                           {"snapshot": {"name": final[sid]}})
                fast.drain(0)

            def settled():
                fast.drain(0.05)
                last = {}
                for e in fast.events:
                    last[e["id"]] = e["name"]
                return last == final
            wait_for(settled, 10, "the watcher to report the last names")
            # The slow reader reads now, for the first time.
            while slow.drain(0.5):
                pass
            missed = len(fast.raw) - 1024
            assert json.loads(slow.raw[0]) == {"kind": "events.missed", "local": True,
                                               "missed": missed}
            assert slow.raw[1:] == fast.raw[-1024:]
            assert all(e["kind"] == "snapshot.renamed" and e["local"] is False
                       for e in fast.events)
            slow.assert_nothing_pending()
    finally:
        for sid in ids:
            api_ok(project, "DELETE", "/snapshots/" + sid)
            wait_idle(project)


# ---- 5. O_NONBLOCK, and lines read in pieces ----

def test_nonblocking_read_with_nothing_pending_is_eagain(fs, project):
    fd = os.open(fs.p("events"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(OSError) as e:
            os.read(fd, 4096)
        assert e.value.errno == errno.EAGAIN
        os.mkdir(fs.p("snapshots", "nb"))
        os.rmdir(fs.p("snapshots", "nb"))
        # Read 7 bytes at a time: a line longer than the buffer comes in pieces, whole.
        data = b""
        while data.count(b"\n") < 2:
            assert select.select([fd], [], [], 10)[0], data
            piece = os.read(fd, 7)
            assert 0 < len(piece) <= 7
            data += piece
        first, second, rest = data.split(b"\n")
        assert rest == b""
        check(json.loads(first), "snapshot.created", True, name="nb")
        check(json.loads(second), "snapshot.deleted", True, name="nb")
        with pytest.raises(OSError) as e:
            os.read(fd, 4096)
        assert e.value.errno == errno.EAGAIN
    finally:
        os.close(fd)
    # Writing to events is refused.
    with pytest.raises(OSError) as e:
        os.open(fs.p("events"), os.O_WRONLY)
    assert e.value.errno in (errno.EACCES, errno.EPERM)


# ---- 6. another mount's changes ----

def test_a_second_mount_sees_the_first_mounts_changes(mount_factory, project):
    a = mount_factory("poll_min=600", "poll_max=600")
    b = mount_factory(*WATCHING)
    with Reader(a) as ra, Reader(b) as rb:
        assert os.listdir(b.p("snapshots")) == []
        os.mkdir(a.p("snapshots", "s"))
        sid = a.read("snapshots", "s", "id").strip()
        t0 = time.monotonic()
        wait_for(lambda: os.listdir(b.p("snapshots")) == ["s"], POLL_BOUND, "s in b's listing")
        seen_after = time.monotonic() - t0
        check(rb.until(lambda e: e["kind"] == "snapshot.created"), "snapshot.created", False,
              id=sid, name="s")
        assert b.read("snapshots", "s", "id").strip() == sid
        os.stat(b.p("snapshots", "s"))  # the kernel now caches the entry (attr_timeout=30)

        os.rename(a.p("snapshots", "s"), a.p("snapshots", "t"))
        wait_for(lambda: os.listdir(b.p("snapshots")) == ["t"], POLL_BOUND, "t in b's listing")
        wait_for(lambda: not os.path.exists(b.p("snapshots", "s")), POLL_BOUND,
                 "the old name's cached entry to go")
        check(rb.until(lambda e: e["kind"] == "snapshot.renamed"), "snapshot.renamed", False,
              id=sid, name="t", old_name="s")
        assert b.read("snapshots", "t", "id").strip() == sid

        os.rmdir(a.p("snapshots", "t"))
        wait_for(lambda: os.listdir(b.p("snapshots")) == [], POLL_BOUND, "t gone from b")
        wait_for(lambda: not os.path.exists(b.p("snapshots", "t")), POLL_BOUND,
                 "t's cached entry to go")
        check(rb.until(lambda e: e["kind"] == "snapshot.deleted"), "snapshot.deleted", False,
              id=sid, name="t")
        assert seen_after < POLL_BOUND
        assert [e["kind"] for e in rb.events] == ["snapshot.created", "snapshot.renamed",
                                                  "snapshot.deleted"]

        # The mount that made the changes says so, once each.
        evs = ra.take(3)
        check(evs[0], "snapshot.created", True, id=sid, name="s")
        check(evs[1], "snapshot.renamed", True, id=sid, name="t", old_name="s")
        check(evs[2], "snapshot.deleted", True, id=sid, name="t")
        ra.assert_nothing_pending()


@pytest.mark.concurrency
def test_a_polling_mount_reports_its_own_changes_once_and_as_local(mount_factory, project):
    """The watcher of the mount that makes a change must not report it again as made
    elsewhere, though it polls while the change's operations run."""
    m = mount_factory("poll_min=0.05", "poll_max=0.05")
    with Reader(m) as rd:
        def changes():
            os.mkdir(m.p("snapshots", "mine"))
            write_restore(m, "mine")
            os.rename(m.p("snapshots", "mine"), m.p("snapshots", "ours"))
            os.rmdir(m.p("snapshots", "ours"))
        bounded(m, changes, 30, "mkdir, restore, mv, rmdir on a polling mount")
        watcher_polls_after(project, time.time(), 3)
        rd.drain(0)
        kinds = [(e["kind"], e["local"]) for e in rd.events]
        assert kinds == [("snapshot.created", True), ("restore.started", True),
                         ("restore.finished", True), ("snapshot.renamed", True),
                         ("snapshot.deleted", True)], rd.raw


@pytest.mark.concurrency
def test_local_changes_on_a_polling_mount_do_not_hang(mount_factory, project):
    """The watcher must not send the kernel a notification while it holds a lock that a
    handler needs: the kernel serves the notification only after the mkdir/rmdir/rename in
    progress lets go of the directory, and that request's handler waits for the watcher.

    When it did (notifications sent under watch_lock, which fs_seen takes), the first mkdir
    hung for good: the watcher thread in fuse_reverse_inval_entry (D state), the caller in
    fuse_mkdir, its worker on watch_lock; not even SIGKILL ended the daemon."""
    m = mount_factory("poll_min=0.02", "poll_max=0.02")

    def changes():
        for i in range(6):
            os.mkdir(m.p("snapshots", "h%d" % i))
            os.rename(m.p("snapshots", "h%d" % i), m.p("snapshots", "g%d" % i))
            os.rmdir(m.p("snapshots", "g%d" % i))
    bounded(m, changes, 20, "6 rounds of mkdir, mv, rmdir on a polling mount")
    assert os.listdir(m.p("snapshots")) == []


# ---- 7. changes made with the API directly ----

def test_api_snapshot_shows_in_events_and_ls_and_its_deletion_in_inotify(mount_factory,
                                                                         project):
    """A deletion made elsewhere reaches inotify through notify_delete. Since Linux 5.3
    d_delete() no longer raises IN_DELETE on the parent and FUSE's notify_delete adds no
    hook of its own, so a watcher of snapshots/ hears nothing; a watcher of the snapshot's
    own directory gets IN_DELETE_SELF (its inode's link count went to 0). Either counts."""
    m = mount_factory(*WATCHING)
    with Reader(m) as rd, Inotify() as ino:
        assert os.listdir(m.p("snapshots")) == []
        sid = api_snapshot(project, "api1")
        wait_for(lambda: os.listdir(m.p("snapshots")) == ["api1"], POLL_BOUND, "api1 in ls")
        check(rd.until(lambda e: e["kind"] == "snapshot.created"), "snapshot.created", False,
              id=sid, name="api1")
        assert m.read("snapshots", "api1", "id").strip() == sid

        os.stat(m.p("snapshots", "api1"))  # the kernel caches the entry: notify_delete has one
        parent = ino.watch(m.p("snapshots"), IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)
        own = ino.watch(m.p("snapshots", "api1"), IN_DELETE_SELF)
        api_ok(project, "DELETE", "/snapshots/" + sid)
        wait_idle(project)

        def heard():
            ino._read(0.05)
            return [(wd, mask, name) for wd, mask, _, name in ino.seen
                    if (wd == parent and mask & IN_DELETE and name == "api1")
                    or (wd == own and mask & IN_DELETE_SELF)]
        wait_for(heard, POLL_BOUND, "IN_DELETE of api1 or IN_DELETE_SELF of snapshots/api1")
        assert os.listdir(m.p("snapshots")) == []
        assert not os.path.exists(m.p("snapshots", "api1"))
        check(rd.until(lambda e: e["kind"] == "snapshot.deleted"), "snapshot.deleted", False,
              id=sid, name="api1")


def test_api_rename_and_branch_show_in_a_polling_mount(mount_factory, project):
    m = mount_factory(*WATCHING)
    with Reader(m) as rd:
        sid = api_snapshot(project, "r1")
        wait_for(lambda: os.listdir(m.p("snapshots")) == ["r1"], POLL_BOUND, "r1 in ls")
        os.stat(m.p("snapshots", "r1"))
        api_ok(project, "PATCH", "/snapshots/" + sid, {"snapshot": {"name": "r2"}})
        wait_for(lambda: os.listdir(m.p("snapshots")) == ["r2"], POLL_BOUND, "r2 in ls")
        wait_for(lambda: not os.path.exists(m.p("snapshots", "r1")), POLL_BOUND, "r1 gone")
        check(rd.until(lambda e: e["kind"] == "snapshot.renamed"), "snapshot.renamed", False,
              id=sid, name="r2", old_name="r1")
        assert m.read("snapshots", "r2", "id").strip() == sid
        # Made elsewhere: its schema was never captured, so it shows none (reads are free).
        assert set(os.listdir(m.p("snapshots", "r2"))) == {"expires_at", "id", "meta.json"}

        main = api_branches(project)["main"]["id"]
        out = api_ok(project, "POST", "/branches",
                     {"branch": {"parent_id": main, "name": "elsewhere"}})
        wait_idle(project)
        bid = out["branch"]["id"]
        wait_for(lambda: "elsewhere" in os.listdir(m.p("branches")), POLL_BOUND, "branch in ls")
        check(rd.until(lambda e: e["kind"] == "branch.created"), "branch.created", False,
              id=bid, name="elsewhere")
        os.stat(m.p("branches", "elsewhere"))
        api_ok(project, "DELETE", "/branches/" + bid)
        wait_idle(project)
        wait_for(lambda: not os.path.exists(m.p("branches", "elsewhere")), POLL_BOUND,
                 "the branch to go")
        check(rd.until(lambda e: e["kind"] == "branch.deleted"), "branch.deleted", False,
              id=bid, name="elsewhere")


def test_a_snapshot_renamed_elsewhere_keeps_its_files_while_its_directory_is_open(
        mount_factory, project):
    """A rename is not a deletion: the snapshot's inode lives on under the new name. Told
    that the old name was deleted (notify_delete with the snapshot's inode), the kernel
    marks that inode dead (nlink 0, S_DEAD) whenever something holds it (an open
    directory, a shell's cwd, an inotify watch), and the new name then leads to a dead
    directory: ls shows nothing and snapshots/<new>/id is ENOENT."""
    m = mount_factory(*WATCHING)
    sid = api_snapshot(project, "r1")
    wait_for(lambda: os.listdir(m.p("snapshots")) == ["r1"], POLL_BOUND, "r1 in ls")
    fd = os.open(m.p("snapshots", "r1"), os.O_RDONLY | os.O_DIRECTORY)  # like a shell's cwd
    try:
        api_ok(project, "PATCH", "/snapshots/" + sid, {"snapshot": {"name": "r2"}})
        wait_for(lambda: os.listdir(m.p("snapshots")) == ["r2"], POLL_BOUND, "r2 in ls")
        wait_for(lambda: not os.path.exists(m.p("snapshots", "r1")), POLL_BOUND, "r1 gone")
        assert set(os.listdir(m.p("snapshots", "r2"))) == {"expires_at", "id", "meta.json"}
        assert m.read("snapshots", "r2", "id").strip() == sid
    finally:
        os.close(fd)


def test_snapshot_deleted_elsewhere_goes_while_a_file_in_it_is_open(mount_factory, project):
    """The kernel refuses notify_delete for a directory with an open file in it (ENOTEMPTY);
    the entry must still be invalidated, or it stays for the whole entry timeout."""
    m = mount_factory(*WATCHING)
    sid = api_snapshot(project, "held")
    wait_for(lambda: os.path.exists(m.p("snapshots", "held")), POLL_BOUND, "held in ls")
    with open(m.p("snapshots", "held", "id")) as f, Reader(m) as rd:
        assert f.read().strip() == sid
        api_ok(project, "DELETE", "/snapshots/" + sid)
        wait_idle(project)
        check(rd.until(lambda e: e["kind"] == "snapshot.deleted"), "snapshot.deleted", False,
              id=sid, name="held")
        assert os.listdir(m.p("snapshots")) == []
        wait_for(lambda: not os.path.exists(m.p("snapshots", "held")), POLL_BOUND,
                 "snapshots/held to go though snapshots/held/id is open")


def test_a_failed_first_listing_does_not_report_everything_as_new(mount_factory, project):
    """If the watcher's starting point could not be read at mount, its first poll must not
    report every snapshot and branch that was already there as created elsewhere."""
    api_snapshot(project, "old")
    project.clear_requests()
    project.fault(method="GET", path="/snapshots$", status=403, count=1)
    m = mount_factory("poll_min=1", "poll_max=1")
    with Reader(m) as rd:
        faulted = [r for r in project.requests()
                   if r["method"] == "GET" and r["path"].endswith("/snapshots")]
        assert faulted and faulted[0].get("fault"), "the fault did not hit the first listing"
        watcher_polls_after(project, faulted[0]["t"], 3)
        rd.drain(0)
        assert rd.raw == [], "nothing changed, yet: %s" % rd.raw
        assert os.listdir(m.p("snapshots")) == ["old"]


# ---- 8. inotify for changes made through the mount ----

def test_inotify_sees_mkdir_rename_rmdir_through_the_mount(fs, project):
    project.config(operation_ms=20)
    with Inotify() as ino:
        ino.watch(fs.p("snapshots"), IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO)
        ino.watch(fs.p("branches"), IN_CREATE | IN_DELETE)
        os.mkdir(fs.p("snapshots", "x"))
        ino.wait(IN_CREATE | IN_ISDIR, "x")
        os.rename(fs.p("snapshots", "x"), fs.p("snapshots", "y"))
        _, c1 = ino.wait(IN_MOVED_FROM | IN_ISDIR, "x")
        _, c2 = ino.wait(IN_MOVED_TO | IN_ISDIR, "y")
        assert c1 == c2 != 0
        os.rmdir(fs.p("snapshots", "y"))
        ino.wait(IN_DELETE | IN_ISDIR, "y")
        os.mkdir(fs.p("branches", "bx"))
        ino.wait(IN_CREATE | IN_ISDIR, "bx")
        os.rmdir(fs.p("branches", "bx"))
        ino.wait(IN_DELETE | IN_ISDIR, "bx")
        ino._read(0)
        assert ino.seen == []


# ---- 9. a restore made elsewhere ----

def test_a_restore_made_elsewhere_shows_in_events_and_active(mount_factory, project):
    m = mount_factory(*WATCHING)
    with Reader(m) as rd:
        sid = api_snapshot(project, "rs")
        rd.until(lambda e: e["kind"] == "snapshot.created" and e["id"] == sid)
        before = m.read("active", "id").strip()
        assert before == api_branches(project)["main"]["id"]
        api_ok(project, "POST", "/snapshots/%s/restore" % sid,
               {"target_branch_id": before, "finalize_restore": True})
        wait_idle(project)
        after = api_branches(project)["main"]["id"]
        assert after != before
        wait_for(lambda: m.read("active", "id").strip() == after, POLL_BOUND,
                 "active/id to show the restored branch")
        ev = rd.until(lambda e: e["kind"] == "restore.finished", what="restore.finished")
        check(ev, "restore.finished", False, snapshot_id=sid, snapshot_name="rs",
              branch_id_before=before, branch_id=after)
        assert "main (old)" in os.listdir(m.p("branches"))
        # Whether or not the watcher looked while the restore ran (the restored branch
        # exists under a temporary name until Neon finalizes it), the restore is one line.
        watcher_polls_after(project, time.time(), 2)
        rd.drain(0)
        assert len([e for e in rd.events if e["kind"] == "restore.finished"]) == 1, rd.raw


# ---- the mount keeps serving while readers wait ----

@pytest.mark.concurrency
def test_many_blocked_readers_do_not_stall_the_mount(fs, project):
    """Each `cat events` parks a read in the daemon; libfuse's worker pool is bounded (10
    threads by default), so readers that hold a worker while they wait stall the mount."""
    events = fs.p("events")
    procs = [subprocess.Popen(["cat", events], stdout=subprocess.PIPE,
                              stdin=subprocess.DEVNULL) for _ in range(12)]
    done = threading.Event()
    wedged = False
    try:
        def opened(p):
            fd_dir = "/proc/%d/fd" % p.pid
            try:
                return any(os.readlink(os.path.join(fd_dir, fd)) == events
                           for fd in os.listdir(fd_dir))
            except OSError:
                return False
        try:
            wait_for(lambda: all(opened(p) for p in procs), 3, "12 readers to open events")
        except AssertionError:
            pass  # the mkdir below says what matters

        def make():
            try:
                os.mkdir(fs.p("snapshots", "busy"))
                done.set()
            except OSError:
                pass  # the mount was aborted: done stays unset
        t = threading.Thread(target=make, daemon=True)
        t.start()
        t.join(8)
        if not done.is_set():
            # Wedged: no worker is left even to take the interrupts that would end the
            # readers. Abort the mount so that they, and the rest of the suite, can go on.
            wedged = True
            abort_mount(fs)
            t.join(10)
        assert not wedged, "mkdir did not return while 12 readers were blocked in read"
        for p in procs:
            assert select.select([p.stdout], [], [], 10)[0]
            line = os.read(p.stdout.fileno(), 1 << 16).split(b"\n")[0]
            check(json.loads(line), "snapshot.created", True, name="busy")
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait(30)
            p.stdout.close()


# ---- examples/backup-watcher ----

def test_backup_watcher_backs_up_each_new_snapshot_across_a_restore(fs, project, tmp_path):
    dest = tmp_path / "backups"
    os.mkdir(fs.p("snapshots", "before"))  # made before it starts: copied when it starts
    proc = subprocess.Popen([BACKUP_WATCHER, fs.path, str(dest)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    out = b""

    def output_has(text):
        nonlocal out
        while select.select([proc.stdout], [], [], 0)[0]:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            out += chunk
        assert proc.poll() is None, out.decode()
        return text in out

    try:
        wait_for(lambda: output_has(b"watching"), 10, "backup-watcher to start")
        assert (dest / "before" / "schema").exists()
        os.mkdir(fs.p("snapshots", "first"))
        write_restore(fs, "first")
        os.mkdir(fs.p("snapshots", "second"))

        def backed_up(name):
            return all((dest / name / f).exists() for f in ("meta.json", "schema"))
        wait_for(lambda: output_has(b"") and backed_up("first") and backed_up("second"), 20,
                 "both backups")
        for name in ("before", "first", "second"):
            assert (dest / name / "id").read_text() == fs.read("snapshots", name, "id")
            for f in ("meta.json", "schema"):
                assert (dest / name / f).read_text() == fs.read("snapshots", name, f), (name, f)
        assert output_has(b"restore.finished")
        assert sorted(p.name for p in dest.iterdir()) == ["before", "first", "second"]
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            rc = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        proc.stdout.close()
    assert rc == 0, out.decode()


# ---- idle is free ----

def snapshot_listings(stack):
    path = "/projects/%s/snapshots" % pid(stack)
    return [r for r in stack.requests() if r["method"] == "GET" and r["path"] == path]


def test_an_idle_mount_makes_no_api_call_until_someone_follows_events(mount_factory, project):
    """Nobody uses the mount: the watcher asks Neon nothing (idle is free). Someone opens
    events: it looks for changes made elsewhere again, and finds them."""
    m = mount_factory("poll_min=0.2", "poll_max=0.5", "cache_ttl=30", "attr_timeout=30")
    assert os.listdir(m.p("snapshots")) == []
    # Idle for more than poll_max: from then on, nothing is asked of Neon. The window
    # watched is ten polling intervals, the longest the watcher sleeps.
    wait_for(lambda: time.time() - max([r["t"] for r in project.requests()] or [0]) > 1.0,
             10, "the mount to go idle")
    project.clear_requests()
    window_end = time.monotonic() + 10 * 0.5
    while time.monotonic() < window_end:
        assert project.requests() == [], project.requests()
        time.sleep(0.25)
    # A follower of events brings polling back, and the change made meanwhile shows.
    sid = api_snapshot(project, "while-idle")
    project.clear_requests()
    with Reader(m) as rd:
        wait_for(lambda: snapshot_listings(project), POLL_BOUND, "the watcher to poll again")
        check(rd.until(lambda e: e["kind"] == "snapshot.created"), "snapshot.created", False,
              id=sid, name="while-idle")


def test_watch_always_polls_an_idle_mount(mount_factory, project):
    mount_factory("watch=always", "poll_min=0.2", "poll_max=0.5")
    project.clear_requests()
    wait_for(lambda: len(snapshot_listings(project)) >= 3, POLL_BOUND, "polls of an idle mount")
