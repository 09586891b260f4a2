"""How far transcripts are from what was said: character error rate (Chinese) and word error rate
(English) per speaker, against the scripts of a labelled call folder (labels.jsonl, FORMATS.md).

Used by bench/asr_error.py and by `auditor eval`; measured, not asserted, since the numbers
describe the model and the audio rather than this code.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.models import Segment
from auditor.transcribe.hygiene import to_simplified
from auditor.transcribe.options import TranscribeOptions
from auditor.transcribe.pool import RecordingJob, TranscriptionPool
from auditor.transcribe.recording import RecordingTranscript

log = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z0-9']+")


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Levenshtein distance between two token lists (substitutions, insertions, deletions)."""
    if len(reference) < len(hypothesis):
        reference, hypothesis = hypothesis, reference
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def tokens(text: str, language: str) -> list[str]:
    """Characters of Chinese (simplified, no punctuation or spaces) or lower-case English words."""
    text = unicodedata.normalize("NFKC", text).lower()
    if language == "zh":
        text = to_simplified(text)
        return [c for c in text if unicodedata.category(c)[0] in "LN"]
    return _WORD.findall(text.replace("’", "'"))


@dataclass(slots=True)
class ErrorCount:
    errors: int = 0
    reference: int = 0

    @property
    def rate(self) -> float | None:
        return self.errors / self.reference if self.reference else None

    def add(self, errors: int, reference: int) -> None:
        self.errors += errors
        self.reference += reference


@dataclass(slots=True)
class Evaluation:
    """Error counts keyed by (language, speaker); speaker "all" compares whole calls, which is
    the only comparison a mono recording allows."""

    counts: dict[tuple[str, str], ErrorCount] = field(default_factory=dict)
    per_call: list[dict[str, Any]] = field(default_factory=list)
    audio_s: float = 0.0
    wall_s: float = 0.0
    failures: list[str] = field(default_factory=list)

    def count(self, language: str, speaker: str) -> ErrorCount:
        return self.counts.setdefault((language, speaker), ErrorCount())

    def table(self) -> list[dict[str, Any]]:
        return [
            {
                "language": language,
                "speaker": speaker,
                "metric": "CER" if language == "zh" else "WER",
                "rate": None if c.rate is None else round(c.rate, 4),
                "errors": c.errors,
                "reference": c.reference,
            }
            for (language, speaker), c in sorted(self.counts.items())
        ]


def score_call(
    label: dict[str, Any], segments: list[Segment], evaluation: Evaluation
) -> dict[str, Any]:
    language = label.get("language") or "zh"
    row: dict[str, Any] = {"contact": label["contact"], "language": language}
    # Stereo: each party against its own lines, and "all" is their sum (the parties overlap in
    # time, so one interleaved string would count reordering as errors). Mono: the whole call in
    # time order, the only comparison it allows.
    stereo = bool(segments) and all(s.speaker.value != "unknown" for s in segments)
    stereo = stereo or (not segments and label.get("stereo", True))
    total = ErrorCount()
    for group in ["collector", "customer"] if stereo else ["all"]:
        reference = [
            t
            for u in sorted(label["utterances"], key=lambda u: u["start"])
            if group == "all" or u["speaker"] == group
            for t in tokens(u["text"], language)
        ]
        hypothesis = [
            t
            for s in segments
            if group == "all" or s.speaker.value == group
            for t in tokens(s.text, language)
        ]
        errors = edit_distance(reference, hypothesis)
        evaluation.count(language, group).add(errors, len(reference))
        row[group] = round(errors / len(reference), 4) if reference else None
        total.add(errors, len(reference))
    if stereo:
        evaluation.count(language, "all").add(total.errors, total.reference)
        row["all"] = None if total.rate is None else round(total.rate, 4)
    row["hypothesis"] = " | ".join(f"{s.speaker.value[:3]}: {s.text}" for s in segments)
    return row


def read_labelled_calls(folder: Path) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """(label, manifest row) of every call that has a recording and is not marked broken."""
    labels = {}
    with open(folder / "labels.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                label = json.loads(line)
                if label.get("kind") == "call" and not label.get("broken"):
                    labels[label["contact"]] = label
    with open(folder / "manifest.csv", encoding="utf-8-sig", newline="") as handle:
        rows = {row["call_id"]: row for row in csv.DictReader(handle)}
    return [(labels[c], rows[c]) for c in sorted(labels) if c in rows and labels[c]["utterances"]]


def evaluate_folder(
    folder: str | Path,
    options: TranscribeOptions,
    *,
    workers: int = 1,
    use_cache: bool = False,
    contacts: Iterable[str] | None = None,
) -> Evaluation:
    """Transcribe every labelled call of `folder` and score it against its script.

    The cache is off by default so the timing is the model's, not the disk's.
    """
    from auditor.transcribe.cache import TranscriptCache

    root = Path(folder)
    calls = read_labelled_calls(root)
    if contacts is not None:
        wanted = set(contacts)
        calls = [(label, row) for label, row in calls if label["contact"] in wanted]
    jobs = [
        RecordingJob(
            i,
            str(root / row["file"]),
            row.get("collector_channel") or "left",
            row.get("language") or label.get("language"),
        )
        for i, (label, row) in enumerate(calls)
    ]
    evaluation = Evaluation()
    pool = TranscriptionPool(options, workers, TranscriptCache() if use_cache else None)
    started = time.perf_counter()
    for job, result in pool.run(jobs):
        label = calls[int(job.key)][0]  # type: ignore[call-overload]
        if not isinstance(result, RecordingTranscript):
            evaluation.failures.append(f"{job.path}: {result}")
            continue
        evaluation.audio_s += result.duration_s or 0.0
        evaluation.per_call.append(score_call(label, result.segments, evaluation))
    evaluation.wall_s = time.perf_counter() - started
    evaluation.per_call.sort(key=lambda r: r["contact"])
    return evaluation
