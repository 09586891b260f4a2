"""Transcription: every recording to timestamped, speaker-labelled segments, offline and cached.

Entry points (what the CLI and other stages call):

- `stage.transcribe_pending(store, options, run_id, workers=1, progress=None)` ->
  `TranscribeSummary`: every call contact pending at this stage version, one transaction each.
- `commands.transcribe_files(paths, options, workers=1, collector_channel="left")` -> dicts,
  one per segment (or one {file, error} per failed file), for `auditor transcribe FILE… --json`.
- `backends.plan_transcriber(options)` -> what will run (model name and sha256 for the run row)
  without loading anything; `backends.load_transcriber(options)` -> a loaded `Transcriber`.
- `evaluate.evaluate_folder(folder, options)` -> CER/WER against a labelled folder.

Pipeline of one recording (`recording.transcribe_recording`): a `<file>.transcript.jsonl` sidecar
wins; else the cache (audio SHA-256, channel, back end + model hash + precision, options); else
PyAV decodes it to 16 kHz in windows, each stereo channel goes through Silero VAD and Whisper on
its own, segments are split per turn, cleaned (hallucinations, loops, simplified Chinese) and
merged on one timeline with the collector's channel as `collector`.
"""

from auditor.transcribe.options import COLLECTION_HOTWORDS_ZH, TranscribeOptions, VadOptions

__all__ = ["COLLECTION_HOTWORDS_ZH", "TranscribeOptions", "VadOptions"]
