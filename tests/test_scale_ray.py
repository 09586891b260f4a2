"""`auditor run --engine ray` on a local Ray: the same store and export as the local engine,
Ray's retry of a worker that dies, audio shipped through the object store, backpressure."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.pipeline import PipelineOptions, run_pipeline
from auditor.scale import RayOptions
from auditor.scale.ray_engine import windowed
from auditor.scale.ray_transcribe import CRASH_ONCE_ENV
from auditor.store import open_store
from tests.test_scale_support import make_sidecar_calls, store_contents


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One local Ray for the module: starting one costs about ten seconds on this machine."""
    try:
        import ray
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must install the extra auditor[ray]: the Ray engine is tested there")
        pytest.skip("the Ray tests need the extra auditor[ray]")
    ray.init(
        address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
        object_store_memory=128 * 1024 * 1024, configure_logging=False,
    )  # fmt: skip
    yield ray
    ray.shutdown()


def _run(
    folder: Path, out: Path, engine: str, export: bool = False, **ray: Any
) -> dict[str, list[tuple]]:
    store = open_store(out / "auditor.db")
    options = PipelineOptions(
        engine=engine,
        ray=RayOptions(**ray) if engine == "ray" else None,
        report=export,
        export=export,
    )
    result = run_pipeline(store, folder, out, options)
    assert result.failures == 0, [s.line for s in result.stages]
    store.close()
    return store_contents(str(out / "auditor.db"))


def _export_files(export: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(export)): p.read_bytes() for p in sorted(export.rglob("*")) if p.is_file()
    }


def _run_rows(raw: bytes) -> list[dict[str, Any]]:
    """runs.json without what differs between any two runs: their clocks and the engine."""
    rows = json.loads(raw)
    rows = rows if isinstance(rows, list) else rows.get("runs", rows)
    for row in rows:
        for key in ("started_at", "finished_at", "id"):
            row.pop(key, None)
        options = row.get("options")
        if isinstance(options, dict):
            options.pop("engine", None)
    return rows


def test_ray_engine_stores_and_exports_what_the_local_engine_does(
    local_ray: Any, tmp_path: Path
) -> None:
    folder = make_sidecar_calls(tmp_path / "calls", n=12)

    local = _run(folder, tmp_path / "local", "local", export=True)
    on_ray = _run(folder, tmp_path / "ray", "ray", export=True, workers=2)

    assert len(local["segments"]) == 12 * 6
    assert {f[1] for f in local["findings"]} == {"scan", "scan_contacts"}  # both kinds ran
    assert len(local["findings"]) > 12
    assert on_ray == local
    assert on_ray["leases"] == []

    local_export = _export_files(tmp_path / "local" / "export")
    ray_export = _export_files(tmp_path / "ray" / "export")
    assert sorted(local_export) == sorted(ray_export)
    # Every file is byte-identical except the record of the runs (their clocks, the engine)
    # and the manifest line that hashes that record.
    differing = sorted(name for name in local_export if local_export[name] != ray_export[name])
    assert set(differing) <= {"runs.json", "MANIFEST.json"}, differing
    if "runs.json" in differing:
        assert _run_rows(local_export["runs.json"]) == _run_rows(ray_export["runs.json"])
    findings_file = next(n for n in local_export if n.startswith("findings") and n.endswith("l"))
    assert local_export[findings_file] == ray_export[findings_file]


