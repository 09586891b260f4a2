"""Real-time factor and peak memory of each back end on the same calls, with the same model, in
one run; ratios against a baseline measured in the same run.

    PYTHONPATH=. python bench/transcribe.py                       # sample_calls/, default calls
    PYTHONPATH=. python bench/transcribe.py FOLDER --calls c001,c033 --configs fw-int8-b5,ow-b5

Each configuration runs in its own process (a fresh model, its own peak RSS). Times exclude
model loading, which is reported apart. RTF = seconds of audio per second of wall time; on a
machine shared with other work, the audio per CPU-second column is the steadier one.

Configurations:
  fw-plain     faster-whisper as it comes: int8, beam 5, its own VAD, the stereo mixed to mono,
               conditioned on previous text (the "first measurement" of the project)
  fw-int8-b5   our pipeline: per channel, shared VAD, turns split, int8, beam 5 (the default)
  fw-int8-b5-batch8  the same through faster-whisper's batched pipeline (8 windows at once)
  fw-int8-b1   the same with greedy decoding
  fw-f32-b5    faster-whisper in float32 (the precision openai-whisper runs in on CPU)
  ow-b5        openai-whisper, float32, beam 5, our pipeline, the same (converted) weights
  ow-b1        openai-whisper with greedy decoding
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

CONFIGS = {
    "fw-plain": {},
    "fw-int8-b5": {"beam_size": 5},
    "fw-int8-b5-batch8": {"beam_size": 5, "batch_size": 8},
    "fw-int8-b1": {"beam_size": 1},
    "fw-f32-b5": {"beam_size": 5, "compute_type": "float32"},
    "ow-b5": {"beam_size": 5, "backend": "openai-whisper"},
    "ow-b1": {"beam_size": 1, "backend": "openai-whisper"},
}
DEFAULT_CALLS = "c001,c009,c033"  # a stereo Mandarin call, a mono AMR one, a stereo English one


def peak_rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+)", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def run_one(config: str, files: list[tuple[str, str, str]], threads: int) -> dict[str, float]:
    """Transcribe `files` (path, collector channel, language) with one configuration."""
    import numpy as np

    from auditor.transcribe.audio import decode_audio
    from auditor.transcribe.backends import load_transcriber
    from auditor.transcribe.options import TranscribeOptions
    from auditor.transcribe.recording import transcribe_recording

    audio_s = sum(decode_audio(path).shape[1] / 16000 for path, _, _ in files)
    started = time.perf_counter()
    if config == "fw-plain":
        from faster_whisper import WhisperModel

        from auditor.transcribe.model import default_model_dir

        model = WhisperModel(
            str(default_model_dir()), device="cpu", compute_type="int8", cpu_threads=threads
        )
        load_s = time.perf_counter() - started
        wall, cpu = time.perf_counter(), time.process_time()
        segments = 0
        for path, _, language in files:
            mono = np.ascontiguousarray(decode_audio(path).mean(axis=0))
            found, _ = model.transcribe(mono, language=language, beam_size=5, vad_filter=True)
            segments += len(list(found))
    else:
        options = TranscribeOptions(cpu_threads=threads, **CONFIGS[config])  # type: ignore[arg-type]
        transcriber = load_transcriber(options)
        load_s = time.perf_counter() - started
        wall, cpu = time.perf_counter(), time.process_time()
        segments = 0
        for path, channel, language in files:
            result = transcribe_recording(
                path, transcriber, options, collector_channel=channel, language=language
            )
            segments += len(result.segments)
    return {
        "audio_s": audio_s,
        "load_s": load_s,
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
        "segments": segments,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", default="sample_calls")
    parser.add_argument("--calls", default=DEFAULT_CALLS)
    parser.add_argument("--configs", default="fw-plain,fw-int8-b5,fw-int8-b1,fw-f32-b5,ow-b5")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import csv

    with open(Path(args.folder) / "manifest.csv", encoding="utf-8-sig", newline="") as handle:
        rows = {r["call_id"]: r for r in csv.DictReader(handle)}
    files = [
        (
            str(Path(args.folder) / rows[c]["file"]),
            rows[c].get("collector_channel") or "left",
            rows[c].get("language") or "zh",
        )
        for c in args.calls.split(",")
    ]
    if args.one:
        print(json.dumps(run_one(args.one, files, args.threads)))
        return

    results: dict[str, dict[str, float]] = {}
    for config in args.configs.split(","):
        command = [sys.executable, __file__, args.folder, "--calls", args.calls]
        command += ["--threads", str(args.threads), "--one", config]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{config}: failed\n{done.stderr[-2000:]}")
            continue
        results[config] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[config]
        print(
            f"{config:11} audio {r['audio_s']:6.1f} s  wall {r['wall_s']:6.1f} s  "
            f"cpu {r['cpu_s']:6.1f} s  RTF {r['audio_s'] / r['wall_s']:5.2f}x  "
            f"audio/cpu-s {r['audio_s'] / r['cpu_s']:5.2f}  load {r['load_s']:4.1f} s  "
            f"peak {r['peak_rss_mb']:5.0f} MB  segments {r['segments']:.0f}",
            flush=True,
        )
    if results:
        base_name = next(iter(results))
        base = results[base_name]
        print(f"\nratios against {base_name} (>1: faster)")
        for config, r in results.items():
            print(
                f"{config:11} wall {base['wall_s'] / r['wall_s']:5.2f}  "
                f"cpu {base['cpu_s'] / r['cpu_s']:5.2f}"
            )
        if "fw-f32-b5" in results and "ow-b5" in results:
            fw, ow = results["fw-f32-b5"], results["ow-b5"]
            print(
                f"\nopenai-whisper / faster-whisper, both float32 beam 5: "
                f"{ow['wall_s'] / fw['wall_s']:.2f}x the wall time, "
                f"{ow['cpu_s'] / fw['cpu_s']:.2f}x the CPU time"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
