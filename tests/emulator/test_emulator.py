"""Tests of the Neon API emulator: every endpoint against the official OpenAPI
spec, the behaviour neonfs relies on (asynchronous operations, finalized
restores through an unchanged connection string, locking, limits), the test
knobs, and the real Neon CLI as an independent client."""

import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import uuid

import psycopg2
import pytest

from spec_check import Spec
from stack import ApiDropped, Stack, ensure_deps, wait_until

TERMINAL = ("finished", "skipped", "cancelled", "error")


# ---------------------------------------------------------------------------
# fixtures and helpers
# ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def deps():
    return ensure_deps()


@pytest.fixture(scope="session")
def spec(deps):
    return Spec(deps[0])


class Client:
    """API calls whose every response is checked against the spec."""

    def __init__(self, st, spec):
        self.st = st
        self.spec = spec
        self.snapshots = []

    def P(self, suffix=""):
        return self.st.project_path(suffix)

    def call(self, method, path, body=None, query=None, expect=None, **kw):
        status, data, headers = self.st.api_full(method, path, body, query, **kw)
        problems = self.spec.check(method, path, status, data)
        assert not problems, "response does not match the spec:\n  " + "\n  ".join(problems) + \
            "\nbody: %s" % json.dumps(data)[:2000]
        if status >= 400:
            assert data["request_id"], data
            assert data["message"], data
        if expect is not None:
            assert status == expect, "%s %s -> %s, expected %s: %s" % (method, path, status, expect, data)
        return data

    def err(self, method, path, body=None, query=None, expect=None, **kw):
        data = self.call(method, path, body, query, expect=expect, **kw)
        return data["code"], data["message"]

    # -- shortcuts --------------------------------------------------------
    def main(self):
        branches = self.call("GET", self.P("/branches"), expect=200)["branches"]
        return next(b for b in branches if b["default"])

    def branches(self):
        return self.call("GET", self.P("/branches"), expect=200)["branches"]

    def snapshot_list(self):
        return self.call("GET", self.P("/snapshots"), expect=200)["snapshots"]

    def wait(self, ops, timeout=30):
        final = self.st.wait_operations(ops, timeout)
        for op in final:
            assert not self.spec.check_component("Operation", op)
        return final

    def snapshot(self, branch_id=None, wait=True, **query):
        branch_id = branch_id or self.main()["id"]
        body = self.call("POST", self.P("/branches/%s/snapshot" % branch_id), query=query, expect=200)
        self.snapshots.append(body["snapshot"]["id"])
        if wait:
            assert all(o["status"] == "finished" for o in self.wait(body["operations"]))
        return body

    def uri(self, branch_id=None):
        q = {"database_name": "neondb", "role_name": "neondb_owner"}
        if branch_id:
            q["branch_id"] = branch_id
        return self.call("GET", self.P("/connection_uri"), query=q, expect=200)["uri"]

    def drop_branch(self, branch_id, has_children=None):
        """Delete a branch; one with children is refused (409) and kept."""
        body = self.call("DELETE", self.P("/branches/" + branch_id))
        status = 409 if body.get("code") else 200
        if has_children is None:
            assert status in (200, 409), body
        else:
            assert status == (409 if has_children else 200), body
        if status == 409:
            assert body["code"] == "BRANCH_HAS_CHILDREN", body
        else:
            self.wait(body["operations"])

    def only_default_branch(self):
        """Deletes every branch but the default one, children first: a test that asserts
        the names a restore gives ("main (old)") needs none left by an earlier test."""
        while True:
            branches = self.branches()
            others = [b for b in branches if not b["default"]]
            if not others:
                return
            parents = {b.get("parent_id") for b in branches}
            for b in [b for b in others if b["id"] not in parents] or others:
                self.st.wait_idle()
                self.drop_branch(b["id"], has_children=False)

    def cleanup(self):
        self.st.clear_faults()
        self.st.config(operation_ms=300)
        live = {s["id"] for s in self.snapshot_list()}
        for sid in self.snapshots:
            if sid in live:
                self.st.wait_idle()
                status, body = self.st.api("DELETE", self.P("/snapshots/" + sid))
                if status == 202:
                    self.st.wait_operations(body["operations"])
        self.st.wait_idle()


@pytest.fixture
def c(neon, spec):
    client = Client(neon, spec)
    yield client
    client.cleanup()


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


sql = Stack.sql


def observe_statuses(st, ops, timeout=30):
    """Poll the operations until terminal; returns every status seen per op."""
    seen = {op["id"]: [op["status"]] for op in ops}
    final = {}

    def done():
        for op_id in seen:
            if op_id in final:
                continue
            op = st.operation(op_id)
            if op["status"] != seen[op_id][-1]:
                seen[op_id].append(op["status"])
            if op["status"] in TERMINAL:
                final[op_id] = op
        return len(final) == len(seen)
    wait_until(done, timeout, "operations to end", interval=0.01, max_interval=0.02)
    return seen, final


# ---------------------------------------------------------------------------
# auth, errors, project
# ---------------------------------------------------------------------------
def test_api_key_required(c):
    code, msg = c.err("GET", c.P(), auth=False, expect=401)
    assert "auth" in msg.lower()
    c.err("GET", c.P("/snapshots"), headers={"Authorization": "Bearer wrong"}, expect=401)
    c.err("POST", c.P("/branches/x/snapshot"), auth=False, expect=401)
    status, data, headers = c.st.api_full("GET", c.P(), auth=False, headers={"X-Request-ID": "req-123"})
    assert status == 401 and data["request_id"] == "req-123"
    # Nothing changed for the unauthenticated mutation.
    assert all(r["status"] == 401 for r in c.st.requests())


def test_project_user_and_unknown_paths(c):
    project = c.call("GET", c.P(), expect=200)["project"]
    assert project["id"] == c.st.project_id
    projects = c.call("GET", "/projects", expect=200)["projects"]
    assert [p["id"] for p in projects] == [c.st.project_id]
    me = c.call("GET", "/users/me", expect=200)
    assert me["id"] == project["owner_id"]
    c.call("GET", "/projects/no-such-project", expect=404)
    c.call("GET", "/projects/no-such-project/snapshots", expect=404)
    c.call("GET", "/projects/no-such-project/branches", expect=404)
    status, body = c.st.api("GET", c.P("/no-such-thing"))
    assert status == 404 and body["code"] and body["message"]
    status, body = c.st.api("PUT", c.P("/snapshots"))
    assert status == 405 and body["message"]


# ---------------------------------------------------------------------------
# branches, endpoints, databases, roles, connection URIs
# ---------------------------------------------------------------------------
def test_initial_project_shape(c):
    main = c.main()
    assert main["name"] == "main" and main["default"] is True
    for bid in (main["id"],):
        assert bid.startswith("br-") and len(bid.split("-")) == 4
    eps = c.call("GET", c.P("/branches/%s/endpoints" % main["id"]), expect=200)["endpoints"]
    rw = [e for e in eps if e["type"] == "read_write"]
    assert len(rw) == 1 and rw[0]["id"].startswith("ep-") and rw[0]["host"] == "127.0.0.1"
    assert rw[0]["current_state"] == "active"
    dbs = c.call("GET", c.P("/branches/%s/databases" % main["id"]), expect=200)["databases"]
    assert [(d["name"], d["owner_name"]) for d in dbs] == [("neondb", "neondb_owner")]
    roles = c.call("GET", c.P("/branches/%s/roles" % main["id"]), expect=200)["roles"]
    assert [r["name"] for r in roles] == ["neondb_owner"] and "password" not in roles[0]
    got = c.call("GET", c.P("/branches/" + main["id"]), expect=200)
    assert got["branch"]["id"] == main["id"] and got["annotation"]["object"]["id"] == main["id"]
    all_eps = c.call("GET", c.P("/endpoints"), expect=200)["endpoints"]
    assert rw[0]["id"] in [e["id"] for e in all_eps]
    one = c.call("GET", c.P("/endpoints/" + rw[0]["id"]), expect=200)["endpoint"]
    assert one["branch_id"] == main["id"]
    for sub in ("", "/endpoints", "/databases", "/roles"):
        c.call("GET", c.P("/branches/br-no-such-000000" + sub), expect=404)
    c.call("GET", c.P("/endpoints/ep-no-such-000000"), expect=404)


