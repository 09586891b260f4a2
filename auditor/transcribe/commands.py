"""What `auditor transcribe` calls. The CLI parses options, calls one function and prints."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from auditor.transcribe.cache import TranscriptCache
from auditor.transcribe.options import TranscribeOptions
from auditor.transcribe.pool import RecordingJob, TranscriptionPool


def transcribe_files(
    paths: Iterable[str | Path],
    options: TranscribeOptions,
    *,
    workers: int = 1,
    collector_channel: str = "left",
    use_cache: bool = True,
) -> Iterator[dict[str, Any]]:
    """Transcribe recordings without a store: one dict per segment, in file order then time.

    Each segment: {file, speaker, start, end, text, avg_logprob, no_speech_prob, language}.
    A file that fails gives one {file, error} dict instead and the others go on; the CLI prints
    it to stderr and exits 3.
    """
    files = [str(p) for p in paths]
    jobs = [RecordingJob(i, path, collector_channel) for i, path in enumerate(files)]
    cache = TranscriptCache() if use_cache else None
    pool = TranscriptionPool(options, workers, cache)
    # Results arrive as workers finish; they are released in the order the files were given.
    finished: dict[int, list[dict[str, Any]]] = {}
    next_index = 0
    for job, result in pool.run(jobs):
        index = int(job.key)  # type: ignore[call-overload]
        if isinstance(result, Exception):
            finished[index] = [{"file": job.path, "error": str(result) or repr(result)}]
        else:
            finished[index] = [
                {
                    "file": job.path,
                    "speaker": s.speaker.value,
                    "start": s.start_s,
                    "end": s.end_s,
                    "text": s.text,
                    "avg_logprob": s.avg_logprob,
                    "no_speech_prob": s.no_speech_prob,
                    "language": s.language,
                }
                for s in result.segments
            ]
        while next_index in finished:
            yield from finished.pop(next_index)
            next_index += 1
