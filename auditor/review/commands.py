"""What `auditor review …`, `auditor serve` and `auditor rules feedback` do, as functions that
return lines (cli.py prints them) or data (for `--json`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auditor.models import Decision, as_plain
from auditor.review.decisions import decide, default_reviewer
from auditor.review.feedback import rule_feedback, write_no_match_candidates
from auditor.review.queue import QueueItem, review_queue
from auditor.review.spreadsheet import ImportSummary, export_queue, import_decisions
from auditor.review.web import QueueFilters, make_review_server
from auditor.store import Store


def queue_lines(items: Sequence[QueueItem]) -> list[str]:
    """Two lines per finding: what and where, then the quote in its (masked) context."""
    if not items:
        return ["No findings match."]
    lines = []
    for item in items:
        stored, finding = item.stored, item.stored.finding
        on_timeline = stored.channel == "call" and finding.segment_index is not None
        at = f" at {finding.start_s:.1f}s" if on_timeline else ""
        lines.append(
            f"#{stored.id}  {finding.severity.value:<8} {finding.confidence:.2f}  "
            f"{finding.rule_id}  [{item.status}]  contact {stored.external_id}{at}  "
            f"collector {stored.collector_id}  {item.local_time:%Y-%m-%d %H:%M %Z}"
        )
        lines.append(f"    {item.context.marked()}")
    lines.append(f"{len(items)} finding(s).")
    return lines


def queue_json(items: Sequence[QueueItem]) -> list[dict[str, Any]]:
    return [
        {
            "finding_id": item.id,
            "status": item.status,
            "rule_id": item.stored.finding.rule_id,
            "category": item.stored.finding.category.value,
            "severity": item.stored.finding.severity.value,
            "confidence": item.stored.finding.confidence,
            "contact": item.stored.external_id,
            "channel": item.stored.channel,
            "collector_id": item.stored.collector_id,
            "local_time": item.local_time.isoformat(),
            "start_s": item.stored.finding.start_s,
            "context": as_plain(item.context),
            "why": item.stored.finding.evidence.why,
        }
        for item in items
    ]


def review_list(
    store: Store,
    status: str = "open",
    collector_id: str | None = None,
    category: str | None = None,
    min_severity: str | None = None,
    limit: int | None = None,
) -> list[QueueItem]:
    """`auditor review list`: the queue, most severe first, then most confident, then oldest."""
    return review_queue(store, status, collector_id, category, min_severity, limit)


def review_decide(
    store: Store,
    finding_ids: Sequence[int],
    decision: Decision,
    reviewer: str | None = None,
    reason: str = "",
) -> list[str]:
    """`auditor review confirm|dismiss ID…`: one transaction for all ids."""
    who = default_reviewer(reviewer)
    decide(store, finding_ids, decision, who, reason)
    ids = ", ".join(f"#{i}" for i in finding_ids)
    return [f"{len(finding_ids)} finding(s) {decision.value} by {who}: {ids}"]


def review_import(store: Store, path: Path, reviewer: str | None = None) -> ImportSummary:
    """`auditor review import FILE.csv`: `summary.describe()` gives the lines; exit 3 when
    `summary.errors` (the good rows are imported all the same).

    The import is a run of its own, and each bad row a recorded failure with its line, like a
    bad manifest row at ingest.
    """
    run_id = store.begin_run("review import", {"file": str(path)})
    try:
        summary = import_decisions(store, path, reviewer)
    except Exception:
        store.finish_run(run_id, "failed")
        raise
    for line, message in zip(summary.bad_lines, summary.errors, strict=True):
        store.record_failure(run_id, str(path), "review", message, line=line)
    store.finish_run(run_id, "partial" if summary.errors else "ok")
    return summary


def review_export_queue(
    store: Store,
    path: Path,
    collector_id: str | None = None,
    category: str | None = None,
    min_severity: str | None = None,
    limit: int | None = None,
) -> list[str]:
    """`auditor review export-queue FILE.csv`."""
    count = export_queue(store, path, collector_id, category, min_severity, limit)
    return [
        f"{path}: {count} open finding(s). Fill in decision (confirmed/dismissed), reason and "
        f"reviewer, then `auditor review import {path}`."
    ]


def rules_feedback(store: Store, top_reasons: int = 5) -> list[str]:
    """`auditor rules feedback`: per rule, confirmed / dismissed / open and why dismissed."""
    entries = rule_feedback(store)
    if not entries:
        return ["No findings in the store yet."]
    lines = []
    for entry in entries:
        precision = "" if entry.precision is None else f"  ({entry.precision:.0%} confirmed)"
        lines.append(
            f"{entry.rule_id}: {entry.confirmed} confirmed, {entry.dismissed} dismissed, "
            f"{entry.open} open{precision}"
        )
        for reason, count in entry.reasons.most_common(top_reasons):
            lines.append(f"    {count} × {reason}")
        rest = len(entry.reasons) - top_reasons
        if rest > 0:
            lines.append(f"    … and {rest} other reason(s)")
    return lines


def rules_feedback_write_examples(
    store: Store, out_dir: Path, rules_dir: Path | None = None
) -> list[str]:
    """`auditor rules feedback --write-examples`: `out_dir/<RULE-ID>.yaml` per rule."""
    written = write_no_match_candidates(store, out_dir, rules_dir)
    if not written:
        return ["No dismissed findings to propose as no_match examples."]
    return [f"{path}: no_match candidates for the rule's owner" for path in written]


def serve(
    store: Store,
    reviewer: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    collector_id: str | None = None,
    category: str | None = None,
    min_severity: str | None = None,
) -> tuple[Any, str]:
    """`auditor serve`: returns (server, url); cli.py prints the url, then
    `server.serve_forever()` until Ctrl-C, then `server.server_close()`."""
    return make_review_server(
        store,
        default_reviewer(reviewer),
        host,
        port,
        QueueFilters(collector_id, category, min_severity),
    )