def test_connection_uri_reaches_the_branch(c):
    main = c.main()
    uri = c.uri()
    assert uri.startswith("postgresql://neondb_owner:") and "@127.0.0.1:" in uri and "/neondb?" in uri
    assert uri == c.uri(main["id"])
    c.call("GET", c.P("/connection_uri"), query={"role_name": "neondb_owner"}, expect=400)
    c.call("GET", c.P("/connection_uri"), query={"database_name": "neondb"}, expect=400)
    c.call("GET", c.P("/connection_uri"), query={"database_name": "nope", "role_name": "neondb_owner"},
           expect=404)
    c.call("GET", c.P("/connection_uri"), query={"database_name": "neondb", "role_name": "nobody"}, expect=404)
    c.call("GET", c.P("/connection_uri"), query={"database_name": "neondb", "role_name": "neondb_owner",
                                                 "branch_id": "br-no-such-000000"}, expect=404)
    assert c.call("GET", c.P("/connection_uri"), expect=None,
                  query={"database_name": "neondb", "role_name": "neondb_owner", "pooled": "true"})["uri"]
    assert sql(uri, "SELECT current_user")[0][0] == "neondb_owner"


def test_computes_down_refuse_connections_and_the_api_goes_on(c):
    uri = c.uri()
    held = psycopg2.connect(uri)
    held.autocommit = True
    c.st.config(compute_down=1)
    try:
        with pytest.raises(psycopg2.OperationalError) as e:
            sql(uri, "SELECT 1")
        assert "the compute of endpoint" in str(e.value) and "is down" in str(e.value)
        # Connections it had are dropped too; the API still answers.
        with pytest.raises((psycopg2.OperationalError, psycopg2.InterfaceError)):
            with held.cursor() as cur:
                cur.execute("SELECT 1")
        assert c.main()["name"] == "main"
    finally:
        c.st.config(compute_down=0)
        held.close()
    assert sql(uri, "SELECT 1") == [(1,)]


def test_proxy_protocol_details(c):
    uri = c.uri()
    port = int(uri.split("@127.0.0.1:")[1].split("/")[0])
    # SSL and GSS encryption are declined with 'N'.
    for code in (80877103, 80877104):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(struct.pack("!II", 8, code))
            assert s.recv(1) == b"N"
    # An unknown logical database is refused with SQLSTATE 3D000.
    with pytest.raises(psycopg2.OperationalError) as e:
        sql(uri.replace("/neondb?", "/nosuchdb?"), "SELECT 1")
    assert "does not exist" in str(e.value)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        body = struct.pack("!I", 196608) + b"user\0neondb_owner\0database\0nosuchdb\0\0"
        s.sendall(struct.pack("!I", len(body) + 4) + body)
        reply = s.recv(4096)
        assert reply[:1] == b"E" and b"C3D000\0" in reply and b"SFATAL\0" in reply
    # Authentication is the real server's: a wrong password fails.
    bad = uri.split(":", 2)
    bad_uri = bad[0] + ":" + bad[1] + ":wrong" + bad[2][bad[2].index("@"):]
    with pytest.raises(psycopg2.OperationalError) as e:
        sql(bad_uri, "SELECT 1")
    assert "password authentication failed" in str(e.value)
    # Cancel requests reach the backend.
    conn = psycopg2.connect(uri)
    errors = []

    def run():
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_sleep(20)")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
    t = threading.Thread(target=run)
    t.start()
    wait_until(lambda: sql(uri, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(20)' "
                                "AND state = 'active'")[0][0] == 1, 10, "the query to run")
    conn.cancel()
    t.join(10)
    conn.close()
    assert errors and isinstance(errors[0], psycopg2.errors.QueryCanceled)


def test_branch_create_copies_parent_and_becomes_ready(c):
    main = c.main()
    uri = c.uri()
    table = "t_" + uuid.uuid4().hex[:8]
    sql(uri, "CREATE TABLE %s (v text)" % table)
    sql(uri, "INSERT INTO %s VALUES ('from-main')" % table)
    name = unique("dev")
    created = c.call("POST", c.P("/branches"), {"branch": {"name": name, "parent_id": main["id"]},
                                                "endpoints": [{"type": "read_write"}],
                                                "annotation_value": {"purpose": "test"}}, expect=201)
    b = created["branch"]
    assert b["name"] == name and b["parent_id"] == main["id"] and b["current_state"] == "init"
    assert b["id"].startswith("br-") and not b["default"]
    assert [e["type"] for e in created["endpoints"]] == ["read_write"]
    assert [d["name"] for d in created["databases"]] == ["neondb"]
    assert [r["name"] for r in created["roles"]] == ["neondb_owner"]
    assert {o["action"] for o in created["operations"]} == {"create_branch", "start_compute"}
    cu = created["connection_uris"][0]
    assert cu["connection_parameters"]["database"] == "neondb"
    c.wait(created["operations"])
    got = c.call("GET", c.P("/branches/" + b["id"]), expect=200)
    assert got["branch"]["current_state"] == "ready" and got["annotation"]["value"] == {"purpose": "test"}
    listed = c.call("GET", c.P("/branches"), expect=200)
    assert listed["annotations"][b["id"]]["value"] == {"purpose": "test"}
    ep = c.call("GET", c.P("/endpoints/" + created["endpoints"][0]["id"]), expect=200)["endpoint"]
    assert ep["current_state"] == "active"
    # The copy has the parent's data and is independent of it.
    assert cu["connection_uri"] == c.uri(b["id"])
    assert sql(cu["connection_uri"], "SELECT v FROM %s" % table) == [("from-main",)]
    sql(cu["connection_uri"], "INSERT INTO %s VALUES ('from-dev')" % table)
    assert sql(uri, "SELECT count(*) FROM %s" % table) == [(1,)]
    # Errors.
    c.call("POST", c.P("/branches"), {"branch": {"name": name}}, expect=409)
    c.call("POST", c.P("/branches"), {"branch": {"name": ""}}, expect=400)
    c.call("POST", c.P("/branches"), {"branch": {"parent_id": "br-no-such-000000"}}, expect=404)
    c.call("POST", c.P("/branches"), {"endpoints": [{"type": "read_write"}, {"type": "read_write"}]},
           expect=400)
    c.call("POST", c.P("/branches"), {"endpoints": [{"type": "bogus"}]}, expect=400)
    c.call("POST", c.P("/branches"), body="{not json", expect=400)
    # No body at all: a branch named after its id, from the default branch, no endpoint.
    bare = c.call("POST", c.P("/branches"), expect=201)
    assert bare["branch"]["name"] == bare["branch"]["id"] and bare["endpoints"] == []
    assert bare["branch"]["parent_id"] == main["id"] and "connection_uris" not in bare
    c.wait(bare["operations"])


