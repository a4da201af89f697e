#!/usr/bin/python3
"""neonfs side by side with the floor, the Neon CLI and tmpfs, in one run.

Starts the local stack (PostgreSQL + the Neon API emulator, operations that finish at
once), mounts neonfs, and measures every action through neonfs against:
  floor  a minimal Python client (this file's Floor) that makes exactly the API calls the
         action needs, on one kept-alive HTTP connection, polling without pause;
  cli    the Neon CLI (neon@5.0.1, fetched by tests/fetch-deps) doing the same action;
         it returns before Neon's operations end, so its time includes the floor's wait
         for them (and for a query, where the action ends with one);
  tmpfs  a copy of the mount's tree in /dev/shm, for listings and reads.
The contenders alternate round by round; every figure is a median over the rounds with
its spread. API calls come from the emulator's request log, SQL round trips (client
flights) from its compute proxies. Each set runs at the emulated round trips given with
--rtt (the emulator's latency_ms knob: every API call and every SQL flight pays it).

    bench/run                          the full run; writes bench/RESULTS.md
    bench/run --rounds 5 --rtt 0,20,100
    bench/run --check                  one round at round trip 0, neonfs only: fails if an
                                       action makes more API calls than bench/expected-calls

Listings and reads are timed as a user runs them: `ls -l`, `cat`, `ls -lR` as commands
(so both neonfs and tmpfs carry the cost of starting the command). Cold means neonfs's
listing cache (cache_ttl, 2 s) and the kernel's attribute cache (attr_timeout, 1 s) have
expired; warm is the same command again at once.
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import psycopg2  # noqa: E402

from stack import Stack, TERMINAL, ensure_deps  # noqa: E402
from mountlib import Mount  # noqa: E402

EXPECTED = os.path.join(HERE, "expected-calls")
COLD_WAIT_S = 2.3       # neonfs's cache_ttl (2 s) and attr_timeout (1 s), with a margin
MUTATIONS = ["mkdir", "mv", "rmdir", "restore", "preview", "branch"]
ACTION_TEXT = {
    "mkdir": "`mkdir snapshots/s` (until usable)",
    "rmdir": "`rmdir snapshots/s`",
    "mv": "`mv snapshots/s snapshots/t`",
    "restore": "`echo base > active/restore` (until a query sees the restored data)",
    "preview": "`ln -s ../snapshots/base branches/pv` (until its URI answers)",
    "branch": "`mkdir branches/x` (until usable)",
}
CLI_TEXT = {
    "mkdir": "`snapshots create --name s`",
    "rmdir": "`snapshots delete s`",
    "mv": "`snapshots update s --name t`",
    "restore": "`snapshots restore base --finalize --target-branch main`",
    "preview": "`snapshots restore base --name pv --target-branch main`, "
               "`branches add-compute pv --type read_write`, then the URI from the API (the emulator does not "
               "serve what `connection-string` asks for)",
    "branch": "`branches create --name x`",
    "list": "`snapshots list`",
    "get": "`snapshots get base`",
}


def now():
    return time.perf_counter()


def median(v):
    return statistics.median(v) if v else None


# ---------------------------------------------------------------------------
# the floor: exactly the API calls an action needs, no pause between polls
# ---------------------------------------------------------------------------
class Floor:
    def __init__(self, stack):
        u = urllib.parse.urlsplit(stack.env["NEON_API_HOST"])
        self.host, self.port, self.prefix = u.hostname, u.port, u.path.rstrip("/")
        self.auth = {"Authorization": "Bearer " + stack.api_key, "Accept": "application/json"}
        self.p = "/projects/%s" % stack.project_id
        self.conn = None

    def call(self, method, path, body=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            hdrs = dict(self.auth)
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                hdrs["Content-Type"] = "application/json"
            try:
                self.conn.request(method, self.prefix + self.p + path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                raw = resp.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            if resp.status >= 300:
                raise RuntimeError("%s %s -> %d %s" % (method, path, resp.status, raw[:300]))
            return json.loads(raw) if raw else None

    def wait(self, ops):
        """Polls each operation until it is terminal, without pause."""
        for op in ops:
            status = op["status"]
            while status not in TERMINAL:
                status = self.call("GET", "/operations/" + op["id"])["operation"]["status"]

    def branch_id(self, name):
        for b in self.call("GET", "/branches")["branches"]:
            if b["name"] == name:
                return b["id"]
        raise KeyError(name)

    def snapshot_id(self, name):
        for s in self.call("GET", "/snapshots")["snapshots"]:
            if s["name"] == name:
                return s["id"]
        raise KeyError(name)

    def settle(self):
        """After a CLI command: waits for whatever operations it started."""
        ops = self.call("GET", "/operations?limit=20")["operations"]
        self.wait([op for op in ops if op["status"] not in TERMINAL])

    # The actions, by name as the user gives them.
    def mkdir(self, name):
        resp = self.call("POST", "/branches/%s/snapshot?name=%s"
                         % (self.branch_id("main"), urllib.parse.quote(name)))
        self.wait(resp["operations"])

    def rmdir(self, name):
        resp = self.call("DELETE", "/snapshots/" + self.snapshot_id(name))
        self.wait(resp["operations"])

    def mv(self, name, new):
        self.call("PATCH", "/snapshots/" + self.snapshot_id(name), {"snapshot": {"name": new}})

    def restore(self, name):
        snap = self.snapshot_id(name)
        resp = self.call("POST", "/snapshots/%s/restore" % snap,
                         {"target_branch_id": self.branch_id("main"), "finalize_restore": True})
        self.wait(resp["operations"])

    def preview(self, snap_name, branch_name):
        # The target must be named: the default is the snapshot's source branch, which
        # an earlier restore may have replaced.
        resp = self.call("POST", "/snapshots/%s/restore" % self.snapshot_id(snap_name),
                         {"name": branch_name, "target_branch_id": self.branch_id("main")})
        self.wait(resp["operations"])
        ep = self.call("POST", "/endpoints",
                       {"endpoint": {"branch_id": resp["branch"]["id"], "type": "read_write"}})
        self.wait(ep["operations"])
        return self.call("GET", "/connection_uri?branch_id=%s&database_name=neondb"
                         "&role_name=neondb_owner" % resp["branch"]["id"])["uri"]

    def branch(self, name):
        resp = self.call("POST", "/branches", {"branch": {"name": name},
                                               "endpoints": [{"type": "read_write"}]})
        self.wait(resp["operations"])


def query(uri, sql):
    conn = psycopg2.connect(uri, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description is not None else None
    finally:
        conn.close()


def until_value(uri, want):
    """Queries through @uri until it answers @want (a restore is done when it does)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if query(uri, "SELECT v FROM bench WHERE id = 1") == [(want,)]:
                return
        except psycopg2.Error:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the URI never answered %r" % want)


