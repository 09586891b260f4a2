from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest

from auditor.errors import ReviewError
from auditor.models import Decision
from auditor.review import (
    decide,
    default_reviewer,
    latest_decisions,
    review_history_rows,
)
from auditor.review.commands import review_decide
from auditor.store import Store, open_store

from .test_review_fixtures import sample_store


def test_decisions_are_appended_and_the_latest_counts(store: Store, tmp_path: Path) -> None:
    sample = sample_store(store, tmp_path)
    fid = sample.findings["CN-THREAT-004"]
    decide(store, [fid], Decision.CONFIRMED, "kim")
    decide(store, [fid], Decision.DISMISSED, "lee", "the collector quoted the debtor")

    history = store.review_history(fid)
    assert [(h["decision"], h["reviewer"], h["reason"]) for h in history] == [
        ("confirmed", "kim", ""),
        ("dismissed", "lee", "the collector quoted the debtor"),
    ]
    assert history[0]["decided_at"] <= history[1]["decided_at"]
    (stored,) = [s for s in store.findings() if s.id == fid]
    assert (stored.decision, stored.reviewer) == (Decision.DISMISSED, "lee")
    assert latest_decisions(store) == {fid: Decision.DISMISSED}


def test_a_dismissal_without_a_reason_is_refused_and_nothing_is_recorded(
    store: Store, tmp_path: Path
) -> None:
    sample = sample_store(store, tmp_path)
    with pytest.raises(ReviewError, match="a dismissal needs a reason"):
        decide(store, [sample.findings["CN-THREAT-004"]], Decision.DISMISSED, "kim", "   ")
    assert store.review_history() == []


def test_an_unknown_id_among_several_records_none_of_them(store: Store, tmp_path: Path) -> None:
    sample = sample_store(store, tmp_path)
    good = [sample.findings["CN-THREAT-004"], sample.findings["CN-INSULT-001"]]
    with pytest.raises(ReviewError, match=r"no finding with id 998, 999 .*nothing was recorded"):
        decide(store, [good[0], 999, good[1], 998], Decision.CONFIRMED, "kim")
    assert store.review_history() == []
    decide(store, good, Decision.CONFIRMED, "kim")
    assert sorted(h["finding_id"] for h in store.review_history()) == sorted(good)


