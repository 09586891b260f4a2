"""A realistic small store for the report and export tests, built through the real Store API.

Two ISO weeks (2026-W46 and W47), five collectors, calls and messages in Shanghai and Chicago,
findings of every severity, reviews that confirm and dismiss, a preview-rule finding, a
transcript containing `<script>`, personal numbers in transcripts, and contacts placed so that
the UTC week and the debtor's local week disagree.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import sys
import types
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auditor.models import (
    Category,
    Channel,
    Contact,
    Decision,
    Evidence,
    Finding,
    Party,
    Segment,
    Severity,
    Speaker,
)
from auditor.store import Store


def ensure_textmask() -> None:
    """Until auditor.textmask (written by the engine helper) is merged, tests use this minimal
    stand-in: digit runs of 9 or more keep only their last four digits; e-mails lose the user."""
    try:
        importlib.import_module("auditor.textmask")
        return
    except ImportError:
        pass

    def mask_text(text: str) -> str:
        text = re.sub(
            r"\d[\d ]{7,}\d|\d{9,}",
            lambda m: (
                re.sub(r"\d", "*", m.group(0)[:-4]) + m.group(0)[-4:]
                if len(re.sub(r"\D", "", m.group(0))) >= 9
                else m.group(0)
            ),
            text,
        )
        return re.sub(r"([\w.+-])[\w.+-]*(@[\w-]+\.[\w.]+)", r"\1***\2", text)

    module = types.ModuleType("auditor.textmask")
    module.mask_text = mask_text  # type: ignore[attr-defined]
    sys.modules["auditor.textmask"] = module


ensure_textmask()

ID_NUMBER = "110101199003074578"  # 18-digit resident ID (valid check digit)
CARD_NUMBER = "6222021234567890123"  # 19-digit bank card
MOBILE = "13812345678"

SCRIPT_TEXT = '您好<script>alert("x")</script>请还款'

SH = "Asia/Shanghai"
CHI = "America/Chicago"


@dataclass
class Built:
    store: Store
    contact_ids: dict[str, int] = field(default_factory=dict)
    finding_ids: dict[str, int] = field(default_factory=dict)
    recordings: dict[str, Path] = field(default_factory=dict)


def _finding(
    contact_id: int,
    rule_id: str,
    category: Category,
    severity: Severity,
    segment_index: int | None,
    span: tuple[int, int],
    quote: str,
    start_s: float = 0.0,
    status: str = "stable",
) -> Finding:
    return Finding(
        contact_id=contact_id,
        segment_index=segment_index,
        rule_id=rule_id,
        ruleset_version="rs-test-1",
        category=category,
        severity=severity,
        confidence=0.9,
        speaker=Speaker.COLLECTOR,
        span=span,
        start_s=start_s,
        end_s=start_s + 2,
        quote=quote,
        evidence=Evidence(matcher="phrase", pattern=quote, why=f"phrase {quote}"),
        status=status,
    )


def local(zone: str, *args: int) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def build_store(store: Store, audio_dir: Path) -> Built:
    """Contacts, segments, findings and reviews over two weeks; see the module docstring."""
    built = Built(store)
    run_id = store.begin_run("ingest", options={"folder": "calls"})
    scan_run = store.begin_run(
        "scan",
        options={"rules": "cn"},
        model="whisper-base",
        model_hash="abc123",
        ruleset_version="rs-test-1",
    )

    def wav(name: str) -> Path:
        path = audio_dir / f"{name}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF" + name.encode() * 50)
        built.recordings[name] = path
        return path

    def add(
        name: str,
        collector: str,
        started: datetime,
        zone: str,
        segments: list[tuple[Speaker, str]],
        channel: Channel = Channel.CALL,
        language: str = "zh",
        team: str = "team_a",
        duration: float = 120.0,
    ) -> int:
        path = wav(name) if channel is Channel.CALL else None
        contact = Contact(
            external_id=name,
            channel=channel,
            collector_id=collector,
            account_id=f"A-{name}",
            started_at=started,
            timezone=zone,
            party_reached=Party.DEBTOR,
            team=team,
            duration_s=duration if channel is Channel.CALL else None,
            source_path=str(path) if path else "",
            source_sha256=hashlib.sha256(path.read_bytes()).hexdigest()
            if path
            else hashlib.sha256(name.encode()).hexdigest(),
            language=language,
        )
        message = (
            Segment(Speaker.COLLECTOR, 0.0, 0.0, segments[0][1])
            if channel is not Channel.CALL
            else None
        )
        with store.transaction() as conn:
            cid, _ = store.add_contact(conn, contact, run_id, message_segment=message)
        if channel is Channel.CALL:
            segs = [
                Segment(speaker, 5.0 * i, 5.0 * i + 4, text)
                for i, (speaker, text) in enumerate(segments)
            ]
            store.save_segments(cid, segs, "whisper-base", scan_run)
        built.contact_ids[name] = cid
        return cid

    def findings(name: str, items: list[Finding]) -> None:
        store.save_findings(built.contact_ids[name], items, "scan", "rs-test-1", scan_run)

    # --- week 2026-W46 (Nov 9-15, local) ---------------------------------------------------------
    for i in range(4):
        add(
            f"w46-good-{i}",
            "good_li",
            local(SH, 2026, 11, 10, 10 + i),
            SH,
            [(Speaker.COLLECTOR, "您好，我是工号3021")],
        )
    for i in range(4):
        add(
            f"w46-bad-{i}",
            "bad_wang",
            local(SH, 2026, 11, 11, 9 + i),
            SH,
            [(Speaker.COLLECTOR, "不还钱就等着坐牢吧")],
        )
    findings(
        "w46-bad-0",
        [
            _finding(
                built.contact_ids["w46-bad-0"],
                "CN-FALSE-001",
                Category.FALSE_CLAIM,
                Severity.HIGH,
                0,
                (6, 9),
                "坐牢吧",
            )
        ],
    )

    # --- week 2026-W47 (Nov 16-22, local) ---------------------------------------------------------
    # bad_wang: 4 calls, a critical threat, a high false claim, a medium insult -> worst
    bad_texts = [
        [
            (Speaker.COLLECTOR, "您好，我是催收员"),
            (Speaker.CUSTOMER, "什么事"),
            (Speaker.COLLECTOR, "再不还我就打给你所有联系人"),
            (Speaker.CUSTOMER, "你敢"),
        ],
        [(Speaker.COLLECTOR, "不还钱就等着坐牢吧")],
        [(Speaker.COLLECTOR, "你这个废物")],
        [(Speaker.COLLECTOR, f"你的身份证号{ID_NUMBER}，卡号{CARD_NUMBER}，手机{MOBILE}")],
    ]
    for i, segs in enumerate(bad_texts):
        add(f"w47-bad-{i}", "bad_wang", local(SH, 2026, 11, 17, 10 + i), SH, segs)
    findings(
        "w47-bad-0",
        [
            _finding(
                built.contact_ids["w47-bad-0"],
                "CN-THREAT-004",
                Category.THREAT,
                Severity.CRITICAL,
                2,
                (5, 13),
                "打给你所有联系人",
                start_s=10.0,
            )
        ],
    )
    findings(
        "w47-bad-1",
        [
            _finding(
                built.contact_ids["w47-bad-1"],
                "CN-FALSE-001",
                Category.FALSE_CLAIM,
                Severity.HIGH,
                0,
                (6, 8),
                "坐牢",
                start_s=0.0,
            )
        ],
    )
    findings(
        "w47-bad-2",
        [
            _finding(
                built.contact_ids["w47-bad-2"],
                "CN-INSULT-001",
                Category.INSULT,
                Severity.MEDIUM,
                0,
                (3, 5),
                "废物",
            )
        ],
    )
    seg3 = bad_texts[3][0][1]
    s3 = seg3.index(ID_NUMBER)
    findings(
        "w47-bad-3",
        [
            _finding(
                built.contact_ids["w47-bad-3"],
                "CN-PRIVACY-001",
                Category.PRIVACY,
                Severity.HIGH,
                0,
                (s3, s3 + 18),
                "110101********4578",
            )
        ],
    )

    # dismissed_zhao: 4 calls, two high findings both dismissed in review -> scores 100
    for i in range(4):
        add(
            f"w47-dis-{i}",
            "dismissed_zhao",
            local(SH, 2026, 11, 18, 10 + i),
            SH,
            [(Speaker.COLLECTOR, "你要是不还，我们会依法起诉")],
        )
    for i in range(2):
        findings(
            f"w47-dis-{i}",
            [
                _finding(
                    built.contact_ids[f"w47-dis-{i}"],
                    "CN-FALSE-002",
                    Category.FALSE_CLAIM,
                    Severity.HIGH,
                    0,
                    (9, 13),
                    "依法起诉",
                )
            ],
        )

    # mid_chen: 5 contacts incl. a late-night call (23:30 Shanghai) and an SMS with <script>
    for i in range(3):
        add(
            f"w47-mid-{i}",
            "mid_chen",
            local(SH, 2026, 11, 19, 14 + i),
            SH,
            [(Speaker.COLLECTOR, "请尽快还款")],
            team="team_b",
        )
    add(
        "w47-mid-late",
        "mid_chen",
        local(SH, 2026, 11, 19, 23, 30),
        SH,
        [(Speaker.COLLECTOR, "这么晚打扰了，请尽快还款")],
        team="team_b",
    )
    add(
        "w47-mid-sms",
        "mid_chen",
        local(SH, 2026, 11, 20, 9),
        SH,
        [(Speaker.COLLECTOR, SCRIPT_TEXT)],
        channel=Channel.SMS,
        team="team_b",
    )
    findings(
        "w47-mid-late",
        [
            _finding(
                built.contact_ids["w47-mid-late"],
                "CN-HOURS-001",
                Category.CONTACT_TIME,
                Severity.MEDIUM,
                None,
                (0, 0),
                "23:30",
            )
        ],
    )
    findings(
        "w47-mid-sms",
        [
            _finding(
                built.contact_ids["w47-mid-sms"],
                "CN-PROC-009",
                Category.PROCEDURE,
                Severity.LOW,
                0,
                (2, 10),
                "<script>",
            )
        ],
    )
    # a preview-rule finding: shown apart, never counted
    findings(
        "w47-mid-0",
        [
            _finding(
                built.contact_ids["w47-mid-0"],
                "CN-PREVIEW-001",
                Category.PRESSURE,
                Severity.CRITICAL,
                0,
                (0, 2),
                "请尽",
                status="preview",
            )
        ],
    )

    # us_smith (Chicago): Sunday Nov 22 22:30 local is Monday Nov 23 04:30 UTC (UTC week W48),
    # but counts in W47; Monday Nov 16 00:30 local... stays W47 too.
    add(
        "w47-us-late",
        "us_smith",
        local(CHI, 2026, 11, 22, 22, 30),
        CHI,
        [(Speaker.COLLECTOR, "This is a debt collector calling late")],
        language="en",
        team="team_us",
    )
    add(
        "w47-us-day",
        "us_smith",
        local(CHI, 2026, 11, 16, 10, 0),
        CHI,
        [(Speaker.COLLECTOR, "This is an attempt to collect a debt")],
        language="en",
        team="team_us",
    )
    findings(
        "w47-us-late",
        [
            _finding(
                built.contact_ids["w47-us-late"],
                "US-TIME-001",
                Category.CONTACT_TIME,
                Severity.LOW,
                None,
                (0, 0),
                "22:30",
            )
        ],
    )
    # Shanghai Monday Nov 23 01:00 local is Sunday Nov 22 17:00 UTC (UTC week W47) -> local W48
    add("w48-sh-early", "good_li", local(SH, 2026, 11, 23, 1, 0), SH, [(Speaker.COLLECTOR, "您好")])

    # good_li in W47: 3 clean calls
    for i in range(3):
        add(
            f"w47-good-{i}",
            "good_li",
            local(SH, 2026, 11, 16, 9 + i),
            SH,
            [(Speaker.COLLECTOR, "您好，我是工号3021")],
        )

    # reviews: dismiss zhao's two findings; confirm one of wang's; one dismissed then re-confirmed
    all_findings = {sf.external_id + ":" + sf.finding.rule_id: sf.id for sf in store.findings()}
    built.finding_ids = all_findings
    for i in range(2):
        store.add_review(
            all_findings[f"w47-dis-{i}:CN-FALSE-002"],
            Decision.DISMISSED,
            "reviewer_a",
            "lawful statement of consequences",
        )
    store.add_review(
        all_findings["w47-bad-0:CN-THREAT-004"], Decision.CONFIRMED, "reviewer_a", "clear threat"
    )
    store.add_review(
        all_findings["w47-bad-1:CN-FALSE-001"], Decision.DISMISSED, "reviewer_b", "misheard"
    )
    store.add_review(
        all_findings["w47-bad-1:CN-FALSE-001"],
        Decision.CONFIRMED,
        "reviewer_c",
        "re-listened: 坐牢 is said",
    )

    store.record_failure(
        run_id,
        path=f"calls/audio/{MOBILE}_broken.wav",
        stage="transcribe",
        error="cannot decode: invalid data",
    )
    store.finish_run(run_id, "partial")
    store.finish_run(scan_run, "ok")
    return built


def week_bounds(week_monday: datetime) -> tuple[datetime, datetime]:
    return week_monday, week_monday + timedelta(days=7)
