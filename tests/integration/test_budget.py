"""One budget: every API call of a mount draws on -o api_rate, so a busy mount stays under
Neon's rate limits, and a 429 slows the mount down instead of reaching a user.

The emulator limits requests as Neon does (a minute per key, a second per route) and
keeps the peak counts it saw.
"""
import os
import threading
import time

SECONDS = 12


def hammer(fs, threads, seconds):
    """Readers that miss the cache on every call (cache_ttl=0): each is an API call."""
    errors, calls = [], [0]
    stop = time.monotonic() + seconds

    def reader():
        while time.monotonic() < stop:
            try:
                os.listdir(fs.p("snapshots"))
                os.stat(fs.p("branches", "main"))
                calls[0] += 1
            except OSError as e:
                errors.append(e)
                return

    ts = [threading.Thread(target=reader) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(seconds + 120)
    return errors, calls[0]


def test_a_busy_mount_stays_under_neons_limits(mount_factory, project):
    # The emulator's windows start empty: earlier tests' calls do not count.
    project.rate(reset=True)
    project.config(rate_per_minute=130, rate_per_second=10)
    try:
        fs = mount_factory("api_rate=120", "cache_ttl=0", "attr_timeout=0", "api_timeout=30",
                           "poll_min=0.2", "poll_max=0.5")
        errors, calls = hammer(fs, 12, SECONDS)
        rate = project.rate()
    finally:
        project.config(rate_per_minute=0, rate_per_second=0)
    assert errors == [], errors[:5]
    assert calls > 0
    # Never refused, and never past the budget: 120 a minute in bursts under 10 a second.
    assert rate["limited"] == 0, rate
    assert rate["peak_per_second"] <= 10, rate
    assert rate["peak_per_minute"] <= 120 + 8, rate


def test_a_429_slows_the_mount_down_and_reaches_no_user(mount_factory, project):
    """Neon's limit is tighter than the mount's budget here: its 429s are retried after
    their Retry-After, for the whole mount, and every call a user made succeeds."""
    project.rate(reset=True)
    project.config(rate_per_second=4)
    try:
        fs = mount_factory("api_rate=6000", "cache_ttl=0", "attr_timeout=0", "api_timeout=30",
                           "poll_min=600", "poll_max=600")
        project.rate(reset=True)
        errors, calls = hammer(fs, 6, 5)
        rate = project.rate()
    finally:
        project.config(rate_per_second=0)
    assert errors == [], errors[:5]
    assert calls > 0
    assert rate["limited"] > 0, rate
    assert "HTTP 429" in fs.output() or "too many requests" in fs.output()
