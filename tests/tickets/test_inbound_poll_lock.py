"""The poll lock off PostgreSQL (SQLite, one machine): a cache entry naming its process, freed by its death."""

import os
import socket
import subprocess
import sys

from django.core.cache import cache

from tickets.inbound.sources import _process_lock

LOCK = "helpdesk:test-poll-lock"


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_lock_held_by_a_living_process_is_not_taken():
    cache.set(LOCK, f"{socket.gethostname()}:{os.getppid()}")
    with _process_lock(LOCK) as locked:
        assert not locked
    assert cache.get(LOCK) == f"{socket.gethostname()}:{os.getppid()}"  # still the holder's


def test_a_lock_left_by_a_killed_process_is_taken_over_at_once():
    cache.set(LOCK, f"{socket.gethostname()}:{_dead_pid()}")
    with _process_lock(LOCK) as locked:
        assert locked
        assert cache.get(LOCK) == f"{socket.gethostname()}:{os.getpid()}"
    assert cache.get(LOCK) is None  # released after the poll


def test_another_machines_lock_waits_for_its_expiry():
    cache.set(LOCK, f"not-{socket.gethostname()}:{_dead_pid()}")
    with _process_lock(LOCK) as locked:
        assert not locked
    cache.delete(LOCK)
