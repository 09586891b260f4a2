"""Character / word error rate of the transcription against the scripts of sample_calls/.

    PYTHONPATH=. python bench/asr_error.py                         # defaults, all labelled calls
    PYTHONPATH=. python bench/asr_error.py --beam 1 --hotwords     # compare a variant
    PYTHONPATH=. python bench/asr_error.py --language zh --json out.json

Prints CER (Chinese, per character) and WER (English, per word) for the collector, the customer
and whole calls, and the real-time factor of the run (audio seconds per wall second).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

from auditor.transcribe.evaluate import evaluate_folder, read_labelled_calls
from auditor.transcribe.options import COLLECTION_HOTWORDS_ZH, TranscribeOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", default="sample_calls")
    parser.add_argument("--backend", default="faster-whisper")
    parser.add_argument("--model", default=None)
    parser.add_argument("--beam", type=int, default=TranscribeOptions().beam_size)
    parser.add_argument("--hotwords", action="store_true", help="Chinese collection hotwords")
    parser.add_argument("--prompt", action="store_true", help="the hotwords as initial prompt")
    parser.add_argument("--condition", action="store_true", help="condition_on_previous_text")
    parser.add_argument("--no-vad", action="store_true")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=0, help="faster-whisper batch size")
    parser.add_argument("--split", type=float, default=0.8, help="split_pause_s; 0 = off")
    parser.add_argument("--language", choices=["zh", "en"], help="only calls in this language")
    parser.add_argument("--limit", type=int, help="only the first N calls")
    parser.add_argument("--json", type=Path, help="write the per-call rows and totals here")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every hypothesis")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    options = TranscribeOptions(
        backend=args.backend,
        model=args.model,
        beam_size=args.beam,
        hotwords=COLLECTION_HOTWORDS_ZH if args.hotwords else None,
        initial_prompt=COLLECTION_HOTWORDS_ZH if args.prompt else None,
        condition_on_previous_text=args.condition,
        vad=None if args.no_vad else TranscribeOptions().vad,
        cpu_threads=args.threads,
        batch_size=args.batch,
        split_pause_s=args.split or None,
    )
    calls = read_labelled_calls(Path(args.folder))
    chosen = [
        label["contact"]
        for label, _ in calls
        if args.language is None or label.get("language") == args.language
    ]
    if args.limit:
        chosen = chosen[: args.limit]
    evaluation = evaluate_folder(args.folder, options, workers=args.workers, contacts=chosen)

    for row in evaluation.per_call:
        rates = " ".join(f"{k}={row[k]}" for k in ("collector", "customer", "all") if k in row)
        print(f"{row['contact']} {row['language']} {rates}")
        if args.verbose:
            print("   ", row["hypothesis"])
    print()
    for row in evaluation.table():
        print(
            f"{row['language']} {row['speaker']:9} {row['metric']} {row['rate']:.3f}"
            f"  ({row['errors']}/{row['reference']})"
        )
    rtf = evaluation.audio_s / evaluation.wall_s if evaluation.wall_s else 0.0
    print(
        f"\n{len(evaluation.per_call)} calls, {evaluation.audio_s:.0f} s of audio in "
        f"{evaluation.wall_s:.0f} s: {rtf:.2f}x real time; options {options.fingerprint()}"
    )
    for failure in evaluation.failures:
        print("FAILED", failure)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "options": dataclasses.asdict(options),
                    "totals": evaluation.table(),
                    "calls": evaluation.per_call,
                    "audio_s": evaluation.audio_s,
                    "wall_s": evaluation.wall_s,
                },
                ensure_ascii=False,
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