def test_branch_list_pagination_search_and_sort(c):
    names = [unique("pg") for _ in range(3)]
    for n in names:
        c.wait(c.call("POST", c.P("/branches"), {"branch": {"name": n}}, expect=201)["operations"])
    full = c.branches()
    assert {n for n in names} <= {b["name"] for b in full}
    seen, cursor, pages = [], None, 0
    while True:
        q = {"limit": 2}
        if cursor:
            q["cursor"] = cursor
        page = c.call("GET", c.P("/branches"), query=q, expect=200)
        assert len(page["branches"]) <= 2
        seen += [b["id"] for b in page["branches"]]
        pages += 1
        cursor = (page.get("pagination") or {}).get("next")
        if not cursor:
            break
    assert pages >= 2 and sorted(seen) == sorted(b["id"] for b in full) and len(seen) == len(set(seen))
    by_name = c.call("GET", c.P("/branches"), query={"sort_by": "name", "sort_order": "asc"},
                     expect=200)["branches"]
    assert [b["name"] for b in by_name] == sorted(b["name"] for b in full)
    found = c.call("GET", c.P("/branches"), query={"search": names[1][3:]}, expect=200)["branches"]
    assert [b["name"] for b in found] == [names[1]]
    count = c.call("GET", c.P("/branches/count"), expect=200)["count"]
    assert count == len(full)
    c.call("GET", c.P("/branches"), query={"limit": 0}, expect=400)
    c.call("GET", c.P("/branches"), query={"sort_by": "size"}, expect=400)
    c.call("GET", c.P("/branches"), query={"cursor": "garbage!"}, expect=400)
    # The CLI's id test: ids must look like br-<word>-<word>-<word>.
    import re
    assert all(re.match(r"^br-[a-z0-9]+-[a-z0-9]+-[a-z0-9]+$", b["id"]) for b in full)


def test_branch_update_and_delete(c):
    main = c.main()
    a, b = unique("a"), unique("b")
    ca = c.call("POST", c.P("/branches"), {"branch": {"name": a}, "endpoints": [{"type": "read_write"}]},
                expect=201)
    c.wait(ca["operations"])
    cb = c.call("POST", c.P("/branches"), {"branch": {"name": b, "parent_id": ca["branch"]["id"]}},
                expect=201)
    c.wait(cb["operations"])
    aid, bid = ca["branch"]["id"], cb["branch"]["id"]
    renamed = c.call("PATCH", c.P("/branches/" + aid), {"branch": {"name": a + "-x"}}, expect=200)
    assert renamed["branch"]["name"] == a + "-x" and renamed["operations"] == []
    c.call("PATCH", c.P("/branches/" + aid), {"branch": {"name": b}}, expect=409)
    c.call("PATCH", c.P("/branches/" + aid), {"branch": {"name": "x\x01"}}, expect=400)
    c.call("PATCH", c.P("/branches/" + aid), body=None, expect=400)
    c.call("PATCH", c.P("/branches/br-no-such-000000"), {"branch": {"name": "z"}}, expect=404)
    # Refusals: default branch, a branch with children, a protected branch.
    code, msg = c.err("DELETE", c.P("/branches/" + main["id"]), expect=422)
    assert "default" in msg
    code, msg = c.err("DELETE", c.P("/branches/" + aid), expect=409)
    assert "child" in msg
    c.call("PATCH", c.P("/branches/" + bid), {"branch": {"protected": True}}, expect=200)
    code, msg = c.err("DELETE", c.P("/branches/" + bid), expect=422)
    assert "protected" in msg
    c.call("PATCH", c.P("/branches/" + bid), {"branch": {"protected": False}}, expect=200)
    # Delete: gone from listings as soon as accepted, data dropped when the operations end.
    uri_a = c.uri(aid)
    deleted = c.call("DELETE", c.P("/branches/" + bid), expect=200)
    assert deleted["branch"]["id"] == bid and any(o["action"] == "delete_timeline"
                                                  for o in deleted["operations"])
    assert bid not in [x["id"] for x in c.branches()]
    c.call("GET", c.P("/branches/" + bid), expect=404)
    c.wait(deleted["operations"])
    c.call("DELETE", c.P("/branches/" + bid), expect=204)
    c.call("DELETE", c.P("/branches/br-never-existed-000000"), expect=204)
    gone = c.call("DELETE", c.P("/branches/" + aid), expect=200)
    assert {o["action"] for o in gone["operations"]} == {"suspend_compute", "delete_timeline"}
    with pytest.raises(psycopg2.OperationalError):
        sql(uri_a, "SELECT 1")
    c.wait(gone["operations"])
    state = c.st.state()
    assert aid in state["deleted_branches"] and bid in state["deleted_branches"]
    wait_until(lambda: not any(aid.replace("-", "_") in r[0] for r in
                               sql(c.st.meta_url, "SELECT datname FROM pg_database")), 10,
               "the branch's database to be dropped")


def test_endpoint_create_and_read_only(c):
    created = c.call("POST", c.P("/branches"), {"branch": {"name": unique("ep")}}, expect=201)
    c.wait(created["operations"])
    bid = created["branch"]["id"]
    code, msg = c.err("GET", c.P("/connection_uri"), query={"branch_id": bid, "database_name": "neondb",
                                                            "role_name": "neondb_owner"}, expect=404)
    assert "read_write" in msg
    ep = c.call("POST", c.P("/endpoints"), {"endpoint": {"branch_id": bid, "type": "read_write"}}, expect=201)
    assert ep["endpoint"]["branch_id"] == bid and ep["endpoint"]["current_state"] == "init"
    assert [o["action"] for o in ep["operations"]] == ["start_compute"]
    c.wait(ep["operations"])
    c.call("POST", c.P("/endpoints"), {"endpoint": {"branch_id": bid, "type": "read_write"}}, expect=409)
    c.call("POST", c.P("/endpoints"), {"endpoint": {"branch_id": "br-no-such-000000", "type": "read_write"}},
           expect=404)
    c.call("POST", c.P("/endpoints"), {"endpoint": {"type": "read_write"}}, expect=400)
    ro = c.call("POST", c.P("/endpoints"), {"endpoint": {"branch_id": bid, "type": "read_only"}}, expect=201)
    c.wait(ro["operations"])
    eps = c.call("GET", c.P("/branches/%s/endpoints" % bid), expect=200)["endpoints"]
    assert sorted(e["type"] for e in eps) == ["read_only", "read_write"]
    rw_uri = c.uri(bid)
    sql(rw_uri, "CREATE TABLE ro_check (x int)")
    ro_uri = c.call("GET", c.P("/connection_uri"), query={"branch_id": bid, "endpoint_id": ro["endpoint"]["id"],
                                                          "database_name": "neondb",
                                                          "role_name": "neondb_owner"}, expect=200)["uri"]
    assert sql(ro_uri, "SELECT count(*) FROM ro_check") == [(0,)]
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
        sql(ro_uri, "INSERT INTO ro_check VALUES (1)")


