"""The transcribe stage over a store, the file command, and the worker pool."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from auditor.models import Channel, Contact, Segment, Speaker
from auditor.transcribe.audio import write_audio
from auditor.transcribe.options import TranscribeOptions
from auditor.transcribe.pool import RecordingJob, TranscriptionPool, threads_per_worker
from auditor.transcribe.recording import RecordingTranscript
from auditor.transcribe.stage import ContactProgress, transcribe_pending


class FakeStore:
    """The store methods the stage uses (STORE_API.md), kept in memory."""

    def __init__(self, contacts: list[Contact]) -> None:
        self.contacts = contacts
        self.done: dict[Any, str] = {}
        self.segments: dict[Any, list[Segment]] = {}
        self.failures: list[tuple[int, str, str, str]] = []
        self.pending_calls: list[tuple[str, str, str | None]] = []

    def pending(self, stage: str, version: str, channel: str | None = None) -> list[Contact]:
        self.pending_calls.append((stage, version, channel))
        return [
            c
            for c in self.contacts
            if (channel is None or c.channel == channel) and self.done.get(c.id) != version
        ]

    def claimed(
        self, stage: str, version: str, worker: str, channel: str | None = None, batch: int = 1
    ) -> Iterator[Contact]:
        # Not through pending(): the tests count the stage's own pending() calls.
        yield from [
            c
            for c in self.contacts
            if (channel is None or c.channel == channel) and self.done.get(c.id) != version
        ]

    def release(self, contact_id: Any, stage: str) -> None:
        pass

    def leases(self, stage: str) -> list[tuple[int, str]]:
        return []

    def save_segments(
        self,
        contact_id: Any,
        segments: list[Segment],
        stage_version: str,
        run_id: int,
        duration_s: float | None = None,
    ) -> None:
        self.segments[contact_id] = list(segments)
        self.done[contact_id] = stage_version

    def record_failure(
        self, run_id: int, path: str, stage: str, error: str, line: int | None = None
    ) -> None:
        self.failures.append((run_id, path, stage, error))


def call(contact_id: int, path: Path | str, **kw: Any) -> Contact:
    return Contact(
        external_id=f"c{contact_id:03d}",
        channel=Channel.CALL,
        collector_id="zh_w01",
        account_id="A1001",
        started_at=datetime(2026, 11, 16, 1, 30, tzinfo=UTC),
        timezone="Asia/Shanghai",
        source_path=str(path),
        id=contact_id,
        **kw,
    )


@pytest.fixture(autouse=True)
def isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITOR_CACHE", str(tmp_path_factory.getbasetemp() / "auditor-cache"))


def test_stage_saves_sidecars_records_failures_and_goes_on(tmp_path: Path) -> None:
    voice = write_audio(tmp_path / "c001.wav", np.zeros((2, 8000), np.float32), 8000)
    Path(f"{voice}.transcript.jsonl").write_text(
        '{"speaker": "collector", "start": 0.2, "end": 1.0, "text": "您好"}\n', encoding="utf-8"
    )
    broken = tmp_path / "c002.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    store = FakeStore(
        [
            call(1, voice),
            call(2, broken),
            call(3, "", connected=False),
            call(4, tmp_path / "no.wav"),
        ]
    )
    seen: list[ContactProgress] = []

    summary = transcribe_pending(store, TranscribeOptions(), run_id=7, on_contact=seen.append)

    assert store.pending_calls[0][0] == "transcribe" and store.pending_calls[0][2] == "call"
    assert [(s.speaker, s.text) for s in store.segments[1]] == [(Speaker.COLLECTOR, "您好")]
    assert store.segments[3] == []  # an unanswered attempt without a recording is done, empty
    assert 2 not in store.segments and 4 not in store.segments
    assert [(f[0], f[1], f[2]) for f in store.failures] == [
        (7, str(broken), "transcribe"),
        (7, str(tmp_path / "no.wav"), "transcribe"),
    ]
    assert "c002.wav" in store.failures[0][3] and "no such recording" in store.failures[1][3]
    assert (summary.sidecar, summary.no_audio, summary.failed, summary.pending) == (1, 1, 2, 4)
    assert summary.status == "partial"
    assert sorted(p.status for p in seen) == ["failed", "failed", "no_audio", "sidecar"]
    assert "2 failed" in summary.describe()

    again = transcribe_pending(store, TranscribeOptions(), run_id=8)
    assert again.pending == 2  # only the failed ones are pending at the same version


def test_stage_version_changes_with_options(tmp_path: Path) -> None:
    store = FakeStore([])
    transcribe_pending(store, TranscribeOptions(), run_id=1)
    transcribe_pending(store, TranscribeOptions(beam_size=5), run_id=2)
    transcribe_pending(store, TranscribeOptions(cpu_threads=1), run_id=3)
    versions = [v for _, v, _ in store.pending_calls]
    assert versions[0] != versions[1]
    assert versions[0] == versions[2]


def test_threads_are_shared_between_workers() -> None:
    assert threads_per_worker(1, cores=8) == 8
    assert threads_per_worker(3, cores=8) == 2
    assert threads_per_worker(4, cores=2) == 1


# A worker task for the crash test: spawned workers import it from this module.
def _crashing_task(job: RecordingJob) -> RecordingTranscript:
    if job.path.endswith("crash.wav"):
        os._exit(1)  # as a worker killed by the kernel's OOM killer would
    return RecordingTranscript(job.path, [Segment(Speaker.UNKNOWN, 0, 1, job.path)], 1.0, "whisper")


def _no_init(*_: object) -> None:
    return None


class CrashingPool(TranscriptionPool):
    worker_task = staticmethod(_crashing_task)
    worker_init = staticmethod(_no_init)


def test_a_worker_dying_on_one_recording_fails_only_that_recording() -> None:
    pool = CrashingPool(TranscribeOptions(), workers=2)
    jobs = [
        RecordingJob(i, f"/calls/{name}")
        for i, name in enumerate(["a.wav", "crash.wav", "b.wav", "c.wav"])
    ]

    results = {job.path: result for job, result in pool.run(jobs)}

    assert set(results) == {"/calls/a.wav", "/calls/crash.wav", "/calls/b.wav", "/calls/c.wav"}
    assert isinstance(results["/calls/crash.wav"], Exception)
    assert "worker died" in str(results["/calls/crash.wav"])
    for name in ("a.wav", "b.wav", "c.wav"):
        result = results[f"/calls/{name}"]
        assert (
            isinstance(result, RecordingTranscript) and result.segments[0].text == f"/calls/{name}"
        )


def test_stage_runs_against_the_real_store_after_ingest(tmp_path: Path) -> None:
    from auditor.ingest import ingest_folder
    from auditor.store import open_store

    calls = tmp_path / "calls"
    (calls / "audio").mkdir(parents=True)
    good = write_audio(calls / "audio" / "c001.wav", np.zeros((2, 8000), np.float32), 8000)
    Path(f"{good}.transcript.jsonl").write_text(
        '{"speaker": "customer", "start": 1.5, "end": 2.0, "text": "嗯，什么事？"}\n'
        '{"speaker": "collector", "start": 0.1, "end": 1.2, "text": "您好，我是信用卡中心的"}\n',
        encoding="utf-8",
    )
    (calls / "audio" / "c002.wav").write_bytes(b"RIFF....WAVEfmt not really")
    (calls / "manifest.csv").write_text(
        "file,call_id,collector_id,account_id,start_time,timezone\n"
        "audio/c001.wav,c001,zh_w01,A1001,2026-11-16T09:30:00+08:00,Asia/Shanghai\n"
        "audio/c002.wav,c002,zh_w01,A1002,2026-11-16T09:40:00+08:00,Asia/Shanghai\n",
        encoding="utf-8",
    )
    store = open_store(tmp_path / "auditor.db")
    ingest_folder(store, calls, store.begin_run("ingest"))
    run_id = store.begin_run("transcribe")

    summary = transcribe_pending(store, TranscribeOptions(), run_id)

    by_call = {c.external_id: c for c in store.contacts(channel="call")}
    assert [(s.speaker, s.text) for s in store.segments(by_call["c001"].id)] == [
        (Speaker.COLLECTOR, "您好，我是信用卡中心的"),
        (Speaker.CUSTOMER, "嗯，什么事？"),
    ]
    failures = store.failures(run_id)
    assert len(failures) == 1 and "c002.wav" in str(failures[0])
    assert (summary.sidecar, summary.failed) == (1, 1)
    assert [c.external_id for c in store.pending("transcribe", summary.stage_version, "call")] == [
        "c002"
    ]
