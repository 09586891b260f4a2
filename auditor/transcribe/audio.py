"""Decode any call recording to 16 kHz float32, one array per channel, with PyAV (no ffmpeg binary).

WAV (PCM, G.711 μ-law/A-law, IMA ADPCM, GSM), MP3, M4A/AAC, FLAC, Ogg (Vorbis/Opus) and AMR at any
sample rate. Decoding and resampling run packet by packet, and long recordings come out in
windows cut in the quietest moment near each window's end, so a 3-hour file never sits in memory
whole (a 10-minute stereo window is 77 MB of float32).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import av
import numpy as np

from auditor.errors import AudioError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000  # what Whisper expects
WINDOW_S = 600.0  # longer recordings are transcribed in windows of about this length
_CUT_SEARCH_S = 30.0  # the cut between windows is the quietest 100 ms in this last stretch
_CUT_FRAME = SAMPLE_RATE // 10


@dataclass(frozen=True, slots=True)
class AudioInfo:
    path: str
    container: str
    codec: str
    sample_rate: int
    channels: int
    duration_s: float | None  # from the container; None when it does not say


@dataclass(frozen=True, slots=True)
class AudioWindow:
    """A stretch of a recording: `samples` is (channels, n) float32 at 16 kHz from `offset_s`."""

    offset_s: float
    samples: np.ndarray

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / SAMPLE_RATE


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise AudioError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return digest.hexdigest()


def _open(path: str | Path) -> av.container.InputContainer:
    file = Path(path)
    if not file.is_file():
        raise AudioError(f"{path}: no such recording")
    if file.stat().st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes)")
    try:
        return av.open(str(file), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({exc})") from exc


def _audio_stream(container: av.container.InputContainer, path: str | Path) -> av.AudioStream:
    if not container.streams.audio:
        raise AudioError(f"{path}: the file has no audio stream")
    stream = container.streams.audio[0]
    if stream.codec_context is None or not stream.codec_context.sample_rate:
        raise AudioError(f"{path}: unsupported audio codec {stream.codec_context.name!r}")
    return stream


def probe(path: str | Path) -> AudioInfo:
    """What the container says, without decoding."""
    with _open(path) as container:
        stream = _audio_stream(container, path)
        duration: float | None = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        return AudioInfo(
            path=str(path),
            container=container.format.name,
            codec=stream.codec_context.name,
            sample_rate=stream.codec_context.sample_rate,
            channels=stream.codec_context.channels,
            duration_s=duration,
        )


def iter_blocks(path: str | Path) -> Iterator[np.ndarray]:
    """Yield (channels, n) float32 blocks at 16 kHz: 1 channel for mono, 2 for stereo; recordings
    with more channels are mixed down to one (no call recorder keeps three parties apart).

    A packet that does not decode is replaced by silence of its length, with a warning, so the
    rest of the call is still audited and every later timestamp stays where it was: a damaged
    packet, or an AMR silence-descriptor frame (phone recorders write them with DTX on, and
    FFmpeg's own AMR decoder does not implement them). A file in which nothing decodes is an
    AudioError.
    """
    with _open(path) as container:
        stream = _audio_stream(container, path)
        channels = stream.codec_context.channels
        layout = "stereo" if channels == 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
        decoded = damaged = 0
        try:
            packets = container.demux(stream)
            for packet in packets:
                try:
                    frames = packet.decode()
                except (av.error.InvalidDataError, av.error.PatchWelcomeError):
                    damaged += 1
                    gap = _packet_samples(packet, stream)
                    if gap:
                        decoded += gap
                        yield np.zeros((1 if layout == "mono" else 2, gap), dtype=np.float32)
                    continue
                for frame in frames:
                    for out in resampler.resample(frame):
                        decoded += out.samples
                        yield out.to_ndarray().astype(np.float32, copy=False)
        except av.FFmpegError as exc:
            if decoded == 0:
                raise AudioError(f"{path}: cannot decode the audio ({exc})") from exc
            log.warning("%s: decoding stopped after %.1f s: %s", path, decoded / SAMPLE_RATE, exc)
        for out in resampler.resample(None):
            decoded += out.samples
            yield out.to_ndarray().astype(np.float32, copy=False)
        if damaged:
            if decoded == 0:
                raise AudioError(f"{path}: no packet of the audio stream decodes")
            log.warning("%s: %d packets did not decode and were replaced by silence", path, damaged)


def _packet_samples(packet: av.Packet, stream: av.AudioStream) -> int:
    """How many 16 kHz samples a packet stands for (AMR: one 20 ms frame)."""
    if packet.duration and packet.time_base is not None:
        return round(float(packet.duration * packet.time_base) * SAMPLE_RATE)
    frame_size = stream.codec_context.frame_size
    rate = stream.codec_context.sample_rate
    return round(frame_size / rate * SAMPLE_RATE) if frame_size and rate else 0


def _quietest_cut(samples: np.ndarray, start: int, end: int) -> int:
    """Index of the middle of the quietest 100 ms frame in samples[:, start:end]."""
    stretch = samples[:, start:end]
    frames = stretch.shape[1] // _CUT_FRAME
    if frames == 0:
        return end
    energy = (
        np.square(stretch[:, : frames * _CUT_FRAME])
        .reshape(stretch.shape[0], frames, _CUT_FRAME)
        .mean(axis=2)
        .max(axis=0)
    )
    return start + int(np.argmin(energy)) * _CUT_FRAME + _CUT_FRAME // 2


def iter_windows(path: str | Path, window_s: float = WINDOW_S) -> Iterator[AudioWindow]:
    """The whole recording as consecutive windows of about `window_s` (one window when shorter),
    each cut in the quietest moment of its last 30 s so no word is split between two windows.

    Blocks are copied into one preallocated buffer per window: at most two windows' worth of
    samples are alive at once, whatever the length of the recording.
    """
    window = int(window_s * SAMPLE_RATE)
    search = min(int(_CUT_SEARCH_S * SAMPLE_RATE), window // 2)
    buffer: np.ndarray | None = None
    filled = 0
    offset = 0
    for block in iter_blocks(path):
        if buffer is None:
            buffer = np.empty((block.shape[0], window + search), dtype=np.float32)
        while block.shape[1]:
            take = min(block.shape[1], buffer.shape[1] - filled)
            buffer[:, filled : filled + take] = block[:, :take]
            filled += take
            block = block[:, take:]
            if filled < buffer.shape[1]:
                continue
            cut = _quietest_cut(buffer, window - search, window)
            rest = np.empty_like(buffer)
            rest[:, : filled - cut] = buffer[:, cut:filled]
            yield AudioWindow(offset / SAMPLE_RATE, buffer[:, :cut])
            offset += cut
            buffer, filled = rest, filled - cut
    if buffer is None:
        yield AudioWindow(0.0, np.zeros((1, 0), dtype=np.float32))
    elif filled or offset == 0:
        yield AudioWindow(offset / SAMPLE_RATE, buffer[:, :filled].copy())


def decode_audio(path: str | Path) -> np.ndarray:
    """The whole recording as one (channels, n) array; for short clips, tests and benchmarks."""
    blocks = list(iter_blocks(path))
    if not blocks:
        return np.zeros((1, 0), dtype=np.float32)
    return np.concatenate(blocks, axis=1)


def channels_identical(samples: np.ndarray, tolerance: float = 1e-3) -> bool:
    """True for a mono recording saved as two equal channels (transcribing both would put every
    word in both parties' mouths)."""
    if samples.shape[0] != 2 or samples.shape[1] == 0:
        return False
    difference = float(np.max(np.abs(samples[0] - samples[1])))
    loudness = float(np.max(np.abs(samples))) or 1.0
    return difference <= tolerance * loudness


# Encoders for the formats call recorders write; used to make test clips and benchmark inputs.
_ENCODERS = {
    ".wav": ("pcm_s16le", None),
    ".mp3": ("libmp3lame", None),
    ".m4a": ("aac", None),
    ".flac": ("flac", None),
    ".ogg": ("libopus", 48_000),
    ".amr": ("libopencore_amrnb", 8_000),
}


def write_audio(
    path: str | Path,
    samples: np.ndarray | Iterable[np.ndarray],
    sample_rate: int = SAMPLE_RATE,
    codec: str | None = None,
    bit_rate: int | None = None,
) -> Path:
    """Encode (channels, n) float32 `samples` (one array, or an iterable of blocks for long
    clips) to `path`, the format chosen by its suffix; `codec` overrides the encoder (e.g.
    "pcm_mulaw" for a G.711 WAV)."""
    target = Path(path)
    default_codec, forced_rate = _ENCODERS.get(target.suffix.lower(), ("pcm_s16le", None))
    blocks = iter([samples]) if isinstance(samples, np.ndarray) else iter(samples)
    first = np.atleast_2d(np.asarray(next(blocks), dtype=np.float32))
    channels = 1 if target.suffix.lower() == ".amr" else first.shape[0]
    layout = "stereo" if channels == 2 else "mono"
    rate = forced_rate or sample_rate
    with av.open(str(target), mode="w") as container:
        stream = cast(av.AudioStream, container.add_stream(codec or default_codec, rate=rate))
        stream.layout = layout
        if target.suffix.lower() == ".amr":
            stream.bit_rate = 12_200
        elif bit_rate:
            stream.bit_rate = bit_rate
        resampler = av.AudioResampler(
            format=stream.codec_context.format,
            layout=layout,
            rate=rate,
            frame_size=stream.codec_context.frame_size or None,
        )
        step = sample_rate  # one second per frame
        for block in itertools.chain([first], blocks):
            block = np.atleast_2d(np.asarray(block, dtype=np.float32))
            if block.shape[0] != channels:
                block = block.mean(axis=0, keepdims=True)
            for begin in range(0, block.shape[1], step):
                chunk = np.ascontiguousarray(block[:, begin : begin + step])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
                frame.sample_rate = sample_rate
                for out in resampler.resample(frame):
                    container.mux(stream.encode(out))
        for out in resampler.resample(None):
            container.mux(stream.encode(out))
        container.mux(stream.encode(None))
    return target