# ---------------------------------------------------------------------------
# snapshots
# ---------------------------------------------------------------------------
def test_snapshot_create_list_rename_delete(c):
    main = c.main()
    name = unique("snap")
    body = c.call("POST", c.P("/branches/%s/snapshot" % main["id"]), query={"name": name}, expect=200)
    snap = body["snapshot"]
    c.snapshots.append(snap["id"])
    assert snap["name"] == name and snap["source_branch_id"] == main["id"]
    assert snap["id"].startswith("snap-") and snap["lsn"]
    assert body["operations"] and all(o["status"] in ("scheduling", "running") for o in body["operations"])
    # Listed at once, before its operations finish.
    assert snap["id"] in [s["id"] for s in c.snapshot_list()]
    seen, _ = observe_statuses(c.st, body["operations"])
    assert all(s[-1] == "finished" for s in seen.values())
    assert any("running" in s for s in seen.values())
    # The request log shows query parameters, no body.
    posts = [r for r in c.st.requests() if r["method"] == "POST"]
    assert posts[-1]["query"] == {"name": name} and posts[-1]["body"] is None
    # A JSON body is ignored, as on Neon: the name comes from the query only.
    ignored = c.call("POST", c.P("/branches/%s/snapshot" % main["id"]), body={"name": "from-body"},
                     expect=200)
    c.snapshots.append(ignored["snapshot"]["id"])
    assert ignored["snapshot"]["name"] != "from-body"
    c.wait(ignored["operations"])
    # Rename.
    new = unique("renamed")
    out = c.call("PATCH", c.P("/snapshots/" + snap["id"]), {"snapshot": {"name": new}}, expect=200)
    assert out["snapshot"]["name"] == new and out["snapshot"]["id"] == snap["id"]
    code, msg = c.err("PATCH", c.P("/snapshots/" + snap["id"]),
                      {"snapshot": {"name": ignored["snapshot"]["name"]}}, expect=409)
    assert "exists" in msg
    c.call("PATCH", c.P("/snapshots/" + snap["id"]), {"snapshot": {"name": "a\nb"}}, expect=400)
    c.call("PATCH", c.P("/snapshots/" + snap["id"]), {"name": new}, expect=400)
    c.call("PATCH", c.P("/snapshots/snap-no-such-000000"), {"snapshot": {"name": "x"}}, expect=404)
    # expires_at can be set and cleared.
    exp = c.call("PATCH", c.P("/snapshots/" + snap["id"]), {"snapshot": {"expires_at": "2099-01-01T00:00:00Z"}},
                 expect=200)["snapshot"]
    assert exp["expires_at"] == "2099-01-01T00:00:00Z" and exp["name"] == new
    cleared = c.call("PATCH", c.P("/snapshots/" + snap["id"]), {"snapshot": {"expires_at": None}},
                     expect=200)["snapshot"]
    assert "expires_at" not in cleared
    # Delete: 202 with operations; gone from the list at once.
    deleted = c.call("DELETE", c.P("/snapshots/" + snap["id"]), expect=202)
    assert [o["action"] for o in deleted["operations"]] == ["delete_timeline"]
    assert snap["id"] not in [s["id"] for s in c.snapshot_list()]
    c.wait(deleted["operations"])
    c.call("DELETE", c.P("/snapshots/" + snap["id"]), expect=404)
    c.call("POST", c.P("/branches/br-no-such-000000/snapshot"), expect=404)


def test_snapshot_name_validation(c):
    main = c.main()
    path = c.P("/branches/%s/snapshot" % main["id"])
    for bad in ("", "x" * 257, "tab\there", "nul\x7f"):
        code, msg = c.err("POST", path, query={"name": bad}, expect=400)
        assert "name" in msg
    # 256 bytes of UTF-8 is fine; so are slashes and spaces.
    ok = c.snapshot(name="é" * 128)
    assert ok["snapshot"]["name"] == "é" * 128
    ok2 = c.snapshot(name="a/b c")
    code, msg = c.err("POST", path, query={"name": "a/b c"}, expect=409)
    assert ok2["snapshot"]["name"] == "a/b c"


def test_snapshot_lsn_and_timestamp(c):
    main = c.main()
    path = c.P("/branches/%s/snapshot" % main["id"])
    c.err("POST", path, query={"lsn": "nonsense"}, expect=400)
    c.err("POST", path, query={"lsn": "0/1", "timestamp": "2030-01-01T00:00:00Z"}, expect=400)
    code, msg = c.err("POST", path, query={"lsn": "FFFFFFFF/FFFFFFFF"}, expect=400)
    assert "future" in msg
    c.err("POST", path, query={"timestamp": "2999-01-01T00:00:00Z"}, expect=400)
    c.err("POST", path, query={"timestamp": "yesterday"}, expect=400)
    c.err("POST", path, query={"expires_at": "2000-01-01T00:00:00Z"}, expect=400)
    current = sql(c.st.meta_url, "SELECT pg_current_wal_lsn()::text")[0][0]
    body = c.snapshot(lsn=current, name=unique("lsn"))
    assert body["snapshot"]["lsn"] == current
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    body = c.snapshot(timestamp=ts, name=unique("ts"))
    assert body["snapshot"]["timestamp"] == ts


def test_snapshot_limit(c):
    have = len(c.snapshot_list())
    c.st.config(snapshot_limit=have + 1)
    c.snapshot(name=unique("last"))
    code, msg = c.err("POST", c.P("/branches/%s/snapshot" % c.main()["id"]), query={"name": unique("over")},
                      expect=422)
    assert code == "SNAPSHOTS_LIMIT_EXCEEDED" and "limit" in msg
    assert len(c.snapshot_list()) == have + 1


def test_root_branch_limit(c):
    snap = c.snapshot(name=unique("root"))["snapshot"]
    roots = len([b for b in c.branches() if not b.get("parent_id")])
    c.st.config(root_branch_limit=roots)
    try:
        code, msg = c.err("POST", c.P("/snapshots/%s/restore" % snap["id"]),
                          {"target_branch_id": c.main()["id"]}, expect=422)
        assert code == "ROOT_BRANCHES_LIMIT_EXCEEDED" and "(limit %d)" % roots in msg
        assert len([b for b in c.branches() if not b.get("parent_id")]) == roots
    finally:
        c.st.config(root_branch_limit=0)


def test_snapshot_expiry_set_relative_and_cleared_by_patch(c):
    snap = c.snapshot(name=unique("patchexp"))["snapshot"]
    assert "expires_at" not in snap
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    out = c.call("PATCH", c.P("/snapshots/" + snap["id"]), {"snapshot": {"expires_at": soon}},
                 expect=200)["snapshot"]
    assert out["expires_at"] == soon
    assert not c.spec.check_component("Snapshot", out)
    listed = {s["id"]: s for s in c.snapshot_list()}
    assert listed[snap["id"]]["expires_at"] == soon
    # Enforced without any request: the snapshot goes once its time has come.
    wait_until(lambda: snap["id"] not in [s["id"] for s in c.snapshot_list()], 10,
               "the patched snapshot to expire")
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    other = c.snapshot(name=unique("pastexp"))["snapshot"]
    c.err("PATCH", c.P("/snapshots/" + other["id"]), {"snapshot": {"expires_at": past}}, expect=400)
    c.err("PATCH", c.P("/snapshots/" + other["id"]), {"snapshot": {"expires_at": "tomorrow"}},
          expect=400)


def test_snapshot_expiry(c):
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    body = c.snapshot(expires_at=expires, name=unique("exp"))
    assert body["snapshot"]["expires_at"] == expires
    wait_until(lambda: body["snapshot"]["id"] not in [s["id"] for s in c.snapshot_list()], 10,
               "the snapshot to expire")


