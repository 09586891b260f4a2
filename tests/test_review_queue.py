from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from auditor.errors import ReviewError
from auditor.models import Decision, Severity
from auditor.review import decide, review_queue
from auditor.review.commands import queue_json, queue_lines
from auditor.store import Store

from .test_review_fixtures import CALL2_SEGMENTS, ID_NUMBER, fake_mask, masked, sample_store

__all__ = ["masked"]  # the fixture, imported for pytest


def rules_of(items) -> list[str]:
    return [item.stored.finding.rule_id for item in items]


def test_queue_is_most_severe_first_then_most_confident_then_oldest(
    store: Store, tmp_path: Path
) -> None:
    sample_store(store, tmp_path)
    items = review_queue(store, mask=fake_mask)
    # critical; then two high findings of equal confidence, the older contact first; medium; low
    assert rules_of(items) == [
        "US-THREAT-002",
        "CN-THREAT-004",
        "CN-PRIVACY-002",
        "CN-INSULT-001",
        "CN-HOURS-001",
    ]
    ranks = [(-i.stored.finding.severity.rank, -i.stored.finding.confidence) for i in items]
    assert ranks == sorted(ranks)


def test_higher_confidence_comes_first_within_a_severity(store: Store, tmp_path: Path) -> None:
    sample = sample_store(store, tmp_path)
    # A second, less sure high finding on the oldest contact goes after the sure ones.
    c1 = sample.contacts["c001"]
    current = [s.finding for s in store.findings(contact_id=c1)]
    (threat,) = [f for f in current if f.rule_id == "CN-THREAT-004"]
    unsure = replace(threat, rule_id="CN-THREAT-009", confidence=0.4, span=(0, 2))
    store.save_findings(c1, [*current, unsure], "scan", "rs2", None)
    high = review_queue(store, min_severity="high", mask=fake_mask)
    assert rules_of(high)[-1] == "CN-THREAT-009"
    assert [i.stored.finding.severity for i in high] == [
        Severity.CRITICAL,
        Severity.HIGH,
        Severity.HIGH,
        Severity.HIGH,
    ]


def test_filters_by_status_collector_category_severity_and_limit(
    store: Store, tmp_path: Path
) -> None:
    sample = sample_store(store, tmp_path)
    decide(store, [sample.findings["CN-INSULT-001"]], Decision.CONFIRMED, "kim")
    decide(store, [sample.findings["CN-THREAT-004"]], Decision.DISMISSED, "kim", "quoted debtor")

    assert "CN-INSULT-001" not in rules_of(review_queue(store, mask=fake_mask))
    assert rules_of(review_queue(store, "confirmed", mask=fake_mask)) == ["CN-INSULT-001"]
    assert rules_of(review_queue(store, "dismissed", mask=fake_mask)) == ["CN-THREAT-004"]
    assert len(review_queue(store, "all", mask=fake_mask)) == 5

    by_w2 = review_queue(store, "all", collector_id="w2", mask=fake_mask)
    assert [i.stored.collector_id for i in by_w2] == ["w2"]
    insults = review_queue(store, "all", category="insult", mask=fake_mask)
    assert rules_of(insults) == ["CN-INSULT-001"]
    at_least_high = review_queue(store, min_severity="high", mask=fake_mask)
    assert rules_of(at_least_high) == ["US-THREAT-002", "CN-PRIVACY-002"]
    assert rules_of(review_queue(store, "all", limit=2, mask=fake_mask)) == [
        "US-THREAT-002",
        "CN-THREAT-004",
    ]
    statuses = {
        i.stored.finding.rule_id: i.status for i in review_queue(store, "all", mask=fake_mask)
    }
    assert statuses["CN-THREAT-004"] == "dismissed" and statuses["US-THREAT-002"] == "open"


def test_a_later_decision_moves_a_finding_between_queues(store: Store, tmp_path: Path) -> None:
    sample = sample_store(store, tmp_path)
    fid = sample.findings["CN-THREAT-004"]
    decide(store, [fid], Decision.DISMISSED, "kim", "quoted debtor")
    decide(store, [fid], Decision.CONFIRMED, "lee")
    assert rules_of(review_queue(store, "confirmed", mask=fake_mask)) == ["CN-THREAT-004"]
    assert review_queue(store, "dismissed", mask=fake_mask) == []


