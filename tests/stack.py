"""Test helper: a local Neon stack (PostgreSQL + API emulator) for pytest suites.

    st = Stack.start(tmpdir, operation_ms=300)
    status, body = st.api("GET", st.project_path("/snapshots"))
    st.fault(method="POST", path="/snapshot$", status=423, count=2)
    st.stop()

Also the one place that knows where tests/fetch-deps caches third-party
artefacts (the OpenAPI spec and the Neon CLI): see cache_dir(), spec_path()
and neon_cli_path().
"""

import contextlib
import glob
import http.client
import json
import os
import subprocess
import time
import urllib.parse

import psycopg2

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(TESTS_DIR)
LOCAL_NEON = os.path.join(TESTS_DIR, "local-neon")
FETCH_DEPS = os.path.join(TESTS_DIR, "fetch-deps")
API_CLIENT_VERSION = "2.7.3"
NEON_CLI_VERSION = "5.0.1"
TERMINAL = ("finished", "skipped", "cancelled", "error")


# -- third-party artefacts (kept in sync with tests/fetch-deps) -------------
def cache_dir():
    return os.environ.get("NEONFS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "neonfs")


def spec_path():
    """The OpenAPI yaml inside @neondatabase/api-client, or None if not fetched."""
    base = os.path.join(cache_dir(), "api-client-%s" % API_CLIENT_VERSION, "package")
    for path in sorted(glob.glob(os.path.join(base, "**", "*.y*ml"), recursive=True)):
        with open(path, errors="replace") as f:
            if f.readline().startswith("openapi:"):
                return path
    return None


def neon_cli_path():
    """The Neon CLI entry point (run it with node), or None if not fetched."""
    path = os.path.join(cache_dir(), "neon-cli", "node_modules", "neon", "dist", "cli.js")
    return path if os.path.exists(path) else None


def ensure_deps():
    """Run tests/fetch-deps if anything is missing; returns (spec, cli)."""
    if spec_path() is None or neon_cli_path() is None:
        subprocess.run([FETCH_DEPS], check=True, stdout=subprocess.DEVNULL)
    return spec_path(), neon_cli_path()


def wait_until(cond, timeout=30.0, what="condition", interval=0.02, max_interval=0.25):
    """Poll @cond until it returns a truthy value; that value is returned."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = cond()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))
        time.sleep(interval)  # poll interval; the condition decides
        interval = min(interval * 1.5, max_interval)


class ApiDropped(ConnectionError):
    """The server closed the connection without answering."""


class Stack:
    def __init__(self, directory, env):
        self.dir = directory
        self.env = env
        api = urllib.parse.urlsplit(env["NEON_API_HOST"])
        self.host, self.port = api.hostname, api.port
        self.api_prefix = api.path.rstrip("/")
        self.admin_prefix = urllib.parse.urlsplit(env["NEONFS_EMULATOR_URL"]).path.rstrip("/")
        self.project_id = env["NEON_PROJECT_ID"]
        self.org_id = env.get("NEON_ORG_ID")
        self.api_key = env["NEON_API_KEY"]
        self.meta_url = env["NEONFS_META_URL"]
        self.stopped = False

    # -- lifecycle --------------------------------------------------------
    @classmethod
    @contextlib.contextmanager
    def running(cls, tmpdir, **kw):
        """A stack for the length of a with block (a module's fixture), stopped after."""
        st = cls.start(tmpdir, **kw)
        try:
            yield st
        finally:
            st.stop()

    @classmethod
    def start(cls, tmpdir, operation_ms=300, snapshot_limit=10, projects=1):
        directory = os.path.join(str(tmpdir), "local-neon")
        cmd = [LOCAL_NEON, "start", "--dir", directory, "--operation-ms", str(operation_ms),
               "--snapshot-limit", str(snapshot_limit), "--projects", str(projects)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run([LOCAL_NEON, "stop", "--dir", directory], capture_output=True)
            raise RuntimeError("local-neon start failed (%d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
        env = {}
        for line in r.stdout.splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export "):].partition("=")
                env[key] = value.strip("'")
        return cls(directory, env)

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        subprocess.run([LOCAL_NEON, "stop", "--dir", self.dir], capture_output=True, text=True)

    def log_text(self, name="emulator.log"):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- HTTP -------------------------------------------------------------
    def _http(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            data = None
            hdrs = dict(headers or {})
            if body is not None:
                data = body if isinstance(body, (bytes, str)) else json.dumps(body)
                if isinstance(data, str):
                    data = data.encode()
                hdrs.setdefault("Content-Type", "application/json")
            try:
                conn.request(method, path, body=data, headers=hdrs)
                resp = conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                raise ApiDropped("%s %s: connection closed without an answer (%s)" % (method, path, e))
            parsed = json.loads(raw) if raw else None
            return resp.status, parsed, dict(resp.getheaders())
        finally:
            conn.close()

    def project_path(self, suffix=""):
        return "/projects/%s%s" % (self.project_id, suffix)

    def api_full(self, method, path, body=None, query=None, headers=None, auth=True, timeout=30):
        """(status, json, headers) of an API call; @path is relative to /api/v2."""
        url = self.api_prefix + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        hdrs = dict(headers or {})
        if auth:
            hdrs.setdefault("Authorization", "Bearer " + self.api_key)
        return self._http(method, url, body, hdrs, timeout)

    def api(self, method, path, body=None, query=None, **kw):
        status, parsed, _ = self.api_full(method, path, body, query, **kw)
        return status, parsed

    def admin(self, method, path, body=None):
        status, parsed, _ = self._http(method, self.admin_prefix + path, body)
        return status, parsed

    def _admin_ok(self, method, path, body=None):
        status, parsed = self.admin(method, path, body)
        if status >= 300:
            raise RuntimeError("emulator %s %s -> %s %s" % (method, path, status, parsed))
        return parsed

    def requests(self):
        return self._admin_ok("GET", "/requests")["requests"]

    def clear_requests(self):
        self._admin_ok("DELETE", "/requests")

    def fault(self, **kw):
        return self._admin_ok("POST", "/faults", kw)["fault"]

    def clear_faults(self):
        self._admin_ok("DELETE", "/faults")

    def config(self, **kw):
        return self._admin_ok("POST", "/config", kw)["config"]

    def rate(self, reset=False):
        """Peak request counts the emulator saw (a minute, a second per route) and how many
        it answered 429."""
        return self._admin_ok("DELETE" if reset else "GET", "/rate")

    def state(self):
        return self._admin_ok("GET", "/state")

    def down(self, seconds):
        """Make the API unreachable for @seconds (connections refused)."""
        return self.admin("POST", "/down", {"seconds": seconds})

    def api_reachable(self):
        try:
            self._http("GET", self.admin_prefix + "/health", timeout=2)
            return True
        except OSError:
            return False

    def reset(self, operation_ms=300, snapshot_limit=10):
        """A clean slate for the next test: no faults, default knobs, no
        operation still running, an empty request log. Project data stays."""
        self.clear_faults()
        self.config(operation_ms=operation_ms, snapshot_limit=snapshot_limit,
                    branches_default_limit=10000, operations_default_limit=10,
                    preview_compute=0, rate_per_minute=0, rate_per_second=0,
                    root_branch_limit=0, latency_ms=0, compute_down=0)
        self.wait_idle()
        self.clear_requests()

    def wait_idle(self, timeout=30):
        """Wait until no operation runs (a mutation would not get 423)."""
        wait_until(lambda: not self.state()["busy"], timeout, "the project to be idle")

    # -- Neon helpers -----------------------------------------------------
    def default_branch(self):
        status, body = self.api("GET", self.project_path("/branches"))
        assert status == 200, body
        return next(b for b in body["branches"] if b["default"])

    def branch_by_name(self, name):
        status, body = self.api("GET", self.project_path("/branches"))
        assert status == 200, body
        return next((b for b in body["branches"] if b["name"] == name), None)

    def connection_uri(self, branch_id=None, database="neondb", role="neondb_owner"):
        status, body = self.api("GET", self.project_path("/connection_uri"),
                                query={"branch_id": branch_id, "database_name": database, "role_name": role})
        assert status == 200, body
        return body["uri"]

    def operation(self, op_id, project_id=None):
        status, body = self.api("GET", "/projects/%s/operations/%s"
                                % (project_id or self.project_id, op_id))
        assert status == 200, body
        return body["operation"]

    def wait_operations(self, ops, timeout=30):
        """Poll until every operation is terminal; returns their final objects."""
        ids = [op["id"] if isinstance(op, dict) else op for op in ops]
        # Operations of another project of the organization are asked of that project.
        owner = {op["id"]: op.get("project_id") for op in ops if isinstance(op, dict)}
        final = {}

        def done():
            for op_id in ids:
                if op_id not in final:
                    op = self.operation(op_id, owner.get(op_id))
                    if op["status"] in TERMINAL:
                        final[op_id] = op
            return len(final) == len(ids)
        wait_until(done, timeout, "operations %s" % ids)
        return [final[i] for i in ids]

    # -- SQL --------------------------------------------------------------
    @staticmethod
    def sql(dsn, query, params=None):
        """Run one statement; returns its rows (list of tuples) or None."""
        conn = psycopg2.connect(dsn, connect_timeout=10)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description is not None else None
        finally:
            conn.close()
