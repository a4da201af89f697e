"""Mount fixtures: neonfs mounted for real over the local Neon stack.

Every test gets a project with no snapshots and only its default branch, and mounts that
are unmounted in teardown whatever happened. A mount's daemon must exit 0 at unmount and
print no sanitizer report, so leaks and undefined behaviour fail the test that caused them.
"""
import os

import pytest

from mountlib import Mount, exit_problem, reset_project


@pytest.fixture
def project(neon):
    reset_project(neon)
    yield neon
    neon.clear_faults()


@pytest.fixture
def mount_factory(project, tmp_path):
    """mount_factory(*options, env_extra=None, env_drop=()) mounts neonfs; all are unmounted
    at teardown, and each daemon must exit 0 without a sanitizer report."""
    mounts = []

    def make(*options, env_extra=None, env_drop=()):
        n = len(mounts)
        path = str(tmp_path / ("mnt%d" % n))
        os.mkdir(path)
        m = Mount(project, path, str(tmp_path / ("neonfs%d.log" % n)), list(options),
                  env_extra, env_drop)
        mounts.append(m)
        return m

    yield make
    problems = [p for p in map(exit_problem, mounts) if p]
    assert not problems, "\n".join(problems)


@pytest.fixture
def fs(mount_factory):
    """One mount with a long listing cache, so only invalidation can make changes show."""
    return mount_factory("cache_ttl=30", "api_timeout=5", "poll_min=600", "poll_max=600")

