"""Transcription without a model: hygiene, cache, model assembly, sidecars, stereo merging."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from auditor.errors import AudioError, ModelError
from auditor.models import Segment, Speaker
from auditor.transcribe.audio import SAMPLE_RATE, write_audio
from auditor.transcribe.cache import TranscriptCache
from auditor.transcribe.hygiene import clean_segments, collapse_loops, is_hallucination
from auditor.transcribe.model import default_model_dir, resolve_model
from auditor.transcribe.options import TranscribeOptions
from auditor.transcribe.recording import transcribe_recording

OPTIONS = TranscribeOptions()


def seg(text: str, start: float = 0.0, end: float = 1.0, **kw: object) -> Segment:
    return Segment(Speaker.UNKNOWN, start, end, text, **kw)  # type: ignore[arg-type]


# --- hygiene -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目",
        "字幕by索兰娅",
        "中文字幕志愿者 杨茜茜",
        "由 Amara.org 社区提供的字幕",
        "谢谢观看!",
        "Thank you for watching.",
    ],
)
def test_classic_whisper_hallucinations_are_recognised(text: str) -> None:
    assert is_hallucination(text)


@pytest.mark.parametrize(
    "text", ["您好，请问是张先生吗？", "我下周一定还款", "谢谢您的配合", "Thank you for calling."]
)
def test_real_call_sentences_are_not_hallucinations(text: str) -> None:
    assert not is_hallucination(text)


def test_decoder_loops_collapse_but_a_doubled_word_stays() -> None:
    assert collapse_loops("好的好的，我知道了") == "好的好的，我知道了"
    assert collapse_loops("还款" * 12 + "。") == "还款还款。"


def test_clean_segments_drops_silence_and_credits_and_converts_to_simplified() -> None:
    segments = [
        seg("您好，請問您什麼時候還款？", 0.0, 2.0, avg_logprob=-0.3, no_speech_prob=0.1),
        seg("字幕by索兰娅", 2.0, 4.0, avg_logprob=-0.5, no_speech_prob=0.2),
        seg("嗯嗯", 5.0, 6.0, avg_logprob=-1.4, no_speech_prob=0.9),  # Whisper's silence test
        seg("我下周还", 6.0, 7.0, avg_logprob=-0.4, no_speech_prob=0.1),
    ]

    cleaned = clean_segments(segments, OPTIONS)

    assert [s.text for s in cleaned] == ["您好，请问您什么时候还款？", "我下周还"]


def test_a_sentence_repeated_segment_after_segment_is_cut_after_two() -> None:
    looped = [seg("您的账户已经逾期三十天了", float(i), float(i + 1)) for i in range(5)]
    assert len(clean_segments(looped, OPTIONS)) == 2


def test_hygiene_can_be_turned_off() -> None:
    options = TranscribeOptions(drop_hallucinations=False, simplified_chinese=False)
    assert [s.text for s in clean_segments([seg("字幕by索兰娅"), seg("還款")], options)] == [
        "字幕by索兰娅",
        "還款",
    ]


# --- options ---------------------------------------------------------------------------------


def test_options_fingerprint_changes_with_decoding_options_but_not_with_threads() -> None:
    base = TranscribeOptions()
    assert base.fingerprint() == TranscribeOptions(cpu_threads=4, batch_size=8).fingerprint()
    assert base.fingerprint() != TranscribeOptions(beam_size=1).fingerprint()
    assert base.fingerprint() != TranscribeOptions(hotwords="逾期 还款").fingerprint()
    assert base.fingerprint() != TranscribeOptions(vad=None).fingerprint()


def test_options_reject_unknown_backend() -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        TranscribeOptions(backend="whisper.cpp")


# --- model assembly ----------------------------------------------------------------------------


def test_offline_model_is_assembled_once_atomically_and_verified(tmp_path: Path) -> None:
    folder = default_model_dir(tmp_path)
    record = json.loads((folder / "assembled.json").read_text())
    model_bin = folder / "model.bin"

    assert model_bin.stat().st_size == record["size"] > 100_000_000
    assert {p.name for p in folder.iterdir()} == {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
        "assembled.json",
    }  # no temporary file left behind
    mtime = model_bin.stat().st_mtime_ns
    assert default_model_dir(tmp_path) == folder
    assert model_bin.stat().st_mtime_ns == mtime  # not assembled a second time

    ref = resolve_model(None, "faster-whisper", tmp_path)
    assert ref.format == "ctranslate2" and ref.sha256 == record["sha256"]


def test_truncated_assembled_model_is_rebuilt(tmp_path: Path) -> None:
    folder = default_model_dir(tmp_path)
    size = (folder / "model.bin").stat().st_size
    with open(folder / "model.bin", "r+b") as handle:
        handle.truncate(1000)

    assert (default_model_dir(tmp_path) / "model.bin").stat().st_size == size


def test_unknown_model_name_is_a_model_error_without_download(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model is downloaded"):
        resolve_model("large-v3", "faster-whisper", tmp_path)
    with pytest.raises(ModelError, match="openai-whisper cache"):
        resolve_model("turbo", "openai-whisper", tmp_path)
    with pytest.raises(ModelError, match=r"no model\.bin"):
        resolve_model(str(tmp_path), "faster-whisper", tmp_path)


# --- recordings with a fake back end -------------------------------------------------------------


class ToneTranscriber:
    """Writes the dominant frequency of each channel it is given, and counts its calls."""

    backend = "fake"
    identity = "fake:0"
    model = None

    def __init__(self) -> None:
        self.calls = 0

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, speaker: Speaker = Speaker.UNKNOWN
    ) -> list[Segment]:
        self.calls += 1
        if audio.size == 0 or float(np.abs(audio).max()) < 0.01:
            return []
        hz = round(float(np.argmax(np.abs(np.fft.rfft(audio)))) * SAMPLE_RATE / len(audio), -1)
        voiced = np.nonzero(np.abs(audio) > 0.01)[0]
        start, end = voiced[0] / SAMPLE_RATE, voiced[-1] / SAMPLE_RATE
        return [Segment(speaker, start, end, f"tone {hz:.0f}", -0.2, 0.01, "en")]


def tone(freq: float, seconds: float, start: float = 0.0, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t) * (t >= start)).astype(np.float32)


@pytest.fixture
def stereo_call(tmp_path: Path) -> Path:
    # Collector (left) at 400 Hz from 0 s, customer (right) at 1000 Hz from 1 s.
    return write_audio(tmp_path / "call.wav", np.stack([tone(400, 3), tone(1000, 3, 1.0)]), 8000)


def test_each_stereo_channel_is_its_own_speaker_on_one_timeline(stereo_call: Path) -> None:
    result = transcribe_recording(stereo_call, ToneTranscriber(), OPTIONS)

    assert [(s.speaker, s.text) for s in result.segments] == [
        (Speaker.COLLECTOR, "tone 400"),
        (Speaker.CUSTOMER, "tone 1000"),
    ]
    assert result.segments[1].start_s == pytest.approx(1.0, abs=0.01)


def test_collector_on_the_right_channel_swaps_the_speakers(stereo_call: Path) -> None:
    result = transcribe_recording(
        stereo_call, ToneTranscriber(), OPTIONS, collector_channel="right"
    )
    assert {s.text: s.speaker for s in result.segments} == {
        "tone 400": Speaker.CUSTOMER,
        "tone 1000": Speaker.COLLECTOR,
    }


def test_mono_and_duplicated_stereo_are_speaker_unknown(tmp_path: Path) -> None:
    mono = write_audio(tmp_path / "mono.wav", tone(400, 2)[None], 8000)
    same = write_audio(tmp_path / "same.wav", np.stack([tone(400, 2), tone(400, 2)]), 8000)
    transcriber = ToneTranscriber()

    for path in (mono, same):
        result = transcribe_recording(path, transcriber, OPTIONS)
        assert [(s.speaker, s.text) for s in result.segments] == [(Speaker.UNKNOWN, "tone 400")]
    assert transcriber.calls == 2  # the duplicated channel was transcribed once


def test_second_run_is_served_from_the_cache(stereo_call: Path, tmp_path: Path) -> None:
    cache = TranscriptCache(tmp_path / "cache")
    transcriber = ToneTranscriber()

    first = transcribe_recording(stereo_call, transcriber, OPTIONS, cache=cache)
    second = transcribe_recording(stereo_call, transcriber, OPTIONS, cache=cache)
    swapped = transcribe_recording(
        stereo_call, transcriber, OPTIONS, cache=cache, collector_channel="right"
    )
    other_options = transcribe_recording(
        stereo_call, transcriber, TranscribeOptions(beam_size=1), cache=cache
    )

    assert (first.source, second.source, swapped.source) == ("whisper", "cache", "cache")
    assert second.segments == first.segments
    assert {s.speaker for s in swapped.segments if s.text == "tone 400"} == {Speaker.CUSTOMER}
    assert other_options.source == "whisper"
    assert transcriber.calls == 4  # two channels, twice: the first run and the new options
    assert not list((tmp_path / "cache").rglob(".tmp.*"))


def test_long_recording_is_transcribed_in_windows_on_the_recording_timeline(tmp_path: Path) -> None:
    signal = np.zeros(8000 * 130, dtype=np.float32)
    signal[8000 * 100 : 8000 * 102] = tone(700, 2)  # speech at 100-102 s, in the second window
    path = write_audio(tmp_path / "long.wav", signal[None], 8000)
    transcriber = ToneTranscriber()

    result = transcribe_recording(path, transcriber, OPTIONS, window_s=60.0)

    assert transcriber.calls >= 2
    assert [s.text for s in result.segments] == ["tone 700"]
    assert result.segments[0].start_s == pytest.approx(100.0, abs=0.05)
    assert result.duration_s == pytest.approx(130.0, abs=0.01)


def test_sidecar_transcript_is_used_instead_of_whisper(stereo_call: Path) -> None:
    sidecar = Path(f"{stereo_call}.transcript.jsonl")
    sidecar.write_text(
        '{"speaker": "customer", "start": 3.0, "end": 4.0, "text": "我下周还"}\n'
        '{"speaker": "collector", "start": 0.5, "end": 2.5, "text": "您好，这里是信用卡中心"}\n',
        encoding="utf-8",
    )
    transcriber = ToneTranscriber()

    result = transcribe_recording(stereo_call, transcriber, OPTIONS)

    assert result.source == "sidecar" and transcriber.calls == 0
    assert [(s.speaker, s.text) for s in result.segments] == [
        (Speaker.COLLECTOR, "您好，这里是信用卡中心"),
        (Speaker.CUSTOMER, "我下周还"),
    ]


def test_broken_sidecar_line_names_file_and_line(stereo_call: Path) -> None:
    Path(f"{stereo_call}.transcript.jsonl").write_text(
        '{"speaker": "collector", "start": 0, "end": 1, "text": "ok"}\n'
        '{"speaker": "debtor", "start": 1, "end": 2, "text": "?"}\n'
    )
    with pytest.raises(AudioError, match=r"call\.wav\.transcript\.jsonl:2: .*speaker"):
        transcribe_recording(stereo_call, ToneTranscriber(), OPTIONS)


# --- restoring the timeline after VAD ------------------------------------------------------------


def test_a_segment_spanning_two_turns_is_split_where_the_words_pause() -> None:
    from faster_whisper.vad import SpeechTimestampsMap

    from auditor.transcribe.backends import RawSegment, to_timeline

    # Speech at 1-3 s and 10-12 s of the channel; Whisper saw them joined as 0-4 s.
    time_map = SpeechTimestampsMap(
        [{"start": 16000, "end": 48000}, {"start": 160000, "end": 192000}], SAMPLE_RATE
    )
    words = [(0.1, 0.9, "我最近"), (1.0, 1.9, "太忙了"), (2.1, 2.9, "今天"), (3.0, 3.8, "就还")]
    raw = [RawSegment(0.0, 4.0, "我最近太忙了今天就还", -0.3, 0.05, words)]

    split = to_timeline(raw, time_map, OPTIONS, Speaker.CUSTOMER, "zh")
    whole = to_timeline(
        raw, time_map, TranscribeOptions(split_pause_s=None), Speaker.CUSTOMER, "zh"
    )

    assert [(s.start_s, s.end_s, s.text) for s in split] == [
        (1.1, 2.9, "我最近太忙了"),
        (10.1, 11.8, "今天就还"),
    ]
    assert [(s.start_s, s.end_s, s.text) for s in whole] == [(1.1, 11.8, "我最近太忙了今天就还")]
    assert {s.speaker for s in split} == {Speaker.CUSTOMER}


def test_segments_without_words_are_mapped_back_by_their_own_times() -> None:
    from faster_whisper.vad import SpeechTimestampsMap

    from auditor.transcribe.backends import RawSegment, to_timeline

    time_map = SpeechTimestampsMap([{"start": 80000, "end": 112000}], SAMPLE_RATE)
    raw = [RawSegment(0.5, 1.5, " Hello. ", -0.2, 0.01, None)]

    (segment,) = to_timeline(raw, time_map, OPTIONS, Speaker.COLLECTOR, "en")

    assert (segment.start_s, segment.end_s, segment.text) == (5.5, 6.5, "Hello.")
