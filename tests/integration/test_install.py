"""Installed like a filesystem: meson install, neonfs(1), and what neonfs refuses at start.

None of these needs the local stack: every refusal here happens before neonfs makes a call.
"""
import glob
import os
import re
import shutil
import subprocess

import pytest

from mountlib import BUILD, NEONFS, REPO


def run_neonfs(*args, env=None, timeout=20):
    base = {k: v for k, v in os.environ.items()
            if k not in ("NEON_API_KEY", "NEON_PROJECT_ID", "NEON_ORG_ID", "NEONFS_META_URL",
                         "NEON_API_HOST")}
    base.update(env or {})
    return subprocess.run([NEONFS] + list(args), capture_output=True, text=True, env=base,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def render_man(page, manpath=None):
    """The page as plain text, as a user reads it."""
    env = dict(os.environ, MANWIDTH="200", MAN_KEEP_FORMATTING="", MANPAGER="cat", PAGER="cat")
    args = ["man"] + (["-M", manpath, page] if manpath else ["-l", page])
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def section(text, title):
    """The lines of one section of a rendered man page (headings start in column 0)."""
    lines = text.splitlines()
    start = lines.index(title) + 1
    end = next((i for i in range(start, len(lines)) if re.match(r"^[A-Z]", lines[i])), len(lines))
    return lines[start:end]


def test_meson_install_puts_neonfs_and_its_man_page_under_the_prefix(tmp_path):
    dest = tmp_path / "dest"
    r = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--destdir", str(dest)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    binaries = glob.glob(str(dest / "**" / "bin" / "neonfs"), recursive=True)
    pages = glob.glob(str(dest / "**" / "man1" / "neonfs.1"), recursive=True)
    assert len(binaries) == 1 and os.access(binaries[0], os.X_OK), binaries
    assert len(pages) == 1, pages
    # Beside each other under one prefix, as man(1) expects: <prefix>/bin, <prefix>/share/man.
    prefix = os.path.dirname(os.path.dirname(binaries[0]))
    assert pages[0].startswith(prefix + os.sep), (prefix, pages[0])
    r = subprocess.run([binaries[0], "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and re.search(r"^neonfs \d", r.stdout, re.M), r.stdout + r.stderr
    page = render_man("neonfs", manpath=os.path.dirname(os.path.dirname(pages[0])))
    assert re.search(r"neonfs - mount a Neon project", page), page[:500]
    for heading in ("SYNOPSIS", "OPTIONS", "ENVIRONMENT", "THE TREE", "ACTIONS", "CONSISTENCY",
                    "FILES", "EXAMPLES", "EXIT STATUS", "SEE ALSO"):
        assert heading in page.splitlines(), heading


def help_options():
    r = run_neonfs("--help")
    assert r.returncode == 0, r.stderr
    text = r.stdout
    ours = text[text.index("neonfs options:"):text.index("FUSE options:")]
    return set(re.findall(r"^\s+-o (\w+)", ours, re.M)), text


def man_options():
    page = render_man(os.path.join(BUILD, "neonfs.1"))
    # An option's own line is "-o name" or "-o name=ARG" and nothing else.
    return {m.group(1) for line in section(page, "OPTIONS")
            for m in [re.match(r"^\s+-o (\w+)(=[A-Z]+)?\s*$", line)] if m}


def accepted_options():
    """The options main.c's table takes, less the refused api_key and the fstab noise."""
    with open(os.path.join(REPO, "src", "main.c")) as f:
        src = f.read()
    table = src[src.index("main_opt_spec[] = {"):src.index("FUSE_OPT_END")]
    names = set(re.findall(r'(?:\{ |MAIN_OPT\()"(\w+)', table))
    return names - {"api_key"}


def readme_options():
    with open(os.path.join(REPO, "README.md")) as f:
        return set(re.findall(r"`-o (\w+)", f.read()))


def test_help_man_page_and_readme_list_every_option_main_accepts():
    in_help, _ = help_options()
    accepted = accepted_options()
    assert len(accepted) > 15, accepted
    assert in_help == accepted, ("--help", in_help ^ accepted)
    assert man_options() == accepted, ("neonfs(1)", man_options() ^ accepted)
    assert accepted <= readme_options(), ("README.md lacks", accepted - readme_options())


def test_help_shows_the_project_id_form():
    _, text = help_options()
    assert "usage: " in text and "[project-id] <mountpoint>" in text


@pytest.fixture
def mnt(tmp_path):
    path = tmp_path / "mnt"
    path.mkdir()
    yield str(path)
    if os.path.ismount(str(path)):
        subprocess.run(["fusermount3", "-uz", str(path)], capture_output=True)


def assert_refused(r, mnt, *words):
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    for w in words:
        assert w in r.stderr, (w, r.stderr)
    assert not os.path.ismount(mnt)


def test_a_project_and_an_organization_together_are_refused(mnt):
    r = run_neonfs("-f", "-o", "org=org-calm-sea-123", "p-one", mnt, env={"NEON_API_KEY": "k"})
    assert_refused(r, mnt, "both a project and an organization")
    r = run_neonfs("-f", "-o", "org=org-calm-sea-123", "org:org-other-1", mnt,
                   env={"NEON_API_KEY": "k"})
    assert_refused(r, mnt, "two organizations", "org-calm-sea-123", "org-other-1")
    r = run_neonfs("-f", "-o", "project_page=401", "org:org-calm-sea-123", mnt,
                   env={"NEON_API_KEY": "k"})
    assert_refused(r, mnt, "project_page=", "1 to 400")


def test_two_different_projects_are_refused(mnt):
    r = run_neonfs("-f", "-o", "project=p-one", "p-two", mnt, env={"NEON_API_KEY": "k"})
    assert_refused(r, mnt, "p-one", "p-two")


def test_a_third_word_is_a_usage_error(mnt):
    r = run_neonfs("-f", "p-one", mnt, "extra", env={"NEON_API_KEY": "k"})
    assert_refused(r, mnt, "usage:")


@pytest.mark.parametrize("url", [
    "postgresql://meta:hunter2-pw@127.0.0.1:5432/meta",
    "postgres://meta@127.0.0.1/meta?password=hunter2-pw",
    "host=127.0.0.1 user=meta password=hunter2-pw dbname=meta",
])
def test_a_password_in_meta_url_on_the_command_line_is_refused(mnt, url):
    r = run_neonfs("-f", "-o", "meta_url=" + url, "p-one", mnt, env={"NEON_API_KEY": "k"})
    assert_refused(r, mnt, "password", "NEONFS_META_URL", "PGPASSFILE", "~/.pgpass")
    assert "hunter2-pw" not in r.stderr


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644])
def test_a_key_file_group_or_others_can_get_at_is_refused(mnt, tmp_path, mode):
    key = tmp_path / "key"
    key.write_text("neon-secret-key\n")
    os.chmod(key, mode)
    r = run_neonfs("-f", "-o", "key_file=%s" % key, "p-one", mnt)
    assert_refused(r, mnt, str(key), "group or others", "%04o" % mode, "chmod 600")
    assert "neon-secret-key" not in r.stderr


def test_a_key_file_that_is_not_a_regular_file_is_refused(mnt, tmp_path):
    r = run_neonfs("-f", "-o", "key_file=%s" % tmp_path, "p-one", mnt)
    assert_refused(r, mnt, "not a regular file")


def test_example_systemd_units_verify(tmp_path):
    """systemd-analyze verify with the build's neonfs where the units expect the installed one."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    units = os.path.join(REPO, "examples", "systemd")
    names = sorted(os.listdir(units))
    assert names == ["mnt-neon-db.automount", "mnt-neon-db.mount", "neonfs@.service"], names
    for name in names:
        with open(os.path.join(units, name)) as f:
            text = f.read()
        (tmp_path / name).write_text(text.replace("/usr/local/bin/neonfs", NEONFS))
    man1 = tmp_path / "man" / "man1"
    man1.mkdir(parents=True)
    shutil.copy(os.path.join(BUILD, "neonfs.1"), str(man1))
    r = subprocess.run(["systemd-analyze", "verify"] + ["./" + n for n in names], cwd=str(tmp_path),
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MANPATH=str(tmp_path / "man")))
    assert r.returncode == 0 and r.stderr.strip() == "", r.stdout + r.stderr
