"""Many readers at once: listings are immutable and shared between request threads, so a
reference counted wrongly frees a listing another thread still reads. Under the ASan+UBSan
build that is a report, and the fixture fails the test on it.

Eight threads stat, list and read every file of the mount in a loop while a ninth makes and
deletes a snapshot, so listings are dropped and rebuilt under the readers. The run lasts
NEONFS_STRESS_SECONDS (default 60).
"""
import errno
import os
import stat
import threading
import time

import pytest

from mountlib import wait_for

pytestmark = pytest.mark.concurrency

SECONDS = float(os.environ.get("NEONFS_STRESS_SECONDS", "60"))
CHURN = "churn"


def walk_once(root, errors):
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
                if name == "events" or not stat.S_ISREG(st.st_mode):
                    continue
                with open(path, "rb") as f:
                    data = f.read()
                # stat's size is what a read returns, for files whose text is stable. The
                # active branch (active/ and branches/main) changes with every snapshot the
                # churner makes, and a branch's meta.json shows live facts (its WAL position,
                # its size), so their size may move between the stat and the read.
                live = "/branches/main/" in path or ("/branches/" in path and
                                                     name == "meta.json")
                stable = "active" not in path and not live
                if stable and len(data) != st.st_size and CHURN not in path:
                    errors.append("%s: stat says %d bytes, read gave %d" %
                                  (path, st.st_size, len(data)))
            except OSError as e:
                # Only the snapshot the churner makes and deletes may vanish mid-walk.
                if not (e.errno == errno.ENOENT and CHURN in path):
                    errors.append("%s: %s" % (path, e))


def test_eight_readers_and_a_writer_for_a_while(mount_factory, project):
    fs = mount_factory("cache_ttl=0.2", "attr_timeout=0", "poll_min=0.5", "poll_max=1")
    for name in ("s1", "s2", "s3"):
        os.mkdir(fs.p("snapshots", name))
        with open(fs.p("snapshots", name, "state.json"), "w") as f:
            f.write('{"step": "%s"}' % name)
    os.mkdir(fs.p("branches", "b1"))

    stop = threading.Event()
    errors = []
    rounds = [0] * 8

    def reader(i):
        while not stop.is_set():
            walk_once(fs.path, errors)
            rounds[i] += 1

    def churner():
        while not stop.is_set():
            try:
                os.mkdir(fs.p("snapshots", CHURN))
                os.rmdir(fs.p("snapshots", CHURN))
            except OSError as e:
                errors.append("churn: %s" % e)
                return

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    threads.append(threading.Thread(target=churner))
    for t in threads:
        t.start()
    deadline = time.monotonic() + SECONDS
    try:
        wait_for(lambda: stop.is_set() or time.monotonic() > deadline or errors,
                 SECONDS + 5, "the stress run to end")
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    assert not errors, errors[:20]
    assert all(r > 0 for r in rounds), rounds
    # The mount still answers, and says the same as before.
    assert sorted(os.listdir(fs.p("snapshots"))) == ["s1", "s2", "s3"]
    assert fs.read("snapshots", "s2", "state.json") == '{"step": "s2"}'
