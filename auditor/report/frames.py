"""Rows of the store as pandas frames, with each contact's local time in the debtor's zone.

The reports read the store through SQLAlchemy Core rather than `Store.contacts()`: a week of a
large team is tens of thousands of rows, and building a dataclass per row only to turn it back
into columns would cost more than the aggregation itself.

Week convention (stated on every report): a contact belongs to the ISO week of its date in the
debtor's local time zone (`Contact.timezone`); an empty or unknown zone counts as UTC.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from sqlalchemy import Engine, and_, func, or_, select

from auditor.errors import ExportError
from auditor.store import schema as t

log = logging.getLogger(__name__)

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")

# Local time spans at most UTC−12 … UTC+14, so a UTC window widened by this much on each side
# holds every contact whose local date falls inside the local window.
_ZONE_SLACK = timedelta(hours=15)

CONTACT_COLUMNS = [
    "id",
    "external_id",
    "version",
    "channel",
    "collector_id",
    "team",
    "account_id",
    "party_reached",
    "direction",
    "started_at",
    "timezone",
    "duration_s",
    "source_path",
    "source_sha256",
    "language",
    "connected",
    "ingest_run",
]


def parse_week(week: str) -> date:
    """The Monday of ISO week "2026-W47"."""
    found = WEEK_RE.match(week)
    if not found:
        raise ExportError(f"week {week!r}: expected an ISO week such as 2026-W47")
    try:
        return date.fromisocalendar(int(found[1]), int(found[2]), 1)
    except ValueError as exc:
        raise ExportError(f"week {week!r}: {exc}") from exc


def week_of(day: date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def weeks_back(week: str, count: int) -> list[str]:
    """`count` ISO weeks ending with `week`, oldest first."""
    monday = parse_week(week)
    return [week_of(monday - timedelta(weeks=k)) for k in range(count - 1, -1, -1)]


@cache
def _zone(name: str) -> str:
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("time zone %r is unknown; its contacts are counted in UTC", name)
        return "UTC"
    return name


def add_local_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Adds local_time (naive, the debtor's wall clock), local_date, hour and week columns."""
    utc = pd.to_datetime(frame["started_at"], utc=True)
    frame = frame.assign(started_at=utc)
    local = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    zones = frame["timezone"].fillna("").map(_zone)
    for zone, index in zones.groupby(zones).groups.items():
        local.loc[index] = utc.loc[index].dt.tz_convert(zone).dt.tz_localize(None).to_numpy()
    iso = local.dt.isocalendar()
    frame["local_time"] = local
    frame["local_date"] = local.dt.date
    frame["hour"] = local.dt.hour.astype("int64") if len(frame) else pd.Series(dtype="int64")
    frame["week"] = (
        iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
        if len(frame)
        else pd.Series(dtype=str)
    )
    return frame


def utc_window(first_day: date, last_day_exclusive: date) -> tuple[datetime, datetime]:
    """A UTC window that holds every contact whose local date is in [first, last)."""
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC) - _ZONE_SLACK
    end = datetime.combine(last_day_exclusive, datetime.min.time(), tzinfo=UTC) + _ZONE_SLACK
    return start, end


def _naive_utc(value: datetime) -> datetime:
    # SQLite stores the aware datetimes as naive UTC text; compare like with like.
    return value.astimezone(UTC).replace(tzinfo=None)


def load_contacts(engine: Engine, first_day: date, last_day_exclusive: date) -> pd.DataFrame:
    """Current contacts whose local date is in [first_day, last_day_exclusive)."""
    start, end = utc_window(first_day, last_day_exclusive)
    c = t.contact.c
    query = (
        select(*[getattr(c, name) for name in CONTACT_COLUMNS])
        .where(c.is_current.is_(True))
        .where(c.started_at >= _utc_param(engine, start))
        .where(c.started_at < _utc_param(engine, end))
    )
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    frame = add_local_time(frame)
    keep = (frame["local_date"] >= first_day) & (frame["local_date"] < last_day_exclusive)
    return frame.loc[keep].sort_values(["started_at", "external_id"]).reset_index(drop=True)


def _utc_param(engine: Engine, value: datetime) -> datetime:
    return _naive_utc(value) if engine.dialect.name == "sqlite" else value


