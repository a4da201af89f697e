#!/usr/bin/python3
"""A local emulator of the Neon HTTP API v2, backed by a real PostgreSQL server.

It serves one project under /api/v2 and a few test knobs under /_emulator
(see README.md beside this file). Start it through tests/local-neon, which
also creates the PostgreSQL cluster it needs.
"""

import argparse
import collections
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from emu_pg import PgAdmin  # noqa: E402
from emu_org import Org  # noqa: E402
from emu_state import LOCKED_MESSAGE, ApiError, Emulator  # noqa: E402

API_PREFIX = "/api/v2"
ID = r"(?P<%s>[^/]+)"


def log(msg):
    sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class Faults:
    """Rules from POST /_emulator/faults, consumed by matching API requests."""

    KEYS = {"method", "path", "status", "code", "message", "count", "delay_ms", "drop", "operation",
            "op_index"}

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.next_id = 1

    def add(self, spec):
        if not isinstance(spec, dict):
            raise ApiError(400, "fault must be a JSON object")
        unknown = set(spec) - self.KEYS
        if unknown:
            raise ApiError(400, "unknown fault keys: %s" % ", ".join(sorted(unknown)))
        rule = dict(spec)
        rule.setdefault("count", 1)
        if not isinstance(rule["count"], int) or rule["count"] == 0 or rule["count"] < -1:
            raise ApiError(400, "count must be a positive integer, or -1 for every request")
        if rule.get("method") is not None:
            rule["method"] = str(rule["method"]).upper()
        try:
            re.compile(rule.get("path") or "")
        except re.error as e:
            raise ApiError(400, "path is not a valid regular expression: %s" % e)
        if "status" in rule and not (isinstance(rule["status"], int) and 100 <= rule["status"] <= 599):
            raise ApiError(400, "status must be an HTTP status code")
        if rule.get("drop") is True:
            rule["drop"] = "before"
        if rule.get("drop") not in (None, False, "before", "after"):
            raise ApiError(400, "drop must be true, \"before\" or \"after\"")
        if rule.get("operation") not in (None, "error", "failed", "cancelled"):
            raise ApiError(400, "operation must be error, failed or cancelled")
        if "delay_ms" in rule and not (isinstance(rule["delay_ms"], (int, float)) and rule["delay_ms"] >= 0):
            raise ApiError(400, "delay_ms must be a non-negative number")
        if not any(rule.get(k) for k in ("status", "delay_ms", "drop", "operation")):
            raise ApiError(400, "a fault needs at least one of status, delay_ms, drop, operation")
        with self.lock:
            rule["id"] = self.next_id
            self.next_id += 1
            self.rules.append(rule)
        return rule

    def clear(self):
        with self.lock:
            n = len(self.rules)
            self.rules = []
            return n

    def list(self):
        with self.lock:
            return [dict(r) for r in self.rules]

    def take(self, method, path):
        with self.lock:
            for rule in self.rules:
                m = rule.get("method")
                if m and m != "*" and m != method:
                    continue
                if not m and method == "GET" and rule.get("operation") and not (
                        rule.get("status") or rule.get("drop") or rule.get("delay_ms")):
                    continue  # operation faults are for mutations
                if not re.search(rule.get("path") or "", path):
                    continue
                if rule["count"] > 0:
                    rule["count"] -= 1
                    if rule["count"] == 0:
                        self.rules.remove(rule)
                return dict(rule)
        return None


class RequestLog:
    def __init__(self, cap=20000):
        self.lock = threading.Lock()
        self.entries = []
        self.cap = cap

    def add(self, entry):
        with self.lock:
            self.entries.append(entry)
            if len(self.entries) > self.cap:
                del self.entries[: len(self.entries) - self.cap]

    def list(self):
        with self.lock:
            return list(self.entries)

    def clear(self):
        with self.lock:
            n = len(self.entries)
            self.entries = []
            return n