def until_answers(uri):
    deadline = time.monotonic() + 60
    while True:
        try:
            query(uri, "SELECT 1")
            return
        except psycopg2.Error:
            if time.monotonic() > deadline:
                raise


# ---------------------------------------------------------------------------
# the Neon CLI
# ---------------------------------------------------------------------------
class Cli:
    def __init__(self, stack, home):
        self.stack = stack
        self.home = home
        self.node = shutil.which("node") or "/usr/bin/node"
        self.cli = ensure_deps()[1]

    def run(self, *args):
        out = self.run_text(*args)
        return json.loads(out) if out.strip() else None

    def run_text(self, *args):
        st = self.stack
        cmd = [self.node, self.cli, "--no-analytics", "--project-id", st.project_id,
               "--api-host", st.env["NEON_API_HOST"], "--api-key", st.api_key, "-o", "json"]
        env = dict(os.environ, HOME=self.home, NO_COLOR="1")
        env.pop("NEON_API_KEY", None)
        env.pop("NEON_API_HOST", None)
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120,
                           env=env, cwd=self.home)
        if r.returncode != 0:
            raise RuntimeError("neon %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                         r.stderr[-500:]))
        return r.stdout


# ---------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------
class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="neonfs-bench-")
        self.stack = None
        self.mount = None
        self.shm = None
        self.last_fs = 0.0      # perf_counter of neonfs's last use, for cold measurements
        self.seq = 0
        self.made = {}          # contender -> the snapshot its mkdir made, for mv and rmdir
        # results[rtt][action][contender] = {"t": [...], "calls": [...], "sql": [...], ...}
        self.results = {}
        self.schema_gap = {}    # rtt -> [seconds neonfs spent capturing the schema per mkdir]
        self.notes = []

    # -- helpers -----------------------------------------------------------
    def rec(self, rtt, action, who):
        return self.results.setdefault(rtt, {}).setdefault(action, {}).setdefault(
            who, {"t": [], "calls": [], "sql": [], "api": [], "work": [], "log": None})

    def unique(self, prefix):
        self.seq += 1
        return "%s%d" % (prefix, self.seq)

    def sql_flights(self):
        return sum(e.get("sql_flights", 0) for e in self.stack.state()["endpoints"])

    def cold(self):
        left = COLD_WAIT_S - (now() - self.last_fs)
        if left > 0:
            time.sleep(left)  # cache lifetimes of neonfs and the kernel must pass

    def measure(self, rtt, action, who, fn, fs=False, keep_log=False):
        """Times @fn; records API calls and SQL flights it caused."""
        self.stack.clear_requests()
        flights = self.sql_flights()
        t0 = now()
        wall0 = time.time()
        fn()
        dt = now() - t0
        if fs:
            self.last_fs = now()
        reqs = self.stack.requests()
        r = self.rec(rtt, action, who)
        r["t"].append(dt)
        r["calls"].append(len(reqs))
        r["sql"].append(self.sql_flights() - flights)
        r["api"].append(sum(q.get("elapsed_s", 0) for q in reqs))
        r["work"].append(sum(q.get("elapsed_s", 0) for q in reqs if q["method"] != "GET"))
        if r["log"] is None or keep_log or len(reqs) > len(r["log"]):
            r["log"] = ["%s %s%s" % (q["method"], q["path"].replace(self.stack.project_path(), "/p"),
                                     "?" + q["raw_query"] if q["raw_query"] else "")
                        for q in reqs]
        if who == "neonfs" and action in ("mkdir", "mkdir-fresh"):
            key = rtt if action == "mkdir" else "fresh%d" % rtt
            self.schema_gap.setdefault(key, []).append(self.gap_before_post(reqs, wall0))
        return dt

    @staticmethod
    def gap_before_post(reqs, wall0):
        """Time between the API call before POST .../snapshot (or the start) and that POST:
        what capturing the schema took (the only work neonfs does there)."""
        prev_end = wall0
        for q in reqs:
            if q["method"] == "POST" and q["path"].endswith("/snapshot"):
                return max(0.0, q["t"] - prev_end)
            prev_end = max(prev_end, q["t"] + q["duration_ms"] / 1000.0)
        return None

    def set_rtt(self, rtt):
        self.stack.config(latency_ms=rtt)

    # -- setup -------------------------------------------------------------
    def start(self):
        self.stack = Stack.start(os.path.join(self.tmp, "stack"), operation_ms=0,
                                 snapshot_limit=1000)
        mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(mnt)
        # The watcher looks for changes made elsewhere; here it would only add calls.
        self.mount = Mount(self.stack, mnt, os.path.join(self.tmp, "neonfs.log"),
                           ["poll_min=3600", "poll_max=3600"])
        self.floor = Floor(self.stack)
        self.cli = None if self.args.check else Cli(self.stack, os.path.join(self.tmp, "home"))
        if self.cli:
            os.mkdir(self.cli.home)
        self.uri = self.mount.read("active", "connection_uri").strip()
        query(self.uri, "CREATE TABLE bench (id int PRIMARY KEY, v text NOT NULL)")
        query(self.uri, "INSERT INTO bench SELECT g, 'base' FROM generate_series(1, 1000) g")
        query(self.uri, "CREATE INDEX bench_v ON bench (v)")
        # Through the mount, so its schema is captured: one made elsewhere shows none until
        # asked for (reads are free).
        os.mkdir(self.mount.p("snapshots", "base"))
        self.last_fs = now()
        self.shm = tempfile.mkdtemp(prefix="neonfs-bench-", dir="/dev/shm")

    def stop(self):
        if self.mount:
            self.mount.unmount()
        if self.stack:
            self.stack.stop()
        if self.shm:
            shutil.rmtree(self.shm, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- mutations ---------------------------------------------------------
    def mutation_round(self, rtt, rnd):
        m = self.mount
        order = ["neonfs", "floor"] + ([] if self.cli is None else ["cli"])
        order = order[rnd % len(order):] + order[:rnd % len(order)]
        self.do_mkdir_fresh(rtt, m)
        for action in MUTATIONS:
            for who in order:
                getattr(self, "do_" + action)(rtt, who, m)

    def fs_cold(self, who):
        if who == "neonfs":
            self.cold()

    def do_mkdir_fresh(self, rtt, m):
        """neonfs's mkdir right after restores (the last round's) restarted the compute,
        closing every connection: the schema capture connects afresh."""
        name = self.unique("f")
        self.cold()
        self.measure(rtt, "mkdir-fresh", "neonfs", lambda: os.mkdir(m.p("snapshots", name)),
                     fs=True)
        self.floor.rmdir(name)

    def do_mkdir(self, rtt, who, m):
        name = self.unique("s")
        if who == "neonfs":
            # As for a user who looked at the schema since the last restore: the pool
            # holds a connection to the compute (the goal is for that case).
            m.read("active", "schema")
        self.fs_cold(who)
        if who == "neonfs":
            self.measure(rtt, "mkdir", who, lambda: os.mkdir(m.p("snapshots", name)), fs=True)
        elif who == "floor":
            self.measure(rtt, "mkdir", who, lambda: self.floor.mkdir(name))
        else:
            self.measure(rtt, "mkdir", who, lambda: (self.cli.run("snapshots", "create",
                                                                  "--name", name),
                                                     self.floor.settle()))
        self.made[who] = name

    def do_mv(self, rtt, who, m):
        name, new = self.made[who], self.unique("t")
        self.fs_cold(who)
        if who == "neonfs":
            self.measure(rtt, "mv", who, lambda: os.rename(m.p("snapshots", name),
                                                           m.p("snapshots", new)), fs=True)
        elif who == "floor":
            self.measure(rtt, "mv", who, lambda: self.floor.mv(name, new))
        else:
            self.measure(rtt, "mv", who, lambda: self.cli.run("snapshots", "update", name,
                                                              "--name", new))
        self.made[who] = new

    def do_rmdir(self, rtt, who, m):
        name = self.made[who]
        self.fs_cold(who)
        if who == "neonfs":
            self.measure(rtt, "rmdir", who, lambda: os.rmdir(m.p("snapshots", name)), fs=True)
        elif who == "floor":
            self.measure(rtt, "rmdir", who, lambda: self.floor.rmdir(name))
        else:
            self.measure(rtt, "rmdir", who, lambda: (self.cli.run("snapshots", "delete", name),
                                                     self.floor.settle()))

    def do_restore(self, rtt, who, m):
        query(self.uri, "UPDATE bench SET v = 'changed'")
        self.fs_cold(who)

        def fs():
            with open(m.p("active", "restore"), "w") as f:
                f.write("base\n")
            until_value(self.uri, "base")

        def floor():
            self.floor.restore("base")
            until_value(self.uri, "base")

        def cli():
            out = self.cli.run("snapshots", "restore", "base", "--finalize",
                               "--target-branch", "main")
            self.floor.wait(out.get("operations") or [])
            until_value(self.uri, "base")
        self.measure(rtt, "restore", who, {"neonfs": fs, "floor": floor, "cli": cli}[who],
                     fs=who == "neonfs")
        self.drop_old_branches()

    def drop_old_branches(self):
        """Restores keep the replaced branch as `main (old)`; not part of what is timed."""
        for b in self.floor.call("GET", "/branches")["branches"]:
            if b["name"].startswith("main (old"):
                self.floor.wait(self.floor.call("DELETE", "/branches/" + b["id"])["operations"])

    def do_preview(self, rtt, who, m):
        name = self.unique("pv")
        self.fs_cold(who)

        def fs():
            os.symlink("../snapshots/base", m.p("branches", name))
            until_answers(m.read("branches", name, "connection_uri").strip())

        def floor():
            until_answers(self.floor.preview("base", name))

        def cli():
            self.cli.run("snapshots", "restore", "base", "--name", name,
                         "--target-branch", "main")
            self.floor.settle()
            self.cli.run("branches", "add-compute", name, "--type", "read_write")
            self.floor.settle()
            # `neon connection-string` reveals the role's password, a path the emulator
            # does not serve; the URI comes from the API as the floor gets it.
            until_answers(self.floor.call(
                "GET", "/connection_uri?branch_id=%s&database_name=neondb&role_name=neondb_owner"
                % self.floor.branch_id(name))["uri"])
        self.measure(rtt, "preview", who, {"neonfs": fs, "floor": floor, "cli": cli}[who],
                     fs=who == "neonfs")
        self.drop_branch(name)

    def do_branch(self, rtt, who, m):
        name = self.unique("x")
        self.fs_cold(who)
        if who == "neonfs":
            self.measure(rtt, "branch", who, lambda: os.mkdir(m.p("branches", name)), fs=True)
        elif who == "floor":
            self.measure(rtt, "branch", who, lambda: self.floor.branch(name))
        else:
            self.measure(rtt, "branch", who, lambda: (self.cli.run("branches", "create",
                                                                   "--name", name),
                                                      self.floor.settle()))
        self.drop_branch(name)

    def drop_branch(self, name):
        self.floor.wait(self.floor.call("DELETE", "/branches/" + self.floor.branch_id(name))
                        ["operations"])

    # -- listings and reads --------------------------------------------------
    def grow_to(self, count):
        have = len(self.floor.call("GET", "/snapshots")["snapshots"])
        while have < count:
            self.floor.mkdir("l%03d" % have)
            have += 1

    def replicate(self, what):
        """A copy of the mount's tree (or of snapshots/ only) in tmpfs."""
        dst = os.path.join(self.shm, what)
        shutil.rmtree(dst, ignore_errors=True)
        src = self.mount.path if what == "all" else self.mount.p("snapshots")
        for root, dirs, files in os.walk(src):
            rel = os.path.relpath(root, src)
            os.makedirs(os.path.join(dst, rel), exist_ok=True)
            for d in list(dirs):
                if os.path.islink(os.path.join(root, d)):
                    os.symlink(os.readlink(os.path.join(root, d)), os.path.join(dst, rel, d))
                    dirs.remove(d)
            for f in files:
                path = os.path.join(root, f)
                if os.path.islink(path):
                    os.symlink(os.readlink(path), os.path.join(dst, rel, f))
                    continue
                data = b"" if f in ("events", "restore") else open(path, "rb").read()
                with open(os.path.join(dst, rel, f), "wb") as out:
                    out.write(data)
        self.last_fs = now()
        return dst

    @staticmethod
    def command(*argv):
        return lambda: subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)

    def listing_set(self, rtt, count, rnd, reads):
        """One round of listings (and reads, with @reads) at @count snapshots."""
        m = self.mount
        key = "ls%d" % count
        tm = self.tmpfs[count]
        cli_jobs = [] if self.cli is None else [
            (key, lambda: self.cli.run("snapshots", "list"))]
        if reads and self.cli is not None:
            cli_jobs.append(("get", lambda: self.cli.run("snapshots", "get", "base")))
        pairs = [(key, self.command("ls", "-l", m.p("snapshots")),
                  self.command("ls", "-l", os.path.join(tm, ".")))]
        if reads:
            for f in ("id", "meta.json", "schema"):
                pairs.append(("cat " + f, self.command("cat", m.p("snapshots", "base", f)),
                              self.command("cat", os.path.join(tm, "base", f))))
            pairs.append(("lsR", self.command("ls", "-lR", m.path),
                          self.command("ls", "-lR", self.tmpfs["all"])))
        for i, (action, fs_cmd, tmpfs_cmd) in enumerate(pairs):
            # The CLI's commands and tmpfs fill the wait for neonfs's caches to expire.
            if i < len(cli_jobs):
                self.measure(rtt, cli_jobs[i][0], "cli", cli_jobs[i][1])
            self.cold()
            first = (rnd % 2 == 0)
            if first:
                self.measure(rtt, action, "tmpfs", tmpfs_cmd)
            self.measure(rtt, action, "cold", fs_cmd, fs=True, keep_log=True)
            self.measure(rtt, action, "warm", fs_cmd, fs=True)
            if not first:
                self.measure(rtt, action, "tmpfs", tmpfs_cmd)

    # -- the whole run ---------------------------------------------------------
    def run(self):
        a = self.args
        rtts = [0] if a.check else a.rtt
        rounds = 1 if a.check else a.rounds
        started = now()
        for rtt in rtts:
            self.set_rtt(rtt)
            for rnd in range(rounds):
                self.progress("mutations, round trip %d ms, round %d" % (rtt, rnd + 1))
                self.mutation_round(rtt, rnd)
        self.set_rtt(0)
        self.tmpfs = {}
        for count in (1, 10, 100):
            self.grow_to(count)
            self.tmpfs[count] = self.replicate("snapshots%d" % count)
            if count == 10:
                self.tmpfs["all"] = self.replicate("all")
            for rtt in rtts:
                self.set_rtt(rtt)
                for rnd in range(rounds):
                    self.progress("listings of %d, round trip %d ms, round %d"
                                  % (count, rtt, rnd + 1))
                    self.listing_set(rtt, count, rnd, reads=count == 10)
            self.set_rtt(0)
        self.rss_kb = self.rss()
        self.elapsed = now() - started

    def rss(self):
        with open("/proc/%d/status" % self.mount.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None

    def progress(self, what):
        sys.stderr.write("bench: %s\n" % what)
        sys.stderr.flush()


# ---------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------
def ms(v):
    return "—" if v is None else ("%.1f" % (v * 1000) if v < 0.01 else "%.0f" % (v * 1000))


def cell(r):
    if not r or not r["t"]:
        return "—"
    t = r["t"]
    return "%s (%s–%s)" % (ms(median(t)), ms(min(t)), ms(max(t)))


def ratio(a, b):
    if not a or not b or not a["t"] or not b["t"]:
        return None
    return median(a["t"]) / median(b["t"])


def fmt_ratio(x, digits=2):
    return "—" if x is None else "%.*fx" % (digits, x)


def outside(r):
    """Median time not spent inside API requests: the client's own work, SQL included."""
    if not r or not r["t"]:
        return None
    return median([t - a for t, a in zip(r["t"], r["api"])])


def same_work_ratio(n, f):
    """neonfs against the floor with the emulator's own work (the time inside the mutating
    requests, copying databases, the same for both but what varies most) taken as equal:
    (floor + what neonfs adds beyond that work - what the floor adds) / floor."""
    if not n or not f or not n["t"] or not f["t"]:
        return None
    rest_n = median([t - w for t, w in zip(n["t"], n["work"])])
    rest_f = median([t - w for t, w in zip(f["t"], f["work"])])
    return (median(f["t"]) + rest_n - rest_f) / median(f["t"])


def extra_time(n, f):
    """What neonfs adds beyond the floor, the emulator's own work taken as equal."""
    rest_n = median([t - w for t, w in zip(n["t"], n["work"])])
    rest_f = median([t - w for t, w in zip(f["t"], f["work"])])
    return rest_n - rest_f


def calls(r):
    return "—" if not r or not r["calls"] else "%d" % median(r["calls"])


def trips(r):
    """Sequential round trips: API calls plus SQL flights (each waits for the last)."""
    if not r or not r["calls"]:
        return None
    return median([c + s for c, s in zip(r["calls"], r["sql"])])


def machine():
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d cores, Linux %s, Python %s" % (cpu, os.cpu_count(), platform.release(),
                                                  platform.python_version())


