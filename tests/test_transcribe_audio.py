"""Decoding recordings of every format call systems write, and failing clearly on bad ones."""

from __future__ import annotations

import itertools
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from auditor.errors import AudioError
from auditor.transcribe.audio import (
    SAMPLE_RATE,
    channels_identical,
    decode_audio,
    iter_windows,
    probe,
    write_audio,
)


def tone(freq: float, seconds: float, rate: int, start: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t) * (t >= start)).astype(np.float32)


def dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * SAMPLE_RATE / len(samples))


@pytest.mark.parametrize(
    ("name", "codec", "rate"),
    [
        ("call.wav", None, 8000),
        ("mulaw.wav", "pcm_mulaw", 8000),
        ("alaw.wav", "pcm_alaw", 8000),
        ("call.mp3", None, 8000),
        ("call.m4a", None, 22050),
        ("call.flac", None, 44100),
        ("call.ogg", None, 16000),
        ("studio.wav", None, 48000),
    ],
)
def test_stereo_formats_decode_to_16k_with_each_party_on_its_own_channel(
    tmp_path: Path, name: str, codec: str | None, rate: int
) -> None:
    left, right = tone(440, 2.0, rate), tone(1000, 2.0, rate)
    path = write_audio(tmp_path / name, np.stack([left, right]), rate, codec)

    samples = decode_audio(path)

    assert samples.dtype == np.float32
    assert samples.shape[0] == 2
    # Encoders pad a frame or two; the length must still be the clip's, at 16 kHz.
    assert abs(samples.shape[1] / SAMPLE_RATE - 2.0) < 0.15
    assert abs(dominant_hz(samples[0]) - 440) < 10
    assert abs(dominant_hz(samples[1]) - 1000) < 10
    assert probe(path).channels == 2


def test_amr_narrowband_decodes_to_16k_mono(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "call.amr", tone(500, 3.0, 8000)[None], 8000)

    info = probe(path)
    samples = decode_audio(path)

    assert info.codec.startswith("amr") and info.sample_rate == 8000
    assert samples.shape[0] == 1
    assert abs(samples.shape[1] / SAMPLE_RATE - 3.0) < 0.2
    assert abs(dominant_hz(samples[0]) - 500) < 15


def test_recordings_with_more_than_two_channels_are_mixed_down_to_one(tmp_path: Path) -> None:
    path = tmp_path / "conference.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(4)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes((np.zeros((8000, 4)) + 1000).astype("<i2").tobytes())

    assert decode_audio(path).shape[0] == 1


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"absent\.wav: no such recording"):
        decode_audio(tmp_path / "absent.wav")


def test_empty_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.touch()
    with pytest.raises(AudioError, match=r"empty\.wav: the file is empty"):
        decode_audio(path)


def test_text_file_posing_as_audio_is_an_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"
    path.write_text("call notes, not a recording\n" * 50)
    with pytest.raises(AudioError, match=r"notes\.mp3"):
        decode_audio(path)


def test_random_bytes_are_an_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.m4a"
    path.write_bytes(np.random.default_rng(7).bytes(4096))
    with pytest.raises(AudioError, match=r"garbage\.m4a"):
        decode_audio(path)


def test_zero_second_wav_decodes_to_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "zero.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)

    samples = decode_audio(path)

    assert samples.shape[1] == 0
    windows = list(iter_windows(path))
    assert len(windows) == 1 and windows[0].samples.shape[1] == 0


@pytest.mark.parametrize("name", ["cut.wav", "cut.mp3", "cut.flac"])
def test_truncated_recording_decodes_what_is_there(tmp_path: Path, name: str) -> None:
    full = write_audio(tmp_path / f"full{Path(name).suffix}", tone(440, 4.0, 8000)[None], 8000)
    data = full.read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])

    samples = decode_audio(path)

    # Half the bytes: about half the audio (FLAC's demuxer gives up a little earlier).
    assert 0.5 < samples.shape[1] / SAMPLE_RATE < 3.0
    assert abs(dominant_hz(samples[0]) - 440) < 10


