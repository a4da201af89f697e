import os, select, subprocess, time
from mountlib import wait_idle
def test_timing(project):
    pid = project.env["NEON_PROJECT_ID"]
    project.config(operation_ms=0, snapshot_limit=40)
    st, b = project.api("GET", "/projects/%s/branches" % pid)
    main = b["branches"][0]["id"]
    t = time.monotonic()
    ids = []
    for i in range(30):
        s, body = project.api("POST", "/projects/%s/branches/%s/snapshot" % (pid, main), query={"name": "s%d" % i})
        assert s in (200, 201), body
        ids.append(body["snapshot"]["id"])
        wait_idle(project)
    print("create", (time.monotonic()-t)/30)
    t = time.monotonic()
    for r in range(3):
        for i, sid in enumerate(ids):
            s, body = project.api("PATCH", "/projects/%s/snapshots/%s" % (pid, sid), {"snapshot": {"name": "s%d_%d" % (i, r)}})
            assert s == 200, body
    print("patch", (time.monotonic()-t)/90)
    t = time.monotonic()
    for sid in ids:
        s, body = project.api("DELETE", "/projects/%s/snapshots/%s" % (pid, sid))
        wait_idle(project)
    print("delete", (time.monotonic()-t)/30)
    t = time.monotonic()
    for i in range(10):
        project.api("GET", "/projects/%s/snapshots" % pid)
    print("list", (time.monotonic()-t)/10)