def report(b):
    a = b.args
    res = b.results
    out = []
    w = out.append
    w("# neonfs side by side: the floor, the Neon CLI, tmpfs\n")
    w("Measured by `bench/run` on %s, in %.0f s.  " % (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), b.elapsed))
    w("Machine: %s (shared with other work while this ran).  " % machine())
    w("Local Neon API emulator with operations that finish at once; %d rounds per figure, "
      "contenders alternating round by round; median (min–max) in ms. Emulated round trips: "
      "%s ms on every API call and every SQL flight. neonfs RSS after the run: %s MiB.\n"
      % (a.rounds, ", ".join(str(x) for x in a.rtt),
         "%.1f" % (b.rss_kb / 1024.0) if b.rss_kb else "?"))
    w("*floor*: a minimal Python client making exactly the API calls the action needs on a "
      "kept-alive connection, polling without pause. *CLI*: neon@5.0.1, one process per "
      "command, then the floor's wait for the operations it started (the CLI does not wait). "
      "*calls*: API requests in the emulator's log; *trips*: sequential round trips, API calls "
      "plus SQL flights (a batch of statements sent before waiting counts once). *outside the "
      "API*: the wall time minus the time the emulator spent answering the action's API "
      "requests. *same work*: neonfs/floor with the emulator's own work (the time inside the "
      "mutating requests, copying databases: the same work for both, and what varies most "
      "from round to round on a shared machine) taken as equal; the goals use it.\n")

    goals = []
    w("## Mutations\n")
    for action in MUTATIONS:
        w("### %s\n" % ACTION_TEXT[action])
        w("CLI: %s.\n" % CLI_TEXT[action])
        w("| round trip | neonfs | floor | CLI | neonfs/floor | same work | neonfs/CLI | outside the API: neonfs, floor | calls neonfs, floor, CLI | trips neonfs, floor |")
        w("|---|---|---|---|---|---|---|---|---|---|")
        for rtt in a.rtt:
            r = res.get(rtt, {}).get(action, {})
            n, f, c = r.get("neonfs"), r.get("floor"), r.get("cli")
            w("| %d ms | %s | %s | %s | %s | %s | %s | %s, %s | %s, %s, %s | %s, %s |" % (
                rtt, cell(n), cell(f), cell(c), fmt_ratio(ratio(n, f)),
                fmt_ratio(same_work_ratio(n, f)), fmt_ratio(ratio(n, c), 3),
                ms(outside(n)), ms(outside(f)), calls(n), calls(f), calls(c),
                "—" if trips(n) is None else "%g" % trips(n),
                "—" if trips(f) is None else "%g" % trips(f)))
        r0 = res.get(0, {}).get(action, {})
        if r0.get("neonfs") and r0["neonfs"]["log"] is not None:
            w("\nneonfs's calls: `%s`  " % "`, `".join(r0["neonfs"]["log"]))
            w("floor's calls: `%s`\n" % "`, `".join(r0["floor"]["log"] or []))
            extra = extra_calls(r0["neonfs"], r0["floor"])
            for call in sorted(set(extra)):
                why = [t for act, c, t in WHY if act == action and c == call]
                w("- neonfs's extra `%s` (%d×): %s." % (call, extra.count(call),
                                                       why[0] if why else "not explained yet"))
            if extra:
                w("")
        limit = 1.05 if action == "restore" else 1.10
        x = same_work_ratio(r0.get("neonfs"), r0.get("floor"))
        missed = x is None or x > limit or any(
            trips(res.get(rtt, {}).get(action, {}).get("neonfs")) !=
            trips(res.get(rtt, {}).get(action, {}).get("floor")) for rtt in a.rtt)
        if missed and BESIDES.get(action):
            n0, f0 = r0.get("neonfs"), r0.get("floor")
            w("%s At round trip 0 neonfs took %s ms more than the floor (median), %s ms of "
              "it outside the API.\n" % (BESIDES[action],
                                          ms(median(n0["t"]) - median(f0["t"])) if n0 and f0 else "?",
                                          ms(outside(n0) - outside(f0)) if n0 and f0 else "?"))
        goals.append(("%s at round trip 0: neonfs/floor ≤ %.2fx (same work; wall %s)" % (
            action, limit, fmt_ratio(ratio(r0.get("neonfs"), r0.get("floor")))),
            fmt_ratio(x), x is not None and x <= limit))
        for rtt in a.rtt:
            if rtt == 0:
                continue
            r = res.get(rtt, {}).get(action, {})
            n, f = r.get("neonfs"), r.get("floor")
            if not n or not f:
                continue
            extra = extra_time(n, f) / (rtt / 1000.0)
            allowed = schema_trips(res, rtt) if action == "mkdir" else 0
            goals.append(("%s at %d ms: round trips beyond the floor's ≤ %s" % (
                action, rtt, "%g (schema capture)" % allowed if action == "mkdir" else "0"),
                "%.1f by time, %g by count" % (extra, trips(n) - trips(f)),
                extra <= allowed + 0.5))
        w("")

    w("## Schema capture in mkdir\n")
    w("Time from the API call before `POST …/snapshot` to that POST (neonfs does nothing "
      "else there): a connection from the pool, one pipelined round trip of statements "
      "prepared once per connection, rendering. *pooled*: the pool holds a connection to the "
      "compute (the user read a schema since the last restore), idle longer than 2 s so it "
      "is pinged first; *fresh*: right after restores, which restart the compute and close "
      "every connection: connect, password exchange, statement_timeout, and the PREPAREs "
      "travel with the pipeline.\n")
    w("| round trip | pooled | SQL flights | fresh | SQL flights |")
    w("|---|---|---|---|---|")
    for rtt in a.rtt:
        row = []
        for key, action in ((rtt, "mkdir"), ("fresh%d" % rtt, "mkdir-fresh")):
            g = [x for x in b.schema_gap.get(key, b.schema_gap.get(str(key), [])) if x is not None]
            r = res.get(rtt, {}).get(action, {}).get("neonfs")
            row += ["—" if not g else "%s (%s–%s)" % (ms(median(g)), ms(min(g)), ms(max(g))),
                    "—" if not r else "%g" % median(r["sql"])]
        w("| %d ms | %s |" % (rtt, " | ".join(row)))
    g0 = [x for x in b.schema_gap.get(0, []) if x is not None]
    goals.append(("schema capture adds ≤ 15 ms to mkdir at round trip 0 (pooled)",
                  "%s ms" % ms(median(g0)) if g0 else "—", bool(g0) and median(g0) <= 0.015))
    w("")

    w("## Listings and reads\n")
    w("As commands (`ls -l`, `cat`, `ls -lR`), cold and warm through neonfs, on a copy in "
      "tmpfs, and the CLI's nearest command (`snapshots list` for listings, `snapshots get` "
      "for reads).\n")
    rows = [("ls1", "`ls -l snapshots/`, 1 snapshot", "ls1"),
            ("ls10", "`ls -l snapshots/`, 10 snapshots", "ls10"),
            ("ls100", "`ls -l snapshots/`, 100 snapshots", "ls100"),
            ("cat id", "`cat snapshots/base/id`", "get"),
            ("cat meta.json", "`cat snapshots/base/meta.json`", "get"),
            ("cat schema", "`cat snapshots/base/schema`", "get"),
            ("lsR", "`ls -lR` of the mount (10 snapshots)", "ls10")]
    for rtt in a.rtt:
        w("### round trip %d ms\n" % rtt)
        w("| what | cold | warm | tmpfs | CLI | warm/tmpfs | CLI/warm | calls cold, warm, CLI |")
        w("|---|---|---|---|---|---|---|---|")
        r = res.get(rtt, {})
        for key, text, cli_key in rows:
            x = r.get(key, {})
            c = r.get(cli_key, {}).get("cli")
            cold, warm, tm = x.get("cold"), x.get("warm"), x.get("tmpfs")
            w("| %s | %s | %s | %s | %s | %s | %s | %s, %s, %s |" % (
                text, cell(cold), cell(warm), cell(tm), cell(c), fmt_ratio(ratio(warm, tm)),
                fmt_ratio(ratio(c, warm), 0), calls(cold), calls(warm), calls(c)))
            if warm and c:
                goals.append(("warm %s at %d ms ≥ 100x faster than the CLI" % (text, rtt),
                              fmt_ratio(ratio(c, warm), 0), ratio(c, warm) >= 100))
            if key in ("ls100", "cat meta.json") and rtt == 0:
                goals.append(("warm %s ≤ 3x tmpfs" % text, fmt_ratio(ratio(warm, tm)),
                              ratio(warm, tm) is not None and ratio(warm, tm) <= 3))
        w("")
    r0 = res.get(0, {})
    for key in ("ls100", "lsR"):
        if r0.get(key, {}).get("cold"):
            w("neonfs's calls, cold %s: `%s`\n" % (key, "`, `".join(r0[key]["cold"]["log"])))

    w("## Goals\n")
    w("| goal | measured | met |")
    w("|---|---|---|")
    for text, value, ok in goals:
        w("| %s | %s | %s |" % (text, value, "yes" if ok else "**no**"))
    w("")
    if os.path.exists(os.path.join(HERE, "NOTES.md")):
        with open(os.path.join(HERE, "NOTES.md")) as f:
            w(f.read())
    w("## Raw numbers\n")
    w("Seconds per round, API calls, SQL flights and seconds inside mutating API requests, by "
      "round trip (ms), action and contender; `schema_capture_s` by round trip (`fresh…`: "
      "after restores).\n")
    raw = {str(rtt): {act: {who: {"t": [round(t, 4) for t in v["t"]], "calls": v["calls"],
                                  "sql": v["sql"],
                                  "work": [round(x, 4) for x in v.get("work", [])]}
                            for who, v in whos.items()}
                      for act, whos in acts.items()} for rtt, acts in res.items()}
    raw["schema_capture_s"] = {str(k): [None if x is None else round(x, 4) for x in v]
                               for k, v in b.schema_gap.items()}
    w("```json\n%s\n```" % json.dumps(raw, indent=None, sort_keys=True))
    return "\n".join(out) + "\n", goals


