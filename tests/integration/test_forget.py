"""FUSE forget: a node the kernel let go of is dropped, and an inode number is never given
to a second node, so a mount's nodes follow what the kernel holds."""
import os

import pytest

from mountlib import wait_for

DROP_CACHES = "/proc/sys/vm/drop_caches"


def drop_caches():
    """Makes the kernel evict the dentries and inodes nobody uses (each a FUSE forget)."""
    os.sync()
    with open(DROP_CACHES, "w") as f:
        f.write("2\n")


@pytest.fixture
def evictable():
    if not os.access(DROP_CACHES, os.W_OK):
        pytest.skip("needs root to make the kernel forget inodes")


def test_a_forgotten_node_comes_back_with_a_new_number_never_an_old_one(evictable, fs):
    os.mkdir(fs.p("snapshots", "f1"))
    os.mkdir(fs.p("snapshots", "f2"))
    seen = {os.stat(fs.p("snapshots", n)).st_ino for n in ("f1", "f2")}
    first = os.stat(fs.p("snapshots", "f1")).st_ino
    fixed = os.stat(fs.p("snapshots")).st_ino

    def renumbered():
        drop_caches()
        return os.stat(fs.p("snapshots", "f1")).st_ino != first
    # The kernel forgot f1, so neonfs dropped it: seen again, it is a new node.
    wait_for(renumbered, 30, "the kernel to forget snapshots/f1")
    again = os.stat(fs.p("snapshots", "f1")).st_ino
    assert again not in seen and again > max(seen)
    # What the kernel still holds keeps its number; fixed nodes never change.
    with open(fs.p("snapshots", "f2", "id")) as held:
        ino = os.fstat(held.fileno()).st_ino
        drop_caches()
        assert os.stat(fs.p("snapshots", "f2", "id")).st_ino == ino
        assert held.read().strip().startswith("snap-")
    assert os.stat(fs.p("snapshots")).st_ino == fixed
    assert sorted(os.listdir(fs.p("snapshots"))) == ["f1", "f2"]
    os.rmdir(fs.p("snapshots", "f1"))
    os.rmdir(fs.p("snapshots", "f2"))
