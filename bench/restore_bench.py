#!/usr/bin/python3
"""Restore wall time: neonfs against the API's own operation time and a minimal client.

Starts the local stack, mounts neonfs, and for each round restores the same snapshot
three ways, one after the other:
  - neonfs:   `echo snap > active/restore`, timed from open to close;
  - minimal:  POST restore, then poll every operation in a tight loop with no sleep,
              then one query through the connection string (the floor for any client);
  - the API's own time: the emulator runs a restore's operations back to back so that the
    last one finishes operation_ms after the request; that is the floor.
Writes bench/RESTORE.md with the machine and the date.

    bench/restore_bench.py [--rounds N] [--operation-ms MS]
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from stack import Stack  # noqa: E402
from mountlib import Mount, sql, wait_idle  # noqa: E402


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def api_json(stack, method, path, body=None):
    status, parsed = stack.api(method, path, body=body)
    if status >= 300:
        raise RuntimeError("%s %s -> %s %s" % (method, path, status, parsed))
    return parsed


def minimal_restore(stack, snap_id, uri):
    """What a client that knows exactly what to do, and polls flat out, would take."""
    pid = stack.env["NEON_PROJECT_ID"]
    t0 = time.monotonic()
    branches = api_json(stack, "GET", "/projects/%s/branches" % pid)["branches"]
    main = [b for b in branches if b["name"] == "main"][0]["id"]
    resp = api_json(stack, "POST", "/projects/%s/snapshots/%s/restore" % (pid, snap_id),
                    {"target_branch_id": main, "finalize_restore": True})
    pending = {op["id"] for op in resp["operations"]}
    polls = 0
    ops = {}
    while pending:
        for op_id in list(pending):
            op = api_json(stack, "GET", "/projects/%s/operations/%s" % (pid, op_id))["operation"]
            polls += 1
            ops[op_id] = op
            if op["status"] in ("finished", "skipped", "cancelled", "error"):
                pending.discard(op_id)
    while True:
        try:
            sql(uri, "SELECT 1")
            break
        except Exception:
            pass
    return time.monotonic() - t0, polls, list(ops.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--operation-ms", type=int, default=1000)
    ap.add_argument("--build", default=os.environ.get("NEONFS_BUILD_DIR", os.path.join(REPO, "build")))
    ap.add_argument("--out", default=os.path.join(HERE, "RESTORE.md"))
    args = ap.parse_args()
    os.environ["NEONFS_BUILD_DIR"] = args.build

    tmp = tempfile.mkdtemp(prefix="neonfs-bench-")
    stack = Stack.start(os.path.join(tmp, "stack"), operation_ms=args.operation_ms)
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    m = None
    rows = {"neonfs": [], "minimal": [], "neonfs_polls": [], "minimal_polls": []}
    try:
        m = Mount(stack, mnt, os.path.join(tmp, "neonfs.log"), ["poll_min=600", "poll_max=600"])
        uri = m.read("active", "connection_uri").strip()
        sql(uri, "CREATE TABLE bench (id int primary key, v text)")
        sql(uri, "INSERT INTO bench SELECT g, md5(g::text) FROM generate_series(1, 1000) g")
        os.mkdir(m.p("snapshots", "bench"))
        snap_id = m.read("snapshots", "bench", "id").strip()
        wait_idle(stack)
        for _ in range(args.rounds):
            stack.clear_requests()
            t0 = time.monotonic()
            with open(m.p("active", "restore"), "w") as f:
                f.write("bench\n")
            rows["neonfs"].append(time.monotonic() - t0)
            rows["neonfs_polls"].append(sum(1 for r in stack.requests()
                                            if "/operations/" in r["path"]))
            wait_idle(stack)
            took, polls, _ = minimal_restore(stack, snap_id, uri)
            rows["minimal"].append(took)
            rows["minimal_polls"].append(polls)
            wait_idle(stack)
    finally:
        if m:
            m.unmount()
        stack.stop()

    def cell(values):
        return "%.0f ms (min %.0f, max %.0f)" % (statistics.median(values) * 1000,
                                                min(values) * 1000, max(values) * 1000)
    over = [a - b for a, b in zip(rows["neonfs"], rows["minimal"])]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    text = """# Restore wall time

Measured by `bench/restore_bench.py` on %s.
Machine: %s, %d cores, %s; Linux %s. Local Neon API emulator, operations configured to
take %d ms; %d rounds, restoring a snapshot of a 1000-row table into the active branch.

| what | median (min, max) |
|---|---|
| the API's own operation time (request to last operation finished) | %d ms |
| minimal client: POST restore, poll without pause, one query through the URI | %s |
| neonfs: `echo bench > active/restore`, open to close | %s |
| neonfs minus minimal client | %s |
| operation polls per restore: neonfs, minimal client | %s |

neonfs polls the operations in order, the first poll after 20 ms, then each interval
at most 10%% of the time waited so far (and at most 1 s): the write returns within about a
tenth of the operations' own time after they end, for a small fraction of the requests of
a client that polls without pause. Raw seconds: %s
""" % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), cpu,
       os.cpu_count(), platform.platform(), platform.release(), args.operation_ms,
       args.rounds, args.operation_ms, cell(rows["minimal"]), cell(rows["neonfs"]),
       "%.0f ms median" % (statistics.median(over) * 1000),
       "%d, %d (medians)" % (statistics.median(rows["neonfs_polls"]),
                             statistics.median(rows["minimal_polls"])),
       json.dumps({k: [round(v, 3) for v in vals] for k, vals in rows.items()}))
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
