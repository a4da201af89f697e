"""The emulated Neon project: branches, endpoints, snapshots and operations.

Every mutation returns Operation objects whose status moves from
`scheduling` to `running` to `finished` over `operation_ms`. The visible
effect of a mutation is applied when its last operation turns terminal, in
the same critical section that makes the operations report that status, so
a client that sees `finished` always sees the effect too.
"""

import datetime
import queue
import random
import re
import secrets
import threading
import time
import urllib.parse
import uuid

from emu_proxy import EndpointProxy

ADJECTIVES = (
    "quiet", "bold", "calm", "dry", "late", "misty", "odd", "proud", "rapid", "shy",
    "snowy", "tiny", "wild", "young", "round", "sharp", "still", "polished", "sparkling",
    "crimson", "amber", "frosty", "gentle", "hidden", "lively", "muddy", "noisy", "plain",
)
NOUNS = (
    "river", "field", "leaf", "meadow", "moon", "night", "pine", "rain", "shadow", "smoke",
    "star", "surf", "tree", "wave", "wind", "bird", "brook", "cloud", "dawn", "dust",
    "feather", "forest", "glade", "hill", "lake", "morning", "pond", "resonance", "sea",
)

TERMINAL = ("finished", "skipped", "cancelled", "error")
SUCCESS = ("finished", "skipped")
REGION = "aws-us-east-2"
LSN_RE = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|z|[+-]\d{2}:\d{2})$")
LOCKED_MESSAGE = "project already has running conflicting operations, scheduling of new ones is prohibited"


