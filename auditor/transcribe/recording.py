"""One recording in, one speaker-labelled timeline out: sidecar transcript, cache, or Whisper."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from auditor.errors import AudioError
from auditor.models import Segment, Speaker
from auditor.transcribe.audio import WINDOW_S, channels_identical, file_sha256, iter_windows, probe
from auditor.transcribe.backends import Transcriber
from auditor.transcribe.cache import TranscriptCache
from auditor.transcribe.hygiene import clean_segments
from auditor.transcribe.options import TranscribeOptions

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = ".transcript.jsonl"
_SPEAKER_ORDER = {Speaker.COLLECTOR: 0, Speaker.CUSTOMER: 1, Speaker.UNKNOWN: 2}


@dataclass(slots=True)
class RecordingTranscript:
    path: str
    segments: list[Segment]
    duration_s: float | None
    source: str  # "whisper", "cache" or "sidecar"
    language: str | None = None


def speaker_of(channel: str, collector_channel: str) -> Speaker:
    """`left`/`right` is a party; `mix` (mono, or two equal channels) is nobody in particular."""
    if channel == "mix":
        return Speaker.UNKNOWN
    if collector_channel not in ("left", "right"):
        raise ValueError(f"collector_channel must be left or right, not {collector_channel!r}")
    return Speaker.COLLECTOR if channel == collector_channel else Speaker.CUSTOMER


def sidecar_path(path: str | Path) -> Path:
    return Path(f"{path}{SIDECAR_SUFFIX}")


def read_sidecar(path: str | Path) -> list[Segment]:
    """A transcript the user already has: JSON lines {speaker, start, end, text}."""
    segments = []
    with open(path, encoding="utf-8-sig") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                start, end = float(raw["start"]), float(raw["end"])
                speaker = Speaker(raw.get("speaker") or "unknown")
                text = str(raw["text"]).strip()
            except (ValueError, KeyError, TypeError) as exc:
                raise AudioError(
                    f"{path}:{line_no}: a transcript line needs speaker (collector, customer or "
                    f"unknown), start, end and text ({exc.__class__.__name__}: {exc})"
                ) from exc
            if end < start or start < 0:
                raise AudioError(f"{path}:{line_no}: end {end} is before start {start}")
            segments.append(Segment(speaker, start, end, text, language=raw.get("language")))
    return sorted(segments, key=_timeline_order)


def _timeline_order(segment: Segment) -> tuple[float, float, int]:
    return (segment.start_s, segment.end_s, _SPEAKER_ORDER[segment.speaker])


def _layouts(channels: int) -> list[list[str]]:
    return [["left", "right"], ["mix"]] if channels == 2 else [["mix"]]


def _channel_audio(samples: np.ndarray, channel: str) -> np.ndarray:
    if channel == "left":
        return samples[0]
    if channel == "right":
        return samples[1]
    return samples.mean(axis=0) if samples.shape[0] > 1 else samples[0]


def transcribe_recording(
    path: str | Path,
    transcriber: Transcriber,
    options: TranscribeOptions,
    *,
    collector_channel: str = "left",
    language: str | None = None,
    audio_sha256: str | None = None,
    cache: TranscriptCache | None = None,
    window_s: float = WINDOW_S,
) -> RecordingTranscript:
    """Transcribe each channel of `path` apart and merge them on one timeline.

    A `<recording>.transcript.jsonl` beside the file is used instead of Whisper. `language` is the
    contact's own (it wins over detection unless `options.language` is set). Raises AudioError for
    a recording that cannot be read; an empty or silent one gives no segments.
    """
    if sidecar_path(path).is_file():
        return RecordingTranscript(str(path), read_sidecar(sidecar_path(path)), None, "sidecar")
    options = options.with_language(language)
    info = probe(path)
    audio_sha256 = audio_sha256 or file_sha256(path)

    def key(channel: str) -> dict:
        return TranscriptCache.key_fields(
            audio_sha256, channel, transcriber.identity, options.fingerprint()
        )

    if cache is not None:
        for candidate in _layouts(info.channels):
            cached = [cache.get(key(channel)) for channel in candidate]
            if all(c is not None for c in cached):
                merged = [
                    replace(s, speaker=speaker_of(channel, collector_channel))
                    for channel, segments in zip(candidate, cached, strict=True)
                    for s in segments or []
                ]
                log.debug("%s: cached transcript", path)
                return RecordingTranscript(
                    str(path), sorted(merged, key=_timeline_order), info.duration_s, "cache"
                )

    layout: list[str] | None = None
    by_channel: dict[str, list[Segment]] = {}
    duration = 0.0
    for window in iter_windows(path, window_s):
        if layout is None:
            stereo = window.samples.shape[0] == 2 and not channels_identical(window.samples)
            layout = ["left", "right"] if stereo else ["mix"]
            if window.samples.shape[0] == 2 and not stereo:
                log.info("%s: both channels are the same; transcribed once as mono", path)
        duration = window.offset_s + window.duration_s
        for channel in layout:
            audio = _channel_audio(window.samples, channel)
            found = transcriber.transcribe(audio, options)
            by_channel.setdefault(channel, []).extend(
                replace(
                    s,
                    start_s=round(s.start_s + window.offset_s, 3),
                    end_s=round(min(s.end_s, window.duration_s) + window.offset_s, 3),
                )
                for s in found
            )
    merged = []
    for channel in layout or ["mix"]:
        cleaned = clean_segments(by_channel.get(channel, []), options)
        if cache is not None:
            cache.put(key(channel), cleaned)
        speaker = speaker_of(channel, collector_channel)
        merged.extend(replace(s, speaker=speaker) for s in cleaned)
    languages = {s.language for s in merged if s.language}
    return RecordingTranscript(
        str(path),
        sorted(merged, key=_timeline_order),
        duration,
        "whisper",
        languages.pop() if len(languages) == 1 else None,
    )
