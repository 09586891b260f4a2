"""The tables of the store, in SQLAlchemy Core, so one definition serves SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# Every source file seen by ingest, by content: the same bytes twice are one row.
source_file = Table(
    "source_file",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("path", Text, nullable=False),
    Column("kind", String(16), nullable=False),  # recording | manifest | messages
    Column("size_bytes", Integer, nullable=False),
    Column("first_seen_run", Integer, nullable=True),
)

contact = Table(
    "contact",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("external_id", String(200), nullable=False),  # the call id or message id
    Column("version", Integer, nullable=False, default=1),
    Column("is_current", Boolean, nullable=False, default=True),
    Column("channel", String(16), nullable=False),
    Column("collector_id", String(200), nullable=False),
    Column("team", String(200), nullable=False, default=""),
    Column("account_id", String(200), nullable=False),
    Column("party_reached", String(16), nullable=False),
    Column("direction", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),  # UTC
    Column("timezone", String(64), nullable=False),  # the debtor's IANA zone
    Column("duration_s", Float, nullable=True),
    Column("source_path", Text, nullable=False, default=""),
    Column("source_sha256", String(64), nullable=False),  # recording bytes, or the message row
    Column("collector_channel", String(8), nullable=False, default="left"),
    Column("language", String(8), nullable=False, default=""),
    Column("connected", Boolean, nullable=False, default=True),
    Column("ingest_run", Integer, nullable=True),
    UniqueConstraint("external_id", "source_sha256", name="uq_contact_version"),
    Index("ix_contact_current", "is_current", "channel"),
    Index("ix_contact_account", "account_id", "started_at"),
)

segment = Table(
    "segment",
    metadata,
    Column("contact_id", Integer, ForeignKey("contact.id"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("speaker", String(16), nullable=False),
    Column("start_s", Float, nullable=False),
    Column("end_s", Float, nullable=False),
    Column("text", Text, nullable=False),
    Column("avg_logprob", Float, nullable=True),
    Column("no_speech_prob", Float, nullable=True),
    Column("language", String(8), nullable=True),
)

finding = Table(
    "finding",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("contact_id", Integer, ForeignKey("contact.id"), nullable=False),
    Column("stage", String(32), nullable=False),  # scan | scan_contacts
    Column("segment_index", Integer, nullable=True),
    Column("rule_id", String(64), nullable=False),
    Column("ruleset_version", String(64), nullable=False),
    Column("category", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("speaker", String(16), nullable=False),
    Column("span_start", Integer, nullable=False),
    Column("span_end", Integer, nullable=False),
    Column("start_s", Float, nullable=False),
    Column("end_s", Float, nullable=False),
    Column("quote", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON of Evidence
    Column("related_contacts", Text, nullable=False, default="[]"),  # JSON list of contact ids
    Column("rule_status", String(16), nullable=False, default="stable"),
    Column("run_id", Integer, nullable=True),
    Index("ix_finding_contact", "contact_id", "stage"),
    Index("ix_finding_rule", "rule_id"),
)

# Append-only: a later decision supersedes an earlier one; none is ever updated or deleted.
review = Table(
    "review",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("finding_id", Integer, ForeignKey("finding.id"), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("reviewer", String(200), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Index("ix_review_finding", "finding_id", "id"),
)

# What has been done to each contact, keyed by the version of the stage's inputs, so a re-run
# skips finished work and redoes work whose model or rule set changed.
stage_done = Table(
    "stage_done",
    metadata,
    Column("contact_id", Integer, ForeignKey("contact.id"), primary_key=True),
    Column("stage", String(32), primary_key=True),
    Column("version", String(128), nullable=False),
    Column("run_id", Integer, nullable=True),
)

run = Table(
    "run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("command", String(64), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("status", String(16), nullable=False, default="running"),
    Column("tool_version", String(32), nullable=False),
    Column("model", Text, nullable=True),
    Column("model_hash", String(64), nullable=True),
    Column("ruleset_version", String(64), nullable=True),
    Column("options", Text, nullable=False, default="{}"),  # JSON
)

failure = Table(
    "failure",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("run.id"), nullable=True),
    Column("path", Text, nullable=False),
    Column("line", Integer, nullable=True),
    Column("stage", String(32), nullable=False),
    Column("error", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


# A lease on one contact's stage, so several workers (processes, machines, Ray actors) on one
# store never work on the same contact at once. The primary key makes taking a lease atomic on
# every database; an expired lease (a worker that died) may be taken over.
claim = Table(
    "claim",
    metadata,
    Column("contact_id", Integer, ForeignKey("contact.id"), primary_key=True),
    Column("stage", String(32), primary_key=True),
    Column("worker", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
