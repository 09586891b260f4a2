"""`auditor eval LABELS`: precision, recall and F1 per category on labelled utterances.

A labels file is JSON Lines, one utterance a line: `text`, `speaker` (collector/customer),
`language` (zh/en), `labels` (categories; empty when clean), optional `party`
(debtor/third_party). Each utterance is scanned alone with the pack's text rules; call-level
(procedure by absence or order) and metadata rules need a whole call and are not evaluated here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.engine.pack import RulePack
from auditor.errors import AuditorError
from auditor.models import Category


class LabelsError(AuditorError):
    """A labels file that cannot be read, or one of its lines."""


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsError(f"{path}: cannot read the labels file: {exc}") from exc
    items = []
    known = {c.value for c in Category}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelsError(f"{path}:{n}: not JSON: {exc.msg}") from exc
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise LabelsError(f"{path}:{n}: text: a JSON object with a text string is needed")
        labels = item.get("labels", [])
        if not isinstance(labels, list) or any(lab not in known for lab in labels):
            raise LabelsError(f"{path}:{n}: labels: {labels!r}; categories are {sorted(known)}")
        if item.get("speaker", "collector") not in ("collector", "customer", "unknown"):
            raise LabelsError(f"{path}:{n}: speaker: {item.get('speaker')!r}")
        item["_line"] = n
        items.append(item)
    return items


def _ratio(num: int, den: int, empty: float) -> float:
    return round(num / den, 4) if den else empty


def evaluate(pack: RulePack, path: str | Path, include_preview: bool = False) -> dict[str, Any]:
    """Scores per category plus the misses and false alarms, as `eval --json` prints them.

    Preview rules are left out by default, as they are from scorecards (STYLE.md).
    """
    path = Path(path)
    items = _read(path)
    counts: dict[str, dict[str, int]] = {}
    misses: list[dict[str, Any]] = []
    false_alarms: list[dict[str, Any]] = []
    for item in items:
        findings = pack.scan_text(
            item["text"],
            speaker=item.get("speaker", "collector"),
            language=item.get("language", ""),
            party=item.get("party", "unknown") or "unknown",
        )
        if not include_preview:
            findings = [f for f in findings if f.status != "preview"]
        predicted = {f.category.value for f in findings}
        expected = set(item.get("labels", []))
        for cat in predicted | expected:
            c = counts.setdefault(cat, {"tp": 0, "fp": 0, "fn": 0})
            if cat in predicted and cat in expected:
                c["tp"] += 1
            elif cat in predicted:
                c["fp"] += 1
            else:
                c["fn"] += 1
        base = {
            "line": item["_line"],
            "text": item["text"],
            "speaker": item.get("speaker", "collector"),
            "language": item.get("language", ""),
            "expected": sorted(expected),
            "predicted": sorted(predicted),
        }
        for cat in sorted(expected - predicted):
            misses.append({**base, "category": cat})
        for cat in sorted(predicted - expected):
            fired = [f for f in findings if f.category.value == cat]
            false_alarms.append(
                {
                    **base,
                    "category": cat,
                    "rules": sorted({f.rule_id for f in fired}),
                    "quotes": [f.quote for f in fired],
                }
            )
    per_category = {}
    for cat in sorted(counts):
        c = counts[cat]
        precision = _ratio(c["tp"], c["tp"] + c["fp"], 1.0 if c["fn"] == 0 else 0.0)
        recall = _ratio(c["tp"], c["tp"] + c["fn"], 1.0 if c["fp"] == 0 else 0.0)
        f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
        per_category[cat] = {"precision": precision, "recall": recall, "f1": f1, **c}
    return {
        "file": str(path),
        "utterances": len(items),
        "ruleset_version": pack.version,
        "per_category": per_category,
        "misses": misses,
        "false_alarms": false_alarms,
    }


def category_table(per_category: dict[str, dict[str, Any]]) -> list[str]:
    """The precision / recall / F1 table, one line per category, shared by both evals."""
    lines = [
        f"{'category':<18} {'precision':>9} {'recall':>7} {'f1':>6} {'tp':>5} {'fp':>5} {'fn':>5}"
    ]
    for cat, s in per_category.items():
        lines.append(
            f"{cat:<18} {s['precision']:>9.3f} {s['recall']:>7.3f} {s['f1']:>6.3f} "
            f"{s['tp']:>5} {s['fp']:>5} {s['fn']:>5}"
        )
    return lines


def format_evaluation(result: dict[str, Any], show: int = 20) -> str:
    """The table `auditor eval` prints, with the first misses and false alarms."""
    lines = [
        f"{result['utterances']} utterances in {result['file']} "
        f"(rule set {result['ruleset_version']})",
        *category_table(result["per_category"]),
    ]
    for title, key in (("misses", "misses"), ("false alarms", "false_alarms")):
        entries = result[key]
        lines.append(f"{title}: {len(entries)}")
        for e in entries[:show]:
            extra = f" {e['rules']}" if "rules" in e else ""
            lines.append(f"  line {e['line']} [{e['category']}]{extra} {e['text']}")
    return "\n".join(lines)
