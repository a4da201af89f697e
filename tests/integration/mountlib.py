"""Helpers for the integration tests: mounting neonfs for real, waiting, SQL."""
import os
import re
import subprocess
import time

from stack import Stack

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("NEONFS_BUILD_DIR", os.path.join(REPO, "build"))
NEONFS = os.path.join(BUILD, "neonfs")

SANITIZER = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer"
                       r"|WARNING: ThreadSanitizer")


def wait_for(cond, timeout=30.0, what="condition"):
    """Polls cond() until it is true; fails with @what after @timeout seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


class Mount:
    def __init__(self, stack, path, log_path, options, env_extra=None, env_drop=()):
        self.stack = stack
        self.path = path
        self.log_path = log_path
        env = dict(os.environ)
        env.update(stack.env)
        for k in env_drop:
            env.pop(k, None)
        if env_extra:
            env.update(env_extra)
        self.env = env
        args = [NEONFS, "-f"]
        if options:
            args += ["-o", ",".join(options)]
        args.append(path)
        self.args = args
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self._wait_mounted()

    def _wait_mounted(self):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("neonfs exited with %s before mounting:\n%s"
                                     % (self.proc.returncode, self.output()))
            return os.path.ismount(self.path)
        wait_for(ready, 30, "the mount at " + self.path)

    def p(self, *parts):
        return os.path.join(self.path, *parts)

    def read(self, *parts):
        with open(self.p(*parts)) as f:
            return f.read()

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def unmount(self):
        if self.proc.poll() is None and os.path.ismount(self.path):
            r = subprocess.run(["fusermount3", "-u", self.path], capture_output=True)
            if r.returncode != 0:
                subprocess.run(["fusermount3", "-u", "-z", self.path], capture_output=True)
        elif self.proc.poll() is not None:
            # The daemon died (a sanitizer halts it on a report): its mount is left behind,
            # dead, and ismount cannot even stat it.
            subprocess.run(["fusermount3", "-u", "-z", self.path], capture_output=True)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "killed"
        self.log.close()
        return rc


def exit_problem(m):
    """Unmounts @m: None when its daemon exited 0 without a sanitizer report, else what
    went wrong, with the end of its log."""
    rc = m.unmount()
    out = m.output()
    if rc != 0:
        return "neonfs at %s exited with %s:\n%s" % (m.path, rc, out[-4000:])
    if SANITIZER.search(out):
        return "sanitizer report from neonfs at %s:\n%s" % (m.path, out[-8000:])
    return None


def wait_idle(stack, timeout=60):
    """Waits until no operation of the project is still running."""
    pid = stack.env["NEON_PROJECT_ID"]

    def idle():
        status, body = stack.api("GET", "/projects/%s/operations" % pid, query={"limit": "1000"})
        assert status == 200, body
        return all(op["status"] in ("finished", "skipped", "cancelled", "error")
                   for op in body["operations"])
    wait_for(idle, timeout, "the project's operations to end")


def reset_project(stack):
    """Back to a project with no snapshots and only its default branch."""
    pid = stack.env["NEON_PROJECT_ID"]
    stack.clear_faults()
    wait_idle(stack)
    status, body = stack.api("GET", "/projects/%s/snapshots" % pid)
    assert status == 200, body
    for snap in body["snapshots"]:
        status, body2 = stack.api("DELETE", "/projects/%s/snapshots/%s" % (pid, snap["id"]))
        assert status in (200, 202, 404), body2
        wait_idle(stack)
    # An undo (a branch restore) makes the branch it undid from the default branch's
    # parent, which cannot be deleted: a snapshot restore gives the default branch a new
    # root branch, and the rest can go.
    status, body = stack.api("GET", "/projects/%s/branches" % pid)
    assert status == 200, body
    main = next(b for b in body["branches"] if b.get("default"))
    if main.get("parent_id"):
        status, body = stack.api("POST", "/projects/%s/branches/%s/snapshot" % (pid, main["id"]))
        assert status == 200, body
        sid = body["snapshot"]["id"]
        wait_idle(stack)
        status, body = stack.api("POST", "/projects/%s/snapshots/%s/restore" % (pid, sid),
                                 body={"target_branch_id": main["id"], "finalize_restore": True})
        assert status == 200, body
        wait_idle(stack)
        status, body = stack.api("DELETE", "/projects/%s/snapshots/%s" % (pid, sid))
        assert status in (200, 202), body
        wait_idle(stack)
    # Children before parents; the default branch stays.
    while True:
        status, body = stack.api("GET", "/projects/%s/branches" % pid)
        assert status == 200, body
        branches = [b for b in body["branches"] if not b.get("default")]
        if not branches:
            break
        parents = {b.get("parent_id") for b in body["branches"]}
        leaves = [b for b in branches if b["id"] not in parents] or branches
        for b in leaves:
            status, body2 = stack.api("DELETE", "/projects/%s/branches/%s" % (pid, b["id"]))
            assert status in (200, 204), body2
            wait_idle(stack)
    stack.clear_requests()


# Runs one statement through a new connection; returns its rows (or None).
sql = Stack.sql