def test_windows_cover_the_recording_exactly_and_cut_in_silence(tmp_path: Path) -> None:
    rate = 8000
    # Speech-like bursts of tone with a silent second at 55-56 s: the cut must fall there.
    signal = tone(300, 100.0, rate)
    signal[55 * rate : 56 * rate] = 0
    path = write_audio(tmp_path / "long.flac", signal[None], rate)

    windows = list(iter_windows(path, window_s=60.0))

    assert windows[0].offset_s == 0.0
    assert 55.0 <= windows[1].offset_s <= 56.0
    total = sum(w.samples.shape[1] for w in windows)
    assert total == decode_audio(path).shape[1]
    for before, after in itertools.pairwise(windows):
        assert after.offset_s == pytest.approx(before.offset_s + before.duration_s)


def test_three_hour_recording_decodes_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "three_hours.flac"
    minute = np.zeros(60 * 8000, dtype=np.float32)
    minute[::40] = 0.001
    write_audio(path, (minute[None] for _ in range(180)), 8000)
    # Measured in a child process (VmHWM: its own peak resident memory). The whole recording at
    # 16 kHz would be 691 MB; windows keep it to a fraction.
    script = (
        "import re, sys\n"
        "from auditor.transcribe.audio import iter_windows\n"
        "n = sum(w.samples.shape[1] for w in iter_windows(sys.argv[1]))\n"
        "status = open('/proc/self/status').read()\n"
        "print(n, int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) // 1024)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    samples, peak_mb = map(int, result.stdout.split())

    assert samples == 3 * 3600 * SAMPLE_RATE
    assert peak_mb < 350


def test_two_equal_channels_are_recognised_as_mono() -> None:
    voice = tone(300, 1.0, SAMPLE_RATE)
    assert channels_identical(np.stack([voice, voice]))
    assert not channels_identical(np.stack([voice, tone(500, 1.0, SAMPLE_RATE)]))
    assert not channels_identical(voice[None])


# Speech-frame payload sizes of AMR-NB (RFC 4867, storage format), by frame type 0-7.
_AMR_PAYLOAD = [12, 13, 15, 17, 19, 20, 26, 31]


def _with_silence_descriptors(amr: bytes, first: int, last: int) -> bytes:
    """Replace frames first..last of an AMR-NB file by SID frames, as a phone recorder with
    discontinuous transmission (DTX) writes its pauses."""
    assert amr.startswith(b"#!AMR\n")
    out, pos, index = bytearray(b"#!AMR\n"), 6, 0
    while pos < len(amr):
        frame_type = (amr[pos] >> 3) & 0x0F
        size = 1 + (_AMR_PAYLOAD[frame_type] if frame_type < 8 else 5 if frame_type == 8 else 0)
        if first <= index <= last:
            out += bytes([(8 << 3) | 0x04]) + bytes(5)  # SID frame, quality bit set
        else:
            out += amr[pos : pos + size]
        pos, index = pos + size, index + 1
    return bytes(out)


def test_amr_with_silence_descriptor_frames_keeps_its_timeline(tmp_path: Path) -> None:
    # 3 s of tone; frames 50-99 (1.0-2.0 s) become DTX silence descriptors, which FFmpeg's AMR
    # decoder refuses: they must become 1 s of silence, not the end of the recording.
    path = write_audio(tmp_path / "tone.amr", tone(500, 3.0, 8000)[None], 8000)
    dtx = tmp_path / "dtx.amr"
    dtx.write_bytes(_with_silence_descriptors(path.read_bytes(), 50, 99))

    samples = decode_audio(dtx)[0]

    assert abs(samples.size / SAMPLE_RATE - 3.0) < 0.1
    level = [
        float(np.abs(samples[i : i + SAMPLE_RATE // 4]).mean())
        for i in range(0, samples.size, SAMPLE_RATE // 4)
    ]
    assert min(level[5:7]) < 0.01  # 1.25-1.75 s: the silence put in for the SID frames
    assert level[1] > 0.1 and level[10] > 0.1  # tone before and after, where it was
