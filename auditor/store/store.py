"""The store: every stage reads and writes through this one class.

Each contact's results are written in one transaction together with the mark that the stage is
done, so a batch killed at any moment and run again redoes exactly the unfinished contacts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from auditor import __version__
from auditor.errors import StoreError
from auditor.models import (
    Category,
    Channel,
    Contact,
    Decision,
    Direction,
    Evidence,
    Finding,
    Party,
    Segment,
    Severity,
    Speaker,
)
from auditor.store import schema as t
from auditor.store.retry import retried

log = logging.getLogger(__name__)

TRANSCRIBE = "transcribe"
MIGRATIONS = Path(__file__).parent / "migrations"
LEASE_S = 1800.0  # longer than any one contact's transcription on a slow CPU


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything in the store is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def database_url(db: str | Path) -> str:
    """A database URL as given, or a path to a SQLite file."""
    text = str(db)
    if "://" in text:
        # psycopg 3 is the driver we ship; SQLAlchemy would otherwise look for psycopg2.
        for prefix in ("postgresql://", "postgres://"):
            if text.startswith(prefix):
                return "postgresql+psycopg://" + text.removeprefix(prefix)
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A finding as stored, with what reports and review need about its contact."""

    id: int
    finding: Finding
    external_id: str
    channel: str
    collector_id: str
    team: str
    account_id: str
    started_at: datetime
    timezone: str
    source_path: str
    source_sha256: str
    decision: Decision | None
    reviewer: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class FailureRow:
    run_id: int | None
    path: str
    line: int | None
    stage: str
    error: str


