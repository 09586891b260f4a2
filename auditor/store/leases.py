"""Who holds a lease, and taking back the leases of local workers that died.

A lease names its worker as `host:pid:nonce`. A worker killed with SIGKILL cannot give its
leases back; on another machine they expire after their lease time, but on the same host a new
run can see at once that the process is gone and release them, so `auditor run` after a crash
redoes those contacts immediately instead of half an hour later.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

log = logging.getLogger(__name__)

_NONCE = uuid.uuid4().hex[:8]


class LeaseStore(Protocol):
    def leases(self, stage: str) -> list[tuple[int, str]]: ...

    def release(self, contact_id: int, stage: str) -> None: ...


def worker_name(role: str = "") -> str:
    """This process as a lease holder: host, pid and a nonce (pids are reused)."""
    name = f"{socket.gethostname()}:{os.getpid()}:{_NONCE}"
    return f"{name}:{role}" if role else name


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def holder_is_dead(worker: str) -> bool:
    """True only when the holder ran on this host and its process is gone."""
    parts = worker.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return parts[2] != _NONCE  # our pid, but an earlier process that had it
    return not _process_alive(pid)


def release_dead_leases(store: LeaseStore, stage: str) -> int:
    """Release the leases of `stage` held by dead processes of this host; returns how many."""
    released = 0
    for contact_id, worker in store.leases(stage):
        if holder_is_dead(worker):
            store.release(contact_id, stage)
            released += 1
    if released:
        log.info("%s: released %d lease(s) of workers that died on this host", stage, released)
    return released


@contextmanager
def exclusive(store: Any, name: str) -> Iterator[None]:
    """Hold a store-wide lock called `name` while the block runs, across every worker.

    For a pass that reads many contacts and rewrites their results (the frequency rules): two
    such passes at once could let an older view overwrite a newer one, so they take turns.
    PostgreSQL: a session advisory lock; SQLite: an flock beside the database file.
    """
    engine = getattr(store, "engine", None)
    if engine is None:
        yield  # an in-memory stand-in of the store: nobody to share it with
        return
    dialect = engine.dialect.name
    if dialect == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_lock(hashtext(%s))", (name,))
            try:
                yield
            finally:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
                conn.commit()
        return
    database = engine.url.database
    if dialect != "sqlite" or not database or database == ":memory:":
        yield  # one process only: nothing to take turns with
        return
    with open(f"{database}.{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