# Why neonfs makes a call the floor does not, and what in src/ would drop it.
WHY = [
    ("mkdir", "GET /p/snapshots", "before the POST, when the cache window has passed: "
     "`action_name_free` (src/actions.c) checks the name against the listing (Neon refuses "
     "a taken name itself, 409 → EEXIST, but only the tree knows the entries shown under an "
     "id); after the POST: the kernel looks the new directory up, and the listing is fetched "
     "again because `action_done` forgot it; the POST's answer holds the snapshot, so putting "
     "it into the cached listing would drop that call"),
    ("mkdir", "GET /p/connection_uri", "the compute's URI for the schema capture (cached "
     "for cache_ttl); counted with the schema capture's round trips"),
    ("branch", "GET /p/branches", "`action_name_free` lists branches for the name check (Neon "
     "refuses a taken name itself: 409 → EEXIST), `project_active_id` lists them afresh for "
     "the parent (a restore made elsewhere moves the name to a new id), and the kernel's "
     "lookup of the new directory lists them a third time after the operations; the POST's "
     "answer holds the branch"),
    ("preview", "GET /p/branches", "`action_name_free`'s check, `project_active_id`, and the "
     "lookup after the operations, as for `mkdir branches/x`"),
    ("restore", "GET /p/connection_uri", "the URI the restore is verified through; a script "
     "knows it already"),
    ("restore", "GET /p/branches", "`restore_run` (src/restore.c) resolves the target by name "
     "again once it holds the restore lock that serializes restores across mounts, so a "
     "restore another mount finished in between cannot send this one into the \"(old)\" "
     "branch; after the operations, `action_done` lists branches once more so the watcher "
     "knows the new branch id and does not report the restore as made elsewhere (the "
     "restore's answer names both branches, so that one could go)"),
    ("restore", "GET /p/endpoints", "`restore_endpoint` checks that the endpoint the "
     "connection string reaches serves the restored branch: the write returns only when the "
     "data behind the unchanged URI is the restored data, which `SELECT 1` alone cannot tell"),
]


