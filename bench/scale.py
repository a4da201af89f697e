#!/usr/bin/python3
"""neonfs at an organization's scale: one mount of every project of a large organization.

    bench/scale.py [--projects 5000] [--open 500] [--writers 50] [--seconds 60] [--idle 60]

Starts its own local stack (tests/local-neon with --projects N), mounts the organization,
and measures, in order:
  - the listing: projects listed, API calls and time of `ls -l <mnt>` cold and warm;
  - RSS after listing, and after snapshots/ of --open projects was opened;
  - idle: API calls the mount makes while nobody uses it for --idle seconds;
  - load, through a second mount with the default budget (api_rate=600) against a key the
    emulator limits as Neon does (700 requests a minute, 40 a second per route):
    --writers threads each make and delete snapshots in a project of their own for
    --seconds, while a reader lists snapshots/ of those projects and of as many others in
    turn: p50 and p99 of that `ls` in each, how many 429s reached a writer, and the
    emulator's peak rates.
It replaces the "Scale" section of bench/RESULTS.md (between its markers) and prints it."""
import argparse
import errno
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from mountlib import Mount  # noqa: E402
from stack import Stack  # noqa: E402

BEGIN = "<!-- scale: begin -->"
END = "<!-- scale: end -->"


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def api_calls(st):
    """Requests in the emulator's log, its own admin routes left out."""
    return [r for r in st.requests() if "/_emulator" not in r.get("path", "")]


def timed(fn):
    t = time.monotonic()
    out = fn()
    return time.monotonic() - t, out


def ls_l(path):
    """What `ls -l` does: the names, then a stat of each; one a writer deleted between the
    two is what ls would report too, and does not end the run."""
    names = [n for n in os.listdir(path)]
    for n in names:
        try:
            os.lstat(os.path.join(path, n))
        except FileNotFoundError:
            pass
    return names


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def writer(root, stop, out):
    """mkdir and rmdir of one snapshot in a loop; errnos counted, 429s apart."""
    i = 0
    while not stop.is_set():
        name = os.path.join(root, "snapshots", "w%d" % i)
        for op in (os.mkdir, os.rmdir):
            try:
                op(name)
                out["ok"] += 1
            except OSError as e:
                out["err"][errno.errorcode.get(e.errno, str(e.errno))] = \
                    out["err"].get(errno.errorcode.get(e.errno, str(e.errno)), 0) + 1
        i += 1


class Rows(list):
    """The table's rows, each printed as it is measured, so a run cut short says what it
    measured."""

    def append(self, row):
        print("scale: %s: %s" % row, flush=True)
        super().append(row)