def test_quote_comes_with_neighbouring_words_and_personal_numbers_masked(
    store: Store, tmp_path: Path
) -> None:
    sample_store(store, tmp_path)
    (threat,) = [
        i
        for i in review_queue(store, mask=fake_mask)
        if i.id and i.stored.finding.rule_id == "CN-THREAT-004"
    ]
    assert threat.context.quote == "发到你所有联系人"
    assert threat.context.before.endswith("把你欠钱的事")
    assert threat.context.after.startswith("手机上，你的身份证")
    assert ID_NUMBER not in threat.context.marked()
    assert "*" * 14 + "1234" in threat.context.after
    # cut to the window, and marked as cut
    assert threat.context.after.endswith("…")
    (arrest,) = [
        i
        for i in review_queue(store, mask=fake_mask)
        if i.stored.finding.rule_id == "US-THREAT-002"
    ]
    # English is cut at word boundaries, never inside a word
    assert arrest.context.before.startswith("…")
    first_word = arrest.context.before[1:].split()[0]
    assert first_word in CALL2_SEGMENTS[1].text.split()


def test_a_number_cut_by_the_context_window_is_still_masked(store: Store, tmp_path: Path) -> None:
    sample_store(store, tmp_path)
    (threat,) = [
        i
        for i in review_queue(store, mask=fake_mask, status="all")
        if i.stored.finding.rule_id == "CN-THREAT-004"
    ]
    # whatever the window shows of the ID number, no 5 of its hidden digits appear in a row
    shown = threat.context.marked()
    for start in range(len(ID_NUMBER) - 4 - 5 + 1):
        assert ID_NUMBER[start : start + 5] not in shown


def test_contact_level_finding_shows_its_quote_alone(store: Store, tmp_path: Path) -> None:
    sample_store(store, tmp_path)
    (hours,) = [
        i for i in review_queue(store, mask=fake_mask) if i.stored.finding.rule_id == "CN-HOURS-001"
    ]
    assert (hours.context.before, hours.context.quote, hours.context.after) == (
        "",
        "contact at 09:00 local",
        "",
    )


def test_list_lines_name_the_contact_collector_time_and_rule(
    store: Store, tmp_path: Path, masked: None
) -> None:
    sample_store(store, tmp_path)
    lines = queue_lines(review_queue(store))
    first = lines[0]
    assert "US-THREAT-002" in first and "contact c002" in first and "collector w2" in first
    # the contact's time on the debtor's clock (Chicago, the day before in UTC-6)
    assert "2026-11-15 20:00" in first
    assert lines[1].strip() == review_queue(store)[0].context.marked()
    assert lines[-1] == "5 finding(s)."
    as_json = queue_json(review_queue(store))
    assert as_json[1]["context"]["quote"] == "发到你所有联系人"
    assert ID_NUMBER not in str(as_json)


def test_without_the_masker_the_queue_refuses_clearly(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_store(store, tmp_path)
    monkeypatch.setitem(sys.modules, "auditor.textmask", None)  # makes the import fail
    with pytest.raises(ReviewError, match=r"auditor\.textmask is not available"):
        review_queue(store)


def test_queue_masks_with_the_project_masker(store: Store, tmp_path: Path) -> None:
    sample_store(store, tmp_path)
    shown = " ".join(i.context.marked() for i in review_queue(store, "all"))
    assert ID_NUMBER not in shown and ID_NUMBER[6:14] not in shown


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "pending"}, "unknown status 'pending'"),
        ({"min_severity": "severe"}, "unknown severity 'severe'"),
        ({"limit": -1}, "--limit must be 0 or more"),
    ],
)
def test_bad_queue_options_are_named(store: Store, kwargs, message: str) -> None:
    with pytest.raises(ReviewError, match=message):
        review_queue(store, mask=fake_mask, **kwargs)


def test_a_mask_that_changes_lengths_still_leaves_the_quote_in_place() -> None:
    from auditor.review.queue import masked_parts

    def shorten_emails(text: str) -> str:
        return re.sub(r"\b(\w)[\w.]*@", r"\1***@", text)

    text = "邮箱 zhang.wei@example.com 你就是个骗子"
    start = text.index("骗子")
    before, match, after = masked_parts(text, start, start + 2, shorten_emails)
    assert (before, match, after) == ("邮箱 z***@example.com 你就是个", "骗子", "")
