"""A bounded retry around one short transaction, for stores shared by many workers.

On a shared store a per-contact write can fail for reasons that go away when it is simply run
again: the connection was cut (a database restart, a fail-over, an idle connection killed by a
firewall), SQLite said "database is locked" because another process was writing, or two workers
wrote the same contact at once and PostgreSQL refused the second one's stage mark. Each retried
write replaces the contact's rows and its stage mark in one transaction, so running it again is
safe. After the last attempt the error is raised as a StoreError naming what was being written.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from auditor.errors import StoreError

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

ATTEMPTS = 5
FIRST_WAIT_S = 0.2  # doubled after each attempt: 0.2 + 0.4 + 0.8 + 1.6 s in all


def _transient(exc: Exception) -> bool:
    if isinstance(exc, OperationalError | IntegrityError):
        return True
    # psycopg reports a backend killed under us as an invalidated connection of other classes.
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def retried(what: str) -> Callable[[F], F]:
    """Run the decorated Store method again on a transient database error, at most ATTEMPTS times."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            wait = FIRST_WAIT_S
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    return method(self, *args, **kwargs)
                except DBAPIError as exc:
                    if not _transient(exc):
                        raise
                    reason = " ".join(str(exc.orig).split())
                    subject = f"{what} {args[0]}" if args else what
                    if attempt == ATTEMPTS:
                        raise StoreError(
                            f"{self.url}: could not write {subject} after {ATTEMPTS} attempts: "
                            f"{reason}"
                        ) from exc
                    log.warning(
                        "%s: writing %s failed (%s); attempt %d of %d in %.1f s",
                        self.url,
                        subject,
                        reason,
                        attempt + 1,
                        ATTEMPTS,
                        wait,
                    )
                    time.sleep(wait)
                    wait *= 2
            raise AssertionError("unreachable")

        return wrapper  # type: ignore[return-value]

    return decorate
