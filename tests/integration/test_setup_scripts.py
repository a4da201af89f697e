"""Set-up that says why it fails: local-neon, fetch-deps and try-it print the real cause,
clean up what they started and exit non-zero at once."""
import os
import re
import socket
import subprocess
import time

from mountlib import REPO
from stack import FETCH_DEPS, LOCAL_NEON

TRY_IT = os.path.join(REPO, "examples", "try-it")


def processes_mentioning(text):
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if text.encode() in f.read():
                        pids.append(int(pid))
            except OSError:
                pass
    return pids


def test_local_neon_start_with_an_emulator_that_cannot_bind_stops_postgres(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    directory = tmp_path / "stack"
    try:
        r = subprocess.run([LOCAL_NEON, "start", "--dir", str(directory), "--api-port", str(port)],
                           capture_output=True, text=True, timeout=120)
    finally:
        taken.close()
    assert r.returncode == 1, r.stderr
    assert r.stdout == ""
    assert "Address already in use" in r.stderr, r.stderr
    pgdata = re.search(r"initdb in (\S+)", r.stderr).group(1)
    # PostgreSQL had started; now neither it nor its files nor the instance are left.
    assert "starting PostgreSQL" in r.stderr
    assert processes_mentioning(pgdata) == []
    assert not os.path.exists(os.path.dirname(pgdata))
    assert not directory.exists()


def fetch_deps(tmp_path, registry, timeout_s):
    env = dict(os.environ, NEONFS_CACHE=str(tmp_path / "cache"), npm_config_registry=registry,
               npm_config_fetch_retries="0", npm_config_cache=str(tmp_path / "npm-cache"),
               NEONFS_FETCH_TIMEOUT=str(timeout_s))
    t0 = time.monotonic()
    r = subprocess.run([FETCH_DEPS], capture_output=True, text=True, env=env, timeout=60)
    return r, time.monotonic() - t0


def test_fetch_deps_names_an_unreachable_registry(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    registry = "http://127.0.0.1:%d/" % port
    r, _ = fetch_deps(tmp_path, registry, 30)
    assert r.returncode == 1
    assert r.stdout == ""
    assert "ECONNREFUSED" in r.stderr and registry in r.stderr, r.stderr
    # Nothing half-fetched is left to be taken for complete next time.
    assert os.listdir(tmp_path / "cache") == []


def test_fetch_deps_gives_up_on_a_registry_that_never_answers(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)      # connections complete in the backlog and never get an answer
    registry = "http://127.0.0.1:%d/" % silent.getsockname()[1]
    try:
        r, elapsed = fetch_deps(tmp_path, registry, 2)
    finally:
        silent.close()
    assert r.returncode == 1
    assert "gave up after 2 s" in r.stderr and registry in r.stderr, r.stderr
    assert elapsed < 20
    assert os.listdir(tmp_path / "cache") == []


def test_try_it_stops_at_once_when_the_stack_does_not_start(tmp_path):
    mnt = tmp_path / "mnt"
    env = dict(os.environ, TMPDIR=str(tmp_path), PG_BINDIR=str(tmp_path / "no-postgres"))
    for k in ("NEON_API_KEY", "NEON_PROJECT_ID", "NEON_API_HOST", "NEONFS_META_URL"):
        env.pop(k, None)
    r = subprocess.run([TRY_IT, str(mnt)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "initdb failed" in r.stderr, r.stderr
    assert "did not start" in r.stderr
    assert "API key" not in r.stderr and "neonfs is mounted" not in r.stdout
    assert not os.path.ismount(str(mnt))
    assert not (tmp_path / "neonfs-try-it").exists()
