"""scan_pending over a store (an in-memory stand-in with the STORE_API.md methods) and eval."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditor.engine import load_pack
from auditor.engine.evaluate import LabelsError, evaluate, format_evaluation
from auditor.engine.stage import scan_pending
from auditor.models import Channel, Contact, Finding, Segment, Speaker


class MemoryStore:
    """The subset of auditor.store.Store the scan stage uses, kept in dictionaries."""

    def __init__(self, contacts: list[Contact], segments: dict[int, list[Segment]]) -> None:
        self._contacts = contacts
        self._segments = segments
        self.findings: dict[tuple[int, str], list[Finding]] = {}
        self.done: dict[tuple[int, str], str] = {}
        self.failures: list[dict[str, object]] = []

    def pending(self, stage: str, version: str, channel: str | None = None) -> list[Contact]:
        return [c for c in self._contacts if self.done.get((c.id or 0, stage)) != version]

    def claimed(
        self, stage: str, version: str, worker: str, channel: str | None = None, batch: int = 1
    ) -> Iterator[Contact]:
        yield from self.pending(stage, version, channel)

    def release(self, contact_id: int, stage: str) -> None:
        pass

    def leases(self, stage: str) -> list[tuple[int, str]]:
        return []

    def segments(self, contact_id: int) -> list[Segment]:
        if contact_id == 666:
            raise RuntimeError("corrupt segment row")
        return self._segments.get(contact_id, [])

    def contacts(self, **_: object) -> list[Contact]:
        return list(self._contacts)

    def save_findings(
        self, contact_id: int, findings: list[Finding], stage: str, stage_version: str, run_id: int
    ) -> None:
        self.findings[(contact_id, stage)] = list(findings)
        self.done[(contact_id, stage)] = stage_version

    def record_failure(
        self, run_id: int, path: str, stage: str, error: str, line: int | None = None
    ) -> None:
        self.failures.append({"path": path, "stage": stage, "error": error})


def _call(cid: int, hour: int) -> Contact:
    return Contact(
        external_id=f"c{cid}",
        channel=Channel.CALL,
        collector_id="w1",
        account_id="A1",
        started_at=datetime(2026, 11, 16, hour, tzinfo=UTC),
        timezone="Asia/Shanghai",
        language="zh",
        id=cid,
    )


def test_scan_pending_stores_findings_per_contact_and_goes_on_after_a_failure() -> None:
    pack = load_pack("cn")
    contacts = [_call(1, 1), _call(2, 2), _call(666, 3), _call(4, 4), _call(5, 5)]
    segs = {1: [Segment(Speaker.COLLECTOR, 0, 3, "你这个老赖，再不还就爆你通讯录")]}
    store = MemoryStore(contacts, segs)
    seen: list[tuple[int, str]] = []

    def progress(items, desc):  # the auditor.progress protocol: wrap the iteration
        seen.append((len(items), desc))
        return items

    summary = scan_pending(store, pack, run_id=1, progress=progress)
    assert summary.contacts_scanned == 4 and len(summary.failed) == 1
    assert store.failures[0]["stage"] == "scan" and "corrupt" in str(store.failures[0]["error"])
    assert {f.rule_id for f in store.findings[(1, "scan")]} >= {"CN-INSULT-001", "CN-THREAT-001"}
    # five connected calls on one day (local time 09:00-13:00): the 4th and 5th are over the cap
    over = [
        cid
        for cid in (1, 2, 666, 4, 5)
        if any(f.rule_id == "CN-FREQ-001" for f in store.findings[(cid, "scan_contacts")])
    ]
    assert over == [4, 5]
    assert seen == [(5, "scan")]
    again = scan_pending(store, pack, run_id=2)
    assert again.contacts_scanned == 0 and again.accounts_checked == 0  # only contact 666 left
    assert "failed" in summary.describe()


def _labels(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    return path


def test_evaluate_counts_hits_misses_and_false_alarms_per_category(tmp_path: Path) -> None:
    rows = [
        {"text": "你这个老赖", "speaker": "collector", "language": "zh", "labels": ["insult"]},
        {"text": "你这个老赖", "speaker": "customer", "language": "zh", "labels": []},
        {"text": "请您尽快还款", "speaker": "collector", "language": "zh", "labels": []},
        # labelled a threat though it is none: a miss whatever the detectors learn
        {"text": "好的，谢谢您", "speaker": "collector", "language": "zh", "labels": ["threat"]},
        {
            "text": "his account is past due",
            "speaker": "collector",
            "language": "en",
            "labels": ["privacy"],
            "party": "third_party",
        },
        {"text": "you're a loser", "speaker": "collector", "language": "en", "labels": []},
    ]
    result = evaluate(load_pack("all"), _labels(tmp_path, rows))
    insult = result["per_category"]["insult"]
    assert (insult["tp"], insult["fp"], insult["fn"]) == (1, 1, 0)
    assert insult["precision"] == 0.5 and insult["recall"] == 1.0
    assert result["per_category"]["privacy"]["tp"] == 1
    assert [m["line"] for m in result["misses"]] == [4]
    assert "US-INSULT-001" in result["false_alarms"][0]["rules"]
    assert "insult" in format_evaluation(result)


def test_evaluate_refuses_a_bad_line_naming_it(tmp_path: Path) -> None:
    path = _labels(tmp_path, [{"text": "x", "labels": ["rudeness"]}])
    with pytest.raises(LabelsError, match=r"labels\.jsonl:1: labels"):
        evaluate(load_pack("cn"), path)
