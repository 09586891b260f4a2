"""Benchmark: build the weekly report from a store of 100,000 contacts and 20,000 findings.

Prints the time and peak memory of the report (weekly page alone, and with every collector's
scorecard), against the time pandas needs just to load the same rows with read_sql, measured in
the same run on the same store, and the ratio of the two.

    PYTHONPATH=. python bench/report.py                 # 100,000 contacts, 20,000 findings
    PYTHONPATH=. python bench/report.py --contacts 20000 --findings 4000
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.report import build_weekly_report
from auditor.store import open_store
from auditor.store import schema as t

WEEKS = 8
FIRST_MONDAY = datetime(2026, 9, 28, tzinfo=UTC)  # 2026-W40; the last week is 2026-W47
CATEGORIES = ["threat", "false_claim", "insult", "privacy", "pressure", "contact_time", "procedure"]
SEVERITIES = ["critical", "high", "high", "medium", "medium", "medium", "low", "low"]
PHRASES = [
    "再不还我就打给你所有联系人",
    "不还钱就等着坐牢吧",
    "你这个废物",
    "请尽快还款",
    "赶紧去借钱还上",
]


def _ensure_textmask() -> None:
    try:
        import auditor.textmask  # noqa: F401
    except ImportError:  # until the engine's masking module is merged: the tests' stand-in
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        import report_support

        report_support.ensure_textmask()


def populate(db: Path, contacts: int, findings: int, seed: int = 47) -> None:
    rng = random.Random(seed)
    store = open_store(db)
    run_id = store.begin_run("bench", options={"contacts": contacts, "findings": findings})
    collectors = [f"w{k:03d}" for k in range(80)]
    contact_rows, segment_rows = [], []
    for i in range(contacts):
        zone = "America/Chicago" if i % 10 == 0 else "Asia/Shanghai"
        started = FIRST_MONDAY + timedelta(seconds=rng.randrange(WEEKS * 7 * 86400))
        channel = "call" if i % 4 else "sms"
        contact_rows.append(
            {
                "id": i + 1,
                "external_id": f"c{i:06d}",
                "version": 1,
                "is_current": True,
                "channel": channel,
                "collector_id": rng.choice(collectors),
                "team": f"team_{i % 7}",
                "account_id": f"A{rng.randrange(30000):05d}",
                "party_reached": "debtor",
                "direction": "outbound",
                "started_at": started.replace(tzinfo=None),
                "timezone": zone,
                "duration_s": rng.uniform(20, 400) if channel == "call" else None,
                "source_path": f"/data/calls/c{i:06d}.wav" if channel == "call" else "",
                "source_sha256": hashlib.sha256(str(i).encode()).hexdigest(),
                "collector_channel": "left",
                "language": "en" if zone.startswith("America") else "zh",
                "connected": True,
                "ingest_run": run_id,
            }
        )
    finding_contacts = rng.sample(range(1, contacts + 1), findings)
    finding_rows = []
    for k, contact_id in enumerate(finding_contacts):
        text = rng.choice(PHRASES)
        segment_rows.append(
            {
                "contact_id": contact_id,
                "idx": 0,
                "speaker": "collector",
                "start_s": 3.0,
                "end_s": 6.0,
                "text": f"您好。{text}，听见没有",
            }
        )
        finding_rows.append(
            {
                "id": k + 1,
                "contact_id": contact_id,
                "stage": "scan",
                "segment_index": 0,
                "rule_id": f"CN-BENCH-{k % 30:03d}",
                "ruleset_version": "bench",
                "category": rng.choice(CATEGORIES),
                "severity": rng.choice(SEVERITIES),
                "confidence": 0.9,
                "speaker": "collector",
                "span_start": 3,
                "span_end": 3 + len(text),
                "start_s": 3.0,
                "end_s": 6.0,
                "quote": text,
                "evidence": json.dumps({"matcher": "phrase", "pattern": text, "why": "bench"}),
                "related_contacts": "[]",
                "rule_status": "preview" if k % 50 == 0 else "stable",
                "run_id": run_id,
            }
        )
    review_rows = [
        {
            "finding_id": k + 1,
            "decision": "dismissed" if k % 3 else "confirmed",
            "reviewer": "bench",
            "reason": "",
            "decided_at": datetime(2026, 11, 25),
        }
        for k in range(0, findings, 10)
    ]
    with store.engine.begin() as conn:
        for table, rows in (
            (t.contact, contact_rows),
            (t.segment, segment_rows),
            (t.finding, finding_rows),
            (t.review, review_rows),
        ):
            for start in range(0, len(rows), 5000):
                conn.execute(insert(table), rows[start : start + 5000])
    store.finish_run(run_id, "ok")
    store.close()


def load_rows_baseline(db: Path) -> tuple[float, int]:
    """pandas alone: read_sql of the rows the report reads (contacts and findings of 8 weeks)."""
    store = open_store(db)
    start = time.perf_counter()
    with store.engine.connect() as conn:
        contacts = pd.read_sql(select(t.contact).where(t.contact.c.is_current.is_(True)), conn)
        findings = pd.read_sql(
            select(t.finding, t.review.c.decision).outerjoin(
                t.review, t.review.c.finding_id == t.finding.c.id
            ),
            conn,
        )
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed, len(contacts) + len(findings)


def timed_report(db: Path, out: Path, scorecards: bool) -> float:
    store = open_store(db)
    gc.collect()
    start = time.perf_counter()
    build_weekly_report(store, out, week="2026-W47", scorecards=scorecards, rules=None)
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed


def peak_memory(db: Path, out: Path, scorecards: bool) -> float:
    store = open_store(db)
    gc.collect()
    tracemalloc.start()
    build_weekly_report(store, out, week="2026-W47", scorecards=scorecards, rules=None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    store.close()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--findings", type=int, default=20_000)
    parser.add_argument("--db", type=Path, default=None, help="reuse or create this store")
    args = parser.parse_args()
    _ensure_textmask()
    work = Path(tempfile.mkdtemp(prefix="auditor-bench-"))
    db = args.db or work / "bench.db"
    if not db.exists():
        start = time.perf_counter()
        populate(db, args.contacts, args.findings)
        print(
            f"store: {args.contacts:,} contacts, {args.findings:,} findings written in "
            f"{time.perf_counter() - start:.1f} s ({db})"
        )
    load_rows_baseline(db)  # warm the page cache so neither side pays for the first read
    baseline, rows = load_rows_baseline(db)
    weekly = timed_report(db, work / "weekly", scorecards=False)
    full = timed_report(db, work / "full", scorecards=True)
    baseline_again, _ = load_rows_baseline(db)
    base = min(baseline, baseline_again)
    weekly_peak = peak_memory(db, work / "weekly-mem", scorecards=False)
    full_peak = peak_memory(db, work / "full-mem", scorecards=True)
    pages = len(list((work / "full" / "2026-W47").glob("collector-*.html")))
    print(f"baseline  pandas read_sql of {rows:,} rows (contacts + findings): {base:.2f} s")
    print(
        f"weekly report alone:            {weekly:.2f} s  peak traced memory {weekly_peak:.0f} MiB"
        f"  ratio {weekly / base:.2f}x the baseline"
    )
    print(
        f"weekly report + {pages} scorecards: {full:.2f} s  peak traced memory {full_peak:.0f} MiB"
        f"  ratio {full / base:.2f}x the baseline"
    )
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