# What else neonfs does in an action, beyond its API calls (said under a missed goal).
BESIDES = {
    "mkdir": "Besides the calls: the schema capture (below) and the checkpoint record written "
             "to the meta database (outside the project, so no emulated round trip).",
    "mv": "Same calls as the floor; the difference is FUSE (the kernel looks both names up, "
          "then renames) and the checkpoint record renamed in the meta database (one "
          "statement, outside the project, so no emulated round trip).",
    "rmdir": "Same calls as the floor; the difference is FUSE and the checkpoint record and "
             "its attachments deleted from the meta database (outside the project).",
    "restore": "Besides the calls: neonfs verifies the restore through the connection string "
               "on a fresh connection (`restore_verify`: connect, password exchange, "
               "`set_config(statement_timeout)`, `SELECT 1`), then the user's own query "
               "connects again; the floor's query is its only verification. Sending "
               "statement_timeout in the startup packet (`options=-c statement_timeout=…`, "
               "src/pg.c) would save one flight, where the compute's pooler allows it.",
    "preview": "Besides the calls: the symlink is looked up by the kernel before and after.",
    "branch": "",
}


def norm(call):
    """A call without ids and query: `GET /p/operations/{id}`."""
    method, _, path = call.partition(" ")
    path = path.split("?", 1)[0]
    parts = ["{id}" if any(c.isdigit() for c in x) and "-" in x else x for x in path.split("/")]
    return "%s %s" % (method, "/".join(parts))