def test_ray_worker_killed_mid_call_is_retried_and_the_store_is_as_if_uninterrupted(
    local_ray: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = make_sidecar_calls(tmp_path / "calls", n=8)
    marker = tmp_path / "worker-crashed"
    monkeypatch.setenv(CRASH_ONCE_ENV, f"{marker}:s003.wav")

    interrupted = _run(folder, tmp_path / "crash", "ray", workers=2)

    assert marker.is_file()  # a worker process really died on s003, mid-call
    assert "s003.wav" in marker.read_text()
    monkeypatch.delenv(CRASH_ONCE_ENV)
    assert interrupted == _run(folder, tmp_path / "clean", "local")


def test_audio_shipped_through_the_object_store_gives_the_same_transcripts(
    local_ray: Any, tmp_path: Path
) -> None:
    folder = make_sidecar_calls(tmp_path / "calls", n=4)
    shipped = _run(folder, tmp_path / "shipped", "ray", ship_audio=True, workers=1)
    shared = _run(folder, tmp_path / "shared", "ray", workers=1)
    assert len(shipped["segments"]) == 4 * 6
    assert shipped == shared


def test_a_recording_missing_at_ship_time_is_a_stored_failure_and_the_run_goes_on(
    local_ray: Any, tmp_path: Path
) -> None:
    folder = make_sidecar_calls(tmp_path / "calls", n=3)
    store = open_store(tmp_path / "out" / "auditor.db")
    from auditor.ingest import ingest_folder

    ingest_folder(store, folder, store.begin_run("ingest"))
    (folder / "audio" / "s001.wav").unlink()
    options = PipelineOptions(
        engine="ray", ray=RayOptions(ship_audio=True, workers=1), report=False, export=False
    )
    ticks: Counter[str] = Counter()
    sizes: dict[str, int] = {}

    def progress(items: Any, desc: str) -> Iterator[Any]:  # the auditor.progress protocol
        sizes[desc] = len(items)
        for item in items:
            ticks[desc] += 1
            yield item

    result = run_pipeline(store, folder, tmp_path / "out", options, progress=progress)

    failures = [f for f in store.failures() if f.stage == "transcribe"]
    assert [Path(f.path).name for f in failures] == ["s001.wav"]
    assert "cannot read the recording" in failures[0].error
    assert result.failures >= 1
    assert store.count("segment") == 2 * 6  # the other calls were transcribed
    assert store.count("claim") == 0  # the failed call's lease was given back
    # The bar knew the totals and advanced once per finished call, the failed one included.
    assert sizes == {"transcribe": 3, "scan": 3} and ticks == {"transcribe": 3, "scan": 3}


def test_engine_ray_without_ray_installed_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    folder = make_sidecar_calls(tmp_path / "calls", n=1)
    result = CliRunner().invoke(
        cli, ["run", str(folder), "--engine", "ray", "--out", str(tmp_path / "out"), "-q"]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "pip install 'auditor[ray]'" in result.output
    assert not (tmp_path / "out" / "auditor.db").exists()  # refused before any work


def test_ray_options_without_engine_ray_are_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["run", str(tmp_path), "--ray-ship-audio"])
    assert result.exit_code == 2 and "need --engine ray" in result.output


class _FakeRay:
    """ray.wait/ray.get over plain values, to watch the window without a cluster."""

    class exceptions:  # named as in the ray module
        RayError = RuntimeError

    def __init__(self) -> None:
        self.in_flight: set[int] = set()
        self.most = 0

    def submit(self, item: int) -> int:
        self.in_flight.add(item)
        self.most = max(self.most, len(self.in_flight))
        return item

    def wait(self, refs: list[int], num_returns: int) -> tuple[list[int], list[int]]:
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref: int) -> int:
        self.in_flight.discard(ref)
        return ref * 10


def test_window_bounds_what_is_in_flight_and_leases_just_in_time() -> None:
    ray = _FakeRay()
    pulled: list[int] = []

    def backlog() -> Iterator[int]:
        for item in range(1, 1001):  # stands for a million-call backlog
            pulled.append(item)
            yield item

    seen = []
    for item, result in windowed(ray, backlog(), ray.submit, window=4):
        seen.append((item, result))
        # never more than the window leased ahead of what has finished
        assert len(pulled) - len(seen) <= 4
    assert ray.most == 4
    assert sorted(seen) == [(i, i * 10) for i in range(1, 1001)]


