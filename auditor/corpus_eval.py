"""End-to-end accuracy on a labelled corpus such as `sample_calls/`: run the whole pipeline, then
compare the stored findings with `labels.jsonl` and the stored transcripts with the scripts.

A labelled finding is found when a finding of the same category on the same contact overlaps its
time (within a tolerance; metadata findings such as contact hours match on the contact alone).
Several findings on one labelled violation count once; a finding that overlaps no labelled
violation is a false alarm, and overlapping false alarms count once.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auditor.errors import AuditorError
from auditor.models import Category
from auditor.store import Store

log = logging.getLogger(__name__)

TOLERANCE_S = 2.0  # ASR segment edges drift by about a second from the script's
WHOLE_CONTACT = {Category.CONTACT_TIME.value, Category.CONTACT_FREQUENCY.value}


class CorpusError(AuditorError):
    """A labelled corpus that cannot be read."""


@dataclass(frozen=True, slots=True)
class Span:
    contact: str
    category: str
    start: float
    end: float
    text: str
    rule: str = ""

    def overlaps(self, other: Span) -> bool:
        if self.category in WHOLE_CONTACT:
            return True
        return self.start - TOLERANCE_S <= other.end and other.start - TOLERANCE_S <= self.end


def read_labels(folder: Path) -> list[dict[str, Any]]:
    path = folder / "labels.jsonl"
    if not path.is_file():
        raise CorpusError(f"{folder}: no labels.jsonl; `auditor eval` needs the ground truth")
    labels = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            labels.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{path}:{number}: not valid JSON: {exc.msg}") from None
    return labels


def _ratio(num: int, den: int) -> float:
    return round(num / den, 4) if den else 1.0


def compare_findings(labels: list[dict[str, Any]], store: Store) -> dict[str, Any]:
    """Precision, recall and F1 per category, with the misses and false alarms listed."""
    audited = {label["contact"] for label in labels if not label.get("broken")}
    truth: dict[tuple[str, str], list[Span]] = defaultdict(list)
    for label in labels:
        if label.get("broken"):
            continue
        for item in label.get("findings", []):
            truth[(label["contact"], item["category"])].append(
                Span(
                    label["contact"],
                    item["category"],
                    float(item.get("start", 0.0)),
                    float(item.get("end", 0.0)),
                    item.get("note", ""),
                )
            )
    found: dict[tuple[str, str], list[Span]] = defaultdict(list)
    for stored in store.findings():
        f = stored.finding
        if stored.external_id not in audited or f.status != "stable":
            continue
        found[(stored.external_id, f.category.value)].append(
            Span(stored.external_id, f.category.value, f.start_s, f.end_s, f.quote, f.rule_id)
        )
    counts: dict[str, dict[str, int]] = {c.value: {"tp": 0, "fp": 0, "fn": 0} for c in Category}
    misses: list[dict[str, Any]] = []
    false_alarms: list[dict[str, Any]] = []
    for key in sorted(set(truth) | set(found)):
        expected, predicted = truth.get(key, []), found.get(key, [])
        category = key[1]
        for span in expected:
            if any(span.overlaps(p) for p in predicted):
                counts[category]["tp"] += 1
            else:
                counts[category]["fn"] += 1
                misses.append(
                    {
                        "contact": span.contact,
                        "category": category,
                        "start": span.start,
                        "note": span.text,
                    }
                )
        alarms = [p for p in predicted if not any(p.overlaps(e) for e in expected)]
        clusters: list[list[Span]] = []
        for alarm in sorted(alarms, key=lambda s: s.start):
            if clusters and any(alarm.overlaps(member) for member in clusters[-1]):
                clusters[-1].append(alarm)
            else:
                clusters.append([alarm])
        for cluster in clusters:
            counts[category]["fp"] += 1
            false_alarms.append(
                {
                    "contact": key[0],
                    "category": category,
                    "start": cluster[0].start,
                    "rules": sorted({s.rule for s in cluster}),
                    "text": cluster[0].text,
                }
            )
    per_category = {}
    for category, c in counts.items():
        if not (c["tp"] or c["fp"] or c["fn"]):
            continue
        precision, recall = _ratio(c["tp"], c["tp"] + c["fp"]), _ratio(c["tp"], c["tp"] + c["fn"])
        f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
        per_category[category] = {"precision": precision, "recall": recall, "f1": f1, **c}
    return {"per_category": per_category, "misses": misses, "false_alarms": false_alarms}


def transcription_error(labels: list[dict[str, Any]], store: Store) -> dict[str, Any]:
    """Character error rate (Chinese) and word error rate (English) per speaker."""
    from auditor.transcribe.evaluate import Evaluation, score_call

    by_external = {c.external_id: c for c in store.contacts(channel="call")}
    evaluation = Evaluation()
    for label in labels:
        contact = by_external.get(label["contact"])
        if label.get("kind") != "call" or label.get("broken") or contact is None:
            continue
        if not label.get("utterances"):
            continue
        assert contact.id is not None
        score_call(label, store.segments(contact.id), evaluation)
    cer: dict[str, float | None] = {}
    wer: dict[str, float | None] = {}
    for row in evaluation.table():
        (cer if row["language"] == "zh" else wer)[row["speaker"]] = row["rate"]
    return {"cer": cer, "wer": wer, "asr_table": evaluation.table()}


def evaluate_corpus(store: Store, folder: Path) -> dict[str, Any]:
    """Compare what the pipeline stored for `folder` with its labels."""
    labels = read_labels(folder)
    result = compare_findings(labels, store)
    result.update(transcription_error(labels, store))
    result["contacts"] = sum(1 for label in labels if not label.get("broken"))
    return result


def format_corpus_evaluation(result: dict[str, Any], show: int = 20) -> str:
    from auditor.engine.evaluate import category_table

    lines = [f"{result['contacts']} labelled contacts", *category_table(result["per_category"])]
    for row in result["asr_table"]:
        rate = "n/a" if row["rate"] is None else f"{row['rate']:.3f}"
        lines.append(
            f"{row['metric']} {row['language']} {row['speaker']:<9} {rate} "
            f"({row['errors']} errors / {row['reference']} reference tokens)"
        )
    for title, key in (("misses", "misses"), ("false alarms", "false_alarms")):
        entries = result[key]
        lines.append(f"{title}: {len(entries)}")
        for e in entries[:show]:
            rules = f" {','.join(e['rules'])}" if "rules" in e else ""
            note = e.get("note") or e.get("text") or ""
            lines.append(f"  {e['contact']} {e['start']:.1f}s [{e['category']}]{rules} {note}")
    return "\n".join(lines)
