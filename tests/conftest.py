from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from auditor.store import Store, open_store

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REPO = Path(__file__).resolve().parents[1]


def write_silence_wav(
    path: Path, seconds: float = 0.5, rate: int = 8000, channels: int = 2
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * channels * int(seconds * rate))
    return path


MANIFEST_HEADER = "file,call_id,collector_id,team,account_id,start_time,timezone,party_reached\n"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "db" / "auditor.db")


@pytest.fixture
def call_folder(tmp_path: Path) -> Callable[..., Path]:
    """A folder with `n` small recordings and a manifest naming them (encoded as asked)."""

    def make(n: int = 3, encoding: str = "utf-8", extra_rows: str = "") -> Path:
        folder = tmp_path / "calls"
        rows = []
        for i in range(1, n + 1):
            write_silence_wav(folder / "audio" / f"c{i:03d}.wav", seconds=0.1 * i)
            rows.append(
                f"audio/c{i:03d}.wav,c{i:03d},张伟{i % 2},team_a,A{i:04d},"
                f"2026-11-16T09:{i:02d}:00+08:00,Asia/Shanghai,debtor\n"
            )
        text = MANIFEST_HEADER + "".join(rows) + extra_rows
        (folder / "manifest.csv").write_bytes(text.encode(encoding))
        return folder

    return make
