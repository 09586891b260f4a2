from __future__ import annotations

import os
import uuid
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


PG_URL = os.environ.get(
    "AUDITOR_TEST_PG", ""
)  # e.g. postgresql://postgres@127.0.0.1:54329/postgres


@pytest.fixture
def pg_database() -> str:
    """A fresh, empty PostgreSQL database (dropped afterwards); the URL to it."""
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("AUDITOR_TEST_PG is not set in CI: .ci/run must start PostgreSQL")
        pytest.skip("PostgreSQL tests need AUDITOR_TEST_PG=postgresql://user@host:port/db")
    from sqlalchemy import create_engine, text

    from auditor.store import database_url

    admin = create_engine(database_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"auditor_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = database_url(PG_URL).rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tests run against an SQLite file and a PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "db" / "auditor.db")
    return request.getfixturevalue("pg_database")


@pytest.fixture
def store(db_url: str) -> Store:
    opened = open_store(db_url)
    yield opened
    opened.close()


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
