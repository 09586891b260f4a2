"""Throughput of the local and the Ray engine with 1 and 2 workers, measured in one run.

    PYTHONPATH=. python bench/scale.py [--calls sample_calls] [--n 6] [--json out.json]

Takes the first N recordings of the corpus manifest, and for each engine × worker count builds a
fresh SQLite store, ingests them (not timed), then times the transcribe stage (offline Whisper
base, faster-whisper int8 on CPU, beam 5, no transcript cache: every call really goes through
Whisper, model loads included, as they are in a real run) and the scan stage (every rule pack).
Ray runs on one private local Ray started once (its start-up is timed and printed apart).

Prints, per configuration: contacts per minute, audio hours per hour (seconds of audio per
second of wall time), then ratios against the local engine with one worker, and Ray's
per-task overhead from no-op tasks and no-op actor calls, against a plain function call.

Stereo calls are transcribed per channel, so "audio hours" counts each call's duration once
(what the call centre recorded), not the channel-seconds Whisper decoded.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from auditor.engine import load_pack
from auditor.engine.stage import scan_pending
from auditor.ingest import ingest_folder
from auditor.scale import RayOptions
from auditor.scale.ray_engine import ray_session
from auditor.scale.ray_scan import scan_pending_ray
from auditor.scale.ray_transcribe import transcribe_pending_ray
from auditor.store import open_store
from auditor.transcribe import TranscribeOptions
from auditor.transcribe.audio import probe
from auditor.transcribe.recording import sidecar_path
from auditor.transcribe.stage import transcribe_pending

CPUS = 2


def pick_calls(corpus: Path, n: int, into: Path) -> tuple[Path, float]:
    """A folder with copies of the first `n` decodable recordings of the corpus (ingest refuses
    links that lead outside the folder)."""
    with open(corpus / "manifest.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    chosen, audio_s = [], 0.0
    for row in rows:
        path = corpus / row["file"]
        if not path.is_file() or sidecar_path(path).exists():
            continue
        try:
            duration = probe(path).duration_s or 0.0
        except Exception:
            continue  # the corpus keeps a few broken files on purpose
        target = into / row["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        chosen.append(row)
        audio_s += duration
        if len(chosen) == n:
            break
    with open(into / "manifest.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    return into, audio_s


def run_config(
    engine: str, workers: int, folder: Path, work: Path, pack: Any, audio_s: float
) -> dict[str, Any]:
    store = open_store(work / f"{engine}-{workers}.db")
    run_id = store.begin_run("bench")
    ingest_folder(store, folder, run_id)
    options = TranscribeOptions()
    started = time.perf_counter()
    if engine == "local":
        transcribed = transcribe_pending(store, options, run_id, workers=workers, use_cache=False)
        after_transcribe = time.perf_counter()
        scanned = scan_pending(store, pack, run_id)
    else:
        ray_options = RayOptions(workers=workers, local_cpus=CPUS)
        transcribed = transcribe_pending_ray(store, options, run_id, ray_options, use_cache=False)
        after_transcribe = time.perf_counter()
        scanned = scan_pending_ray(store, pack, run_id, ray_options)
    finished = time.perf_counter()
    if transcribed.failed or scanned.failed or not transcribed.transcribed:
        sys.exit(f"{engine} × {workers}: {transcribed.describe()}; {scanned.describe()}")
    contacts = transcribed.transcribed
    wall = finished - started
    store.close()
    return {
        "engine": engine,
        "workers": workers,
        "contacts": contacts,
        "audio_s": audio_s,
        "transcribe_s": after_transcribe - started,
        "scan_s": finished - after_transcribe,
        "wall_s": wall,
        "contacts_per_min": contacts / wall * 60,
        "audio_h_per_h": audio_s / wall,
        "findings": scanned.findings + scanned.contact_findings,
    }


def noop() -> None:
    return None


class NoopActor:
    def call(self) -> None:
        return None


def ray_overhead(ray: Any, tasks: int = 400) -> dict[str, float]:
    """Seconds per no-op remote task and per no-op actor call, with 2×CPUs in flight."""
    remote_noop = ray.remote(noop)
    ray.get([remote_noop.remote() for _ in range(CPUS * 2)])  # workers started, imports done
    started = time.perf_counter()
    ray.get([remote_noop.remote() for _ in range(tasks)])
    per_task = (time.perf_counter() - started) / tasks

    actor = ray.remote(NoopActor).remote()
    ray.get(actor.call.remote())
    started = time.perf_counter()
    ray.get([actor.call.remote() for _ in range(tasks)])
    per_actor_call = (time.perf_counter() - started) / tasks

    started = time.perf_counter()
    for _ in range(tasks):
        noop()
    per_local_call = (time.perf_counter() - started) / tasks
    ray.kill(actor)
    return {
        "task_s": per_task,
        "actor_call_s": per_actor_call,
        "local_call_s": per_local_call,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=Path, default=Path("sample_calls"))
    parser.add_argument("--n", type=int, default=6, help="recordings to transcribe per config")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not (args.calls / "manifest.csv").is_file():
        sys.exit(f"{args.calls}: no manifest.csv; pass --calls FOLDER of recordings")

    with tempfile.TemporaryDirectory(prefix="auditor-bench-scale-") as tmp:
        work = Path(tmp)
        folder, audio_s = pick_calls(args.calls, args.n, work / "calls")
        print(f"{args.n} recordings, {audio_s:.0f} s of audio, {os.cpu_count()} cores")
        pack = load_pack("all")
        results = [run_config("local", w, folder, work, pack, audio_s) for w in (1, 2)]
        ray_started = time.perf_counter()
        with ray_session(RayOptions(local_cpus=CPUS)) as ray:
            start_up = time.perf_counter() - ray_started
            results += [run_config("ray", w, folder, work, pack, audio_s) for w in (1, 2)]
            overhead = ray_overhead(ray)

    print()
    print(f"{'engine':8} {'workers':>7} {'contacts/min':>13} {'audio h/h':>10} "
          f"{'transcribe s':>13} {'scan s':>7} {'wall s':>7}")  # fmt: skip
    for r in results:
        print(
            f"{r['engine']:8} {r['workers']:>7} {r['contacts_per_min']:>13.2f} "
            f"{r['audio_h_per_h']:>10.2f} {r['transcribe_s']:>13.1f} {r['scan_s']:>7.1f} "
            f"{r['wall_s']:>7.1f}"
        )
    by = {(r["engine"], r["workers"]): r for r in results}
    base = by[("local", 1)]["wall_s"]
    print()
    print("ratios of throughput (higher is faster), same run, same machine:")
    print(f"  local 2 workers / local 1 worker: {base / by[('local', 2)]['wall_s']:.2f}")
    print(f"  ray 1 worker / local 1 worker:    {base / by[('ray', 1)]['wall_s']:.2f}")
    print(f"  ray 2 workers / local 2 workers:  "
          f"{by[('local', 2)]['wall_s'] / by[('ray', 2)]['wall_s']:.2f}")  # fmt: skip
    print(f"  ray 2 workers / ray 1 worker:     "
          f"{by[('ray', 1)]['wall_s'] / by[('ray', 2)]['wall_s']:.2f}")  # fmt: skip
    per_call = statistics.mean(r["transcribe_s"] / max(1, r["contacts"]) for r in results)
    print()
    print(f"Ray start-up (local, {CPUS} CPUs): {start_up:.1f} s, once per run")
    print(
        f"Ray overhead: {overhead['task_s'] * 1e3:.2f} ms per no-op task, "
        f"{overhead['actor_call_s'] * 1e3:.2f} ms per no-op actor call, "
        f"{overhead['local_call_s'] * 1e6:.2f} µs per plain call "
        f"({overhead['task_s'] / overhead['local_call_s']:.0f}x); "
        f"a task is {overhead['task_s'] / per_call * 100:.3f}% of one call's transcription "
        f"({per_call:.1f} s)"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"runs": results, "ray_start_s": start_up, "overhead": overhead}, indent=2)
        )


if __name__ == "__main__":
    main()