def run(args):
    rows = Rows()
    tmp = tempfile.mkdtemp(prefix="neonfs-scale-")
    t0 = time.monotonic()
    st = Stack.start(tmp, operation_ms=args.operation_ms, projects=args.projects)
    rows.append(("organization", "%d projects, emulator up in %.1f s" %
                 (args.projects, time.monotonic() - t0)))
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    m = None
    try:
        st.clear_requests()
        st.rate(reset=True)
        # Listing, memory and idle without a budget: opening 500 projects is thousands of
        # calls, which the budget would spread over minutes.
        m = Mount(st, mnt, os.path.join(tmp, "neonfs.log"),
                  ["org=" + st.org_id, "cache_ttl=%g" % args.cache_ttl, "api_rate=0"])
        pid = m.proc.pid
        rows.append(("API calls to mount", "%d" % len(api_calls(st))))
        # Cold: the listing the mount made at start has expired (the benchmark waits out
        # the cache window, cache_ttl for each page of 400; no synchronisation).
        time.sleep(args.cache_ttl * (args.projects // 400 + 1) + 0.5)
        st.clear_requests()
        cold, names = timed(lambda: ls_l(mnt))
        projects = [n for n in names if n != "events"]
        cold_calls = len(api_calls(st))
        st.clear_requests()
        warm, _ = timed(lambda: ls_l(mnt))
        warm_calls = len(api_calls(st))
        rows.append(("projects listed", "%d" % len(projects)))
        rows.append(("`ls -l` of the root, cold", "%.0f ms, %d API calls (%.0f projects a "
                     "call)" % (cold * 1000, cold_calls,
                                len(projects) / cold_calls if cold_calls else 0)))
        rows.append(("`ls -l` of the root, warm", "%.1f ms, %d API calls" %
                     (warm * 1000, warm_calls)))
        rows.append(("RSS after listing", "%.1f MiB" % rss_mib(pid)))

        st.clear_requests()
        t = time.monotonic()
        for n in projects[:args.open]:
            os.listdir(os.path.join(mnt, n, "snapshots"))
        opened = time.monotonic() - t
        calls = len(api_calls(st))
        rows.append(("snapshots/ of %d projects opened" % min(args.open, len(projects)),
                     "%.1f s, %d API calls (%.1f a project)" %
                     (opened, calls, calls / max(1, min(args.open, len(projects))))))
        rows.append(("RSS after opening them", "%.1f MiB" % rss_mib(pid)))

        # Idle: every opened project was used within poll_max; after that, nothing.
        time.sleep(args.settle)  # the benchmark waits out poll_max: no synchronisation
        st.clear_requests()
        time.sleep(args.idle)
        idle_calls = len(api_calls(st))
        rows.append(("idle", "%d API calls in %d s (%.1f a minute), %d projects opened" %
                     (idle_calls, args.idle, idle_calls * 60.0 / args.idle,
                      min(args.open, len(projects)))))

        m.unmount()
        m = None
        # Load, through a mount with the default budget against a key limited as Neon's:
        # writers in projects of their own, a reader listing theirs.
        st.config(rate_per_minute=700, rate_per_second=40)
        m = Mount(st, mnt, os.path.join(tmp, "neonfs-load.log"),
                  ["org=" + st.org_id, "cache_ttl=%g" % args.cache_ttl])
        pid = m.proc.pid
        mine = projects[:args.writers]
        stop = threading.Event()
        outs = [{"ok": 0, "err": {}} for _ in mine]
        threads = [threading.Thread(target=writer, args=(os.path.join(mnt, n), stop, o))
                   for n, o in zip(mine, outs)]
        st.rate(reset=True)
        for th in threads:
            th.start()
        # The reader alternates between the writers' projects and as many others, which
        # only it uses (the first `ls` of each opens it).
        others = projects[args.writers:2 * args.writers] or mine
        lat, lat_others = [], []
        end = time.monotonic() + args.seconds
        i = 0
        while time.monotonic() < end:
            busy = i % 2 == 0
            where = mine[(i // 2) % len(mine)] if busy else others[(i // 2) % len(others)]
            d, _ = timed(lambda: ls_l(os.path.join(mnt, where, "snapshots")))
            (lat if busy else lat_others).append(d * 1000)
            i += 1
        stop.set()
        for th in threads:
            th.join(120)
        errs = {}
        for o in outs:
            for k, v in o["err"].items():
                errs[k] = errs.get(k, 0) + v
        rate = st.rate()
        rows.append(("load: %d writers for %d s" % (len(mine), args.seconds),
                     "%d mkdir/rmdir done, errors: %s" %
                     (sum(o["ok"] for o in outs),
                      ", ".join("%s %d" % kv for kv in sorted(errs.items())) or "none")))
        rows.append(("`ls snapshots/` under that load, in the writers' projects",
                     "p50 %.1f ms, p99 %.1f ms (%d ls)" %
                     (pct(lat, 0.5), pct(lat, 0.99), len(lat))))
        rows.append(("`ls snapshots/` under that load, in %d other projects" % len(others),
                     "p50 %.1f ms, p99 %.1f ms (%d ls)" %
                     (pct(lat_others, 0.5), pct(lat_others, 0.99), len(lat_others))))
        rows.append(("emulator's peaks under load", ", ".join(
            "%s %s" % (k, rate[k]) for k in sorted(rate) if not isinstance(rate[k], dict))))
        rows.append(("RSS at the end", "%.1f MiB" % rss_mib(pid)))
    finally:
        if m:
            m.unmount()
        st.stop()
        subprocess.run(["rm", "-rf", tmp])
    return rows


def section(rows, args, took):
    out = [BEGIN, "## Scale: one mount of an organization\n",
           "Measured by `bench/scale.py --projects %d --open %d --writers %d --seconds %d "
           "--idle %d` on %s, in %.0f s; %s, %d cores. Listing, memory and idle: a mount "
           "without a budget (`api_rate=0`); load: a mount with the default budget "
           "(`api_rate=600`) against a key the emulator limits as Neon does (700 a minute, "
           "40 a second per route). cache_ttl %g s, operations of %d ms.\n" %
           (args.projects, args.open, args.writers, args.seconds, args.idle,
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), took, platform.machine(),
            os.cpu_count(), args.cache_ttl, args.operation_ms),
           "| measure | result |", "|---|---|"]
    out += ["| %s | %s |" % r for r in rows]
    out += ["", "Under the load the budget is full: the writers keep about one call each waiting, "
            "and the waiting flows (each project's reads, its changes, the organization's "
            "listing) are served in turn at 10 calls a second, so a call waits about one "
            "token for each flow waiting, and an `ls` waits one such turn for each call it "
            "needs. The first `ls` of a project nobody used opens it (3 calls) and, once the "
            "projects listing's window has passed, reads that listing again (13 pages at "
            "5,000 projects, at 16 turns for every project's one): that is what the row of "
            "the other projects pays. Fair queuing keeps one busy project from holding the others back; it "
            "cannot make the budget larger. The mount's log says, for every call, how long "
            "it waited for the budget.", "", END]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--projects", type=int, default=5000)
    ap.add_argument("--open", type=int, default=500)
    ap.add_argument("--writers", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--idle", type=int, default=60)
    ap.add_argument("--settle", type=float, default=35.0,
                    help="seconds to wait before the idle count (poll_max's default is 30)")
    ap.add_argument("--cache-ttl", type=float, default=1.0)
    ap.add_argument("--operation-ms", type=int, default=100)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    t = time.monotonic()
    rows = run(args)
    text = section(rows, args, time.monotonic() - t)
    print(text)
    old = open(args.out).read() if os.path.exists(args.out) else ""
    if BEGIN in old and END in old:
        new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END) + "\n?", lambda _: text, old,
                     flags=re.S)
    elif "\n## Raw numbers" in old:
        new = old.replace("\n## Raw numbers", "\n" + text + "\n## Raw numbers", 1)
    else:
        new = old + "\n" + text
    with open(args.out, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main()