def extra_calls(n, f):
    left = [norm(c) for c in (f or {}).get("log") or []]
    extra = []
    for c in [norm(c) for c in (n or {}).get("log") or []]:
        if c in left:
            left.remove(c)
        else:
            extra.append(c)
    return extra


def schema_trips(res, rtt):
    """Round trips the schema capture needs: its SQL flights and the connection_uri call."""
    r = res.get(rtt, {}).get("mkdir", {}).get("neonfs")
    if not r:
        return 0
    return median(r["sql"]) + 1


# ---------------------------------------------------------------------------
# the CI check: API calls per action against bench/expected-calls
# ---------------------------------------------------------------------------
def read_expected():
    table = {}
    with open(EXPECTED) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            action, who, n = line.rsplit(None, 2)
            table[(" ".join(action.split()), who)] = int(n)
    return table


def check(b):
    table = read_expected()
    failed = []
    seen = []
    for action, whos in b.results.get(0, {}).items():
        for who, r in whos.items():
            if who not in ("neonfs", "cold", "warm") or not r["calls"]:
                continue
            n = max(r["calls"])
            seen.append((action, who, n))
            want = table.get((action, who))
            if want is None:
                failed.append("bench check: %s (%s) made %d API calls; bench/expected-calls has "
                              "no entry for it" % (action, who, n))
            elif n > want:
                failed.append("bench check: %s (%s) made %d API calls, more than the %d that "
                              "bench/expected-calls allows; calls: %s"
                              % (action, who, n, want, ", ".join(r["log"] or [])))
    for action, who, n in sorted(seen):
        print("bench check: %-14s %-6s %3d calls (at most %s)"
              % (action, who, n, table.get((action, who), "?")))
    for (action, who) in sorted(table):
        if (action, who) not in [(s[0], s[1]) for s in seen]:
            failed.append("bench check: %s (%s) is in bench/expected-calls but was not measured"
                          % (action, who))
    for msg in failed:
        print(msg, file=sys.stderr)
    return not failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rtt", default="0,20,100", help="emulated round trips in ms, comma-separated")
    ap.add_argument("--check", action="store_true",
                    help="one round at round trip 0; compare API calls to bench/expected-calls")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--raw", help="also save every measurement (and call log) as JSON here")
    ap.add_argument("--report-from", help="write the report from a --raw file; measure nothing")
    args = ap.parse_args()
    args.rtt = [int(x) for x in args.rtt.split(",")]
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    b = Bench(args)
    if args.report_from:
        with open(args.report_from) as f:
            saved = json.load(f)
        b.results = {int(k): v for k, v in saved["results"].items()}
        b.schema_gap = {(int(k) if k.isdigit() else k): v for k, v in saved["schema_gap"].items()}
        b.rss_kb, b.elapsed = saved["rss_kb"], saved["elapsed"]
        args.rounds, args.rtt = saved["rounds"], saved["rtt"]
    else:
        try:
            b.start()
            b.run()
        finally:
            b.stop()
        if args.raw:
            with open(args.raw, "w") as f:
                json.dump({"results": b.results, "schema_gap": b.schema_gap, "rss_kb": b.rss_kb,
                           "elapsed": b.elapsed, "rounds": args.rounds, "rtt": args.rtt}, f)
    if args.check:
        sys.exit(0 if check(b) else 1)
    text, goals = report(b)
    # The scale section is bench/scale.py's (a run of its own): kept as it was.
    old = open(args.out).read() if os.path.exists(args.out) else ""
    begin, end = old.find("<!-- scale: begin -->"), old.find("<!-- scale: end -->")
    if begin >= 0 and end > begin:
        scale = old[begin:end + len("<!-- scale: end -->")] + "\n"
        text = text.replace("\n## Raw numbers", "\n" + scale + "\n## Raw numbers", 1)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    missed = [g for g in goals if not g[2]]
    sys.stderr.write("bench: %d of %d goals met; wrote %s\n" % (len(goals) - len(missed),
                                                               len(goals), args.out))


if __name__ == "__main__":
    main()