class RateLimiter:
    """Neon's rate limits as its docs give them: requests a minute per API key, and a burst
    limit a second per route. 0 turns a limit off. Past either, 429 with Retry-After. It
    also keeps the peak counts seen (a sliding minute, a sliding second per route), so a
    test can check that a client stayed under them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.minute = collections.deque()
        self.seconds = {}
        self.reset()

    def reset(self):
        with self.lock:
            self.minute.clear()
            self.seconds = {}
            self.peak_minute = 0
            self.peak_second = 0
            self.limited = 0

    def admit(self, now, route, per_minute, per_second):
        """True when the request may go on; counts it either way."""
        with self.lock:
            while self.minute and self.minute[0] <= now - 60:
                self.minute.popleft()
            sec = self.seconds.setdefault(route, collections.deque())
            while sec and sec[0] <= now - 1:
                sec.popleft()
            if (per_minute and len(self.minute) >= per_minute) or \
                    (per_second and len(sec) >= per_second):
                self.limited += 1
                return False
            self.minute.append(now)
            sec.append(now)
            self.peak_minute = max(self.peak_minute, len(self.minute))
            self.peak_second = max(self.peak_second, len(sec))
            return True

    def stats(self):
        with self.lock:
            return {"peak_per_minute": self.peak_minute, "peak_per_second": self.peak_second,
                    "limited": self.limited}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, app):
        self.app = app
        self.open_conns = set()
        self.conn_lock = threading.Lock()
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        with self.conn_lock:
            self.open_conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.conn_lock:
            self.open_conns.discard(request)
        super().shutdown_request(request)

    def close_all_connections(self):
        with self.conn_lock:
            conns = list(self.open_conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class App:
    def __init__(self, org, api_key, port):
        self.org = org
        self.emu = org.first
        self.api_key = api_key
        self.port = port
        self.faults = Faults()
        self.requests = RequestLog()
        self.rate = RateLimiter()
        self.server = None
        self.stop = threading.Event()
        self.down_until = 0.0
        self.routes = self._routes()

    # -- routing ----------------------------------------------------------
    def _routes(self):
        org = self.org
        P = "/projects/" + ID % "p"
        B = P + "/branches/" + ID % "b"
        R = []

        def route(method, pattern, fn, body="none", mutation=False):
            R.append((method, re.compile("^" + pattern + "$"), fn, body, mutation))

        def orgwide(fn):
            fn.orgwide = True  # the organization's own handler: no project state to lock
            return fn

        route("GET", "/projects", lambda c: org.list_projects(c.now, c.query))
        route("POST", "/projects", lambda c: org.create_project(c.now, c.body), body="required")
        route("GET", P, orgwide(lambda c: org.get_project(c.now, c.m["p"])))
        route("PATCH", P, orgwide(lambda c: org.update_project(c.now, c.m["p"], c.body)),
              body="required")
        route("DELETE", P, orgwide(lambda c: org.delete_project(c.now, c.m["p"])), body="ignore")
        route("GET", "/users/me", lambda c: (200, self.user()))
        route("GET", "/users/me/organizations", lambda c: (200, {"organizations": []}))
        route("GET", "/auth", lambda c: (200, {"account_id": self.emu.owner_id, "auth_method": "api_key_user"}))
        route("GET", P + "/operations", lambda c: c.e.list_operations(c.now, c.m["p"], c.query))
        route("GET", P + "/operations/" + ID % "o", lambda c: c.e.get_operation(c.now, c.m["p"], c.m["o"]))
        route("GET", P + "/snapshots", lambda c: c.e.list_snapshots(c.now, c.m["p"]))
        route("POST", B + "/snapshot",
              lambda c: c.e.create_snapshot(c.now, c.m["p"], c.m["b"], c.query, c.outcome),
              body="ignore", mutation=True)
        route("PATCH", P + "/snapshots/" + ID % "s",
              lambda c: c.e.update_snapshot(c.now, c.m["p"], c.m["s"], c.body), body="required", mutation=True)
        route("DELETE", P + "/snapshots/" + ID % "s",
              lambda c: c.e.delete_snapshot(c.now, c.m["p"], c.m["s"], c.outcome), body="ignore", mutation=True)
        route("POST", P + "/snapshots/" + ID % "s" + "/restore",
              lambda c: c.e.restore_snapshot(c.now, c.m["p"], c.m["s"], c.body, c.query, c.outcome),
              body="optional", mutation=True)
        route("POST", B + "/finalize_restore",
              lambda c: c.e.finalize_restore(c.now, c.m["p"], c.m["b"], c.body, c.outcome),
              body="optional", mutation=True)
        route("POST", B + "/restore",
              lambda c: c.e.restore_branch(c.now, c.m["p"], c.m["b"], c.body, c.outcome),
              body="required", mutation=True)
        route("GET", P + "/branches", lambda c: c.e.list_branches(c.now, c.m["p"], c.query))
        route("POST", P + "/branches", lambda c: c.e.create_branch(c.now, c.m["p"], c.body, c.outcome),
              body="optional", mutation=True)
        route("GET", P + "/branches/count", lambda c: c.e.count_branches(c.now, c.m["p"], c.query))
        route("GET", B, lambda c: c.e.get_branch_view(c.now, c.m["p"], c.m["b"]))
        route("PATCH", B, lambda c: c.e.update_branch(c.now, c.m["p"], c.m["b"], c.body),
              body="required", mutation=True)
        route("DELETE", B, lambda c: c.e.delete_branch(c.now, c.m["p"], c.m["b"], c.outcome),
              body="ignore", mutation=True)
        route("GET", B + "/endpoints", lambda c: c.e.list_branch_endpoints(c.now, c.m["p"], c.m["b"]))
        route("GET", B + "/databases", lambda c: c.e.list_databases(c.now, c.m["p"], c.m["b"]))
        route("GET", B + "/roles", lambda c: c.e.list_roles(c.now, c.m["p"], c.m["b"]))
        route("GET", P + "/endpoints", lambda c: c.e.list_endpoints(c.now, c.m["p"]))
        route("POST", P + "/endpoints", lambda c: c.e.create_endpoint(c.now, c.m["p"], c.body, c.outcome),
              body="required", mutation=True)
        route("GET", P + "/endpoints/" + ID % "ep", lambda c: c.e.get_endpoint(c.now, c.m["p"], c.m["ep"]))
        route("DELETE", P + "/endpoints/" + ID % "ep",
              lambda c: c.e.delete_endpoint(c.now, c.m["p"], c.m["ep"], c.outcome), body="ignore", mutation=True)
        route("GET", P + "/connection_uri", lambda c: c.e.connection_uri(c.now, c.m["p"], c.query))
        return R

    def user(self):
        return {
            "active_seconds_limit": 360000, "id": self.emu.owner_id, "email": "dev@example.com",
            "login": "dev", "name": "Local", "last_name": "Developer", "image": "",
            "projects_limit": 100, "branches_limit": 5000, "max_autoscaling_limit": 8,
            "auth_accounts": [], "plan": "launch",
        }

    def route_key(self, method, path):
        """What Neon's per-route burst limit counts by: the method and the path's shape."""
        for m, rx, fn, body, mutation in self.routes:
            if m == method and rx.match(path):
                return method + " " + rx.pattern
        return method + " " + path

    def find_route(self, method, path):
        path_known = False
        for m, rx, fn, body, mutation in self.routes:
            match = rx.match(path)
            if match:
                path_known = True
                if m == method:
                    return fn, match.groupdict(), body, mutation
        if path_known:
            raise ApiError(405, "method %s is not allowed on %s" % (method, path))
        raise ApiError(404, "no such API path: %s %s" % (method, path))

    # -- serving ----------------------------------------------------------
    def serve(self, port):
        """Serve until stopped; reopen after POST /_emulator/down."""
        first = True
        while not self.stop.is_set():
            wait = self.down_until - time.time()
            if wait > 0:
                self.stop.wait(wait)
                continue
            try:
                self.server = Server(("127.0.0.1", port), Handler, self)
            except OSError as e:
                if first:
                    raise
                log("cannot listen on %d again yet (%s); retrying" % (port, e))
                self.stop.wait(0.1)
                continue
            port = self.server.server_address[1]
            if first:
                self.port = port
                first = False
                yield port
            self.server.serve_forever(poll_interval=0.05)
            self.server.server_close()
            self.server.close_all_connections()

    def go_down(self, seconds):
        """Refuse new connections from now on (before the caller answers),
        then let the serve loop close everything and reopen later."""
        self.down_until = time.time() + seconds
        log("API going down for %.3fs" % seconds)
        try:
            self.server.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def finish_down(self):
        threading.Thread(target=self.server.shutdown, daemon=True).start()

    def shutdown(self):
        self.stop.set()
        if self.server:
            threading.Thread(target=self.server.shutdown, daemon=True).start()


class Ctx:
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle and delayed ACKs
    # add ~40 ms to every answer on a kept-alive connection, which Neon does not.
    disable_nagle_algorithm = True
    server_version = "neon-emulator"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def version_string(self):
        return self.server_version

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    # -- helpers ----------------------------------------------------------
    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline(65537)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send_json(self, status, body, request_id=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        if request_id:
            self.send_header("X-Request-Id", request_id)
        if status != 204:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and status != 204:
            self.wfile.write(data)
        self.wfile.flush()

    def error_body(self, err, request_id):
        return {"code": err.code, "message": err.message, "request_id": request_id}

    # -- dispatch ---------------------------------------------------------
    def dispatch(self, method):
        app = self.server.app
        url = urllib.parse.urlsplit(self.path)
        raw = self.read_body()
        if url.path == "/_emulator" or url.path.startswith("/_emulator/"):
            return self.admin(app, method, url.path[len("/_emulator"):] or "/", raw)
        if url.path != API_PREFIX and not url.path.startswith(API_PREFIX + "/"):
            return self.send_json(404, {"code": "NOT_FOUND", "message": "not found: %s" % url.path})
        self.api(app, method, url.path[len(API_PREFIX):] or "/", url.query, raw)

    def api(self, app, method, path, raw_query, raw):
        started = time.time()
        request_id = self.headers.get("X-Request-ID") or str(uuid.uuid4())
        query = {k: v[0] for k, v in urllib.parse.parse_qs(raw_query, keep_blank_values=True).items()}
        entry = {"method": method, "path": path, "query": query, "raw_query": raw_query,
                 "status": None, "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started))
                 + ".%03dZ" % int((started % 1) * 1000), "t": started, "request_id": request_id}
        try:
            entry["body"] = json.loads(raw) if raw else None
        except ValueError:
            entry["body"] = raw.decode("utf-8", "replace")
        latency = app.emu.config["latency_ms"]
        if latency:
            time.sleep(latency / 1000.0)  # the emulated round trip to a distant region
        cfg = app.emu.config
        if not app.rate.admit(started, app.route_key(method, path), cfg["rate_per_minute"],
                              cfg["rate_per_second"]):
            entry["status"] = 429
            self.finish_log(app, entry, started)
            return self.send_json(429, {"code": "", "message": "rate limit exceeded: too many "
                                        "requests", "request_id": request_id}, request_id,
                                  headers=[("Retry-After", "1")])
        fault = app.faults.take(method, path)
        if fault:
            entry["fault"] = fault
            if fault.get("delay_ms"):
                time.sleep(fault["delay_ms"] / 1000.0)  # the injected latency itself
            if fault.get("drop") == "before":
                entry["dropped"] = "before"
                self.finish_log(app, entry, started)
                self.close_connection = True
                return
        status, body = self.answer(app, method, path, query, raw, fault, request_id)
        entry["status"] = status
        if fault and fault.get("drop") == "after":
            entry["dropped"] = "after"
            self.finish_log(app, entry, started)
            self.close_connection = True
            return
        self.finish_log(app, entry, started)
        self.send_json(status, body, request_id)

    def finish_log(self, app, entry, started):
        elapsed = time.time() - started
        entry["duration_ms"] = int(elapsed * 1000)
        entry["elapsed_s"] = round(elapsed, 6)
        app.requests.add(entry)
        log("%s %s%s -> %s%s" % (entry["method"], entry["path"],
                                 "?" + entry["raw_query"] if entry["raw_query"] else "",
                                 entry["status"], " (dropped %s)" % entry["dropped"]
                                 if entry.get("dropped") else ""))

    def answer(self, app, method, path, query, raw, fault, request_id):
        emu = app.emu
        try:
            if fault and fault.get("status"):
                st = fault["status"]
                msg = fault.get("message") or (LOCKED_MESSAGE if st == 423 else
                                               "emulated failure (fault injection)")
                raise ApiError(st, msg, code=fault.get("code"))
            scheme, _, key = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or key.strip() != app.api_key:
                raise ApiError(401, "authentication required: send Authorization: Bearer <API key>")
            fn, groups, body_mode, mutation = app.find_route(method, path)
            ctx = Ctx()
            ctx.m = groups
            ctx.query = query
            ctx.body = None
            ctx.outcome = None
            if fault and fault.get("operation"):
                ctx.outcome = (fault["operation"], fault.get("op_index"))
            if body_mode in ("optional", "required"):
                if raw.strip():
                    try:
                        ctx.body = json.loads(raw)
                    except ValueError as e:
                        raise ApiError(400, "request body is not valid JSON: %s" % e)
                elif body_mode == "required":
                    raise ApiError(400, "request body is required")
            ctx.now = time.time()
            if "p" not in groups or getattr(fn, "orgwide", False):
                return fn(ctx)
            # The project's own state, made on first use (404 for an unknown id).
            ctx.e = app.org.project(groups["p"])
            if mutation:
                with ctx.e.lock:
                    ctx.e.advance(ctx.now)
                status, body = fn(ctx)
            else:
                with ctx.e.lock:
                    ctx.e.advance(ctx.now)
                    status, body = fn(ctx)
            return status, body
        except ApiError as err:
            return err.status, self.error_body(err, request_id)
        except Exception as exc:  # noqa: BLE001
            log("internal error on %s %s: %r" % (method, path, exc))
            import traceback
            traceback.print_exc()
            return 500, {"code": "INTERNAL_ERROR", "message": "internal error: %s" % exc,
                         "request_id": request_id}

    # -- /_emulator -------------------------------------------------------
    def admin(self, app, method, path, raw):
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return self.send_json(400, {"code": "BAD_REQUEST", "message": "body is not valid JSON"})
        emu = app.emu
        try:
            if path == "/faults" and method == "POST":
                return self.send_json(201, {"fault": app.faults.add(body)})
            if path == "/faults" and method == "GET":
                return self.send_json(200, {"faults": app.faults.list()})
            if path == "/faults" and method == "DELETE":
                return self.send_json(200, {"cleared": app.faults.clear()})
            if path == "/requests" and method == "GET":
                return self.send_json(200, {"requests": app.requests.list()})
            if path == "/rate" and method == "GET":
                return self.send_json(200, app.rate.stats())
            if path == "/rate" and method == "DELETE":
                app.rate.reset()
                return self.send_json(200, app.rate.stats())
            if path == "/requests" and method == "DELETE":
                return self.send_json(200, {"cleared": app.requests.clear()})
            if path == "/config" and method in ("GET", "POST"):
                if method == "POST":
                    with emu.lock:
                        for k, v in body.items():
                            if k not in emu.config:
                                raise ApiError(400, "unknown config key %s" % k)
                            low = 0 if k in ("operation_ms", "preview_compute", "rate_per_minute",
                                             "rate_per_second", "root_branch_limit", "latency_ms",
                                             "compute_down") else 1
                            if not isinstance(v, int) or v < low:
                                raise ApiError(400, "%s must be an integer" % k)
                        emu.config.update(body)
                        if body.get("compute_down"):
                            for e in list(emu.endpoints.values()):
                                if e.proxy:
                                    e.proxy.close_connections()
                return self.send_json(200, {"config": dict(emu.config)})
            if path == "/state" and method == "GET":
                now = time.time()
                with emu.lock:
                    emu.advance(now)
                    dump = emu.dump(now)
                dump["api_port"] = app.port
                dump["faults"] = app.faults.list()
                return self.send_json(200, dump)
            if path == "/down" and method == "POST":
                seconds = body.get("seconds")
                if not isinstance(seconds, (int, float)) or not 0 < seconds <= 600:
                    raise ApiError(400, "seconds must be a number in (0, 600]")
                app.go_down(seconds)
                self.close_connection = True
                self.send_json(200, {"down_for_seconds": seconds})
                app.finish_down()
                return
            if path in ("/", "/health") and method == "GET":
                return self.send_json(200, {"ok": True, "project_id": emu.project_id,
                                            "org_id": app.org.org_id,
                                            "projects": app.org.count(), "used": app.org.used()})
            raise ApiError(404, "no such emulator knob: %s %s" % (method, path))
        except ApiError as err:
            return self.send_json(err.status, {"code": err.code, "message": err.message})


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0, help="API port on 127.0.0.1 (0: pick a free one)")
    ap.add_argument("--port-file", help="write the chosen port here once listening")
    ap.add_argument("--pg-host", required=True, help="PostgreSQL unix socket directory")
    ap.add_argument("--pg-port", type=int, required=True)
    ap.add_argument("--pg-user", default="postgres", help="a superuser")
    ap.add_argument("--pg-bin", default="", help="directory of pg_dump and pg_restore")
    ap.add_argument("--project-id")
    ap.add_argument("--operation-ms", type=int, default=1500)
    ap.add_argument("--snapshot-limit", type=int, default=10)
    ap.add_argument("--branches-default-limit", type=int, default=10000)
    ap.add_argument("--projects", type=int, default=1,
                    help="projects of the organization (each made on first use)")
    args = ap.parse_args()
    api_key = os.environ.get("NEON_EMULATOR_API_KEY")
    if not api_key:
        ap.error("set NEON_EMULATOR_API_KEY to the API key clients must send")

    pg = PgAdmin(args.pg_host, args.pg_port, args.pg_user, args.pg_bin)
    emu = Emulator(pg, project_id=args.project_id, operation_ms=args.operation_ms,
                   snapshot_limit=args.snapshot_limit,
                   branches_default_limit=args.branches_default_limit, log=log)
    emu.bootstrap()
    org = Org(emu, args.projects, log=log)
    app = App(org, api_key, args.port)

    def on_signal(signum, frame):
        log("signal %d: stopping" % signum)
        app.shutdown()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    for port in app.serve(args.port):
        log("project %s, API on http://127.0.0.1:%d%s" % (emu.project_id, port, API_PREFIX))
        if args.port_file:
            tmp = args.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % port)
            os.replace(tmp, args.port_file)
    org.shutdown()
    log("stopped")


if __name__ == "__main__":
    main()
