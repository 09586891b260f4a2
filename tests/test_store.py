from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditor.errors import StoreError
from auditor.models import (
    Category,
    Channel,
    Contact,
    Decision,
    Evidence,
    Finding,
    Segment,
    Severity,
    Speaker,
)
from auditor.store import Store, open_store


def _contact(store: Store, external_id: str = "c1", sha: str = "a" * 64) -> int:
    contact = Contact(
        external_id=external_id,
        channel=Channel.CALL,
        collector_id="w1",
        account_id="A1",
        started_at=datetime(2026, 11, 16, 1, 0, tzinfo=UTC),
        timezone="Asia/Shanghai",
        source_sha256=sha,
    )
    with store.transaction() as conn:
        contact_id, _ = store.add_contact(conn, contact, run_id=None)
    return contact_id


def _finding(contact_id: int, rule_id: str = "CN-THREAT-001", span=(0, 4)) -> Finding:
    return Finding(
        contact_id=contact_id,
        segment_index=0,
        rule_id=rule_id,
        ruleset_version="v1",
        category=Category.THREAT,
        severity=Severity.HIGH,
        confidence=0.9,
        speaker=Speaker.COLLECTOR,
        span=span,
        start_s=1.0,
        end_s=2.0,
        quote="爆通讯录",
        evidence=Evidence("phrase", "爆通讯录", "phrase 爆通讯录"),
    )


def test_datetimes_come_back_timezone_aware_utc(store: Store) -> None:
    _contact(store)
    (contact,) = store.contacts()
    assert contact.started_at == datetime(2026, 11, 16, 1, 0, tzinfo=UTC)
    assert contact.started_at.tzinfo is not None


def test_saving_segments_replaces_them_and_marks_the_stage_done(store: Store) -> None:
    cid = _contact(store)
    assert [c.id for c in store.pending("transcribe", "m1")] == [cid]
    store.save_segments(
        cid,
        [Segment(Speaker.CUSTOMER, 2.0, 3.0, "b"), Segment(Speaker.COLLECTOR, 0.0, 1.0, "a")],
        "m1",
        None,
    )
    store.save_segments(cid, [Segment(Speaker.COLLECTOR, 0.0, 1.0, "again")], "m1", None)
    assert [s.text for s in store.segments(cid)] == ["again"]
    assert store.pending("transcribe", "m1") == []
    # A different model version makes the contact pending again.
    assert [c.id for c in store.pending("transcribe", "m2")] == [cid]


def test_rescanning_replaces_findings_but_keeps_reviewed_ones(store: Store) -> None:
    cid = _contact(store)
    first = [
        _finding(cid),
        _finding(cid, "CN-INSULT-001", (5, 7)),
        _finding(cid, "CN-PRIV-001", (8, 9)),
    ]
    store.save_findings(cid, first, "scan", "v1", None)
    by_rule = {f.finding.rule_id: f for f in store.findings()}
    store.add_review(by_rule["CN-THREAT-001"].id, Decision.DISMISSED, "qa1", "quoted the debtor")
    store.add_review(by_rule["CN-PRIV-001"].id, Decision.CONFIRMED, "qa1", "")
    # v2 of the rules still finds the threat, no longer finds the insult or the privacy leak.
    store.save_findings(cid, [_finding(cid)], "scan", "v2", None)
    after = {f.finding.rule_id: f for f in store.findings()}
    assert set(after) == {"CN-THREAT-001", "CN-PRIV-001"}  # unreviewed insult gone
    assert after["CN-THREAT-001"].id == by_rule["CN-THREAT-001"].id
    assert after["CN-THREAT-001"].decision is Decision.DISMISSED
    assert (
        after["CN-PRIV-001"].decision is Decision.CONFIRMED
    )  # a person's decision outlives the rule


def test_review_decisions_are_appended_and_the_latest_counts(store: Store) -> None:
    cid = _contact(store)
    store.save_findings(cid, [_finding(cid)], "scan", "v1", None)
    fid = store.findings()[0].id
    store.add_review(fid, Decision.DISMISSED, "qa1", "false alarm")
    store.add_review(fid, Decision.CONFIRMED, "lead", "it is a threat")
    assert store.findings()[0].decision is Decision.CONFIRMED
    assert [r["decision"] for r in store.review_history(fid)] == ["dismissed", "confirmed"]
    with pytest.raises(StoreError, match="no finding with id 999"):
        store.add_review(999, Decision.CONFIRMED, "qa1")


def test_a_newer_schema_is_refused_not_overwritten(tmp_path) -> None:
    store = open_store(tmp_path / "a.db")
    with store.transaction() as conn:
        conn.exec_driver_sql("UPDATE auditor_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99 is newer"):
        open_store(tmp_path / "a.db")


def test_sqlite_store_runs_in_wal_mode(store: Store) -> None:
    with store.transaction() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