def load_findings(
    engine: Engine,
    contact_ids: Iterable[int],
    window: tuple[date, date] | None = None,
) -> pd.DataFrame:
    """Findings of the given contacts with their latest review decision (None if unreviewed).

    With `window` (the local-date range the contacts were loaded for), one query over the
    window's UTC span replaces a long run of chunked IN lists; rows are then kept by contact id.
    """
    ids = sorted({int(i) for i in contact_ids})
    latest = (
        select(t.review.c.finding_id, func.max(t.review.c.id).label("review_id"))
        .group_by(t.review.c.finding_id)
        .subquery()
    )
    f = t.finding.c
    base = (
        select(
            f.id,
            f.contact_id,
            f.stage,
            f.segment_index,
            f.rule_id,
            f.ruleset_version,
            f.category,
            f.severity,
            f.confidence,
            f.speaker,
            f.span_start,
            f.span_end,
            f.start_s,
            f.end_s,
            f.quote,
            f.evidence,
            f.related_contacts,
            f.rule_status,
            f.run_id,
            t.review.c.decision,
            t.review.c.reviewer,
            t.review.c.reason,
        )
        .outerjoin(latest, latest.c.finding_id == f.id)
        .outerjoin(t.review, t.review.c.id == latest.c.review_id)
    )
    frames = []
    with engine.connect() as conn:
        if window is not None:
            start, end = utc_window(*window)
            c = t.contact.c
            query = (
                base.join(t.contact, c.id == f.contact_id)
                .where(c.is_current.is_(True))
                .where(c.started_at >= _utc_param(engine, start))
                .where(c.started_at < _utc_param(engine, end))
            )
            found = pd.read_sql(query, conn)
            frames.append(found.loc[found["contact_id"].isin(ids)])
        else:
            # Chunked IN lists: SQLite caps the number of bound parameters of one statement.
            for chunk in _chunks(ids, 900):
                frames.append(pd.read_sql(base.where(f.contact_id.in_(chunk)), conn))
        if not frames:
            frames.append(pd.read_sql(base.where(f.id < 0), conn))
    frame = pd.concat(frames, ignore_index=True)
    frame["counted"] = (frame["rule_status"] != "preview") & (
        frame["decision"].fillna("") != "dismissed"
    )
    return frame.sort_values(["contact_id", "start_s", "rule_id", "id"]).reset_index(drop=True)


def load_segments(engine: Engine, contact_ids: Iterable[int]) -> dict[int, list[dict[str, object]]]:
    ids = sorted({int(i) for i in contact_ids})
    by_contact: dict[int, list[dict[str, object]]] = {}
    s = t.segment.c
    with engine.connect() as conn:
        for chunk in _chunks(ids, 900):
            query = (
                select(s.contact_id, s.idx, s.speaker, s.start_s, s.end_s, s.text)
                .where(s.contact_id.in_(chunk))
                .order_by(s.contact_id, s.idx)
            )
            for row in conn.execute(query).mappings():
                by_contact.setdefault(int(row["contact_id"]), []).append(dict(row))
    return by_contact


def load_failures(
    engine: Engine, run_ids: Iterable[int], since: datetime, until: datetime
) -> pd.DataFrame:
    """Failures of the given runs, plus failures recorded in [since, until)."""
    ids = sorted({int(i) for i in run_ids})
    fl = t.failure.c
    during = and_(
        fl.created_at >= _utc_param(engine, since), fl.created_at < _utc_param(engine, until)
    )
    condition = or_(fl.run_id.in_(ids), during) if ids else during
    query = select(fl.id, fl.run_id, fl.path, fl.line, fl.stage, fl.error, fl.created_at).where(
        condition
    )
    with engine.connect() as conn:
        frame = pd.read_sql(query.order_by(fl.id), conn)
    return frame


def runs_of_contacts(engine: Engine, contact_ids: Iterable[int]) -> set[int]:
    """The runs that ingested or processed any of these contacts."""
    ids = sorted({int(i) for i in contact_ids})
    runs: set[int] = set()
    with engine.connect() as conn:
        for chunk in _chunks(ids, 900):
            runs.update(
                r
                for (r,) in conn.execute(
                    select(t.stage_done.c.run_id)
                    .where(t.stage_done.c.contact_id.in_(chunk))
                    .distinct()
                )
                if r is not None
            )
            runs.update(
                r
                for (r,) in conn.execute(
                    select(t.contact.c.ingest_run).where(t.contact.c.id.in_(chunk)).distinct()
                )
                if r is not None
            )
    return runs


def latest_week(engine: Engine) -> str | None:
    """The latest ISO week (debtor's local time) that has a current contact."""
    c = t.contact.c
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(c.started_at)).where(c.is_current.is_(True))).scalar()
    if newest is None:
        return None
    newest = pd.Timestamp(newest).to_pydatetime()
    newest = newest.replace(tzinfo=UTC) if newest.tzinfo is None else newest.astimezone(UTC)
    # Only the last day or so can hold the locally latest contact (zones differ by ≤ 26 h).
    first = (newest - timedelta(days=2)).date()
    frame = load_contacts(engine, first, newest.date() + timedelta(days=2))
    if frame.empty:
        return week_of(newest.date())
    return str(frame["week"].max())


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _local_times(engine: Engine) -> pd.DataFrame:
    """Local time columns of every current contact (only the two columns needed)."""
    c = t.contact.c
    query = select(c.started_at, c.timezone).where(c.is_current.is_(True))
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    return add_local_time(frame)


def weeks_with_contacts(engine: Engine) -> list[str]:
    """Every ISO week (debtor's local time) that holds a current contact, oldest first."""
    return sorted(set(_local_times(engine)["week"]))


def local_date_range(engine: Engine) -> tuple[date, date] | None:
    """The first and last local dates of the current contacts, or None for an empty store."""
    frame = _local_times(engine)
    if frame.empty:
        return None
    return frame["local_date"].min(), frame["local_date"].max()
