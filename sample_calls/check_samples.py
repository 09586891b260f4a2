"""Check that sample_calls/ is consistent: manifest, message logs, labels and audio agree.

Needs only the standard library and PyAV (installed with auditor), not auditor itself:

    /work/main/.venv/bin/python sample_calls/check_samples.py

Exits non-zero with one line per problem.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import datetime
from pathlib import Path

import av

HERE = Path(__file__).resolve().parent
CATEGORIES = {
    "threat", "false_claim", "insult", "privacy", "pressure",
    "contact_time", "contact_frequency", "procedure",
}  # fmt: skip
SPEAKERS = {"collector", "customer", "unknown"}


def duration_of(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        last = 0.0
        for frame in container.decode(stream):
            last = float(frame.time or 0.0) + frame.samples / frame.sample_rate
        return last


def id_number_valid(number: str) -> bool:
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    total = sum(int(d) * w for d, w in zip(number[:17], weights, strict=True))
    return "10X98765432"[total % 11] == number[17]


def luhn_valid(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def main() -> int:
    problems: list[str] = []
    labels = {}
    for n, line in enumerate((HERE / "labels.jsonl").read_text(encoding="utf-8").splitlines(), 1):
        obj = json.loads(line)
        if obj["contact"] in labels:
            problems.append(f"labels.jsonl:{n}: duplicate contact {obj['contact']}")
        labels[obj["contact"]] = obj

    with (HERE / "manifest.csv").open(encoding="utf-8", newline="") as fh:
        manifest = list(csv.DictReader(fh))
    total = 0.0
    for n, row in enumerate(manifest, 2):
        where = f"manifest.csv:{n} ({row['call_id']})"
        datetime.fromisoformat(row["start_time"])
        label = labels.get(row["call_id"])
        if label is None:
            problems.append(f"{where}: no label")
            continue
        path = HERE / row["file"]
        if not path.exists():
            problems.append(f"{where}: {row['file']} does not exist")
            continue
        if label.get("broken"):
            try:
                duration_of(path)
                problems.append(f"{where}: labelled broken but decodes")
            except (av.error.FFmpegError, IndexError):
                pass
            continue
        duration = duration_of(path)
        total += duration
        with av.open(str(path)) as container:
            channels = container.streams.audio[0].codec_context.channels
        if row["collector_channel"] and channels != 2:
            problems.append(f"{where}: collector_channel set on a {channels}-channel file")
        previous_start = -1.0
        for i, utt in enumerate(label["utterances"]):
            if not 0 <= utt["start"] < utt["end"] <= duration + 0.01:
                problems.append(
                    f"{where}: utterance {i} {utt['start']}-{utt['end']} outside 0-{duration:.2f}"
                )
            if utt["start"] < previous_start or utt["speaker"] not in SPEAKERS:
                problems.append(f"{where}: utterance {i} out of order or bad speaker")
            previous_start = utt["start"]
        for f in label["findings"]:
            if f["category"] not in CATEGORIES:
                problems.append(f"{where}: unknown category {f['category']}")
            if not 0 <= f["start"] <= f["end"] <= duration + 0.01:
                problems.append(f"{where}: finding {f['category']} outside the audio")
            if (
                f["utterance"] is not None
                and label["utterances"][f["utterance"]]["speaker"] != "collector"
            ):
                problems.append(f"{where}: finding {f['category']} points at the customer's words")

    message_ids = []
    for name, encoding in (("messages.csv", "utf-8"), ("messages_gb18030.csv", "gb18030")):
        raw = (HERE / name).read_bytes()
        if encoding == "gb18030":
            try:
                raw.decode("utf-8")
                problems.append(
                    f"{name}: decodes as UTF-8, so it does not exercise GB18030 detection"
                )
            except UnicodeDecodeError:
                pass
        for n, row in enumerate(csv.DictReader(raw.decode(encoding).splitlines()), 2):
            datetime.fromisoformat(row["time"])
            message_ids.append(row["message_id"])
            if row["message_id"] not in labels:
                problems.append(f"{name}:{n}: no label for {row['message_id']}")

    known = {row["call_id"] for row in manifest} | set(message_ids)
    problems += [
        f"labels.jsonl: {c} is in no manifest or message log" for c in labels if c not in known
    ]

    # Every long number in the corpus must be one of the generated fakes, checksum-valid.
    text = "\n".join(u["text"] for obj in labels.values() for u in obj["utterances"])
    for number in re.findall(r"(?<!\d)\d{16,19}(?!\d)", text):
        if len(number) == 18 and not id_number_valid(number):
            problems.append(f"labels: 18-digit number {number} fails the ID check digit")
        elif len(number) != 18 and not luhn_valid(number):
            problems.append(f"labels: card number {number} fails Luhn")

    for p in problems:
        print(p)
    calls = sum(
        1 for r in manifest if r["connected"] == "true" and not labels[r["call_id"]].get("broken")
    )
    print(f"{len(manifest)} manifest rows ({calls} connected calls), {len(message_ids)} messages, "
          f"{total / 60:.1f} min of audio, {len(problems)} problems")  # fmt: skip
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
