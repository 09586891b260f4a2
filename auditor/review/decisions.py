"""Recording review decisions: appended, never updated or deleted; the latest one counts.

Several decisions given together (several ids on the command line, the rows of an imported
spreadsheet) are written in one transaction, so a failure or a kill leaves none of them.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from auditor.errors import ReviewError
from auditor.models import Decision
from auditor.store import Store, as_utc
from auditor.store import schema as t

log = logging.getLogger(__name__)

REVIEWER_ENV = "AUDITOR_REVIEWER"

# Words a reviewer may type in a spreadsheet's decision column, mapped to the stored decision.
DECISION_WORDS: dict[str, Decision] = {
    "confirmed": Decision.CONFIRMED,
    "confirm": Decision.CONFIRMED,
    "确认": Decision.CONFIRMED,
    "dismissed": Decision.DISMISSED,
    "dismiss": Decision.DISMISSED,
    "驳回": Decision.DISMISSED,
    "排除": Decision.DISMISSED,
}


def parse_decision(word: str) -> Decision:
    decision = DECISION_WORDS.get(word.strip().lower())
    if decision is None:
        raise ReviewError(f"decision {word!r} is neither confirmed nor dismissed")
    return decision


def default_reviewer(explicit: str | None = None) -> str:
    """The reviewer's name: given explicitly, else $AUDITOR_REVIEWER, else the OS user."""
    for candidate in (explicit, os.environ.get(REVIEWER_ENV)):
        if candidate and candidate.strip():
            return candidate.strip()
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = ""
    if not user:
        raise ReviewError(
            f"cannot tell who the reviewer is; pass --reviewer NAME or set {REVIEWER_ENV}"
        )
    return user


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """One decision to record; `line` names the spreadsheet row it came from, if any."""

    finding_id: int
    decision: Decision
    reviewer: str
    reason: str = ""
    line: int | None = None


def check_request(request: DecisionRequest) -> None:
    if request.decision is Decision.DISMISSED and not request.reason.strip():
        raise ReviewError(
            f"finding {request.finding_id}: a dismissal needs a reason (why is it not a violation?)"
        )
    if not request.reviewer.strip():
        raise ReviewError(f"finding {request.finding_id}: no reviewer named")


@contextmanager
def write_transaction(store: Store) -> Iterator[Connection]:
    """A transaction that holds the right to append decisions from its start.

    The latest decision is the one with the highest id. Without a lock taken first, two reviewers'
    decisions could get ids in one order, times in another, and (on PostgreSQL) commit in a
    third. Taking the lock first (SQLite waits up to the store's busy timeout; PostgreSQL queues)
    makes ids, times and commits follow one order. Readers are never blocked.
    """
    with store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite would begin only at the first INSERT, after the reads.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE review IN SHARE ROW EXCLUSIVE MODE")
        yield conn


def unknown_finding_ids(conn: Connection, finding_ids: Sequence[int]) -> list[int]:
    wanted = sorted(set(finding_ids))
    known: set[int] = set()
    # Chunked: SQLite caps the number of bound parameters in one statement.
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        known.update(
            conn.execute(select(t.finding.c.id).where(t.finding.c.id.in_(chunk))).scalars()
        )
    return [i for i in wanted if i not in known]


def insert_decision(conn: Connection, request: DecisionRequest, decided_at: datetime) -> int:
    result = conn.execute(
        insert(t.review).values(
            finding_id=request.finding_id,
            decision=request.decision.value,
            reviewer=request.reviewer.strip(),
            reason=request.reason.strip(),
            decided_at=decided_at,
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # an INSERT of one row always has one
    return int(key[0])


def record_decisions(store: Store, requests: Sequence[DecisionRequest]) -> list[int]:
    """Append every decision in one transaction and return their review ids, or append none.

    Raises ReviewError naming every unknown finding id or the first dismissal without a reason.
    """
    for request in requests:
        check_request(request)
    if not requests:
        return []
    with write_transaction(store) as conn:
        unknown = unknown_finding_ids(conn, [r.finding_id for r in requests])
        if unknown:
            raise ReviewError(
                f"no finding with id {', '.join(map(str, unknown))} in {store.url}; "
                "nothing was recorded (see `auditor review list --status all`)"
            )
        decided_at = datetime.now(UTC)
        review_ids = [insert_decision(conn, request, decided_at) for request in requests]
    log.info("recorded %d decision(s)", len(review_ids))
    return review_ids


def decide(
    store: Store,
    finding_ids: Sequence[int],
    decision: Decision,
    reviewer: str,
    reason: str = "",
) -> list[int]:
    """Confirm or dismiss several findings at once: all of them are recorded, or none."""
    if not finding_ids:
        raise ReviewError("name at least one finding id")
    return record_decisions(
        store, [DecisionRequest(int(i), decision, reviewer, reason) for i in finding_ids]
    )


def latest_decisions(store: Store) -> dict[int, Decision]:
    """The decision that counts for each reviewed finding (the last one recorded)."""
    latest = select(func.max(t.review.c.id)).group_by(t.review.c.finding_id).scalar_subquery()
    query = select(t.review.c.finding_id, t.review.c.decision).where(t.review.c.id.in_(latest))
    with store.engine.connect() as conn:
        return {int(r.finding_id): Decision(r.decision) for r in conn.execute(query)}


def review_history_rows(store: Store) -> list[dict[str, Any]]:
    """Every decision ever recorded, oldest first, with what a reader of an export needs to place
    it: the finding's rule and contact, and whether a later decision superseded it.

    Values are plain (str, int, ISO 8601 UTC times), ready for CSV or JSON Lines.
    """
    query = (
        select(
            t.review.c.id.label("review_id"),
            t.review.c.finding_id,
            t.review.c.decision,
            t.review.c.reviewer,
            t.review.c.reason,
            t.review.c.decided_at,
            t.finding.c.rule_id,
            t.finding.c.category,
            t.finding.c.severity,
            t.contact.c.external_id.label("contact_external_id"),
            t.contact.c.collector_id,
        )
        .join(t.finding, t.finding.c.id == t.review.c.finding_id)
        .join(t.contact, t.contact.c.id == t.finding.c.contact_id)
        .order_by(t.review.c.id)
    )
    with store.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    last_for: dict[int, int] = {}
    for row in rows:
        last_for[row["finding_id"]] = row["review_id"]
    for row in rows:
        row["decided_at"] = as_utc(row["decided_at"]).isoformat()
        row["superseded"] = last_for[row["finding_id"]] != row["review_id"]
    return rows
