"""A small store of calls, messages and findings for the review tests (no tests of its own).

The fake mask stands in for auditor.textmask (written separately) with its one property the
review code relies on: long digit runs are starred, lengths kept, the last four digits shown.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.models import (
    Category,
    Channel,
    Contact,
    Evidence,
    Finding,
    Party,
    Segment,
    Severity,
    Speaker,
)
from auditor.store import Store, open_store

from .conftest import write_silence_wav

ID_NUMBER = "110101199003071234"


def fake_mask(text: str) -> str:
    return re.sub(r"\d{9,}", lambda m: "*" * (len(m.group()) - 4) + m.group()[-4:], text)


@pytest.fixture
def masked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Install the fake mask as auditor.textmask for code that imports it lazily."""
    module = types.ModuleType("auditor.textmask")
    module.mask_text = fake_mask  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "auditor.textmask", module)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A store in a SQLite file, for tests of SQLite's own behaviour (WAL, a killed writer)."""
    opened = open_store(tmp_path / "db" / "review.db")
    yield opened
    opened.close()


def add_contact(store: Store, contact: Contact) -> int:
    with store.transaction() as conn:
        contact_id, _created = store.add_contact(conn, contact, None)
    return contact_id


def finding(
    contact_id: int,
    segment_index: int | None,
    rule_id: str,
    severity: Severity,
    confidence: float,
    span: tuple[int, int],
    text: str,
    start_s: float = 0.0,
    category: Category = Category.THREAT,
    speaker: Speaker = Speaker.COLLECTOR,
) -> Finding:
    return Finding(
        contact_id=contact_id,
        segment_index=segment_index,
        rule_id=rule_id,
        ruleset_version="rs1",
        category=category,
        severity=severity,
        confidence=confidence,
        speaker=speaker,
        span=span,
        start_s=start_s,
        end_s=start_s + 2,
        quote=text[span[0] : span[1]] if segment_index is not None else text,
        evidence=Evidence("phrase", text[span[0] : span[1]], f"phrase for {rule_id}"),
    )


@dataclass
class Sample:
    """Ids of what `sample_store` put in the store, by the name the tests use."""

    contacts: dict[str, int]
    findings: dict[str, int]  # by rule id (one finding per rule)
    audio: Path


THREAT_TEXT = f"再不还我就把你欠钱的事发到你所有联系人手机上，你的身份证{ID_NUMBER}我们都有"
CALL1_SEGMENTS = [
    Segment(Speaker.COLLECTOR, 0.0, 3.0, "您好，这里是某银行信用卡中心，请问是张伟先生吗"),
    Segment(Speaker.CUSTOMER, 3.2, 4.0, "是我"),
    Segment(Speaker.COLLECTOR, 4.5, 9.0, THREAT_TEXT),
    Segment(Speaker.CUSTOMER, 9.5, 11.0, "你们不能这样"),
    Segment(Speaker.COLLECTOR, 11.5, 14.0, "你就是个骗子，老赖"),
]
CALL2_SEGMENTS = [
    Segment(Speaker.COLLECTOR, 0.0, 2.0, "Hello, this is a call about your account"),
    Segment(
        Speaker.COLLECTOR,
        2.0,
        6.0,
        "If you do not pay today we will have you arrested by the police tomorrow morning",
    ),
]


def sample_store(store: Store, tmp_path: Path) -> Sample:
    """Two calls by two collectors and one SMS, with findings of every severity."""
    audio = write_silence_wav(tmp_path / "audio" / "c001.wav", seconds=15.0)
    c1 = add_contact(
        store,
        Contact(
            external_id="c001",
            channel=Channel.CALL,
            collector_id="w1",
            team="team_a",
            account_id="A1",
            started_at=datetime(2026, 11, 16, 1, 0, tzinfo=UTC),
            timezone="Asia/Shanghai",
            party_reached=Party.DEBTOR,
            source_path=str(audio),
            source_sha256="a" * 64,
        ),
    )
    c2 = add_contact(
        store,
        Contact(
            external_id="c002",
            channel=Channel.CALL,
            collector_id="w2",
            team="team_b",
            account_id="A2",
            started_at=datetime(2026, 11, 16, 2, 0, tzinfo=UTC),
            timezone="America/Chicago",
            party_reached=Party.DEBTOR,
            source_path=str(tmp_path / "audio" / "missing.wav"),
            source_sha256="b" * 64,
        ),
    )
    sms_text = "【某银行】张伟欠款五万，再不还就起诉"
    c3 = add_contact(
        store,
        Contact(
            external_id="m001",
            channel=Channel.SMS,
            collector_id="w1",
            team="team_a",
            account_id="A1",
            started_at=datetime(2026, 11, 16, 3, 0, tzinfo=UTC),
            timezone="Asia/Shanghai",
            party_reached=Party.THIRD_PARTY,
            source_sha256="c" * 64,
        ),
    )
    store.save_segments(c1, CALL1_SEGMENTS, "t1", None)
    store.save_segments(c2, CALL2_SEGMENTS, "t1", None)
    store.save_segments(c3, [Segment(Speaker.COLLECTOR, 0, 0, sms_text)], "text", None)

    threat = THREAT_TEXT.index("发到你所有联系人")
    insult = CALL1_SEGMENTS[4].text.index("骗子")
    arrest = CALL2_SEGMENTS[1].text.index("arrested")
    disclose = sms_text.index("欠款五万")
    store.save_findings(
        c1,
        [
            finding(c1, 2, "CN-THREAT-004", Severity.HIGH, 0.9, (threat, threat + 8), THREAT_TEXT, 4.5),
            finding(
                c1, 4, "CN-INSULT-001", Severity.MEDIUM, 0.95, (insult, insult + 2),
                CALL1_SEGMENTS[4].text, 11.5, Category.INSULT,
            ),
            finding(
                c1, None, "CN-HOURS-001", Severity.LOW, 1.0, (0, 0), "contact at 09:00 local",
                0.0, Category.CONTACT_TIME,
            ),
        ],
        "scan",
        "rs1",
        None,
    )  # fmt: skip
    store.save_findings(
        c2,
        [
            finding(
                c2, 1, "US-THREAT-002", Severity.CRITICAL, 0.7, (arrest, arrest + 8),
                CALL2_SEGMENTS[1].text, 2.0,
            ),
        ],
        "scan",
        "rs1",
        None,
    )  # fmt: skip
    store.save_findings(
        c3,
        [
            finding(
                c3, 0, "CN-PRIVACY-002", Severity.HIGH, 0.9, (disclose, disclose + 4), sms_text,
                0.0, Category.PRIVACY,
            ),
        ],
        "scan",
        "rs1",
        None,
    )  # fmt: skip
    ids = {s.finding.rule_id: s.id for s in store.findings()}
    return Sample({"c001": c1, "c002": c2, "m001": c3}, ids, audio)
