"""The spreadsheet round trip: the open queue goes out as a CSV to fill in, decisions come back.

Quality teams often review in Excel or WPS. The exported file is UTF-8 with a BOM (so both read
Chinese correctly); the imported one may be UTF-8, UTF-8 with BOM or GB18030, as saved.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from auditor.errors import AuditorError, ReviewError
from auditor.ingest.tables import read_table
from auditor.review.decisions import (
    DecisionRequest,
    check_request,
    default_reviewer,
    insert_decision,
    parse_decision,
    unknown_finding_ids,
    write_transaction,
)
from auditor.review.queue import QueueItem, review_queue
from auditor.store import Store

log = logging.getLogger(__name__)

# The columns a reviewer fills in come first; the rest are there to decide by and are ignored on
# import.
FILL_COLUMNS = ["finding_id", "decision", "reason", "reviewer"]
INFO_COLUMNS = [
    "severity",
    "confidence",
    "category",
    "rule_id",
    "collector_id",
    "team",
    "contact",
    "channel",
    "local_time",
    "at_s",
    "context",
    "why",
]
REQUIRED_COLUMNS = ("finding_id", "decision")

# A cell starting with one of these is run as a formula by spreadsheet programs; transcripts and
# messages are text from outside, so such cells get a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def queue_row(item: QueueItem) -> dict[str, str]:
    stored = item.stored
    finding = stored.finding
    return {
        "finding_id": str(stored.id),
        "decision": "",
        "reason": "",
        "reviewer": "",
        "severity": finding.severity.value,
        "confidence": f"{finding.confidence:.2f}",
        "category": finding.category.value,
        "rule_id": finding.rule_id,
        "collector_id": _cell(stored.collector_id),
        "team": _cell(stored.team),
        "contact": _cell(stored.external_id),
        "channel": stored.channel,
        "local_time": item.local_time.isoformat(),
        "at_s": f"{finding.start_s:.1f}",
        "context": _cell(item.context.marked()),
        "why": _cell(finding.evidence.why),
    }


def export_queue(
    store: Store,
    path: Path,
    collector_id: str | None = None,
    category: str | None = None,
    min_severity: str | None = None,
    limit: int | None = None,
    mask: Callable[[str], str] | None = None,
) -> int:
    """Write the open queue to `path` as a CSV to fill in; returns the number of findings."""
    items = review_queue(
        store,
        status="open",
        collector_id=collector_id,
        category=category,
        min_severity=min_severity,
        limit=limit,
        mask=mask,
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=FILL_COLUMNS + INFO_COLUMNS)
            writer.writeheader()
            writer.writerows(queue_row(item) for item in items)
    except OSError as exc:
        raise ReviewError(f"{path}: cannot write the queue: {exc.strerror or exc}") from exc
    log.info("%s: %d open finding(s) written", path, len(items))
    return len(items)


@dataclass(slots=True)
class ImportSummary:
    path: Path
    imported: int = 0
    undecided: int = 0  # rows left blank: not yet reviewed, not an error
    errors: list[str] = field(default_factory=list)  # "FILE:LINE: what is wrong", in file order
    bad_lines: list[int] = field(default_factory=list)  # the line of each error
    review_ids: list[int] = field(default_factory=list)

    def describe(self) -> list[str]:
        lines = list(self.errors)
        lines.append(
            f"{self.path}: {self.imported} decision(s) imported, {self.undecided} row(s) left "
            f"undecided, {len(self.errors)} bad row(s) skipped"
        )
        return lines


def import_decisions(store: Store, path: Path, reviewer: str | None = None) -> ImportSummary:
    """Read decisions from a CSV (or JSONL) and append the good ones in one transaction.

    Each bad row (unknown finding, a decision that is neither confirmed nor dismissed, a dismissal
    without a reason) is reported as `FILE:LINE: …` and skipped; a row whose reviewer cell is blank
    is credited to `reviewer` (or $AUDITOR_REVIEWER, or the OS user). Rows with a blank decision
    are not yet reviewed and are skipped silently.
    """
    table = read_table(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ReviewError(
            f"{path}:1: missing column(s) {', '.join(missing)}; expected the columns "
            f"{', '.join(FILL_COLUMNS)} (as written by `auditor review export-queue`)"
        )
    summary = ImportSummary(path)
    bad_rows: list[
        tuple[int, str]
    ] = []  # (line, message): two passes find them, reported in file order
    fallback_reviewer: str | None = None
    candidates: list[DecisionRequest] = []
    for row in table.rows:
        where = f"{path}:{row.line}"
        values = row.values
        if "__error__" in values:
            bad_rows.append((row.line, f"{where}: {values['__error__']}"))
            continue
        if not values.get("decision", ""):
            summary.undecided += 1
            continue
        try:
            raw_id = values.get("finding_id", "")
            try:
                finding_id = int(raw_id)
            except ValueError:
                raise ReviewError(f"finding_id {raw_id!r} is not a finding number") from None
            who = values.get("reviewer", "")
            if not who:
                fallback_reviewer = fallback_reviewer or default_reviewer(reviewer)
                who = fallback_reviewer
            request = DecisionRequest(
                finding_id,
                parse_decision(values["decision"]),
                who,
                values.get("reason", ""),
                row.line,
            )
            check_request(request)
        except AuditorError as exc:
            bad_rows.append((row.line, f"{where}: {exc}"))
            continue
        candidates.append(request)

    with write_transaction(store) as conn:
        unknown = set(unknown_finding_ids(conn, [r.finding_id for r in candidates]))
        accepted = []
        for request in candidates:
            if request.finding_id in unknown:
                line = request.line or 0
                bad_rows.append(
                    (line, f"{path}:{line}: no finding with id {request.finding_id} in the store")
                )
            else:
                accepted.append(request)
        decided_at = datetime.now(UTC)
        for request in accepted:
            summary.review_ids.append(insert_decision(conn, request, decided_at))
    bad_rows.sort()
    summary.errors = [message for _line, message in bad_rows]
    summary.bad_lines = [line for line, _message in bad_rows]
    summary.imported = len(summary.review_ids)
    log.info("%s: %d decision(s) imported", path, summary.imported)
    return summary
