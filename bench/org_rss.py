#!/usr/bin/python3
"""Memory of an organization's mount: the resident size of neonfs after it listed every
project of a large organization, and after snapshots/ of many of them was opened.

    bench/org_rss.py [--projects 5000] [--open 500] [--page 400]

Starts its own local stack (tests/local-neon with --projects N), mounts the organization,
and prints VmRSS and VmHWM of the daemon at each step, with the API calls each step made.
The emulator makes a project's databases when it is first used, so --open takes a while
on its side (a CREATE DATABASE and a compute proxy each)."""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from mountlib import Mount  # noqa: E402
from stack import Stack  # noqa: E402


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                out[k] = v.strip()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--projects", type=int, default=5000)
    ap.add_argument("--open", type=int, default=500)
    ap.add_argument("--page", type=int, default=400)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="neonfs-org-rss-")
    t0 = time.monotonic()
    st = Stack.start(tmp, operation_ms=0, projects=args.projects)
    print("stack with %d projects up in %.1fs" % (args.projects, time.monotonic() - t0))
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    m = None
    try:
        st.clear_requests()
        m = Mount(st, mnt, os.path.join(tmp, "neonfs.log"),
                  ["org=" + st.org_id, "project_page=%d" % args.page, "cache_ttl=600",
                   "api_rate=0"])
        pid = m.proc.pid
        print("mounted:", status(pid), "calls:", len(st.requests()))
        st.clear_requests()
        t = time.monotonic()
        names = [n for n in os.listdir(mnt) if n != "events"]
        for n in names:
            os.lstat(os.path.join(mnt, n))
        print("ls -l of %d projects in %.2fs:" % (len(names), time.monotonic() - t),
              status(pid), "calls:", len(st.requests()))
        st.clear_requests()
        t = time.monotonic()
        for i, n in enumerate(names[:args.open]):
            os.listdir(os.path.join(mnt, n, "snapshots"))
            if (i + 1) % 100 == 0:
                print("  %d opened (%.0fs): %s" % (i + 1, time.monotonic() - t, status(pid)))
        print("snapshots/ of %d projects opened:" % min(args.open, len(names)), status(pid),
              "calls:", len(st.requests()))
    finally:
        if m:
            m.unmount()
        st.stop()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
