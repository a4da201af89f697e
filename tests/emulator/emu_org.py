"""The emulated organization: its projects, listed, created, renamed and deleted.

The first project is made at start (the one tests/local-neon names). The others of
`--projects N` exist from the start in listings, but a project's databases and compute
are made only when something first asks for it by id, so an organization of thousands
starts in seconds, as most of its projects are never opened.
"""

import random
import re
import secrets
import threading

from emu_state import ADJECTIVES, NOUNS, ApiError, Emulator, check_name, int_param

ORG_ID_RE = re.compile(r"^[a-z0-9-]{1,60}$")
PROJECTS_MAX_LIMIT = 400      # listProjects' `limit` maximum in the spec
PROJECTS_DEFAULT_LIMIT = 10   # and its default


class Stub:
    """A project that nothing has used yet: what its listing item needs."""

    def __init__(self, project_id, name, created):
        self.project_id = project_id
        self.name = name
        self.created = created
        self.emu = None


class Org:
    def __init__(self, first, nprojects, log=print):
        self.first = first
        self.log = log
        self.lock = threading.RLock()
        self.rng = random.Random(secrets.randbits(64))
        self.org_id = "org-%s-%s-%08d" % (self.rng.choice(ADJECTIVES), self.rng.choice(NOUNS),
                                         self.rng.randrange(10 ** 8))
        first.org_id = self.org_id
        stub = Stub(first.project_id, first.name, first.created)
        stub.emu = first
        self.order = [stub]          # creation order: listings and cursors follow it
        self.by_id = {first.project_id: stub}
        taken = {first.project_id}
        for i in range(1, nprojects):
            pid = self._new_id(taken)
            self._add(Stub(pid, "project-%04d" % i, first.created))

    def _new_id(self, taken=None):
        while True:
            cand = "%s-%s-%08d" % (self.rng.choice(ADJECTIVES), self.rng.choice(NOUNS),
                                   self.rng.randrange(10 ** 8))
            if cand not in self.by_id and (taken is None or cand not in taken):
                if taken is not None:
                    taken.add(cand)
                return cand

    def _add(self, stub):
        self.order.append(stub)
        self.by_id[stub.project_id] = stub

    def _open(self, stub, creating=False):
        emu = Emulator(self.first.pg, project_id=stub.project_id, log=self.log,
                       shared=self.first, name=stub.name, org_id=self.org_id)
        emu.created = emu.updated = stub.created
        ops = emu.bootstrap(creating=creating)
        stub.emu = emu
        return ops

    def project(self, project_id):
        """The project's emulator, made on first use; 404 for an unknown id."""
        with self.lock:
            stub = self.by_id.get(project_id)
            if stub is None:
                raise ApiError(404, "project %s not found" % project_id)
            if stub.emu is None:
                self._open(stub)
            return stub.emu

    def count(self):
        with self.lock:
            return len(self.order)

    def used(self):
        with self.lock:
            return sum(1 for s in self.order if s.emu is not None)

    def _item(self, stub):
        if stub.emu is not None:
            return stub.emu.project_list_item()
        # Made up as the project's own view would be, without making the project.
        item = self.first.project_list_item()
        item.update(id=stub.project_id, name=stub.name, org_id=self.org_id)
        return item

    # -- handlers ---------------------------------------------------------
    def list_projects(self, now, query):
        org = query.get("org_id")
        if org is not None and not ORG_ID_RE.match(org):
            raise ApiError(400, "org_id must match ^[a-z0-9-]{1,60}$")
        if org is not None and org != self.org_id:
            raise ApiError(404, "organization %s not found" % org)
        limit = int_param(query, "limit", PROJECTS_DEFAULT_LIMIT, 1, PROJECTS_MAX_LIMIT)
        search = query.get("search")
        with self.lock:
            items = list(self.order)
            cursor = query.get("cursor")
            if cursor:
                pos = next((i for i, s in enumerate(items) if s.project_id == cursor), None)
                if pos is None:
                    raise ApiError(400, "invalid cursor %r" % cursor)
                items = items[pos + 1:]
            if search:
                items = [s for s in items if search in s.name or search in s.project_id]
            page = items[:limit]
            body = {"projects": [self._item(s) for s in page], "applications": {},
                    "integrations": {}}
        # As on the operations list: the last item's id, whenever the page is not empty.
        if page:
            body["pagination"] = {"cursor": page[-1].project_id}
        return 200, body

    def create_project(self, now, body):
        spec = body.get("project") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise ApiError(400, "request body must be {\"project\": {...}}")
        org = spec.get("org_id")
        if org is not None and org != self.org_id:
            raise ApiError(404, "organization %s not found" % org)
        with self.lock:
            pid = self._new_id()
            name = spec.get("name")
            name = pid if name is None else check_name(name, "project name")
            stub = Stub(pid, name, now)
            ops = self._open(stub, creating=True)
            self._add(stub)
            emu = stub.emu
        with emu.lock:
            return 201, emu.created_view(ops)

    def update_project(self, now, project_id, body):
        emu = self.project(project_id)
        spec = body.get("project") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            raise ApiError(400, "request body must be {\"project\": {...}}")
        with emu.lock:
            if "name" in spec:
                emu.name = check_name(spec["name"], "project name")
                emu.updated = now
                with self.lock:
                    self.by_id[project_id].name = emu.name
            return 200, {"project": emu.project_view(), "operations": []}

    def delete_project(self, now, project_id):
        emu = self.project(project_id)
        with self.lock:
            stub = self.by_id.pop(project_id)
            self.order.remove(stub)
        with emu.lock:
            view = emu.project_view()
        emu.destroy()
        self.log("project %s deleted" % project_id)
        return 200, {"project": view}

    def get_project(self, now, project_id):
        emu = self.project(project_id)
        with emu.lock:
            emu.advance(now)
            return 200, {"project": emu.project_view()}

    def shutdown(self):
        with self.lock:
            emus = [s.emu for s in self.order if s.emu is not None]
        for emu in emus:
            emu.shutdown()