def test_a_failure_midway_through_several_decisions_leaves_none(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = sample_store(store, tmp_path)
    import auditor.review.decisions as decisions

    real = decisions.insert_decision
    calls = []

    def failing_second(conn, request, decided_at):
        calls.append(request.finding_id)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(conn, request, decided_at)

    monkeypatch.setattr(decisions, "insert_decision", failing_second)
    with pytest.raises(RuntimeError):
        decide(store, list(sample.findings.values()), Decision.CONFIRMED, "kim")
    assert len(calls) == 2  # the first one was written inside the transaction, then rolled back
    assert store.review_history() == []


def test_reviewer_comes_from_the_option_else_the_environment_else_the_os_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUDITOR_REVIEWER", "王芳")
    assert default_reviewer("kim") == "kim"
    assert default_reviewer(None) == "王芳"
    monkeypatch.delenv("AUDITOR_REVIEWER")
    monkeypatch.setattr("getpass.getuser", lambda: "osuser")
    assert default_reviewer(None) == "osuser"

    def no_user() -> str:
        raise OSError("no user")

    monkeypatch.setattr("getpass.getuser", no_user)
    with pytest.raises(ReviewError, match="--reviewer NAME"):
        default_reviewer(None)


def test_review_command_uses_the_environment_reviewer(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = sample_store(store, tmp_path)
    monkeypatch.setenv("AUDITOR_REVIEWER", "王芳")
    ids = [sample.findings["CN-THREAT-004"], sample.findings["US-THREAT-002"]]
    lines = review_decide(store, ids, Decision.CONFIRMED)
    assert lines == [f"2 finding(s) confirmed by 王芳: #{ids[0]}, #{ids[1]}"]
    assert {h["reviewer"] for h in store.review_history()} == {"王芳"}


def test_history_rows_mark_superseded_decisions(store: Store, tmp_path: Path) -> None:
    sample = sample_store(store, tmp_path)
    fid = sample.findings["CN-THREAT-004"]
    other = sample.findings["US-THREAT-002"]
    decide(store, [fid], Decision.CONFIRMED, "kim")
    decide(store, [other], Decision.CONFIRMED, "kim")
    decide(store, [fid], Decision.DISMISSED, "lee", "quoted")
    rows = review_history_rows(store)
    assert [(r["finding_id"], r["decision"], r["superseded"]) for r in rows] == [
        (fid, "confirmed", True),
        (other, "confirmed", False),
        (fid, "dismissed", False),
    ]
    assert rows[0]["rule_id"] == "CN-THREAT-004" and rows[0]["contact_external_id"] == "c001"
    assert rows[1]["collector_id"] == "w2"
    assert rows[0]["decided_at"].endswith("+00:00")


def test_a_rescan_keeps_the_decision_on_the_same_finding(store: Store, tmp_path: Path) -> None:
    sample = sample_store(store, tmp_path)
    fid = sample.findings["CN-THREAT-004"]
    decide(store, [fid], Decision.DISMISSED, "kim", "quoted")
    c1 = sample.contacts["c001"]
    store.save_findings(c1, [s.finding for s in store.findings(contact_id=c1)], "scan", "rs2", None)
    assert latest_decisions(store) == {fid: Decision.DISMISSED}


# -- two reviewers at the same time ------------------------------------------------------------


def _reviewer_process(
    db: str, finding_ids: list[int], who: str, barrier, spans, one_transaction: bool
) -> None:
    """Runs in its own process: decide on every finding as `who`, starting with the other."""
    store = open_store(db)
    decision = Decision.CONFIRMED if who == "kim" else Decision.DISMISSED
    reason = "" if who == "kim" else f"{who} thinks it is fine"
    barrier.wait(timeout=60)
    began = time.monotonic()
    if one_transaction:
        decide(store, finding_ids, decision, who, reason)
    else:
        for fid in finding_ids:
            decide(store, [fid], decision, who, reason)
    spans.put((began, time.monotonic()))
    store.close()


def _run_two_reviewers(db: str, ids: list[int], one_transaction: bool) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    spans = ctx.Queue()
    procs = [
        ctx.Process(target=_reviewer_process, args=(db, ids, who, barrier, spans, one_transaction))
        for who in ("kim", "lee")
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    (start_a, end_a), (start_b, end_b) = spans.get(timeout=5), spans.get(timeout=5)
    # Both were at work at the same moment (the barrier released them together).
    assert max(start_a, start_b) < min(end_a, end_b)


@pytest.fixture
def many_findings(store: Store, db_url: str, tmp_path: Path) -> tuple[str, list[int]]:
    """The sample's findings in a store each process opens by itself: a SQLite file in WAL mode
    (as the store opens it), or a PostgreSQL database."""
    sample = sample_store(store, tmp_path)
    if store.engine.dialect.name == "sqlite":
        with sqlite3.connect(store.engine.url.database) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    return db_url, sorted(sample.findings.values())


def test_two_reviewers_deciding_the_same_findings_at_once_both_kept_latest_counts(
    many_findings: tuple[str, list[int]],
) -> None:
    db, ids = many_findings
    _run_two_reviewers(db, ids * 10, one_transaction=False)  # each decides each finding 10 times

    store = open_store(db)
    history = store.review_history()
    assert len(history) == 2 * 10 * len(ids)
    for fid in ids:
        mine = [h for h in history if h["finding_id"] == fid]
        assert sorted(h["reviewer"] for h in mine) == ["kim"] * 10 + ["lee"] * 10
    # The latest decision is the last one committed, and times follow commit order.
    times = [h["decided_at"] for h in history]
    assert times == sorted(times)
    last = {h["finding_id"]: Decision(h["decision"]) for h in history}
    assert latest_decisions(store) == last
    assert {s.id: s.decision for s in store.findings()} == last


def test_two_reviewers_batches_at_once_are_each_all_or_nothing(
    many_findings: tuple[str, list[int]],
) -> None:
    db, ids = many_findings
    batch = ids * 100  # large enough that the second batch waits for the first's lock
    _run_two_reviewers(db, batch, one_transaction=True)

    store = open_store(db)
    history = store.review_history()
    assert len(history) == 2 * len(batch)
    # One batch committed wholly before the other: its rows are consecutive, not interleaved.
    reviewers = [h["reviewer"] for h in history]
    first, second = reviewers[0], reviewers[-1]
    assert first != second
    assert reviewers == [first] * len(batch) + [second] * len(batch)
    expected = Decision.CONFIRMED if second == "kim" else Decision.DISMISSED
    assert set(latest_decisions(store).values()) == {expected}
