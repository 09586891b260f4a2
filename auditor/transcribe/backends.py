"""Speech back ends behind one small protocol: 16 kHz mono float32 in, `Segment`s out.

`faster-whisper` (CTranslate2) is the default: int8 on CPU, float16 and batched on CUDA.
`openai-whisper` is the reference implementation, for comparison and for users who already have
its checkpoints; it needs the `auditor[openai-whisper]` extra (torch).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from auditor.errors import ModelError
from auditor.models import Segment, Speaker
from auditor.transcribe.audio import SAMPLE_RATE
from auditor.transcribe.model import ModelRef, resolve_model
from auditor.transcribe.options import TranscribeOptions

log = logging.getLogger(__name__)

_MIN_SAMPLES = SAMPLE_RATE // 10  # under 0.1 s there is no word to find


@runtime_checkable
class Transcriber(Protocol):
    backend: str
    model: ModelRef
    identity: str  # back end, model hash and numeric precision: part of every cache key

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, speaker: Speaker = Speaker.UNKNOWN
    ) -> list[Segment]:
        """Segments of one channel (16 kHz mono float32), times in seconds from its start."""
        ...


def _prompt(options: TranscribeOptions) -> str | None:
    parts = [p for p in (options.hotwords, options.initial_prompt) if p]
    return " ".join(parts) or None


@dataclass(frozen=True, slots=True)
class RawSegment:
    """A back end's segment on the timeline of the audio it was given (speech only)."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    words: list[tuple[float, float, str]] | None  # (start, end, word) when aligned


def speech_only(audio: np.ndarray, options: TranscribeOptions) -> tuple[np.ndarray, Any]:
    """The speech of one channel, silences cut out by Silero VAD, and the map back to the
    channel's own timeline (None without VAD). Both back ends decode exactly this audio."""
    if options.vad is None:
        return audio, None
    from faster_whisper.vad import SpeechTimestampsMap, VadOptions, get_speech_timestamps

    chunks = get_speech_timestamps(audio, VadOptions(**asdict(options.vad)))
    if not chunks:
        return audio[:0], None
    speech = np.concatenate([audio[c["start"] : c["end"]] for c in chunks])
    return speech, SpeechTimestampsMap(chunks, SAMPLE_RATE)


def to_timeline(
    raw: list[RawSegment],
    time_map: Any,
    options: TranscribeOptions,
    speaker: Speaker,
    language: str | None,
) -> list[Segment]:
    """Segments on the channel's timeline. Whisper decodes the concatenated speech, so one of
    its segments can run across several turns; where the aligned words pause longer than
    `options.split_pause_s` on the real timeline, the segment is split into one per turn."""

    def original(t: float, chunk: int | None = None, is_end: bool = False) -> float:
        return float(time_map.get_original_time(t, chunk, is_end)) if time_map else t

    def segment(start: float, end: float, text: str, source: RawSegment) -> Segment:
        return Segment(
            speaker=speaker,
            start_s=round(float(start), 3),
            end_s=round(float(max(start, end)), 3),
            text=text.strip(),
            avg_logprob=source.avg_logprob,
            no_speech_prob=source.no_speech_prob,
            language=language,
        )

    out: list[Segment] = []
    for item in raw:
        if not item.words:
            out.append(
                segment(original(item.start), original(item.end, is_end=True), item.text, item)
            )
            continue
        words: list[tuple[float, float, str]] = []
        for start, end, text in item.words:
            # A word is placed by its end: alignment starts words early, so one that begins a
            # turn often starts inside the silence before it.
            chunk = time_map.get_chunk_index(end, is_end=True) if time_map else None
            words.append((original(start, chunk), original(end, chunk), text))
        if options.split_pause_s is None:
            out.append(segment(words[0][0], words[-1][1], item.text, item))
            continue
        turn = [words[0]]
        for aligned in words[1:]:
            if aligned[0] - turn[-1][1] > options.split_pause_s:
                out.append(segment(turn[0][0], turn[-1][1], "".join(w[2] for w in turn), item))
                turn = []
            turn.append(aligned)
        out.append(segment(turn[0][0], turn[-1][1], "".join(w[2] for w in turn), item))
    return [s for s in out if s.text]


