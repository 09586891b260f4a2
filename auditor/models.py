"""Shared types of every stage: contacts, segments, findings and their enums.

The enums are the vocabulary of the rule schema, the store and the reports alike: a value that is
not here is rejected wherever it appears.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    THREAT = "threat"
    FALSE_CLAIM = "false_claim"
    INSULT = "insult"
    PRIVACY = "privacy"
    PRESSURE = "pressure"
    CONTACT_TIME = "contact_time"
    CONTACT_FREQUENCY = "contact_frequency"
    PROCEDURE = "procedure"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Higher is worse; used to sort review queues and pick the week's worst findings."""
        return {"critical": 4, "high": 3, "medium": 2, "low": 1}[self.value]


class Speaker(StrEnum):
    COLLECTOR = "collector"
    CUSTOMER = "customer"
    UNKNOWN = "unknown"


class Channel(StrEnum):
    CALL = "call"
    SMS = "sms"
    CHAT = "chat"
    APP = "app"
    EMAIL = "email"


class Party(StrEnum):
    """Who the collector actually reached."""

    DEBTOR = "debtor"
    THIRD_PARTY = "third_party"
    UNKNOWN = "unknown"


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Decision(StrEnum):
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


@dataclass(slots=True)
class Contact:
    """One call or one message, as ingested. `started_at` is timezone-aware UTC."""

    external_id: str
    channel: Channel
    collector_id: str
    account_id: str
    started_at: datetime
    timezone: str
    party_reached: Party = Party.UNKNOWN
    direction: Direction = Direction.OUTBOUND
    team: str = ""
    duration_s: float | None = None
    source_path: str = ""
    source_sha256: str = ""
    collector_channel: str = "left"  # which stereo channel carries the collector
    language: str = ""  # "zh", "en" or "" when unknown
    connected: bool = True  # a call that reached someone; unanswered attempts count apart
    id: int | None = None  # store key, set once stored
    version: int = 1


@dataclass(slots=True)
class Segment:
    """One stretch of one speaker's speech (or one message's text) on the contact's timeline."""

    speaker: Speaker
    start_s: float
    end_s: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    matcher: str  # "phrase", "near", "regex", "recognizer:cn_resident_id", "contact:hours"
    pattern: str  # the phrase, pair or pattern name that fired
    why: str  # one line for the reviewer


@dataclass(frozen=True, slots=True)
class Finding:
    contact_id: int
    segment_index: int | None  # None for findings on the contact as a whole (hours, frequency)
    rule_id: str
    ruleset_version: str
    category: Category
    severity: Severity
    confidence: float
    speaker: Speaker
    span: tuple[int, int]  # offsets into the stored segment text, never into a normalised copy
    start_s: float
    end_s: float
    quote: str  # the matched words, already masked for personal data
    evidence: Evidence
    related_contact_ids: tuple[int, ...] = field(default_factory=tuple)
    status: str = "stable"  # the rule's status: preview findings are kept apart in scorecards

    def evidence_json(self) -> str:
        return json.dumps(asdict(self.evidence), ensure_ascii=False, sort_keys=True)


def as_plain(value: Any) -> Any:
    """A JSON-ready copy of a dataclass, enum or datetime, for exports and `--json` output."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if hasattr(value, "__dataclass_fields__"):
        return {k: as_plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, (list, tuple)):
        return [as_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: as_plain(v) for k, v in value.items()}
    return value
