from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

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
from auditor.store import Store, database_url, open_store


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


def test_a_newer_schema_is_refused_not_overwritten(db_url: str) -> None:
    open_store(db_url).close()
    engine = create_engine(database_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="revision 9999 is newer than this auditor"):
        open_store(db_url)


def test_an_old_database_is_upgraded_on_request_and_keeps_its_data(db_url: str) -> None:
    from alembic import command

    old = open_store(db_url, create=False)
    with old.engine.connect() as conn:
        config, _, _ = old._alembic(conn)
        command.upgrade(config, "0001")  # the schema as the first release made it
        conn.commit()
    _contact(old)
    with pytest.raises(StoreError, match=r"older than this auditor's \(0002\).*auditor db upgrade"):
        open_store(db_url)
    assert old.upgrade() == ("0001", "0002")
    reopened = open_store(db_url)
    assert [c.external_id for c in reopened.contacts()] == ["c1"]
    assert reopened.schema_status() == ("0002", "0002")


def test_a_foreign_database_is_not_taken_over(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'other.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER)"))
    with pytest.raises(StoreError, match="not an auditor database"):
        open_store(tmp_path / "other.db")


def test_two_workers_never_lease_the_same_contact(store: Store) -> None:
    ids = [_contact(store, f"c{i}", sha=str(i) * 64) for i in range(5)]
    first = store.claim("transcribe", "m1", "worker-a", limit=3)
    second = store.claim("transcribe", "m1", "worker-b", limit=3)
    assert {c.id for c in first} | {c.id for c in second} == set(ids)
    assert not {c.id for c in first} & {c.id for c in second}
    # Saving results drops the lease; a released lease can be taken again.
    store.save_segments(first[0].id, [], "m1", None)
    store.release(first[1].id, "transcribe")
    third = store.claim("transcribe", "m1", "worker-c", limit=5)
    assert [c.id for c in third] == [first[1].id]


def test_an_expired_lease_of_a_dead_worker_is_taken_over(store: Store) -> None:
    cid = _contact(store)
    assert [c.id for c in store.claim("scan", "v1", "dead", lease_s=-1)] == [cid]
    assert [c.id for c in store.claim("scan", "v1", "alive")] == [cid]
    assert store.claim("scan", "v1", "third") == []


def test_unreachable_database_is_one_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot open the database"):
        open_store("postgresql://nobody:wrong@127.0.0.1:1/none")


def test_sqlite_store_runs_in_wal_mode(tmp_path) -> None:
    with open_store(tmp_path / "a.db").transaction() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