@pytest.mark.model
def test_a_real_recording_transcribed_by_a_ray_actor_matches_the_local_engine(
    local_ray: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whisper itself, not a sidecar: the actor loads the model and gives the local text."""
    import shutil

    from tests.conftest import REPO

    corpus = REPO / "sample_calls"
    source = corpus / "audio" / "2026-W47" / "c029.wav"  # the shortest call, 14 s
    if not source.is_file():
        pytest.skip("sample_calls/ is not in this checkout")
    folder = tmp_path / "calls"
    (folder / "audio").mkdir(parents=True)
    shutil.copyfile(source, folder / "audio" / "c029.wav")
    row = next(
        line for line in (corpus / "manifest.csv").read_text().splitlines() if "c029" in line
    )
    header = (corpus / "manifest.csv").read_text().splitlines()[0]
    (folder / "manifest.csv").write_text(
        f"{header}\n{row.replace('audio/2026-W47/', 'audio/')}\n", encoding="utf-8"
    )
    from auditor.transcribe import TranscribeOptions

    def run(engine: str) -> dict[str, list[tuple]]:
        out = tmp_path / engine
        store = open_store(out / "auditor.db")
        options = PipelineOptions(
            engine=engine,
            ray=RayOptions(workers=1) if engine == "ray" else None,
            transcribe=TranscribeOptions(cpu_threads=2),
            report=False,
            export=False,
        )
        result = run_pipeline(store, folder, out, options)
        assert result.failures == 0
        assert "1 transcribed" in result.stages[1].line  # by Whisper, not from a cache
        store.close()
        return store_contents(str(out / "auditor.db"))

    # Transcripts cached in a folder of this test's own, emptied between the two runs, so both
    # really run Whisper (the model itself stays where it is).
    import auditor.transcribe.cache as transcript_cache

    monkeypatch.setattr(transcript_cache, "cache_root", lambda: tmp_path / "cache")
    local = run("local")
    shutil.rmtree(tmp_path / "cache")
    on_ray = run("ray")
    assert local["segments"], "Whisper heard nothing in the call"
    assert any("\u4e00" <= ch <= "\u9fff" for seg in local["segments"] for ch in seg[5])
    assert on_ray == local


def test_a_ray_driver_and_a_local_run_share_one_postgresql_store_exactly_once(
    local_ray: Any, pg_database: str, tmp_path: Path
) -> None:
    import re

    from tests.test_scale_concurrency import _auditor, _finish, _worked_on

    calls = 150
    folder = make_sidecar_calls(tmp_path / "calls", n=calls, accounts=10)
    store = open_store(pg_database)
    others: list[Any] = []

    def progress(items: Any, desc: str) -> Iterator[Any]:
        for item in items:
            if not others:  # the Ray driver is at work: a second process joins in
                others.append(
                    _auditor(str(folder), "--db", pg_database, "--out", str(tmp_path / "local"))
                )
            yield item

    options = PipelineOptions(engine="ray", ray=RayOptions(workers=2), report=False, export=False)
    on_ray = run_pipeline(store, folder, tmp_path / "ray", options, progress=progress)
    store.close()
    local_output = _finish(others[0])

    transcribed = re.search(r"(\d+) from sidecar", on_ray.stages[1].line)
    scanned = re.search(r"scanned (\d+) contacts", on_ray.stages[2].line)
    by_ray = (
        int(transcribed.group(1)) if transcribed else 0,
        int(scanned.group(1)) if scanned else 0,
    )
    by_local = _worked_on(local_output)
    # Every call transcribed once and scanned once, between the two of them.
    assert by_ray[0] + by_local[0] == calls, (on_ray.stages, local_output)
    assert by_ray[1] + by_local[1] == calls, (on_ray.stages, local_output)
    shared = store_contents(pg_database)
    assert shared["leases"] == []
    assert shared == _run(folder, tmp_path / "alone", "local")
