"""The examples an agent follows, run against a real mount: examples/replayable-agent.
(examples/backup-watcher is tested in test_events.py.)"""
import json
import os
import subprocess

from mountlib import REPO, sql

AGENT = os.path.join(REPO, "examples", "replayable-agent")


def run_agent(mount, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEON_", "NEONFS_"))}
    return subprocess.run([AGENT, mount.path] + list(args), capture_output=True, text=True,
                          env=env, timeout=120)


def test_replayable_agent_checkpoints_restores_and_resumes(fs, project):
    uri = fs.read("active", "connection_uri").strip()
    sql(uri, "DROP TABLE IF EXISTS users")
    r = run_agent(fs, "--name", "pre-drop")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for words in ("checkpoint pre-drop", "the users table is gone",
                  "restore: echo pre-drop > active/restore", "restore finished",
                  "users after the restore: Alice, Bob, Charlie",
                  "run state read back from snapshots/pre-drop/run_state.json",
                  "rejected: drop_users_table", "agent resumed"):
        assert words in out, (words, out)
    # What it printed is what is there: the database, the snapshot, the attachment.
    assert sql(uri, "SELECT name FROM users ORDER BY id") == [("Alice",), ("Bob",), ("Charlie",)]
    status, body = project.api("GET", project.project_path("/snapshots"))
    assert status == 200
    assert [s["name"] for s in body["snapshots"]] == ["pre-drop"]
    state = json.loads(fs.read("snapshots", "pre-drop", "run_state.json"))
    assert state["interruptions"] == [{"tool": "drop_users_table", "args": {},
                                       "needs_approval": True}]
    assert [h["tool"] for h in state["history"]] == ["add_user"]
    restores = [q for q in project.requests()
                if q["method"] == "POST" and q["path"].endswith("/restore")]
    assert len(restores) == 1


def test_replayable_agent_fails_when_the_checkpoint_cannot_keep_its_state(mount_factory, project):
    m = mount_factory("no_meta", "api_timeout=5", "poll_min=600", "poll_max=600")
    sql(m.read("active", "connection_uri").strip(), "DROP TABLE IF EXISTS users")
    r = run_agent(m, "--name", "no-state")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAILED" in r.stderr and "meta database" in r.stderr and "ENOTSUP" in r.stderr, r.stderr
    # It stopped before the destructive step.
    assert "approved: drop_users_table" not in r.stdout
    assert sql(m.read("active", "connection_uri").strip(),
               "SELECT count(*) FROM users") == [(3,)]


def test_replayable_agent_refuses_a_directory_that_is_not_a_mount(tmp_path):
    r = subprocess.run([AGENT, str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "not a neonfs mount" in r.stderr