# ---------------------------------------------------------------------------
# operations and locking
# ---------------------------------------------------------------------------
def test_operations_get_and_list(c):
    body = c.snapshot(name=unique("ops"), wait=False)
    op = c.call("GET", c.P("/operations/" + body["operations"][0]["id"]), expect=200)["operation"]
    assert op["id"] == body["operations"][0]["id"] and op["project_id"] == c.st.project_id
    c.call("GET", c.P("/operations/" + str(uuid.uuid4())), expect=404)
    c.wait(body["operations"])
    listed = c.call("GET", c.P("/operations"), expect=200)
    ids = [o["id"] for o in listed["operations"]]
    assert set(o["id"] for o in body["operations"]) <= set(ids)
    walked, cursor = [], None
    for _ in range(100):
        q = {"limit": 3}
        if cursor:
            q["cursor"] = cursor
        page = c.call("GET", c.P("/operations"), query=q, expect=200)
        if not page["operations"]:
            break
        walked += [o["id"] for o in page["operations"]]
        cursor = page["pagination"]["cursor"]
    total = len(c.st.state()["operations"])
    assert len(walked) == total == len(set(walked))
    assert walked[:len(ids)] == ids  # newest first, same order
    c.call("GET", c.P("/operations"), query={"limit": 1001}, expect=400)