class ApiError(Exception):
    def __init__(self, status, message, code=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or {
            400: "BAD_REQUEST", 401: "UNAUTHORIZED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
            409: "CONFLICT", 422: "UNPROCESSABLE_ENTITY", 423: "LOCKED", 500: "INTERNAL_ERROR",
            503: "SERVICE_UNAVAILABLE",
        }.get(status, "ERROR")


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def iso_us(us):
    sec, frac = divmod(us, 1000000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + ".%06dZ" % frac


def parse_iso_us(s):
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{6})Z$", s or "")
    if not m:
        return None
    dt = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 1000000 + int(m.group(2))


def parse_timestamp(value, what):
    """An RFC 3339 timestamp -> epoch seconds, or ApiError 400."""
    if not isinstance(value, str) or not TS_RE.match(value):
        raise ApiError(400, "%s must be an RFC 3339 timestamp such as 2025-08-05T22:00:00Z, got %r"
                       % (what, value))
    v = value
    if v[-1] in "Zz":
        v = v[:-1] + "+00:00"
    m = re.match(r"^(.*T\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$", v)
    frac = (m.group(2) or "")[:7]  # Python accepts up to 6 digits
    try:
        return datetime.datetime.fromisoformat(m.group(1) + frac + m.group(3)).timestamp()
    except ValueError:
        raise ApiError(400, "%s is not a valid timestamp: %r" % (what, value))


def check_name(value, what):
    if not isinstance(value, str):
        raise ApiError(400, "%s must be a string" % what)
    if value == "":
        raise ApiError(400, "%s must not be empty" % what)
    if len(value.encode("utf-8")) > 256:
        raise ApiError(400, "%s must be at most 256 bytes long" % what)
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise ApiError(400, "%s must not contain control characters" % what)
    return value


def physical_name(prefix, object_id, dbname):
    return "%s_%s__%s" % (prefix, object_id.replace("-", "_"), dbname)


class Op:
    """One Operation. Its whole future is planned when it is created: a list of
    (time, status, extra fields) steps; its status at any moment is the last
    step reached."""

    def __init__(self, project_id, action, branch_id, endpoint_id, t0, sort_us, steps):
        self.id = str(uuid.uuid4())
        self.project_id = project_id
        self.action = action
        self.branch_id = branch_id
        self.endpoint_id = endpoint_id
        self.t0 = t0
        self.sort_us = sort_us
        self.steps = steps

    def step_at(self, now):
        cur = self.steps[0]
        for s in self.steps:
            if s[0] <= now:
                cur = s
            else:
                break
        return cur

    def status_at(self, now):
        return self.step_at(now)[1]

    @property
    def end_time(self):
        return self.steps[-1][0]

    def view(self, now):
        t, status, extra = self.step_at(now)
        started = next((s[0] for s in self.steps if s[1] == "running"), None)
        duration = 0
        if started is not None and now >= started:
            stop = min(now, self.end_time) if status in TERMINAL else now
            duration = int(max(0.0, stop - started) * 1000)
        out = {
            "id": self.id,
            "project_id": self.project_id,
            "action": self.action,
            "status": status,
            "failures_count": extra.get("failures_count", 0),
            "created_at": iso(self.t0),
            "updated_at": iso(t),
            "total_duration_ms": duration,
        }
        if self.branch_id:
            out["branch_id"] = self.branch_id
        if self.endpoint_id:
            out["endpoint_id"] = self.endpoint_id
        if "error" in extra:
            out["error"] = extra["error"]
        if "retry_at" in extra:
            out["retry_at"] = iso(extra["retry_at"])
        return out


def plan_steps(t0, n, total, outcome=None, index=None):
    """Steps for @n operations run one after another within @total seconds.

    @outcome ('error', 'failed', 'cancelled') applies to the operation at
    @index (default: the last one)."""
    d = total / n if n else 0
    if index is None or not (0 <= index < n):
        index = n - 1
    plans = []
    shift = 0.0
    for i in range(n):
        start = t0 + i * d + shift
        run, end = start + 0.2 * d, start + d
        steps = [(t0, "scheduling", {})]
        if outcome and i == index:
            if outcome == "error":
                steps += [(run, "running", {}),
                          (end, "error", {"error": "emulated failure of the operation (fault injection)"})]
            elif outcome == "cancelled":
                steps += [(run, "running", {}), (start + 0.6 * d, "cancelling", {}),
                          (end, "cancelled", {})]
            elif outcome == "failed":
                retry = end + d
                steps += [(run, "running", {}),
                          (end, "failed", {"failures_count": 1, "retry_at": retry,
                                           "error": "emulated transient failure, will retry"}),
                          (retry, "running", {"failures_count": 1, "retry_at": retry}),
                          (retry + d, "finished", {"failures_count": 1, "retry_at": retry})]
                shift += 2 * d
                plans.append(steps)
                continue
            plans.append(steps)
            # The operations after a terminal failure never run.
            for _ in range(i + 1, n):
                plans.append([(t0, "scheduling", {}), (end, "cancelled", {})])
            return plans
        steps += [(run, "running", {}), (end, "finished", {})]
        plans.append(steps)
    return plans


class Mutation:
    def __init__(self, ops, on_commit, on_fail, label):
        self.ops = ops
        self.on_commit = on_commit
        self.on_fail = on_fail
        self.label = label
        self.end_time = max(op.end_time for op in ops)
        self.done = False


class Branch:
    def __init__(self, bid, name, created):
        self.id = bid
        # The data's home (what its databases are named after): its own id, until a branch
        # restore gives the branch another's data and hands its own to the preserved branch.
        self.timeline = bid
        self.name = name
        self.parent_id = None
        self.parent_lsn = None
        self.created = created
        self.updated = created
        self.state = "ready"
        self.state_changed = created
        self.default = False
        self.protected = False
        self.restore_status = None
        self.restored_from = None
        self.restored_as = None
        self.restore_target = None      # internal: the branch a non-final restore replaces
        self.finalizing = False
        self.deleting = False
        self.init_source = "parent-data"
        self.expires_at = None
        self.annotation = {}
        self.databases = []             # [{"id", "name", "owner", "created"}]
        self.seq = 0


class Endpoint:
    def __init__(self, eid, branch_id, etype, created):
        self.id = eid
        self.branch_id = branch_id
        self.type = etype
        self.created = created
        self.updated = created
        self.state = "init"
        self.pending_state = "active"
        self.started = None
        self.deleting = False
        self.proxy = None


class Snapshot:
    def __init__(self, sid, name, created):
        self.id = sid
        self.name = name
        self.created = created
        self.lsn = None
        self.timestamp = None
        self.source_branch_id = None
        self.expires_at = None
        self.full_size = None
        self.pending_size = None
        self.databases = []             # [{"name", "owner", "physical"}]
        self.deleting = False
        self.seq = 0


class Emulator:
    def __init__(self, pg, project_id=None, operation_ms=1500, snapshot_limit=10,
                 branches_default_limit=10000, operations_default_limit=10, log=print,
                 shared=None, name=None, org_id=None):
        """@shared: another project of the same organization, whose knobs, role, id space
        and database dropper this one uses (so one knob changes every project)."""
        self.pg = pg
        self.log = log
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.config = {
            "operation_ms": int(operation_ms),
            "snapshot_limit": int(snapshot_limit),
            "branches_default_limit": int(branches_default_limit),
            "operations_default_limit": int(operations_default_limit),
            # 1: a restore that is not finalized gives its new branch a read-write compute
            # of its own, as Neon's guide describes for previews; 0: the branch comes
            # without one and the client adds it.
            "preview_compute": 0,
            # Neon's rate limits (0: off): requests a minute per key, a second per route.
            "rate_per_minute": 0,
            "rate_per_second": 0,
            # Branches without a parent (each snapshot restore makes one, and a finalized
            # restore keeps the branch it replaced as another); 0: no limit.
            "root_branch_limit": 0,
            "latency_ms": 0,
            # 1: every compute is down: its proxy refuses connections (57P03) and drops
            # those it had, while the API and storage (snapshots, branches) go on.
            "compute_down": 0,
        }
        self.rng = random.Random(secrets.randbits(64))
        self.project_id = project_id or "%s-%s-%08d" % (
            self.rng.choice(ADJECTIVES), self.rng.choice(NOUNS), self.rng.randrange(10 ** 8))
        self.created = time.time()
        self.owner_id = str(uuid.uuid4())
        self.branches = {}
        self.deleted_branches = set()
        self.endpoints = {}
        self.snapshots = {}
        self.ops = []
        self.ops_by_id = {}
        self.mutations = []
        self.inflight = False
        self.seq = 0
        self.last_sort_us = 0
        self.taken_ids = set()
        self.db_ids = 1000
        self.roles = []
        self.drop_queue = queue.Queue()
        self.stopping = False
        self.pg_version = 15
        self.name = name or self.project_id
        self.org_id = org_id
        self.shared = shared
        if shared is not None:
            self.config = shared.config
            self.taken_ids = shared.taken_ids
            self.drop_queue = shared.drop_queue
            self.pg_version = shared.pg_version
            self.owner_id = shared.owner_id
        self.updated = self.created

    # -- ids --------------------------------------------------------------
    def new_id(self, prefix):
        while True:
            cand = "%s-%s-%s-%06d" % (prefix, self.rng.choice(ADJECTIVES), self.rng.choice(NOUNS),
                                      self.rng.randrange(10 ** 6))
            if cand not in self.taken_ids:
                self.taken_ids.add(cand)
                return cand

    def next_seq(self):
        self.seq += 1
        return self.seq

    # -- start / stop -----------------------------------------------------
    def bootstrap(self, creating=False):
        """Create the project: branch main with database neondb owned by
        neondb_owner and one read_write endpoint. With @creating (POST /projects) the
        operations that make it run as a mutation's do; they are returned."""
        pg = self.pg
        now = time.time()
        if self.shared is None:
            self.pg_version = pg.server_version_major()
            for name in pg.list_databases(("b_br_", "s_snap_")):
                pg.drop_database(name)
            password = secrets.token_urlsafe(18)
            pg.ensure_role("neondb_owner", password)
            self.roles = [{"name": "neondb_owner", "password": password, "created": now}]
        else:
            # Every project's role is the one PostgreSQL role: its password stays.
            self.roles = [dict(r, created=now) for r in self.shared.roles]
        main = Branch(self.new_id("br"), "main", now)
        main.default = True
        main.seq = self.next_seq()
        main.databases = [{"id": self.next_db_id(), "name": "neondb", "owner": "neondb_owner",
                           "created": now}]
        main.parent_lsn = None
        pg.create_database(physical_name("b", main.timeline, "neondb"), "neondb_owner")
        self.branches[main.id] = main
        ep = self._new_endpoint(main.id, "read_write", now)
        if creating:
            def commit(t, ep=ep):
                ep.state, ep.pending_state, ep.started, ep.updated = "active", None, t, t
            ops = self.add_mutation(now, [("create_timeline", main.id, None),
                                          ("start_compute", main.id, ep.id)],
                                    on_commit=commit, label="create project")
            threading.Thread(target=self._ticker, name="operations", daemon=True).start()
            return ops
        ep.state, ep.pending_state, ep.started = "active", None, now
        # The operations that created the project, already finished.
        sort = self._sort_us(now, 2)
        for i, (action, eid) in enumerate((("create_timeline", None), ("start_compute", ep.id))):
            op = Op(self.project_id, action, main.id, eid, now, sort + i,
                    [(now, "scheduling", {}), (now, "running", {}), (now, "finished", {})])
            self.ops.append(op)
            self.ops_by_id[op.id] = op
        threading.Thread(target=self._ticker, name="operations", daemon=True).start()
        if self.shared is None:
            threading.Thread(target=self._dropper, name="dropper", daemon=True).start()

    def shutdown(self):
        with self.lock:
            self.stopping = True
            self.cond.notify_all()
            for ep in self.endpoints.values():
                if ep.proxy:
                    ep.proxy.close()

    def destroy(self):
        """DELETE /projects/{p}: its computes stop, its databases are dropped."""
        with self.lock:
            self.stopping = True
            self.cond.notify_all()
            for ep in self.endpoints.values():
                if ep.proxy:
                    ep.proxy.close()
            for b in self.branches.values():
                for d in b.databases:
                    self.drop_queue.put(physical_name("b", b.id, d["name"]))
            for snap in self.snapshots.values():
                for d in snap.databases:
                    self.drop_queue.put(d["physical"])
            self.branches, self.endpoints, self.snapshots = {}, {}, {}

    def created_view(self, ops):
        """The body of 201 CreatedProject."""
        main = self.default_branch()
        eps = self.branch_endpoints(main.id)
        d, r = main.databases[0], self.roles[0]
        return {
            "project": self.project_view(),
            "connection_uris": [{
                "connection_uri": self.uri_for(eps[0], d["name"], r),
                "connection_parameters": {"database": d["name"], "password": r["password"],
                                          "role": r["name"], "host": "127.0.0.1",
                                          "pooler_host": "127.0.0.1"}}],
            "roles": [self.role_view(main, r, with_password=True)],
            "databases": [self.database_view(main, d)],
            "operations": ops,
            "branch": self.branch_view(main),
            "endpoints": [self.endpoint_view(e) for e in eps],
        }

    def next_db_id(self):
        self.db_ids += 1
        return self.db_ids

    def _sort_us(self, t, count):
        base = max(int(t * 1e6), self.last_sort_us + 1)
        self.last_sort_us = base + count - 1
        return base

    def _dropper(self):
        while True:
            name = self.drop_queue.get()
            try:
                self.pg.drop_database(name)
            except Exception as e:  # noqa: BLE001 - logged, retried never
                self.log("drop of %s failed: %s" % (name, e))

    def _ticker(self):
        with self.cond:
            while not self.stopping:
                now = time.time()
                self.advance(now)
                due = [m.end_time for m in self.mutations if not m.done]
                if not self.inflight:
                    due += [s.expires_at for s in self.snapshots.values() if s.expires_at and not s.deleting]
                wait = 1.0
                if due:
                    wait = min(1.0, max(0.0, min(due) - now) + 0.001)
                self.cond.wait(wait)

    # -- the clock --------------------------------------------------------
    def advance(self, now):
        """Apply every effect whose time has come. Call with self.lock held
        (it is re-entrant) before answering anything."""
        with self.lock:
            for m in sorted(self.mutations, key=lambda m: m.end_time):
                if m.done or m.end_time > now:
                    continue
                m.done = True
                ok = all(op.status_at(now) in SUCCESS for op in m.ops)
                fn = m.on_commit if ok else m.on_fail
                if fn:
                    try:
                        fn(m.end_time)
                    except Exception as e:  # noqa: BLE001
                        self.log("applying %s failed: %r" % (m.label, e))
            self.mutations = [m for m in self.mutations if not m.done]
            for s in list(self.snapshots.values()):
                # Not while a request copies data (it may be restoring this very snapshot).
                if s.expires_at and s.expires_at <= now and not s.deleting and not self.inflight:
                    self.log("snapshot %s expired" % s.id)
                    self._drop_snapshot(s)

    def busy(self, now):
        return self.inflight or any(op.status_at(now) not in TERMINAL for op in self.ops[-50:]) \
            or any(not m.done for m in self.mutations)

    def begin_mutation(self, now):
        with self.lock:
            self.advance(now)
            if self.busy(now):
                raise ApiError(423, LOCKED_MESSAGE)
            self.inflight = True

    def end_mutation(self):
        with self.lock:
            self.inflight = False
            self.cond.notify_all()

    def add_mutation(self, now, specs, outcome=None, on_commit=None, on_fail=None, label=""):
        """Create the operations for one request. @specs: [(action, branch_id, endpoint_id)].
        @outcome: None or (status, index) from fault injection."""
        with self.lock:
            now = time.time()  # the operations start now, after any copying the request did
            status, index = outcome if outcome else (None, None)
            plans = plan_steps(now, len(specs), self.config["operation_ms"] / 1000.0, status, index)
            sort = self._sort_us(now, len(specs))
            ops = []
            for i, ((action, bid, eid), steps) in enumerate(zip(specs, plans)):
                op = Op(self.project_id, action, bid, eid, now, sort + i, steps)
                ops.append(op)
                self.ops.append(op)
                self.ops_by_id[op.id] = op
            self.mutations.append(Mutation(ops, on_commit, on_fail, label))
            self.cond.notify_all()
            return [op.view(now) for op in ops]

    # -- lookups ----------------------------------------------------------
    def check_project(self, project_id):
        if project_id != self.project_id:
            raise ApiError(404, "project %s not found" % project_id)

    def live_branches(self):
        return [b for b in self.branches.values() if not b.deleting]

    def get_branch(self, branch_id):
        b = self.branches.get(branch_id)
        if b is None or b.deleting:
            raise ApiError(404, "branch %s not found" % branch_id)
        return b

    def default_branch(self):
        for b in self.live_branches():
            if b.default:
                return b
        raise ApiError(500, "project has no default branch")

    def branch_endpoints(self, branch_id):
        return sorted((e for e in self.endpoints.values() if e.branch_id == branch_id and not e.deleting),
                      key=lambda e: e.created)

    def name_taken(self, name, exclude=None):
        return any(b.name == name and b.id != exclude for b in self.live_branches())

    def unique_branch_name(self, base):
        if not self.name_taken(base):
            return base
        n = 2
        while True:
            cand = "%s %d" % (base, n) if not base.endswith(")") else "%s %d)" % (base[:-1], n)
            if not self.name_taken(cand):
                return cand
            n += 1

    def role(self, name):
        return next((r for r in self.roles if r["name"] == name), None)

    # -- views ------------------------------------------------------------
    def project_view(self):
        start = datetime.datetime.fromtimestamp(self.created, datetime.timezone.utc).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0)
        end = (start + datetime.timedelta(days=32)).replace(day=1)
        return {
            "id": self.project_id,
            "platform_id": "aws",
            "region_id": REGION,
            "name": self.name,
            "provisioner": "k8s-neonvm",
            "default_endpoint_settings": {"autoscaling_limit_min_cu": 0.25,
                                          "autoscaling_limit_max_cu": 2,
                                          "suspend_timeout_seconds": 0},
            "settings": {"allowed_ips": {"ips": [], "protected_branches_only": False},
                         "enable_logical_replication": False},
            "pg_version": self.pg_version,
            "proxy_host": "127.0.0.1",
            "branch_logical_size_limit": 512,
            "branch_logical_size_limit_bytes": 512 * 1024 * 1024,
            "store_passwords": True,
            "active_time_seconds": 0,
            "compute_time_seconds": 0,
            "written_data_bytes": 0,
            "data_transfer_bytes": 0,
            "data_storage_bytes_hour": 0,
            "cpu_used_sec": 0,
            "creation_source": "console",
            "history_retention_seconds": 86400,
            "created_at": iso(self.created),
            "updated_at": iso(self.updated),
            "consumption_period_start": iso(start.timestamp()),
            "consumption_period_end": iso(end.timestamp()),
            "owner_id": self.owner_id,
            **({"org_id": self.org_id} if self.org_id else {}),
        }

    def project_list_item(self):
        p = self.project_view()
        item = {k: p[k] for k in ("id", "platform_id", "region_id", "name", "provisioner",
                                  "default_endpoint_settings", "settings", "pg_version", "proxy_host",
                                  "branch_logical_size_limit", "branch_logical_size_limit_bytes",
                                  "store_passwords", "cpu_used_sec", "creation_source", "created_at",
                                  "updated_at", "owner_id", "history_retention_seconds")}
        if self.org_id:
            item["org_id"] = self.org_id
        item["active_time"] = 0
        return item

    def branch_view(self, b):
        out = {
            "id": b.id,
            "project_id": self.project_id,
            "name": b.name,
            "current_state": b.state,
            "state_changed_at": iso(b.state_changed),
            "creation_source": "console",
            "primary": b.default,
            "default": b.default,
            "protected": b.protected,
            "cpu_used_sec": 0,
            "compute_time_seconds": 0,
            "active_time_seconds": 0,
            "written_data_bytes": 0,
            "data_transfer_bytes": 0,
            "created_at": iso(b.created),
            "updated_at": iso(b.updated),
            "init_source": b.init_source,
        }
        if b.state != "ready":
            out["pending_state"] = "ready"
        if b.parent_id:
            out["parent_id"] = b.parent_id
        if b.parent_lsn:
            out["parent_lsn"] = b.parent_lsn
        if b.expires_at:
            out["expires_at"] = iso(b.expires_at)
        if b.restore_status:
            out["restore_status"] = b.restore_status
        if b.restored_from:
            out["restored_from"] = b.restored_from
        if b.restored_as:
            out["restored_as"] = b.restored_as
        return out

    def annotation_view(self, b):
        out = {"object": {"type": "console/branch", "id": b.id}, "value": dict(b.annotation)}
        if b.annotation:
            out["created_at"] = iso(b.created)
            out["updated_at"] = iso(b.updated)
        return out

    def endpoint_view(self, e):
        out = {
            "host": "127.0.0.1",
            "id": e.id,
            "project_id": self.project_id,
            "branch_id": e.branch_id,
            "autoscaling_limit_min_cu": 0.25,
            "autoscaling_limit_max_cu": 2,
            "region_id": REGION,
            "type": e.type,
            "current_state": e.state,
            "settings": {"pg_settings": {}},
            "pooler_enabled": False,
            "pooler_mode": "transaction",
            "disabled": False,
            "passwordless_access": False,
            "creation_source": "console",
            "created_at": iso(e.created),
            "updated_at": iso(e.updated),
            "proxy_host": "127.0.0.1",
            "suspend_timeout_seconds": 0,
            "provisioner": "k8s-neonvm",
        }
        if e.pending_state:
            out["pending_state"] = e.pending_state
        if e.started:
            out["started_at"] = iso(e.started)
            out["last_active"] = iso(e.started)
        return out

    def snapshot_view(self, s):
        out = {
            "id": s.id,
            "name": s.name,
            "created_at": iso(s.created),
            "manual": True,
        }
        if s.lsn:
            out["lsn"] = s.lsn
        if s.timestamp:
            out["timestamp"] = s.timestamp
        if s.source_branch_id:
            out["source_branch_id"] = s.source_branch_id
        if s.expires_at:
            out["expires_at"] = iso(s.expires_at)
        if s.full_size is not None:
            out["full_size"] = s.full_size
        return out

    def database_view(self, b, d):
        return {"id": d["id"], "branch_id": b.id, "name": d["name"], "owner_name": d["owner"],
                "created_at": iso(d["created"]), "updated_at": iso(d["created"])}

    def role_view(self, b, r, with_password=False):
        out = {"branch_id": b.id, "name": r["name"], "protected": False,
               "authentication_method": "password",
               "created_at": iso(max(r["created"], b.created)),
               "updated_at": iso(max(r["created"], b.created))}
        if with_password:
            out["password"] = r["password"]
        return out

    def uri_for(self, endpoint, dbname, role, pooled=False):
        del pooled  # no pooler: the same proxy answers both
        # Every endpoint's host is 127.0.0.1, so the URI names its endpoint the way Neon
        # lets clients without SNI do; the endpoint's proxy checks and strips it.
        return "postgresql://%s:%s@127.0.0.1:%d/%s?sslmode=disable&options=endpoint%%3D%s" % (
            urllib.parse.quote(role["name"], safe=""), urllib.parse.quote(role["password"], safe=""),
            endpoint.proxy.port, urllib.parse.quote(dbname, safe=""), endpoint.id)

    # -- endpoints / proxies ----------------------------------------------
    def _new_endpoint(self, branch_id, etype, now):
        e = Endpoint(self.new_id("ep"), branch_id, etype, now)
        e.proxy = EndpointProxy(e.id, lambda logical, eid=e.id: self._resolve(eid, logical),
                                self.pg.tcp_host, self.pg.port, log=self.log,
                                latency=lambda: self.config["latency_ms"] / 1000.0)
        self.endpoints[e.id] = e
        return e

    def _resolve(self, endpoint_id, logical):
        with self.lock:
            self.advance(time.time())
            e = self.endpoints.get(endpoint_id)
            if self.config["compute_down"]:
                return None, ("57P03", "the compute of endpoint %s is down" % endpoint_id)
            if e is None or e.deleting:
                return None, "endpoint %s is not available" % endpoint_id
            b = self.branches.get(e.branch_id)
            if b is None:
                return None, "branch of endpoint %s is gone" % endpoint_id
            for d in b.databases:
                if d["name"] == logical:
                    return physical_name("b", b.timeline, d["name"]), e.type == "read_only"
            return None, 'database "%s" does not exist' % logical

    def _close_endpoint(self, e):
        if e.proxy:
            e.proxy.close()
        self.endpoints.pop(e.id, None)

    # =====================================================================
    # Handlers. Each returns (status, body) or raises ApiError. `now` is the
    # request time; `outcome` comes from fault injection.
    # =====================================================================

    # -- project ----------------------------------------------------------
    def get_project(self, now, project_id):
        self.check_project(project_id)
        return 200, {"project": self.project_view()}

    def list_projects(self, now, query):
        return 200, {"projects": [self.project_list_item()], "applications": {}, "integrations": {}}

    # -- snapshots --------------------------------------------------------
    def _validate_lsn(self, lsn):
        if not LSN_RE.match(lsn):
            raise ApiError(400, "lsn must look like 0/1F3C8A0 (two hex numbers separated by '/'), got %r"
                           % lsn)
        if self.pg.lsn_cmp(lsn, self.pg.current_lsn()) > 0:
            raise ApiError(400, "lsn %s is in the future of the branch (current %s)"
                           % (lsn, self.pg.current_lsn()))

    def _validate_point_in_time(self, now, ts, what):
        t = parse_timestamp(ts, what)
        if t > now + 1:
            raise ApiError(400, "%s %s is in the future" % (what, ts))
        if t < self.created - 1:
            raise ApiError(400, "%s %s is outside the restore window (the project was created at %s)"
                           % (what, ts, iso(self.created)))
        return t

    def create_snapshot(self, now, project_id, branch_id, query, outcome):
        with self.lock:
            self.check_project(project_id)
            branch = self.get_branch(branch_id)
        name = query.get("name")
        lsn = query.get("lsn")
        ts = query.get("timestamp")
        expires = query.get("expires_at")
        if name is not None:
            check_name(name, "snapshot name")
        if lsn is not None and ts is not None:
            raise ApiError(400, "lsn and timestamp cannot be used together")
        if lsn is not None:
            self._validate_lsn(lsn)
        if ts is not None:
            self._validate_point_in_time(now, ts, "timestamp")
        expires_t = None
        if expires is not None:
            expires_t = parse_timestamp(expires, "expires_at")
            if expires_t <= now:
                raise ApiError(400, "expires_at %s is in the past" % expires)
        self.begin_mutation(now)
        try:
            with self.lock:
                branch = self.get_branch(branch_id)
                if name is not None and any(s.name == name for s in self.snapshots.values()):
                    raise ApiError(409, "snapshot with name %r already exists" % name,
                                   code="SNAPSHOT_NAME_TAKEN")
                if len(self.snapshots) >= self.config["snapshot_limit"]:
                    raise ApiError(422, "snapshots limit exceeded: the project already has %d snapshots "
                                   "(limit %d)" % (len(self.snapshots), self.config["snapshot_limit"]),
                                   code="SNAPSHOTS_LIMIT_EXCEEDED")
                snap = Snapshot(self.new_id("snap"), name, now)
                dbs = [dict(d) for d in branch.databases]
            copied = []
            head_lsn = None
            size = 0
            try:
                for d in dbs:
                    phys = physical_name("s", snap.id, d["name"])
                    got = self.pg.copy_database(physical_name("b", branch.timeline, d["name"]), phys, d["owner"])
                    head_lsn = head_lsn or got
                    copied.append(phys)
                    size += self.pg.database_size(phys)
            except Exception as e:
                for phys in copied:
                    self.drop_queue.put(phys)
                raise ApiError(500, "snapshot copy failed: %s" % e)
            with self.lock:
                if snap.name is None:
                    base = "%s@%s" % (branch.name, iso(now))
                    snap.name = base
                    n = 2
                    while any(s.name == snap.name for s in self.snapshots.values()):
                        snap.name = "%s (%d)" % (base, n)
                        n += 1
                snap.lsn = lsn or head_lsn
                snap.timestamp = ts or iso(now)
                snap.source_branch_id = branch.id
                snap.expires_at = expires_t
                snap.pending_size = size
                snap.seq = self.next_seq()
                snap.databases = [{"name": d["name"], "owner": d["owner"],
                                   "physical": physical_name("s", snap.id, d["name"])} for d in dbs]
                self.snapshots[snap.id] = snap

                def commit(t, snap=snap):
                    snap.full_size = snap.pending_size

                def fail(t, snap=snap):
                    if self.snapshots.get(snap.id) is snap:
                        self._drop_snapshot(snap)

                ops = self.add_mutation(now, [("create_timeline", branch.id, None),
                                              ("timeline_archive", branch.id, None)],
                                        outcome, commit, fail, "create snapshot %s" % snap.id)
                return 200, {"snapshot": self.snapshot_view(snap), "operations": ops}
        finally:
            self.end_mutation()

    def _drop_snapshot(self, snap):
        self.snapshots.pop(snap.id, None)
        for d in snap.databases:
            self.drop_queue.put(d["physical"])

    def list_snapshots(self, now, project_id):
        self.check_project(project_id)
        snaps = sorted((s for s in self.snapshots.values() if not s.deleting), key=lambda s: s.seq)
        return 200, {"snapshots": [self.snapshot_view(s) for s in snaps]}

    def get_snapshot(self, snapshot_id):
        s = self.snapshots.get(snapshot_id)
        if s is None or s.deleting:
            raise ApiError(404, "snapshot %s not found" % snapshot_id)
        return s

    def update_snapshot(self, now, project_id, snapshot_id, body):
        with self.lock:
            self.check_project(project_id)
            self.get_snapshot(snapshot_id)
        if not isinstance(body, dict) or not isinstance(body.get("snapshot"), dict):
            raise ApiError(400, "request body must be {\"snapshot\": {...}}")
        req = body["snapshot"]
        name = req.get("name")
        if name is not None:
            check_name(name, "snapshot name")
        expires_t = None
        if req.get("expires_at") is not None:
            expires_t = parse_timestamp(req["expires_at"], "expires_at")
            if expires_t <= now:
                raise ApiError(400, "expires_at %s is in the past" % req["expires_at"])
        self.begin_mutation(now)
        try:
            with self.lock:
                s = self.get_snapshot(snapshot_id)
                if name is not None and any(o.name == name and o.id != s.id for o in self.snapshots.values()):
                    raise ApiError(409, "snapshot with name %r already exists" % name,
                                   code="SNAPSHOT_NAME_TAKEN")
                if name is not None:
                    s.name = name
                if "expires_at" in req:
                    s.expires_at = expires_t
                self.cond.notify_all()
                return 200, {"snapshot": self.snapshot_view(s)}
        finally:
            self.end_mutation()

    def delete_snapshot(self, now, project_id, snapshot_id, outcome):
        with self.lock:
            self.check_project(project_id)
            self.get_snapshot(snapshot_id)
        self.begin_mutation(now)
        try:
            with self.lock:
                s = self.get_snapshot(snapshot_id)
                s.deleting = True

                def commit(t, s=s):
                    self._drop_snapshot(s)

                def fail(t, s=s):
                    s.deleting = False

                ops = self.add_mutation(now, [("delete_timeline", s.source_branch_id, None)],
                                        outcome, commit, fail, "delete snapshot %s" % s.id)
                return 202, {"operations": ops}
        finally:
            self.end_mutation()

    # -- restore ----------------------------------------------------------
    def _check_root_branch_limit(self):
        limit = self.config["root_branch_limit"]
        roots = len([b for b in self.live_branches() if not b.parent_id])
        if limit and roots >= limit:
            raise ApiError(422, "root branches limit exceeded: the project already has %d root "
                           "branches (limit %d)" % (roots, limit), code="ROOT_BRANCHES_LIMIT_EXCEEDED")

    def restore_snapshot(self, now, project_id, snapshot_id, body, query, outcome):
        with self.lock:
            self.check_project(project_id)
            self.get_snapshot(snapshot_id)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        name = body.get("name", query.get("name"))
        if name is not None:
            check_name(name, "branch name")
        target_id = body.get("target_branch_id")
        if target_id is not None and not isinstance(target_id, str):
            raise ApiError(400, "target_branch_id must be a string")
        finalize = body.get("finalize_restore", False)
        if not isinstance(finalize, bool):
            raise ApiError(400, "finalize_restore must be a boolean")
        self.begin_mutation(now)
        try:
            with self.lock:
                snap = self.get_snapshot(snapshot_id)
                if target_id is None:
                    target_id = snap.source_branch_id
                target = self.get_branch(target_id)
                if name is not None and self.name_taken(name):
                    raise ApiError(409, "branch with name %r already exists" % name,
                                   code="BRANCH_NAME_TAKEN")
                self._check_root_branch_limit()
                nb = Branch(self.new_id("br"), name or self.unique_branch_name(snap.id + "-restore"), now)
                dbs = [dict(d) for d in snap.databases]
            made = []
            try:
                for d in dbs:
                    phys = physical_name("b", nb.timeline, d["name"])
                    self.pg.clone_database(d["physical"], phys, d["owner"])
                    made.append(phys)
            except Exception as e:
                for phys in made:
                    self.drop_queue.put(phys)
                raise ApiError(500, "restore failed: %s" % e)
            with self.lock:
                nb.state = "init"
                nb.seq = self.next_seq()
                nb.restore_status = "restored"
                nb.restored_from = snap.id
                nb.restore_target = target.id
                nb.parent_lsn = snap.lsn
                nb.databases = [{"id": self.next_db_id(), "name": d["name"], "owner": d["owner"],
                                 "created": now} for d in dbs]
                self.branches[nb.id] = nb
                specs = [("timeline_unarchive", nb.id, None), ("create_branch", nb.id, None)]
                eps = []
                own = []
                if finalize:
                    nb.finalizing = True
                    eps = self.branch_endpoints(target.id)
                    specs += [("suspend_compute", target.id, e.id) for e in eps]
                    specs += [("start_compute", nb.id, e.id) for e in eps]
                elif self.config["preview_compute"]:
                    own = [self._new_endpoint(nb.id, "read_write", now)]
                    eps = own
                    specs += [("start_compute", nb.id, e.id) for e in own]

                def commit(t, nb=nb, target=target, finalize=finalize, own=own):
                    self._ready(nb, t)
                    for e in own:
                        e.state, e.pending_state, e.started, e.updated = "active", None, t, t
                    if finalize:
                        self._swap(nb, target, None, t)

                def fail(t, nb=nb):
                    nb.finalizing = False

                ops = self.add_mutation(now, specs, outcome, commit, fail,
                                        "restore %s into %s" % (snap.id, nb.id))
                return 200, {"branch": self.branch_view(nb),
                             "endpoints": [self.endpoint_view(e) for e in eps],
                             "operations": ops}
        finally:
            self.end_mutation()

    def _ready(self, b, t):
        if b.state != "ready":
            b.state = "ready"
            b.state_changed = t
            b.updated = t

    def _swap(self, nb, target, old_name, t):
        """Finalize: @nb replaces @target (name, default flag, computes)."""
        original = target.name
        target.name = old_name if old_name is not None else self.unique_branch_name(original + " (old)")
        target.updated = t
        nb.name = original
        nb.default, target.default = target.default, False
        nb.protected = target.protected
        nb.restore_status = "finalized"
        nb.restored_as = target.id
        nb.restore_target = None
        nb.finalizing = False
        nb.updated = t
        for e in self.branch_endpoints(target.id):
            e.branch_id = nb.id
            e.updated = t
            e.started = t
            e.state, e.pending_state = "active", None
            if e.proxy:
                e.proxy.close_connections()

    def finalize_restore(self, now, project_id, branch_id, body, outcome):
        with self.lock:
            self.check_project(project_id)
            self.get_branch(branch_id)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        old_name = body.get("name")
        if old_name is not None:
            check_name(old_name, "name")
        self.begin_mutation(now)
        try:
            with self.lock:
                nb = self.get_branch(branch_id)
                if nb.restore_status != "restored" or nb.restore_target is None:
                    raise ApiError(400, "branch %s was not created by a snapshot restore waiting to be "
                                   "finalized (restore_status: %s)" % (nb.id, nb.restore_status),
                                   code="BRANCH_NOT_RESTORED")
                target = self.branches.get(nb.restore_target)
                if target is None or target.deleting:
                    raise ApiError(404, "branch %s, which this restore replaces, no longer exists"
                                   % nb.restore_target)
                if old_name is not None and (old_name == target.name or self.name_taken(old_name, target.id)):
                    raise ApiError(409, "branch with name %r already exists" % old_name,
                                   code="BRANCH_NAME_TAKEN")
                eps = self.branch_endpoints(target.id)
                own_rw = [e for e in self.branch_endpoints(nb.id) if e.type == "read_write"]
                if own_rw and any(e.type == "read_write" for e in eps):
                    raise ApiError(409, "branch %s has its own read_write endpoint %s and would receive the "
                                   "read_write endpoint of %s; a branch can have only one: delete %s first"
                                   % (nb.id, own_rw[0].id, target.id, own_rw[0].id),
                                   code="ENDPOINT_CONFLICT")
                specs = [("suspend_compute", target.id, e.id) for e in eps]
                specs += [("start_compute", nb.id, e.id) for e in eps]
                if not specs:
                    specs = [("apply_config", nb.id, None)]
                nb.finalizing = True

                def commit(t, nb=nb, target=target):
                    self._swap(nb, target, old_name, t)

                def fail(t, nb=nb):
                    nb.finalizing = False

                ops = self.add_mutation(now, specs, outcome, commit, fail, "finalize restore %s" % nb.id)
                return 200, {"operations": ops}
        finally:
            self.end_mutation()

    def restore_branch(self, now, project_id, branch_id, body, outcome):
        """POST /branches/{id}/restore (restoreProjectBranch): the branch keeps its id, name
        and computes and gets the head of @source_branch_id; its data until then goes to a
        new branch @preserve_under_name, which takes its parent and children. The restored
        branch's parent becomes the source. Only heads are emulated (no source_lsn or
        source_timestamp: the emulator keeps no history)."""
        with self.lock:
            self.check_project(project_id)
            self.get_branch(branch_id)
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        source_id = body.get("source_branch_id")
        if not isinstance(source_id, str) or not re.match(r"^[a-z0-9-]{1,60}$", source_id):
            raise ApiError(400, "source_branch_id is required: a branch id")
        keep = body.get("preserve_under_name")
        if keep is not None:
            check_name(keep, "preserve_under_name")
        for key in ("source_lsn", "source_timestamp"):
            if body.get(key) is not None:
                raise ApiError(400, "%s: the emulator restores only to the source branch's head"
                               % key)
        if source_id == branch_id:
            raise ApiError(400, "restoring a branch from itself needs source_lsn or "
                           "source_timestamp, and preserve_under_name")
        self.begin_mutation(now)
        try:
            with self.lock:
                target = self.get_branch(branch_id)
                source = self.get_branch(source_id)
                children = [c for c in self.live_branches() if c.parent_id == target.id]
                if children and not keep:
                    raise ApiError(400, "branch %s has child branches: preserve_under_name is "
                                   "required" % target.id)
                if keep and self.name_taken(keep):
                    raise ApiError(409, "branch with name %r already exists" % keep,
                                   code="BRANCH_NAME_TAKEN")
                if target.finalizing or source.finalizing:
                    raise ApiError(409, "a restore of branch %s is in progress" % target.id,
                                   code="BRANCH_BUSY")
                timeline = self.new_id("br")
                dbs = [dict(d) for d in source.databases]
                src_timeline = source.timeline
            made = []
            head_lsn = None
            try:
                for d in dbs:
                    phys = physical_name("b", timeline, d["name"])
                    got = self.pg.copy_database(physical_name("b", src_timeline, d["name"]), phys,
                                                d["owner"])
                    head_lsn = head_lsn or got
                    made.append(phys)
            except Exception as e:
                for phys in made:
                    self.drop_queue.put(phys)
                raise ApiError(500, "branch restore failed: %s" % e)
            with self.lock:
                target.finalizing = True
                eps = self.branch_endpoints(target.id)
                preserved = Branch(self.new_id("br"), keep, now) if keep else None
                specs = [("create_timeline", target.id, None)]
                if preserved:
                    specs.append(("create_branch", preserved.id, None))
                specs += [("suspend_compute", target.id, e.id) for e in eps]
                specs += [("start_compute", target.id, e.id) for e in eps]

                def commit(t, target=target, source=source, preserved=preserved, dbs=dbs,
                           timeline=timeline, lsn=head_lsn):
                    old_timeline, old_dbs = target.timeline, target.databases
                    if preserved:
                        preserved.timeline = old_timeline
                        preserved.databases = old_dbs
                        preserved.parent_id, preserved.parent_lsn = target.parent_id, target.parent_lsn
                        preserved.seq = self.next_seq()
                        preserved.created = preserved.updated = preserved.state_changed = t
                        for c in self.live_branches():
                            if c.parent_id == target.id:
                                c.parent_id = preserved.id
                        if self.name_taken(preserved.name):
                            preserved.name = self.unique_branch_name(preserved.name)
                        self.branches[preserved.id] = preserved
                    else:
                        for d in old_dbs:
                            self.drop_queue.put(physical_name("b", old_timeline, d["name"]))
                    target.timeline = timeline
                    target.databases = [{"id": self.next_db_id(), "name": d["name"],
                                         "owner": d["owner"], "created": t} for d in dbs]
                    target.parent_id, target.parent_lsn = source.id, lsn
                    target.finalizing = False
                    target.updated = t
                    for e in self.branch_endpoints(target.id):
                        e.updated = e.started = t
                        if e.proxy:
                            e.proxy.close_connections()

                def fail(t, target=target, dbs=dbs, timeline=timeline):
                    target.finalizing = False
                    for d in dbs:
                        self.drop_queue.put(physical_name("b", timeline, d["name"]))

                ops = self.add_mutation(now, specs, outcome, commit, fail,
                                        "restore branch %s from %s" % (target.id, source.id))
                return 200, {"branch": self.branch_view(target), "operations": ops}
        finally:
            self.end_mutation()

    # -- branches ---------------------------------------------------------
    def list_branches(self, now, project_id, query):
        self.check_project(project_id)
        sort_by = query.get("sort_by", "updated_at")
        sort_order = query.get("sort_order", "desc")
        cursor = query.get("cursor")
        if cursor:
            pos = decode_cursor(cursor)
            sort_by, sort_order = pos["sort_by"], pos["sort_order"]
        if sort_by not in ("name", "created_at", "updated_at"):
            raise ApiError(400, "sort_by must be one of name, created_at, updated_at")
        if sort_order not in ("asc", "desc"):
            raise ApiError(400, "sort_order must be asc or desc")
        limit = int_param(query, "limit", self.config["branches_default_limit"], 1, 10000)
        search = (query.get("search") or "").lower()
        attr = {"name": lambda b: b.name, "created_at": lambda b: b.created,
                "updated_at": lambda b: b.updated}[sort_by]
        items = [b for b in self.live_branches()
                 if not search or search in b.name.lower() or search in b.id.lower()]
        keyed = sorted(((attr(b), b.seq), b) for b in items)
        if sort_order == "desc":
            keyed.reverse()
        if cursor:
            last = tuple(pos["key"])
            if sort_order == "asc":
                keyed = [kb for kb in keyed if kb[0] > last]
            else:
                keyed = [kb for kb in keyed if kb[0] < last]
        page = keyed[:limit]
        body = {"branches": [self.branch_view(b) for _, b in page],
                "annotations": {b.id: self.annotation_view(b) for _, b in page if b.annotation}}
        pagination = {"sort_by": sort_by, "sort_order": sort_order}
        if len(keyed) > limit:
            pagination["next"] = encode_cursor({"sort_by": sort_by, "sort_order": sort_order,
                                                "key": list(page[-1][0])})
        body["pagination"] = pagination
        return 200, body

    def count_branches(self, now, project_id, query):
        self.check_project(project_id)
        search = (query.get("search") or "").lower()
        return 200, {"count": len([b for b in self.live_branches()
                                   if not search or search in b.name.lower() or search in b.id.lower()])}

    def get_branch_view(self, now, project_id, branch_id):
        self.check_project(project_id)
        b = self.get_branch(branch_id)
        return 200, {"branch": self.branch_view(b), "annotation": self.annotation_view(b)}

    def create_branch(self, now, project_id, body, outcome):
        with self.lock:
            self.check_project(project_id)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON object")
        req = body.get("branch") or {}
        if not isinstance(req, dict):
            raise ApiError(400, "branch must be an object")
        eps_req = body.get("endpoints") or []
        if not isinstance(eps_req, list) or not all(isinstance(e, dict) for e in eps_req):
            raise ApiError(400, "endpoints must be an array of objects")
        for e in eps_req:
            if e.get("type") not in ("read_write", "read_only"):
                raise ApiError(400, "endpoints[].type must be read_write or read_only")
        if sum(1 for e in eps_req if e["type"] == "read_write") > 1:
            raise ApiError(400, "a branch can have only one read_write endpoint")
        name = req.get("name")
        if name is not None:
            check_name(name, "branch name")
        if req.get("parent_lsn") is not None and req.get("parent_timestamp") is not None:
            raise ApiError(400, "parent_lsn and parent_timestamp cannot be used together")
        if req.get("parent_lsn") is not None:
            if not isinstance(req["parent_lsn"], str):
                raise ApiError(400, "parent_lsn must be a string")
            self._validate_lsn(req["parent_lsn"])
        if req.get("parent_timestamp") is not None:
            self._validate_point_in_time(now, req["parent_timestamp"], "parent_timestamp")
        init_source = req.get("init_source", "parent-data")
        if init_source not in ("parent-data", "schema-only"):
            raise ApiError(400, "init_source must be parent-data or schema-only")
        protected = req.get("protected", False)
        if not isinstance(protected, bool):
            raise ApiError(400, "protected must be a boolean")
        expires_t = None
        if req.get("expires_at") is not None:
            expires_t = parse_timestamp(req["expires_at"], "expires_at")
        annotation = body.get("annotation_value") or {}
        if not isinstance(annotation, dict) or not all(isinstance(v, str) for v in annotation.values()):
            raise ApiError(400, "annotation_value must be an object of strings")
        self.begin_mutation(now)
        try:
            with self.lock:
                parent = self.get_branch(req["parent_id"]) if req.get("parent_id") else self.default_branch()
                if name is not None and self.name_taken(name):
                    raise ApiError(409, "branch with name %r already exists" % name,
                                   code="BRANCH_NAME_TAKEN")
                nb = Branch(self.new_id("br"), None, now)
                nb.name = name or nb.id
                dbs = [dict(d) for d in parent.databases]
            made = []
            head_lsn = None
            try:
                for d in dbs:
                    phys = physical_name("b", nb.timeline, d["name"])
                    src = physical_name("b", parent.timeline, d["name"])
                    if init_source == "schema-only":
                        got = self.pg.copy_database(src, phys, d["owner"], schema_only=True)
                    else:
                        got = self.pg.copy_database(src, phys, d["owner"])
                    head_lsn = head_lsn or got
                    made.append(phys)
            except Exception as e:
                for phys in made:
                    self.drop_queue.put(phys)
                raise ApiError(500, "branch copy failed: %s" % e)
            with self.lock:
                nb.parent_id = parent.id if init_source == "parent-data" else None
                nb.parent_lsn = req.get("parent_lsn") or head_lsn
                nb.state = "init"
                nb.protected = protected
                nb.init_source = init_source
                nb.expires_at = expires_t
                nb.annotation = dict(annotation)
                nb.seq = self.next_seq()
                nb.databases = [{"id": self.next_db_id(), "name": d["name"], "owner": d["owner"],
                                 "created": now} for d in dbs]
                self.branches[nb.id] = nb
                eps = [self._new_endpoint(nb.id, e["type"], now) for e in eps_req]
                specs = [("create_branch", nb.id, None)] + [("start_compute", nb.id, e.id) for e in eps]

                def commit(t, nb=nb, eps=eps):
                    self._ready(nb, t)
                    for e in eps:
                        e.state, e.pending_state, e.started, e.updated = "active", None, t, t

                ops = self.add_mutation(now, specs, outcome, commit, None, "create branch %s" % nb.id)
                out = {"branch": self.branch_view(nb),
                       "endpoints": [self.endpoint_view(e) for e in eps],
                       "operations": ops,
                       "roles": [self.role_view(nb, r) for r in self.roles],
                       "databases": [self.database_view(nb, d) for d in nb.databases]}
                rw = [e for e in eps if e.type == "read_write"]
                if len(nb.databases) == 1 and len(self.roles) == 1 and rw:
                    d, r = nb.databases[0], self.roles[0]
                    out["connection_uris"] = [{
                        "connection_uri": self.uri_for(rw[0], d["name"], r),
                        "connection_parameters": {"database": d["name"], "password": r["password"],
                                                  "role": r["name"], "host": "127.0.0.1",
                                                  "pooler_host": "127.0.0.1"}}]
                return 201, out
        finally:
            self.end_mutation()

    def update_branch(self, now, project_id, branch_id, body):
        with self.lock:
            self.check_project(project_id)
            self.get_branch(branch_id)
        if not isinstance(body, dict) or not isinstance(body.get("branch"), dict):
            raise ApiError(400, "request body must be {\"branch\": {...}}")
        req = body["branch"]
        name = req.get("name")
        if name is not None:
            check_name(name, "branch name")
        if "protected" in req and not isinstance(req["protected"], bool):
            raise ApiError(400, "protected must be a boolean")
        expires_t = None
        if req.get("expires_at") is not None:
            expires_t = parse_timestamp(req["expires_at"], "expires_at")
        self.begin_mutation(now)
        try:
            with self.lock:
                b = self.get_branch(branch_id)
                if name is not None and self.name_taken(name, b.id):
                    raise ApiError(409, "branch with name %r already exists" % name,
                                   code="BRANCH_NAME_TAKEN")
                if name is not None:
                    b.name = name
                if "protected" in req:
                    b.protected = req["protected"]
                if "expires_at" in req:
                    b.expires_at = expires_t
                b.updated = now
                return 200, {"branch": self.branch_view(b), "operations": []}
        finally:
            self.end_mutation()

    def delete_branch(self, now, project_id, branch_id, outcome):
        with self.lock:
            self.check_project(project_id)
            b = self.branches.get(branch_id)
            if b is None or b.deleting:
                return 204, None
        self.begin_mutation(now)
        try:
            with self.lock:
                b = self.branches.get(branch_id)
                if b is None or b.deleting:
                    return 204, None
                if b.default:
                    raise ApiError(422, "cannot delete the project's default branch %s (%s)"
                                   % (b.id, b.name), code="BRANCH_IS_DEFAULT")
                if b.protected:
                    raise ApiError(422, "cannot delete protected branch %s (%s)" % (b.id, b.name),
                                   code="BRANCH_PROTECTED")
                children = [c for c in self.live_branches() if c.parent_id == b.id]
                if children:
                    raise ApiError(409, "cannot delete branch %s (%s): it has child branches: %s"
                                   % (b.id, b.name, ", ".join(c.id for c in children)),
                                   code="BRANCH_HAS_CHILDREN")
                if b.finalizing:
                    raise ApiError(409, "branch %s is being restored" % b.id, code="BRANCH_BUSY")
                eps = self.branch_endpoints(b.id)
                view = self.branch_view(b)
                b.deleting = True
                for e in eps:
                    e.deleting = True
                    e.proxy.close_connections()
                specs = [("suspend_compute", b.id, e.id) for e in eps] + [("delete_timeline", b.id, None)]

                def commit(t, b=b, eps=eps):
                    for e in eps:
                        self._close_endpoint(e)
                    self.branches.pop(b.id, None)
                    self.deleted_branches.add(b.id)
                    for d in b.databases:
                        self.drop_queue.put(physical_name("b", b.timeline, d["name"]))

                def fail(t, b=b, eps=eps):
                    b.deleting = False
                    for e in eps:
                        e.deleting = False

                ops = self.add_mutation(now, specs, outcome, commit, fail, "delete branch %s" % b.id)
                return 200, {"branch": view, "operations": ops}
        finally:
            self.end_mutation()

    def list_branch_endpoints(self, now, project_id, branch_id):
        self.check_project(project_id)
        b = self.get_branch(branch_id)
        return 200, {"endpoints": [self.endpoint_view(e) for e in self.branch_endpoints(b.id)]}

    def list_databases(self, now, project_id, branch_id):
        self.check_project(project_id)
        b = self.get_branch(branch_id)
        return 200, {"databases": [self.database_view(b, d) for d in b.databases]}

    def list_roles(self, now, project_id, branch_id):
        self.check_project(project_id)
        b = self.get_branch(branch_id)
        return 200, {"roles": [self.role_view(b, r) for r in self.roles]}

    # -- endpoints --------------------------------------------------------
    def list_endpoints(self, now, project_id):
        self.check_project(project_id)
        eps = sorted((e for e in self.endpoints.values() if not e.deleting), key=lambda e: e.created)
        return 200, {"endpoints": [self.endpoint_view(e) for e in eps]}

    def get_endpoint(self, now, project_id, endpoint_id):
        self.check_project(project_id)
        e = self.endpoints.get(endpoint_id)
        if e is None or e.deleting:
            raise ApiError(404, "endpoint %s not found" % endpoint_id)
        return 200, {"endpoint": self.endpoint_view(e)}

    def create_endpoint(self, now, project_id, body, outcome):
        with self.lock:
            self.check_project(project_id)
        if not isinstance(body, dict) or not isinstance(body.get("endpoint"), dict):
            raise ApiError(400, "request body must be {\"endpoint\": {\"branch_id\": ..., \"type\": ...}}")
        req = body["endpoint"]
        if not isinstance(req.get("branch_id"), str):
            raise ApiError(400, "endpoint.branch_id is required")
        if req.get("type") not in ("read_write", "read_only"):
            raise ApiError(400, "endpoint.type must be read_write or read_only")
        self.begin_mutation(now)
        try:
            with self.lock:
                b = self.get_branch(req["branch_id"])
                if req["type"] == "read_write" and any(e.type == "read_write"
                                                       for e in self.branch_endpoints(b.id)):
                    raise ApiError(409, "branch %s already has a read_write endpoint" % b.id,
                                   code="ENDPOINT_EXISTS")
                e = self._new_endpoint(b.id, req["type"], now)

                def commit(t, e=e):
                    e.state, e.pending_state, e.started, e.updated = "active", None, t, t

                ops = self.add_mutation(now, [("start_compute", b.id, e.id)], outcome, commit, None,
                                        "create endpoint %s" % e.id)
                return 201, {"endpoint": self.endpoint_view(e), "operations": ops}
        finally:
            self.end_mutation()

    def delete_endpoint(self, now, project_id, endpoint_id, outcome):
        with self.lock:
            self.check_project(project_id)
            if endpoint_id not in self.endpoints or self.endpoints[endpoint_id].deleting:
                raise ApiError(404, "endpoint %s not found" % endpoint_id)
        self.begin_mutation(now)
        try:
            with self.lock:
                e = self.endpoints.get(endpoint_id)
                if e is None or e.deleting:
                    raise ApiError(404, "endpoint %s not found" % endpoint_id)
                e.deleting = True
                e.proxy.close_connections()
                view = self.endpoint_view(e)

                def commit(t, e=e):
                    self._close_endpoint(e)

                def fail(t, e=e):
                    e.deleting = False

                ops = self.add_mutation(now, [("suspend_compute", e.branch_id, e.id)], outcome, commit, fail,
                                        "delete endpoint %s" % e.id)
                return 200, {"endpoint": view, "operations": ops}
        finally:
            self.end_mutation()

    def connection_uri(self, now, project_id, query):
        self.check_project(project_id)
        dbname = query.get("database_name")
        role_name = query.get("role_name")
        if not dbname:
            raise ApiError(400, "database_name is required")
        if not role_name:
            raise ApiError(400, "role_name is required")
        pooled = query.get("pooled", "false")
        if pooled not in ("true", "false"):
            raise ApiError(400, "pooled must be true or false")
        b = self.get_branch(query["branch_id"]) if query.get("branch_id") else self.default_branch()
        if query.get("endpoint_id"):
            e = self.endpoints.get(query["endpoint_id"])
            if e is None or e.deleting or e.branch_id != b.id:
                raise ApiError(404, "endpoint %s not found on branch %s" % (query["endpoint_id"], b.id))
        else:
            rw = [e for e in self.branch_endpoints(b.id) if e.type == "read_write"]
            if not rw:
                raise ApiError(404, "branch %s has no read_write endpoint; create one with "
                               "POST /projects/%s/endpoints" % (b.id, self.project_id),
                               code="ENDPOINT_NOT_FOUND")
            e = rw[0]
        if not any(d["name"] == dbname for d in b.databases):
            raise ApiError(404, "database %s not found on branch %s" % (dbname, b.id))
        r = self.role(role_name)
        if r is None:
            raise ApiError(404, "role %s not found on branch %s" % (role_name, b.id))
        return 200, {"uri": self.uri_for(e, dbname, r, pooled == "true")}

    # -- operations -------------------------------------------------------
    def get_operation(self, now, project_id, op_id):
        self.check_project(project_id)
        op = self.ops_by_id.get(op_id)
        if op is None:
            raise ApiError(404, "operation %s not found" % op_id)
        return 200, {"operation": op.view(now)}

    def list_operations(self, now, project_id, query):
        self.check_project(project_id)
        limit = int_param(query, "limit", self.config["operations_default_limit"], 1, 1000)
        ops = sorted(self.ops, key=lambda o: o.sort_us, reverse=True)
        if query.get("cursor"):
            pos = parse_iso_us(query["cursor"])
            if pos is None:
                raise ApiError(400, "invalid cursor %r" % query["cursor"])
            ops = [o for o in ops if o.sort_us < pos]
        page = ops[:limit]
        body = {"operations": [o.view(now) for o in page]}
        if page:
            body["pagination"] = {"cursor": iso_us(page[-1].sort_us)}
        return 200, body

    # -- debugging --------------------------------------------------------
    def dump(self, now):
        return {
            "config": dict(self.config),
            "project_id": self.project_id,
            "busy": self.busy(now),
            "inflight": self.inflight,
            "roles": [{"name": r["name"]} for r in self.roles],
            "branches": [dict(self.branch_view(b), deleting=b.deleting, restore_target=b.restore_target,
                              finalizing=b.finalizing,
                              physical=[physical_name("b", b.timeline, d["name"]) for d in b.databases])
                         for b in sorted(self.branches.values(), key=lambda b: b.seq)],
            "deleted_branches": sorted(self.deleted_branches),
            "endpoints": [dict(self.endpoint_view(e), port=e.proxy.port, deleting=e.deleting,
                               connections=e.proxy.connection_count(), **e.proxy.counters())
                          for e in self.endpoints.values()],
            "snapshots": [dict(self.snapshot_view(s), deleting=s.deleting,
                               physical=[d["physical"] for d in s.databases])
                          for s in sorted(self.snapshots.values(), key=lambda s: s.seq)],
            "operations": [o.view(now) for o in self.ops],
            "pending_mutations": [{"label": m.label, "ends_at": iso(m.end_time)}
                                  for m in self.mutations if not m.done],
        }


def int_param(query, key, default, lo, hi):
    raw = query.get(key)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ApiError(400, "%s must be an integer" % key)
    if not lo <= v <= hi:
        raise ApiError(400, "%s must be between %d and %d" % (key, lo, hi))
    return v


def encode_cursor(obj):
    import base64
    import json
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(s):
    import base64
    import json
    try:
        obj = json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
        assert isinstance(obj, dict) and isinstance(obj["key"], list) and len(obj["key"]) == 2
        return obj
    except Exception:
        raise ApiError(400, "invalid cursor %r" % s)