class FasterWhisperTranscriber:
    backend = "faster-whisper"

    def __init__(
        self,
        model: ModelRef,
        device: str = "auto",
        compute_type: str | None = None,
        cpu_threads: int = 0,
        batch_size: int = 0,
    ) -> None:
        import ctranslate2
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        if model.format != "ctranslate2":
            raise ModelError(
                f"{model.location}: an openai-whisper checkpoint; use --backend openai-whisper, "
                f"or give a faster-whisper model folder"
            )
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        self.device = device
        self.compute_type = compute_type or ("float16" if device == "cuda" else "int8")
        try:
            self._model = WhisperModel(
                model.location,
                device=device,
                compute_type=self.compute_type,
                cpu_threads=cpu_threads,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"{model.location}: cannot load the model ({exc})") from exc
        # Whisper pads every window to 30 s; on a GPU, decoding VAD chunks side by side is what
        # keeps it busy. On CPU the sequential decoder is as fast and keeps segment timestamps.
        self.batch_size = batch_size or (16 if device == "cuda" else 0)
        self._batched = BatchedInferencePipeline(self._model) if self.batch_size > 1 else None
        self.model = model
        self.identity = f"{self.backend}:{model.sha256[:16]}:{self.compute_type}"

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, speaker: Speaker = Speaker.UNKNOWN
    ) -> list[Segment]:
        if self._batched is not None:
            return self._transcribe_batched(audio, options, speaker)
        speech, time_map = speech_only(audio, options)
        if speech.size < _MIN_SAMPLES:
            return []
        segments, info = self._model.transcribe(
            speech,
            vad_filter=False,  # done above, the same way for every back end
            **self._decoding(options),
        )
        return to_timeline(_raw(segments), time_map, options, speaker, info.language)

    def _transcribe_batched(
        self, audio: np.ndarray, options: TranscribeOptions, speaker: Speaker
    ) -> list[Segment]:
        """On a GPU: the pipeline groups VAD chunks into 30 s windows and decodes them side by
        side (each window on its own, so nothing is conditioned across windows)."""
        if audio.size < _MIN_SAMPLES:
            return []
        window = 30 * SAMPLE_RATE
        clips = None
        if options.vad is None:
            clips = [
                {"start": i / SAMPLE_RATE, "end": min(i + window, audio.size) / SAMPLE_RATE}
                for i in range(0, audio.size, window)
            ]
        assert self._batched is not None
        segments, info = self._batched.transcribe(
            audio,
            batch_size=self.batch_size,
            vad_filter=options.vad is not None,
            vad_parameters=asdict(options.vad) if options.vad else None,
            clip_timestamps=clips,
            **self._decoding(options),
        )
        return to_timeline(_raw(segments), None, options, speaker, info.language)

    @staticmethod
    def _decoding(options: TranscribeOptions) -> dict[str, Any]:
        return {
            "language": options.language,
            "beam_size": options.beam_size,
            "best_of": options.beam_size,
            "temperature": list(options.temperatures),
            "compression_ratio_threshold": options.compression_ratio_threshold,
            "log_prob_threshold": options.log_prob_threshold,
            "no_speech_threshold": options.no_speech_threshold,
            "condition_on_previous_text": options.condition_on_previous_text,
            "initial_prompt": options.initial_prompt,
            "hotwords": options.hotwords,
            "word_timestamps": options.aligns_words,
        }


def _raw(segments: Any) -> list[RawSegment]:
    return [
        RawSegment(
            float(s.start),
            float(s.end),
            s.text,
            float(s.avg_logprob),
            float(s.no_speech_prob),
            [(w.start, w.end, w.word) for w in s.words] if s.words else None,
        )
        for s in segments
    ]