def test_locked_while_operations_run(c):
    c.st.config(operation_ms=1500)
    main = c.main()
    body = c.snapshot(name=unique("lock"), wait=False)
    code, msg = c.err("POST", c.P("/branches/%s/snapshot" % main["id"]), query={"name": unique("x")},
                      expect=423)
    assert "operations" in msg
    c.err("POST", c.P("/branches"), {"branch": {"name": unique("x")}}, expect=423)
    c.err("PATCH", c.P("/snapshots/" + body["snapshot"]["id"]), {"snapshot": {"name": "y"}}, expect=423)
    c.err("DELETE", c.P("/snapshots/" + body["snapshot"]["id"]), expect=423)
    # Reads are never locked.
    c.call("GET", c.P("/snapshots"), expect=200)
    c.call("GET", c.P("/branches"), expect=200)
    c.wait(body["operations"])
    c.call("PATCH", c.P("/snapshots/" + body["snapshot"]["id"]), {"snapshot": {"name": unique("y")}}, expect=200)
    # Two mutations at the same moment: exactly one is accepted.
    results = []
    barrier = threading.Barrier(2)

    def create(n):
        barrier.wait()
        results.append(c.st.api("POST", c.P("/branches/%s/snapshot" % main["id"]), query={"name": n}))
    threads = [threading.Thread(target=create, args=(unique("race"),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(status for status, _ in results) == [200, 423]
    won = next(b for status, b in results if status == 200)
    c.snapshots.append(won["snapshot"]["id"])
    c.wait(won["operations"])


# ---------------------------------------------------------------------------
# restore
# ---------------------------------------------------------------------------
def _table_with(uri, value):
    table = "r_" + uuid.uuid4().hex[:8]
    sql(uri, "CREATE TABLE %s (v text)" % table)
    sql(uri, "INSERT INTO %s VALUES (%%s)" % table, (value,))
    return table


def test_finalized_restore_through_the_same_uri(c):
    c.only_default_branch()
    c.st.config(operation_ms=1500)
    main = c.main()
    uri = c.uri()
    table = _table_with(uri, "at-snapshot")
    snap = c.snapshot(name=unique("good"))["snapshot"]
    sql(uri, "UPDATE %s SET v = 'after-snapshot'" % table)
    held = psycopg2.connect(uri)
    held.autocommit = True
    out = c.call("POST", c.P("/snapshots/%s/restore" % snap["id"]),
                 {"target_branch_id": main["id"], "finalize_restore": True}, expect=200)
    nb = out["branch"]
    assert nb["id"] != main["id"] and nb["restored_from"] == snap["id"]
    assert nb["restore_status"] == "restored"
    actions = [o["action"] for o in out["operations"]]
    assert actions[:2] == ["timeline_unarchive", "create_branch"] and "suspend_compute" in actions
    # Not committed yet: the same URI still shows the current data.
    assert sql(uri, "SELECT v FROM %s" % table) == [("after-snapshot",)]
    with held.cursor() as cur:
        cur.execute("SELECT 1")
    c.wait(out["operations"])
    # Committed: the URI now reaches the restored branch; old connections were dropped.
    assert c.uri() == uri
    assert sql(uri, "SELECT v FROM %s" % table) == [("at-snapshot",)]
    with pytest.raises((psycopg2.OperationalError, psycopg2.InterfaceError)):
        with held.cursor() as cur:
            cur.execute("SELECT 1")
    held.close()
    branches = {b["id"]: b for b in c.branches()}
    new, old = branches[nb["id"]], branches[main["id"]]
    assert new["name"] == "main" and new["default"] and new["restore_status"] == "finalized"
    assert new["restored_from"] == snap["id"] and new["restored_as"] == main["id"]
    assert old["name"] == "main (old)" and not old["default"]
    assert c.call("GET", c.P("/branches/%s/endpoints" % main["id"]), expect=200)["endpoints"] == []
    eps = c.call("GET", c.P("/branches/%s/endpoints" % nb["id"]), expect=200)["endpoints"]
    assert [e["type"] for e in eps] == ["read_write"]
    # The replaced branch keeps its data.
    ep = c.call("POST", c.P("/endpoints"), {"endpoint": {"branch_id": main["id"], "type": "read_write"}},
                expect=201)
    c.wait(ep["operations"])
    assert sql(c.uri(main["id"]), "SELECT v FROM %s" % table) == [("after-snapshot",)]
    # The snapshot still names the branch it was taken from (now "main (old)").
    listed = next(s for s in c.snapshot_list() if s["id"] == snap["id"])
    assert listed["source_branch_id"] == main["id"]
    # The trap: without target_branch_id the restore targets that old branch.
    c.st.config(operation_ms=300)
    trap = c.call("POST", c.P("/snapshots/%s/restore" % snap["id"]), {"finalize_restore": True}, expect=200)
    c.wait(trap["operations"])
    branches = {b["id"]: b for b in c.branches()}
    assert branches[nb["id"]]["name"] == "main" and branches[nb["id"]]["default"]
    assert branches[trap["branch"]["id"]]["name"] == "main (old)"
    assert branches[trap["branch"]["id"]]["restored_as"] == main["id"]
    assert branches[main["id"]]["name"] == "main (old) (old)"
    # "main (old) (old)" keeps any child branches made from it before the restore.
    children = [b["id"] for b in c.branches() if b.get("parent_id") == main["id"]]
    c.drop_branch(main["id"], has_children=bool(children))


def test_preview_restore_then_finalize(c):
    main = c.main()
    uri = c.uri()
    table = _table_with(uri, "v1")
    snap = c.snapshot(name=unique("pv"))["snapshot"]
    sql(uri, "UPDATE %s SET v = 'v2'" % table)
    name = unique("preview")
    out = c.call("POST", c.P("/snapshots/%s/restore" % snap["id"]), {"name": name, "target_branch_id": main["id"]},
                 expect=200)
    nb = out["branch"]
    assert nb["name"] == name and nb["restore_status"] == "restored" and out["endpoints"] == []
    c.wait(out["operations"])
    # The target is untouched; the preview has no compute until one is created.
    assert sql(uri, "SELECT v FROM %s" % table) == [("v2",)]
    assert c.main()["id"] == main["id"]
    c.err("GET", c.P("/connection_uri"), query={"branch_id": nb["id"], "database_name": "neondb",
                                                "role_name": "neondb_owner"}, expect=404)
    ep = c.call("POST", c.P("/endpoints"), {"endpoint": {"branch_id": nb["id"], "type": "read_write"}},
                expect=201)
    c.wait(ep["operations"])
    assert sql(c.uri(nb["id"]), "SELECT v FROM %s" % table) == [("v1",)]
    # Errors before finalizing.
    c.call("POST", c.P("/branches/%s/finalize_restore" % main["id"]), {}, expect=400)
    c.call("POST", c.P("/branches/br-no-such-000000/finalize_restore"), {}, expect=404)
    c.call("POST", c.P("/branches/%s/finalize_restore" % nb["id"]), {"name": ""}, expect=400)
    c.call("POST", c.P("/branches/%s/finalize_restore" % nb["id"]), {"name": name}, expect=409)
    # Both branches have a read_write compute; only one may remain.
    code, msg = c.err("POST", c.P("/branches/%s/finalize_restore" % nb["id"]), {}, expect=409)
    assert code == "ENDPOINT_CONFLICT"
    gone = c.call("DELETE", c.P("/endpoints/" + ep["endpoint"]["id"]), expect=200)
    assert gone["endpoint"]["id"] == ep["endpoint"]["id"]
    assert c.call("GET", c.P("/branches/%s/endpoints" % nb["id"]), expect=200)["endpoints"] == []
    c.wait(gone["operations"])
    c.call("DELETE", c.P("/endpoints/" + ep["endpoint"]["id"]), expect=404)
    # Finalize, naming the replaced branch.
    old_name = unique("before")
    fin = c.call("POST", c.P("/branches/%s/finalize_restore" % nb["id"]), {"name": old_name}, expect=200)
    assert set(fin) == {"operations"} and fin["operations"]
    c.wait(fin["operations"])
    assert sql(uri, "SELECT v FROM %s" % table) == [("v1",)]
    branches = {b["id"]: b for b in c.branches()}
    assert branches[nb["id"]]["name"] == "main" and branches[nb["id"]]["default"]
    assert branches[nb["id"]]["restore_status"] == "finalized"
    assert branches[main["id"]]["name"] == old_name
    eps = c.call("GET", c.P("/branches/%s/endpoints" % nb["id"]), expect=200)["endpoints"]
    assert [e["type"] for e in eps] == ["read_write"]
    c.call("POST", c.P("/branches/%s/finalize_restore" % nb["id"]), {}, expect=400)
    c.drop_branch(main["id"])


def _detach_main(c):
    """A snapshot restore gives main a new root branch, so the branches a branch restore
    made main's ancestors can be deleted again (children first)."""
    snap = c.snapshot(name=unique("detach"))["snapshot"]
    out = c.call("POST", c.P("/snapshots/%s/restore" % snap["id"]),
                 {"target_branch_id": c.main()["id"], "finalize_restore": True}, expect=200)
    c.wait(out["operations"])
    while True:
        rest = [b for b in c.branches() if not b["default"]]
        parents = {b.get("parent_id") for b in c.branches()}
        leaves = [b for b in rest if b["id"] not in parents]
        if not leaves:
            break
        for b in leaves:
            c.drop_branch(b["id"], has_children=False)


def test_branch_restore_from_the_replaced_branch_and_back(c):
    """Undo of a finalized snapshot restore: main gets the head of "main (old)" through its
    unchanged id, endpoint and URI; its state until then is preserved, and can be restored
    back the same way."""
    c.st.config(operation_ms=600)
    uri = c.uri()
    table = _table_with(uri, "before-restore")
    snap = c.snapshot(name=unique("u"))["snapshot"]
    sql(uri, "UPDATE %s SET v = 'just-before-restore'" % table)
    before = c.main()
    out = c.call("POST", c.P("/snapshots/%s/restore" % snap["id"]),
                 {"target_branch_id": before["id"], "finalize_restore": True}, expect=200)
    c.wait(out["operations"])
    main = c.main()
    assert main["id"] != before["id"] and c.uri() == uri
    assert sql(uri, "SELECT v FROM %s" % table) == [("before-restore",)]
    sql(uri, "UPDATE %s SET v = 'restored-then-changed'" % table)

    path = c.P("/branches/%s/restore" % main["id"])
    # The spec's required field, a name already taken, and a restore from itself.
    c.call("POST", path, {}, expect=400)
    c.call("POST", path, {"source_branch_id": before["id"], "preserve_under_name": "main"},
           expect=409)
    c.call("POST", path, {"source_branch_id": main["id"]}, expect=400)
    c.call("POST", c.P("/branches/br-no-such-000000/restore"), {"source_branch_id": before["id"]},
           expect=404)
    c.call("POST", path, {"source_branch_id": "br-no-such-000000"}, expect=404)

    kept_name, kept_name2 = unique("kept"), unique("kept")
    undo = c.call("POST", path, {"source_branch_id": before["id"],
                                 "preserve_under_name": kept_name}, expect=200)
    assert undo["branch"]["id"] == main["id"] and undo["branch"]["name"] == "main"
    actions = [o["action"] for o in undo["operations"]]
    assert actions[0] == "create_timeline" and "suspend_compute" in actions
    # Not applied until its operations end.
    assert sql(uri, "SELECT v FROM %s" % table) == [("restored-then-changed",)]
    c.wait(undo["operations"])
    assert sql(uri, "SELECT v FROM %s" % table) == [("just-before-restore",)]
    assert c.uri() == uri
    by_name = {b["name"]: b for b in c.branches()}
    assert by_name["main"]["id"] == main["id"] and by_name["main"]["default"]
    assert by_name["main"]["parent_id"] == before["id"]
    kept = by_name[kept_name]
    assert "parent_id" not in kept and kept["id"] not in (main["id"], before["id"])
    ep = c.call("POST", c.P("/endpoints"), {"endpoint": {"branch_id": kept["id"], "type": "read_write"}},
                expect=201)
    c.wait(ep["operations"])
    assert sql(c.uri(kept["id"]), "SELECT v FROM %s" % table) == [("restored-then-changed",)]
    c.wait(c.call("DELETE", c.P("/endpoints/" + ep["endpoint"]["id"]), expect=200)["operations"])
    # A parent with a child cannot go.
    assert c.call("DELETE", c.P("/branches/" + before["id"]), expect=409)["code"] == \
        "BRANCH_HAS_CHILDREN"

    # And back: the undo of the undo.
    again = c.call("POST", path, {"source_branch_id": kept["id"],
                                  "preserve_under_name": kept_name2}, expect=200)
    c.wait(again["operations"])
    assert sql(uri, "SELECT v FROM %s" % table) == [("restored-then-changed",)]
    by_name = {b["name"]: b for b in c.branches()}
    assert by_name["main"]["parent_id"] == kept["id"]
    assert by_name[kept_name2]["parent_id"] == before["id"]
    # A branch with children keeps them only through preserve_under_name: they move there.
    child = c.call("POST", c.P("/branches"), {"branch": {"parent_id": main["id"], "name": unique("ch")}},
                   expect=201)
    c.wait(child["operations"])
    c.call("POST", path, {"source_branch_id": before["id"]}, expect=400)
    kept_name3 = unique("kept")
    third = c.call("POST", path, {"source_branch_id": before["id"],
                                  "preserve_under_name": kept_name3}, expect=200)
    c.wait(third["operations"])
    by_name = {b["name"]: b for b in c.branches()}
    assert by_name[child["branch"]["name"]]["parent_id"] == by_name[kept_name3]["id"]
    assert sql(uri, "SELECT v FROM %s" % table) == [("just-before-restore",)]
    _detach_main(c)


def test_restore_errors(c):
    main = c.main()
    snap = c.snapshot(name=unique("re"))["snapshot"]
    c.call("POST", c.P("/snapshots/snap-no-such-000000/restore"), {}, expect=404)
    c.call("POST", c.P("/snapshots/%s/restore" % snap["id"]), {"target_branch_id": "br-no-such-000000"},
           expect=404)
    c.call("POST", c.P("/snapshots/%s/restore" % snap["id"]), {"name": "main"}, expect=409)
    c.call("POST", c.P("/snapshots/%s/restore" % snap["id"]), {"finalize_restore": "yes"}, expect=400)
    c.call("POST", c.P("/snapshots/%s/restore" % snap["id"]), body="[1", expect=400)
    # No body at all: a non-finalized restore with a generated name.
    out = c.call("POST", c.P("/snapshots/%s/restore" % snap["id"]), expect=200)
    assert out["branch"]["restore_status"] == "restored" and out["branch"]["name"]
    c.wait(out["operations"])
    assert c.main()["id"] == main["id"]
    c.wait(c.call("DELETE", c.P("/branches/" + out["branch"]["id"]), expect=200)["operations"])


# ---------------------------------------------------------------------------
# fault injection and other knobs
# ---------------------------------------------------------------------------
def test_fault_status_then_success(c):
    main = c.main()
    path = c.P("/branches/%s/snapshot" % main["id"])
    c.st.fault(method="POST", path=r"/snapshot$", status=423, count=2)
    for _ in range(2):
        code, msg = c.err("POST", path, query={"name": unique("f")}, expect=423)
        assert code == "LOCKED"
    c.snapshot(name=unique("f"))
    c.st.fault(method="GET", path=r"/snapshots$", status=503, code="OVERLOADED", message="try later")
    code, msg = c.err("GET", c.P("/snapshots"), expect=503)
    assert (code, msg) == ("OVERLOADED", "try later")
    c.call("GET", c.P("/snapshots"), expect=200)
    assert c.st.admin("GET", "/faults")[1]["faults"] == []
    assert c.st.admin("POST", "/faults", {"path": "x"})[0] == 400
    assert c.st.admin("POST", "/faults", {"status": 500, "bogus": 1})[0] == 400


def test_fault_drop_and_delay(c):
    main = c.main()
    before = {s["id"] for s in c.snapshot_list()}
    c.st.fault(method="POST", path=r"/snapshot$", drop="before")
    with pytest.raises(ApiDropped):
        c.st.api("POST", c.P("/branches/%s/snapshot" % main["id"]), query={"name": unique("d")})
    assert {s["id"] for s in c.snapshot_list()} == before
    # Dropped after processing: the client gets nothing, yet the snapshot exists.
    name = unique("after")
    c.st.fault(method="POST", path=r"/snapshot$", drop="after")
    with pytest.raises(ApiDropped):
        c.st.api("POST", c.P("/branches/%s/snapshot" % main["id"]), query={"name": name})
    made = [s for s in c.snapshot_list() if s["name"] == name]
    assert len(made) == 1
    c.snapshots.append(made[0]["id"])
    log = [r for r in c.st.requests() if r["method"] == "POST"]
    assert [r.get("dropped") for r in log[-2:]] == ["before", "after"] and log[-1]["status"] == 200
    c.st.fault(method="GET", path=r"/snapshots$", delay_ms=400)
    t0 = time.monotonic()
    c.call("GET", c.P("/snapshots"), expect=200)
    assert time.monotonic() - t0 >= 0.4


def test_fault_operation_error_failed_cancelled(c):
    main = c.main()
    # error: terminal, with an error text; the snapshot does not survive.
    c.st.fault(method="POST", path=r"/snapshot$", operation="error")
    body = c.snapshot(name=unique("oe"), wait=False)
    final = c.wait(body["operations"])
    assert final[-1]["status"] == "error" and final[-1]["error"]
    assert body["snapshot"]["id"] not in [s["id"] for s in c.snapshot_list()]
    # failed: not terminal; retried, then finishes with failures_count 1.
    c.st.fault(method="POST", path=r"/snapshot$", operation="failed")
    body = c.snapshot(name=unique("of"), wait=False)
    seen, final = observe_statuses(c.st, body["operations"])
    last = body["operations"][-1]["id"]
    assert "failed" in seen[last] and seen[last][-1] == "finished"
    assert final[last]["failures_count"] == 1 and final[last]["retry_at"]
    assert body["snapshot"]["id"] in [s["id"] for s in c.snapshot_list()]
    # cancelled on a finalized restore: the target branch stays as it was.
    c.st.fault(method="POST", path=r"/restore$", operation="cancelled")
    out = c.call("POST", c.P("/snapshots/%s/restore" % body["snapshot"]["id"]),
                 {"target_branch_id": main["id"], "finalize_restore": True}, expect=200)
    final = c.wait(out["operations"])
    assert final[-1]["status"] == "cancelled"
    assert c.main()["id"] == main["id"]
    restored = c.call("GET", c.P("/branches/" + out["branch"]["id"]), expect=200)["branch"]
    assert restored["restore_status"] == "restored" and restored["name"] != "main"
    c.wait(c.call("DELETE", c.P("/branches/" + out["branch"]["id"]), expect=200)["operations"])


def test_request_log(c):
    c.call("GET", c.P("/snapshots"), expect=200)
    c.call("GET", c.P("/branches"), query={"limit": 5}, expect=200)
    log = c.st.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", c.P("/snapshots"), 200), ("GET", c.P("/branches"), 200)]
    assert log[1]["query"] == {"limit": "5"} and log[1]["time"].endswith("Z")
    c.st.clear_requests()
    assert c.st.requests() == []
    state = c.st.state()
    assert state["project_id"] == c.st.project_id and not state["busy"]


def test_api_down_and_back(c):
    assert c.st.down(1.0)[0] == 200
    with pytest.raises(OSError):
        c.st.api("GET", c.P("/snapshots"), timeout=2)
    wait_until(c.st.api_reachable, 15, "the API to come back")
    c.call("GET", c.P("/snapshots"), expect=200)


# ---------------------------------------------------------------------------
# the real Neon CLI as a client
# ---------------------------------------------------------------------------
def _node():
    for cand in ("/usr/bin/node", shutil.which("node")):
        if cand and os.path.exists(cand):
            return cand
    raise AssertionError("node is not installed")


def test_neon_cli_snapshot_commands(c, deps, spec, tmp_path):
    cli = deps[1]
    st = c.st

    def neon(*args):
        cmd = [_node(), cli, "--no-analytics", "--project-id", st.project_id,
               "--api-host", st.env["NEON_API_HOST"], "--api-key", st.api_key, "-o", "json"] + list(args)
        env = dict(os.environ, HOME=str(tmp_path), NO_COLOR="1")
        env.pop("NEON_API_KEY", None)
        env.pop("NEON_API_HOST", None)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=env, cwd=str(tmp_path))
        out = json.loads(r.stdout) if r.stdout.strip() else None
        return r.returncode, out, r.stderr

    main = c.main()
    uri = c.uri()
    table = _table_with(uri, "cli-v1")
    name = unique("cli")
    rc, snap, err = neon("snapshots", "create", "--name", name)
    assert rc == 0, err
    assert snap["name"] == name and snap["source_branch_id"] == main["id"]
    assert not spec.check_component("Snapshot", snap)
    c.snapshots.append(snap["id"])
    post = [r for r in st.requests() if r["method"] == "POST"][-1]
    assert post["query"] == {"name": name} and post["body"] is None
    st.wait_idle()

    rc, listed, err = neon("snapshots", "list")
    assert rc == 0, err
    assert snap["id"] in [s["id"] for s in listed]

    renamed = unique("cli-renamed")
    rc, upd, err = neon("snapshots", "update", name, "--name", renamed)
    assert rc == 0, err
    assert upd["id"] == snap["id"] and upd["name"] == renamed

    # A taken name: the server's 409 message reaches the user, exit code 1.
    rc, _, err = neon("snapshots", "create", "--name", renamed)
    assert rc == 1 and "already exists" in err

    sql(uri, "UPDATE %s SET v = 'cli-v2'" % table)
    rc, res, err = neon("snapshots", "restore", renamed, "--finalize", "--target-branch", main["id"])
    assert rc == 0, err
    restored = res["restored_branch"]
    assert restored["restored_from"] == snap["id"]
    assert not spec.check_component("Branch", restored)
    c.wait(res["operations"])
    assert sql(uri, "SELECT v FROM %s" % table) == [("cli-v1",)]
    assert c.main()["id"] == restored["id"]

    # 423 is retried by the CLI (once here), then succeeds.
    st.wait_idle()
    st.fault(method="DELETE", path=r"/snapshots/", status=423, count=1)
    rc, deleted, err = neon("snapshots", "delete", snap["id"])
    assert rc == 0, err
    assert "locked" in err.lower()
    assert deleted["id"] == snap["id"]
    assert snap["id"] not in [s["id"] for s in c.snapshot_list()]
    deletes = [r for r in st.requests() if r["method"] == "DELETE"]
    assert [r["status"] for r in deletes[-2:]] == [423, 202]

    rc, _, err = neon("snapshots", "delete", "no-such-snapshot")
    assert rc == 1 and "not found" in err
    st.wait_idle()
    c.drop_branch(main["id"])


# ---------------------------------------------------------------------------
# the organization: its projects listed, created, renamed, deleted
# ---------------------------------------------------------------------------
ORG_PROJECTS = 30


@pytest.fixture(scope="module")
def org_stack(tmp_path_factory):
    st = Stack.start(tmp_path_factory.mktemp("org"), operation_ms=300, projects=ORG_PROJECTS)
    try:
        yield st
    finally:
        st.stop()


@pytest.fixture
def oc(org_stack, spec):
    org_stack.reset(operation_ms=300)
    return Client(org_stack, spec)


def list_all(oc, limit, **query):
    """Every project, page by page as the Neon CLI walks them; also the page count."""
    out, cursor, pages = [], None, 0
    while True:
        body = oc.call("GET", "/projects", query=dict(query, limit=limit, cursor=cursor), expect=200)
        pages += 1
        out += body["projects"]
        if len(body["projects"]) < limit:
            return out, pages
        cursor = body["pagination"]["cursor"]


def test_org_projects_cheap_until_used(oc):
    _, health = oc.st.admin("GET", "/health")
    assert health["projects"] == ORG_PROJECTS
    assert health["org_id"] == oc.st.org_id
    projects, _ = list_all(oc, 400)
    # Listing does not make any project's databases; asking for one by id does.
    assert health["used"] == 1
    other = next(p for p in projects if p["id"] != oc.st.project_id)
    branches = oc.call("GET", "/projects/%s/branches" % other["id"], expect=200)["branches"]
    assert [b["name"] for b in branches] == ["main"]
    assert oc.st.admin("GET", "/health")[1]["used"] == 2


def test_org_list_pagination_search_and_limits(oc):
    everything, pages = list_all(oc, 7, org_id=oc.st.org_id)
    assert pages == 5  # 7+7+7+7+2
    ids = [p["id"] for p in everything]
    assert len(ids) == ORG_PROJECTS and len(set(ids)) == ORG_PROJECTS
    assert ids[0] == oc.st.project_id
    assert all(p["org_id"] == oc.st.org_id for p in everything)
    # The cursor is the last item's; an empty page has none.
    body = oc.call("GET", "/projects", query={"limit": 10}, expect=200)
    assert body["pagination"]["cursor"] == body["projects"][-1]["id"]
    assert len(body["projects"]) == 10
    last = oc.call("GET", "/projects", query={"limit": 400, "cursor": ids[-1]}, expect=200)
    assert last["projects"] == [] and "pagination" not in last
    # The spec's default page is 10, its largest 400.
    assert len(oc.call("GET", "/projects", expect=200)["projects"]) == 10
    assert oc.err("GET", "/projects", query={"limit": 401}, expect=400)[0] == "BAD_REQUEST"
    assert oc.err("GET", "/projects", query={"limit": 0}, expect=400)[0] == "BAD_REQUEST"
    assert oc.err("GET", "/projects", query={"cursor": "no-such-project"}, expect=400)
    assert oc.err("GET", "/projects", query={"org_id": "Bad_Org"}, expect=400)
    assert oc.err("GET", "/projects", query={"org_id": "org-other-1"}, expect=404)
    found = oc.call("GET", "/projects", query={"search": "project-001", "limit": 400},
                    expect=200)["projects"]
    assert sorted(p["name"] for p in found) == ["project-%04d" % i for i in range(10, 20)]


def test_org_create_rename_delete_project(oc):
    name = unique("tenant")
    body = oc.call("POST", "/projects", body={"project": {"name": name}}, expect=201)
    pid = body["project"]["id"]
    assert body["project"]["name"] == name
    assert body["project"]["org_id"] == oc.st.org_id
    assert [b["name"] for b in [body["branch"]]] == ["main"]
    assert len(body["endpoints"]) == 1 and body["endpoints"][0]["type"] == "read_write"
    assert {o["action"] for o in body["operations"]} == {"create_timeline", "start_compute"}
    assert any(o["status"] != "finished" for o in body["operations"])  # asynchronous
    # Listed at once, at the end of the creation order.
    listed, _ = list_all(oc, 400)
    assert listed[-1]["id"] == pid
    final = oc.wait(body["operations"])
    assert all(o["status"] == "finished" for o in final)
    uri = body["connection_uris"][0]["connection_uri"]
    assert sql(uri, "SELECT 1") == [(1,)]
    # Another project of the same name is allowed, as on Neon.
    twin = oc.call("POST", "/projects", body={"project": {"name": name}}, expect=201)
    oc.wait(twin["operations"])
    renamed = oc.call("PATCH", "/projects/" + twin["project"]["id"],
                      body={"project": {"name": name + "-2"}}, expect=200)
    assert renamed["project"]["name"] == name + "-2" and renamed["operations"] == []
    assert oc.call("GET", "/projects/" + twin["project"]["id"], expect=200)["project"]["name"] \
        == name + "-2"
    assert oc.err("POST", "/projects", body={"project": {"name": ""}}, expect=400)
    assert oc.err("POST", "/projects", body={"nope": 1}, expect=400)
    # Delete: 200 with the project; gone from listings and paths.
    for p in (pid, twin["project"]["id"]):
        gone = oc.call("DELETE", "/projects/" + p, expect=200)
        assert gone["project"]["id"] == p
        assert oc.err("GET", "/projects/%s/branches" % p, expect=404)[0] == "NOT_FOUND"
        assert oc.err("DELETE", "/projects/" + p, expect=404)
    assert pid not in {p["id"] for p in list_all(oc, 400)[0]}
    with pytest.raises(psycopg2.OperationalError):
        sql(uri, "SELECT 1")


def test_rate_limit_answers_429_with_the_spec_error(oc):
    oc.st.config(rate_per_second=2)
    try:
        statuses = []
        for _ in range(6):
            status, data, headers = oc.st.api_full("GET", "/projects", query={"limit": 1})
            statuses.append(status)
            if status == 429:
                assert not oc.spec.check("GET", "/projects", 429, data), data
                assert headers.get("Retry-After") == "1"
                assert data["message"] and data["request_id"]
        assert 429 in statuses
    finally:
        oc.st.config(rate_per_second=0)