def _enable_sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets report and review readers work while a batch writes; the busy timeout makes a
    # second writer wait instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class _AlreadyDone(Exception):
    """Rolls back a lease taken on a contact another worker has just finished."""


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=True)
        # Contacts released (failed) while a `claimed` iteration of their stage runs: that
        # iteration must not lease them again. Only failures are kept, never the whole backlog.
        self._released: dict[str, list[set[int]]] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    # -- schema: created and migrated by Alembic, for SQLite and PostgreSQL alike -------------

    def _alembic(self, conn: Connection) -> tuple[Config, ScriptDirectory, str | None]:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        script = ScriptDirectory.from_config(config)
        current = MigrationContext.configure(conn).get_current_revision()
        return config, script, current

    def schema_status(self) -> tuple[str | None, str]:
        """(the database's revision, the revision this auditor needs)."""
        with self._connect() as conn:
            _, script, current = self._alembic(conn)
        return current, str(script.get_current_head())

    def prepare(self) -> None:
        """Create the schema in an empty database; refuse one that is older or newer.

        An existing database is never recreated or changed behind the user's back: an older one
        asks for `auditor db upgrade` (after a backup), a newer one for a newer auditor.
        """
        with self._connect() as conn:
            self._lock_schema(conn)
            config, script, current = self._alembic(conn)
            head = script.get_current_head()
            if current == head:
                return
            known = {rev.revision for rev in script.walk_revisions()}
            if current is not None and current not in known:
                raise StoreError(
                    f"{self.url}: database schema revision {current} is newer than this auditor "
                    f"knows (head {head}); upgrade auditor"
                )
            if current is None and inspect(conn).get_table_names():
                raise StoreError(
                    f"{self.url}: holds tables but no auditor schema revision; it is not an "
                    "auditor database, or one made before migrations: use a new --db"
                )
            if current is not None:
                raise StoreError(
                    f"{self.url}: database schema revision {current} is older than this "
                    f"auditor's ({head}); back it up, then run `auditor db upgrade --db …`"
                )
            command.upgrade(config, "head")
            conn.commit()
            log.info("%s: created the schema at revision %s", self.url, head)

    def upgrade(self) -> tuple[str | None, str]:
        """Apply pending migrations; returns (revision before, revision after)."""
        with self._connect() as conn:
            self._lock_schema(conn)
            config, script, current = self._alembic(conn)
            known = {rev.revision for rev in script.walk_revisions()}
            if current is not None and current not in known:
                raise StoreError(
                    f"{self.url}: database schema revision {current} is newer than this auditor"
                )
            command.upgrade(config, "head")
            conn.commit()
            return current, str(script.get_current_head())

    @staticmethod
    def _lock_schema(conn: Connection) -> None:
        """Workers started together on a new database create its schema once, one at a time:
        the others wait, then find it at the head revision."""
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(8148)")  # auditor's schema lock

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except OperationalError as exc:
            reason = " ".join(str(exc.orig).split())  # drivers print several lines; we want one
            raise StoreError(f"{self.url}: cannot open the database: {reason}") from exc

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A read-then-write transaction (ingest), serialized across every worker on the store.

        Two `auditor run` processes ingesting the same folder would otherwise both find a file
        new and both insert it; one waits for the other instead, then finds it stored.
        """
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(8147)")  # auditor's ingest lock
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock before its first read.

        A deferred SQLite transaction that reads and then writes fails at once ("database is
        locked", no busy wait) when another process wrote in between; IMMEDIATE waits its turn.
        """
        with self.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    # -- runs and failures -------------------------------------------------------------------

    def begin_run(
        self,
        command: str,
        options: dict[str, Any] | None = None,
        model: str | None = None,
        model_hash: str | None = None,
        ruleset_version: str | None = None,
    ) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(t.run).values(
                    command=command,
                    started_at=datetime.now(UTC),
                    status="running",
                    tool_version=__version__,
                    model=model,
                    model_hash=model_hash,
                    ruleset_version=ruleset_version,
                    options=json.dumps(options or {}, sort_keys=True, default=str),
                )
            )
            return _new_id(result)

    def update_run(self, run_id: int, **values: Any) -> None:
        if "options" in values:
            values["options"] = json.dumps(values["options"], sort_keys=True, default=str)
        with self.engine.begin() as conn:
            conn.execute(update(t.run).where(t.run.c.id == run_id).values(**values))

    def finish_run(self, run_id: int, status: str) -> None:
        self.update_run(run_id, status=status, finished_at=datetime.now(UTC))

    def runs(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.run).order_by(t.run.c.id)).mappings().all()
        return [dict(r) for r in rows]

    @retried("the failure record of run")
    def record_failure(
        self, run_id: int | None, path: str, stage: str, error: str, line: int | None = None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.failure).values(
                    run_id=run_id,
                    path=str(path),
                    line=line,
                    stage=stage,
                    error=error,
                    created_at=datetime.now(UTC),
                )
            )

    def failures(self, run_id: int | None = None) -> list[FailureRow]:
        query = select(t.failure).order_by(t.failure.c.id)
        if run_id is not None:
            query = query.where(t.failure.c.run_id == run_id)
        with self.engine.connect() as conn:
            return [
                FailureRow(r.run_id, r.path, r.line, r.stage, r.error) for r in conn.execute(query)
            ]

    # -- source files and contacts -----------------------------------------------------------

    def has_source(self, sha256: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(t.source_file.c.sha256).where(t.source_file.c.sha256 == sha256)
            ).first()
        return found is not None

    def add_source(
        self, conn: Connection, sha256: str, path: str, kind: str, size: int, run_id: int | None
    ) -> None:
        exists = conn.execute(
            select(t.source_file.c.sha256).where(t.source_file.c.sha256 == sha256)
        ).first()
        if exists is None:
            conn.execute(
                insert(t.source_file).values(
                    sha256=sha256, path=path, kind=kind, size_bytes=size, first_seen_run=run_id
                )
            )

    def add_contact(
        self,
        conn: Connection,
        contact: Contact,
        run_id: int | None,
        message_segment: Segment | None = None,
    ) -> tuple[int, bool]:
        """Insert a contact version unless this exact version is stored. Returns (id, created).

        A known external id with new source bytes becomes version n+1 and the current one; its
        older versions stay for the audit trail. Messages carry their text as their one segment.
        """
        same = conn.execute(
            select(t.contact.c.id).where(
                and_(
                    t.contact.c.external_id == contact.external_id,
                    t.contact.c.source_sha256 == contact.source_sha256,
                )
            )
        ).scalar()
        if same is not None:
            return int(same), False
        latest = conn.execute(
            select(func.max(t.contact.c.version)).where(
                t.contact.c.external_id == contact.external_id
            )
        ).scalar()
        version = 1 if latest is None else int(latest) + 1
        if latest is not None:
            conn.execute(
                update(t.contact)
                .where(t.contact.c.external_id == contact.external_id)
                .values(is_current=False)
            )
        result = conn.execute(
            insert(t.contact).values(
                external_id=contact.external_id,
                version=version,
                is_current=True,
                channel=contact.channel.value,
                collector_id=contact.collector_id,
                team=contact.team,
                account_id=contact.account_id,
                party_reached=contact.party_reached.value,
                direction=contact.direction.value,
                started_at=as_utc(contact.started_at),
                timezone=contact.timezone,
                duration_s=contact.duration_s,
                source_path=contact.source_path,
                source_sha256=contact.source_sha256,
                collector_channel=contact.collector_channel,
                language=contact.language,
                connected=contact.connected,
                ingest_run=run_id,
            )
        )
        contact_id = _new_id(result)
        if message_segment is not None:
            self._write_segments(conn, contact_id, [message_segment])
            self._mark_done(conn, contact_id, TRANSCRIBE, "text", run_id)
        return contact_id, True

    @staticmethod
    def _contact_from_row(row: Any) -> Contact:
        return Contact(
            id=row.id,
            external_id=row.external_id,
            version=row.version,
            channel=Channel(row.channel),
            collector_id=row.collector_id,
            team=row.team,
            account_id=row.account_id,
            party_reached=Party(row.party_reached),
            direction=Direction(row.direction),
            started_at=as_utc(row.started_at),
            timezone=row.timezone,
            duration_s=row.duration_s,
            source_path=row.source_path,
            source_sha256=row.source_sha256,
            collector_channel=row.collector_channel,
            language=row.language,
            connected=bool(row.connected),
        )

    def contacts(
        self,
        channel: str | None = None,
        collector_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[Contact]:
        """Current contact versions in time order; `until` is exclusive."""
        query = select(t.contact).where(t.contact.c.is_current.is_(True))
        if channel is not None:
            query = query.where(t.contact.c.channel == channel)
        if collector_id is not None:
            query = query.where(t.contact.c.collector_id == collector_id)
        if since is not None:
            query = query.where(t.contact.c.started_at >= as_utc(since))
        if until is not None:
            query = query.where(t.contact.c.started_at < as_utc(until))
        query = query.order_by(t.contact.c.started_at, t.contact.c.external_id)
        with self.engine.connect() as conn:
            return [self._contact_from_row(r) for r in conn.execute(query)]

    def contact(self, contact_id: int) -> Contact:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.contact).where(t.contact.c.id == contact_id)).first()
        if row is None:
            raise StoreError(f"{self.url}: no contact with id {contact_id}")
        return self._contact_from_row(row)

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(t.metadata.tables[table])
                ).scalar_one()
            )

    # -- stages ------------------------------------------------------------------------------

    def _pending_query(self, stage: str, version: str, channel: str | None) -> Select[Any]:
        done = (
            select(t.stage_done.c.contact_id)
            .where(t.stage_done.c.stage == stage)
            .where(t.stage_done.c.version == version)
        )
        query = (
            select(t.contact)
            .where(t.contact.c.is_current.is_(True))
            .where(t.contact.c.id.not_in(done))
            .order_by(t.contact.c.started_at, t.contact.c.external_id)
        )
        if channel is not None:
            query = query.where(t.contact.c.channel == channel)
        return query

    def pending(self, stage: str, version: str, channel: str | None = None) -> list[Contact]:
        """Current contacts whose `stage` has not been done at `version`."""
        with self.engine.connect() as conn:
            return [
                self._contact_from_row(r)
                for r in conn.execute(self._pending_query(stage, version, channel))
            ]

    @retried("the leases of stage")
    def claim(
        self,
        stage: str,
        version: str,
        worker: str,
        limit: int = 1,
        channel: str | None = None,
        lease_s: float = LEASE_S,
        exclude: Iterable[int] = (),
    ) -> list[Contact]:
        """Lease up to `limit` pending contacts for `worker`.

        Workers on one store (processes, machines, Ray actors) never hold the same contact: the
        lease row's primary key makes taking it atomic on SQLite and PostgreSQL alike. Saving
        the stage's results drops the lease in the same transaction; a worker that dies leaves
        a lease that expires after `lease_s`, and then another worker takes the contact over.
        """
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(
                delete(t.claim).where(and_(t.claim.c.stage == stage, t.claim.c.expires_at < now))
            )
        leased = select(t.claim.c.contact_id).where(t.claim.c.stage == stage)
        skip = list(exclude)
        query = self._pending_query(stage, version, channel).where(t.contact.c.id.not_in(leased))
        if skip:
            query = query.where(t.contact.c.id.not_in(skip))
        with self.engine.connect() as conn:
            candidates = [self._contact_from_row(r) for r in conn.execute(query.limit(limit * 4))]
        taken: list[Contact] = []
        for contact in candidates:
            try:
                with self._write() as conn:
                    conn.execute(
                        insert(t.claim).values(
                            contact_id=contact.id,
                            stage=stage,
                            worker=worker,
                            expires_at=now + timedelta(seconds=lease_s),
                        )
                    )
                    # Another worker may have leased it, finished it and dropped its lease since
                    # our read: the lease is ours now, but the work is done.
                    if self._is_done(conn, contact.id, stage, version):
                        raise _AlreadyDone
            except IntegrityError:
                continue  # another worker holds it
            except _AlreadyDone:
                continue  # the transaction rolled our lease back
            taken.append(contact)
            if len(taken) == limit:
                break
        return taken

    @staticmethod
    def _is_done(conn: Connection, contact_id: Any, stage: str, version: str) -> bool:
        return (
            conn.execute(
                select(t.stage_done.c.contact_id).where(
                    and_(
                        t.stage_done.c.contact_id == contact_id,
                        t.stage_done.c.stage == stage,
                        t.stage_done.c.version == version,
                    )
                )
            ).first()
            is not None
        )

    def leases(self, stage: str) -> list[tuple[int, str]]:
        """(contact id, worker) of every lease of `stage`, expired or not."""
        query = select(t.claim.c.contact_id, t.claim.c.worker).where(t.claim.c.stage == stage)
        with self.engine.connect() as conn:
            return [(int(r.contact_id), str(r.worker)) for r in conn.execute(query)]

    @retried("the lease of contact")
    def release(self, contact_id: int, stage: str) -> None:
        """Give a lease back without results (the item failed and its failure is recorded)."""
        with self.engine.begin() as conn:
            self._drop_claim(conn, contact_id, stage)
        for failed in self._released.get(stage, []):
            failed.add(int(contact_id))

    def claimed(
        self, stage: str, version: str, worker: str, channel: str | None = None, batch: int = 1
    ) -> Iterator[Contact]:
        """Pending contacts, each leased to `worker` until its results are saved or released.

        A saved contact is no longer pending and a contact still leased is skipped by `claim`,
        so only the ones released during this iteration need excluding: memory and the query
        stay small however long the backlog is.
        """
        failed: set[int] = set()
        watchers = self._released.setdefault(stage, [])
        watchers.append(failed)
        try:
            while True:
                leased = self.claim(stage, version, worker, batch, channel, exclude=failed)
                if not leased:
                    return
                yield from leased
        finally:
            watchers.remove(failed)

    @staticmethod
    def _drop_claim(conn: Connection, contact_id: int, stage: str) -> None:
        conn.execute(
            delete(t.claim).where(
                and_(t.claim.c.contact_id == contact_id, t.claim.c.stage == stage)
            )
        )

    def stage_version(self, contact_id: int, stage: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(t.stage_done.c.version).where(
                    and_(t.stage_done.c.contact_id == contact_id, t.stage_done.c.stage == stage)
                )
            ).scalar()

    @staticmethod
    def _mark_done(
        conn: Connection, contact_id: int, stage: str, version: str, run_id: int | None
    ) -> None:
        conn.execute(
            delete(t.stage_done).where(
                and_(t.stage_done.c.contact_id == contact_id, t.stage_done.c.stage == stage)
            )
        )
        conn.execute(
            insert(t.stage_done).values(
                contact_id=contact_id, stage=stage, version=version, run_id=run_id
            )
        )

    # -- segments ----------------------------------------------------------------------------

    @staticmethod
    def _write_segments(conn: Connection, contact_id: int, segments: Iterable[Segment]) -> None:
        conn.execute(delete(t.segment).where(t.segment.c.contact_id == contact_id))
        rows = [
            {
                "contact_id": contact_id,
                "idx": i,
                "speaker": s.speaker.value,
                "start_s": s.start_s,
                "end_s": s.end_s,
                "text": s.text,
                "avg_logprob": s.avg_logprob,
                "no_speech_prob": s.no_speech_prob,
                "language": s.language,
            }
            for i, s in enumerate(segments)
        ]
        if rows:
            conn.execute(insert(t.segment), rows)

    @retried("the transcript of contact")
    def save_segments(
        self,
        contact_id: int,
        segments: list[Segment],
        stage_version: str,
        run_id: int | None,
        duration_s: float | None = None,
    ) -> None:
        """Replace the contact's transcript and mark it transcribed, in one transaction; the
        recording's decoded length, when given, becomes the contact's duration."""
        ordered = sorted(segments, key=lambda s: (s.start_s, s.end_s))
        with self._write() as conn:
            if duration_s is not None:
                conn.execute(
                    update(t.contact)
                    .where(t.contact.c.id == contact_id)
                    .values(duration_s=duration_s)
                )
            self._write_segments(conn, contact_id, ordered)
            self._mark_done(conn, contact_id, TRANSCRIBE, stage_version, run_id)
            self._drop_claim(conn, contact_id, TRANSCRIBE)

    def segments(self, contact_id: int) -> list[Segment]:
        query = (
            select(t.segment).where(t.segment.c.contact_id == contact_id).order_by(t.segment.c.idx)
        )
        with self.engine.connect() as conn:
            return [
                Segment(
                    speaker=Speaker(r.speaker),
                    start_s=r.start_s,
                    end_s=r.end_s,
                    text=r.text,
                    avg_logprob=r.avg_logprob,
                    no_speech_prob=r.no_speech_prob,
                    language=r.language,
                )
                for r in conn.execute(query)
            ]

    # -- findings ----------------------------------------------------------------------------

    @retried("the findings of contact")
    def save_findings(
        self,
        contact_id: int,
        findings: list[Finding],
        stage: str,
        stage_version: str,
        run_id: int | None,
    ) -> None:
        """Replace the findings `stage` made for the contact and mark it done, in one transaction.

        Findings that a reviewer has already decided on are kept when the same rule finds the same
        span again, so a re-scan never loses a review decision.
        """
        with self._write() as conn:
            existing = conn.execute(
                select(
                    t.finding.c.id,
                    t.finding.c.rule_id,
                    t.finding.c.segment_index,
                    t.finding.c.span_start,
                    t.finding.c.span_end,
                ).where(and_(t.finding.c.contact_id == contact_id, t.finding.c.stage == stage))
            ).all()
            reviewed = {
                r.finding_id
                for r in conn.execute(
                    select(t.review.c.finding_id).where(
                        t.review.c.finding_id.in_([e.id for e in existing])
                    )
                )
            }
            keep: dict[tuple[Any, ...], int] = {
                (e.rule_id, e.segment_index, e.span_start, e.span_end): e.id
                for e in existing
                if e.id in reviewed
            }
            stale = [e.id for e in existing if e.id not in reviewed]
            if stale:
                conn.execute(delete(t.finding).where(t.finding.c.id.in_(stale)))
            for f in findings:
                values = self._finding_values(f, stage, run_id)
                key = (f.rule_id, f.segment_index, f.span[0], f.span[1])
                if key in keep:
                    conn.execute(
                        update(t.finding).where(t.finding.c.id == keep.pop(key)).values(**values)
                    )
                else:
                    conn.execute(insert(t.finding).values(contact_id=contact_id, **values))
            # A reviewed finding the rules no longer produce stays, with its history.
            self._mark_done(conn, contact_id, stage, stage_version, run_id)
            self._drop_claim(conn, contact_id, stage)

    @staticmethod
    def _finding_values(f: Finding, stage: str, run_id: int | None) -> dict[str, Any]:
        return {
            "stage": stage,
            "segment_index": f.segment_index,
            "rule_id": f.rule_id,
            "ruleset_version": f.ruleset_version,
            "category": f.category.value,
            "severity": f.severity.value,
            "confidence": f.confidence,
            "speaker": f.speaker.value,
            "span_start": f.span[0],
            "span_end": f.span[1],
            "start_s": f.start_s,
            "end_s": f.end_s,
            "quote": f.quote,
            "evidence": f.evidence_json(),
            "related_contacts": json.dumps(list(f.related_contact_ids)),
            "rule_status": f.status,
            "run_id": run_id,
        }

    def findings(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        collector_id: str | None = None,
        category: str | None = None,
        contact_id: int | None = None,
    ) -> list[StoredFinding]:
        """Findings on current contacts with their latest review decision, in a stable order."""
        latest_review = (
            select(t.review.c.finding_id, func.max(t.review.c.id).label("review_id"))
            .group_by(t.review.c.finding_id)
            .subquery()
        )
        query = (
            select(
                t.finding,
                t.contact.c.external_id,
                t.contact.c.channel,
                t.contact.c.collector_id,
                t.contact.c.team,
                t.contact.c.account_id,
                t.contact.c.started_at,
                t.contact.c.timezone,
                t.contact.c.source_path,
                t.contact.c.source_sha256,
                t.review.c.decision,
                t.review.c.reviewer,
                t.review.c.reason,
            )
            .join(t.contact, t.contact.c.id == t.finding.c.contact_id)
            .outerjoin(latest_review, latest_review.c.finding_id == t.finding.c.id)
            .outerjoin(t.review, t.review.c.id == latest_review.c.review_id)
            .where(t.contact.c.is_current.is_(True))
            .order_by(
                t.contact.c.started_at,
                t.contact.c.external_id,
                t.finding.c.start_s,
                t.finding.c.rule_id,
                t.finding.c.id,
            )
        )
        if since is not None:
            query = query.where(t.contact.c.started_at >= as_utc(since))
        if until is not None:
            query = query.where(t.contact.c.started_at < as_utc(until))
        if collector_id is not None:
            query = query.where(t.contact.c.collector_id == collector_id)
        if category is not None:
            query = query.where(t.finding.c.category == category)
        if contact_id is not None:
            query = query.where(t.finding.c.contact_id == contact_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [self._stored_finding(r) for r in rows]

    @staticmethod
    def _stored_finding(r: Any) -> StoredFinding:
        evidence = json.loads(r.evidence)
        found = Finding(
            contact_id=r.contact_id,
            segment_index=r.segment_index,
            rule_id=r.rule_id,
            ruleset_version=r.ruleset_version,
            category=Category(r.category),
            severity=Severity(r.severity),
            confidence=r.confidence,
            speaker=Speaker(r.speaker),
            span=(r.span_start, r.span_end),
            start_s=r.start_s,
            end_s=r.end_s,
            quote=r.quote,
            evidence=Evidence(**evidence),
            related_contact_ids=tuple(json.loads(r.related_contacts)),
            status=r.rule_status,
        )
        return StoredFinding(
            id=r.id,
            finding=found,
            external_id=r.external_id,
            channel=r.channel,
            collector_id=r.collector_id,
            team=r.team,
            account_id=r.account_id,
            started_at=as_utc(r.started_at),
            timezone=r.timezone,
            source_path=r.source_path,
            source_sha256=r.source_sha256,
            decision=Decision(r.decision) if r.decision else None,
            reviewer=r.reviewer,
            reason=r.reason,
        )

    # -- review ------------------------------------------------------------------------------

    def add_review(
        self, finding_id: int, decision: Decision, reviewer: str, reason: str = ""
    ) -> int:
        """Append a decision; the latest one counts and every earlier one stays."""
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(t.finding.c.id).where(t.finding.c.id == finding_id)
            ).first()
            if exists is None:
                raise StoreError(f"no finding with id {finding_id}")
            result = conn.execute(
                insert(t.review).values(
                    finding_id=finding_id,
                    decision=decision.value,
                    reviewer=reviewer,
                    reason=reason,
                    decided_at=datetime.now(UTC),
                )
            )
            return _new_id(result)

    def review_history(self, finding_id: int | None = None) -> list[dict[str, Any]]:
        query = select(t.review).order_by(t.review.c.id)
        if finding_id is not None:
            query = query.where(t.review.c.finding_id == finding_id)
        with self.engine.connect() as conn:
            return [
                {**dict(r), "decided_at": as_utc(r.decided_at)}
                for r in conn.execute(query).mappings()
            ]


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    if key is None:  # every table we insert into has an autoincrement key
        raise StoreError("the database did not return the new row's id")
    return int(key[0])


def open_store(db: str | Path, create: bool = True) -> Store:
    """Open (and by default create) the store at a SQLite path or an SQLAlchemy URL."""
    url = database_url(db)
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        # pre-ping: a connection the server or a firewall closed while idle in the pool is
        # replaced on checkout instead of failing the next contact's write.
        extra: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("postgresql"):
            extra["connect_args"] = {"connect_timeout": 10}  # an unreachable host fails in 10 s
        engine = create_engine(url, future=True, **extra)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"{db}: not a usable database URL: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_wal)
    store = Store(engine)
    if create:
        store.prepare()
    return store


__all__ = [
    "FailureRow",
    "Store",
    "StoredFinding",
    "as_utc",
    "database_url",
    "open_store",
]