class OpenAIWhisperTranscriber:
    """The reference implementation, given the same VAD-trimmed speech as faster-whisper."""

    backend = "openai-whisper"

    def __init__(self, model: ModelRef, device: str = "auto", cpu_threads: int = 0) -> None:
        try:
            import torch
            import whisper
        except ImportError as exc:
            raise ModelError(
                "the openai-whisper back end needs torch and openai-whisper: pip install "
                "'auditor[openai-whisper]' && pip install --no-deps openai-whisper==20250625"
            ) from exc
        if model.format != "openai-whisper":
            raise ModelError(
                f"{model.location}: a faster-whisper model; use --backend faster-whisper, "
                f"or give an openai-whisper .pt file"
            )
        if cpu_threads:
            torch.set_num_threads(cpu_threads)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        try:
            checkpoint = torch.load(model.location, map_location=device, weights_only=True)
            network = whisper.model.Whisper(whisper.model.ModelDimensions(**checkpoint["dims"]))
            network.load_state_dict(checkpoint["model_state_dict"], strict=True)
        except (RuntimeError, KeyError, OSError, TypeError) as exc:
            raise ModelError(f"{model.location}: cannot load the checkpoint ({exc})") from exc
        if heads := checkpoint.get("alignment_heads"):
            dims = network.dims
            mask = torch.zeros(dims.n_text_layer, dims.n_text_head, dtype=torch.bool)
            for layer, head in heads:
                mask[layer, head] = True
            network.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
        self._model = network.to(device)
        self.model = model
        precision = "fp16" if device == "cuda" else "fp32"
        self.identity = f"{self.backend}:{model.sha256[:16]}:{precision}"

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, speaker: Speaker = Speaker.UNKNOWN
    ) -> list[Segment]:
        speech, time_map = speech_only(audio, options)
        if speech.size < _MIN_SAMPLES:
            return []
        result = self._model.transcribe(
            speech,
            language=options.language,
            temperature=tuple(options.temperatures),
            beam_size=options.beam_size if options.beam_size > 1 else None,
            best_of=options.beam_size,
            compression_ratio_threshold=options.compression_ratio_threshold,
            logprob_threshold=options.log_prob_threshold,
            no_speech_threshold=options.no_speech_threshold,
            condition_on_previous_text=options.condition_on_previous_text,
            initial_prompt=_prompt(options),
            word_timestamps=options.aligns_words,
            fp16=self.device == "cuda",
            verbose=None,
        )
        raw = [
            RawSegment(
                float(s["start"]),
                float(s["end"]),
                str(s["text"]),
                float(s["avg_logprob"]),
                float(s["no_speech_prob"]),
                [(w["start"], w["end"], w["word"]) for w in s["words"]] if s.get("words") else None,
            )
            for s in result["segments"]
        ]
        return to_timeline(raw, time_map, options, speaker, result.get("language"))


def _cuda_available(backend: str) -> bool:
    if backend == "openai-whisper":
        try:
            import torch
        except ImportError:
            return False
        return bool(torch.cuda.is_available())
    import ctranslate2

    return bool(ctranslate2.get_cuda_device_count() > 0)


@dataclass(frozen=True, slots=True)
class TranscriberPlan:
    """What a transcription will run with, known before any model is loaded: enough to look up
    the cache and the store's stage version, so a run with nothing to do loads nothing."""

    backend: str
    model: ModelRef
    device: str
    precision: str

    @property
    def identity(self) -> str:
        return f"{self.backend}:{self.model.sha256[:16]}:{self.precision}"


def plan_transcriber(options: TranscribeOptions) -> TranscriberPlan:
    model = resolve_model(options.model, options.backend)
    device = options.device
    if device == "auto":
        device = "cuda" if _cuda_available(options.backend) else "cpu"
    if options.backend == "openai-whisper":
        precision = "fp16" if device == "cuda" else "fp32"
    else:
        precision = options.compute_type or ("float16" if device == "cuda" else "int8")
    return TranscriberPlan(options.backend, model, device, precision)


def load_transcriber(
    options: TranscribeOptions, cpu_threads: int | None = None, plan: TranscriberPlan | None = None
) -> Transcriber:
    """The back end `options` name, with its model loaded (once per worker process)."""
    plan = plan or plan_transcriber(options)
    threads = options.cpu_threads if cpu_threads is None else cpu_threads
    if options.backend == "openai-whisper":
        return OpenAIWhisperTranscriber(plan.model, plan.device, threads)
    return FasterWhisperTranscriber(
        plan.model, plan.device, plan.precision, threads, options.batch_size
    )


class LazyTranscriber:
    """A transcriber whose model loads on the first audio it is given: cache hits and sidecar
    transcripts never pay for loading a model."""

    def __init__(
        self,
        options: TranscribeOptions,
        cpu_threads: int | None = None,
        plan: TranscriberPlan | None = None,
    ) -> None:
        self.plan = plan or plan_transcriber(options)
        self.backend = self.plan.backend
        self.model = self.plan.model
        self.identity = self.plan.identity
        self._options = options
        self._threads = cpu_threads
        self._loaded: Transcriber | None = None

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, speaker: Speaker = Speaker.UNKNOWN
    ) -> list[Segment]:
        if self._loaded is None:
            self._loaded = load_transcriber(self._options, self._threads, self.plan)
        return self._loaded.transcribe(audio, options, speaker)
