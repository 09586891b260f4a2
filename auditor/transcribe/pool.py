"""Transcribe many recordings: in this process, or in a pool of worker processes.

Each worker loads the model once (on its first cache miss) and runs with
`cores // workers` threads, so workers × threads never oversubscribe the machine and memory is
one model plus one audio window per worker. Results come back per recording as they finish; one
recording's failure, even a worker process dying on it, is that recording's failure only.

Processes scale better than threads for a model this small: on 8 Mandarin calls of
sample_calls/ (271 s of audio, 2 cores), two workers of one thread each ran at 14.6x real time
against 10.3x for one worker of two threads, model loading included (bench/asr_error.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from auditor.errors import AudioError, AuditorError
from auditor.transcribe.backends import LazyTranscriber, TranscriberPlan, plan_transcriber
from auditor.transcribe.cache import TranscriptCache
from auditor.transcribe.options import TranscribeOptions
from auditor.transcribe.recording import RecordingTranscript, transcribe_recording

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordingJob:
    key: object  # the caller's handle (a contact id, a file name), returned untouched
    path: str
    collector_channel: str = "left"
    language: str | None = None
    audio_sha256: str | None = None


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def _run_job(
    job: RecordingJob,
    transcriber: LazyTranscriber,
    options: TranscribeOptions,
    cache: TranscriptCache | None,
) -> RecordingTranscript:
    return transcribe_recording(
        job.path,
        transcriber,
        options,
        collector_channel=job.collector_channel,
        language=job.language,
        audio_sha256=job.audio_sha256,
        cache=cache,
    )


# State of one worker process, set once by its initializer.
_worker: tuple[LazyTranscriber, TranscribeOptions, TranscriptCache | None] | None = None


def _init_worker(
    options: TranscribeOptions, plan: TranscriberPlan, threads: int, cache_dir: str | None
) -> None:
    global _worker
    cache = TranscriptCache(Path(cache_dir)) if cache_dir else None
    _worker = (LazyTranscriber(options, threads, plan), options, cache)


def _work(job: RecordingJob) -> RecordingTranscript:
    assert _worker is not None, "worker used before its initializer ran"
    transcriber, options, cache = _worker
    return _run_job(job, transcriber, options, cache)


class TranscriptionPool:
    """`run(jobs)` yields (job, transcript or the AuditorError/Exception it failed with)."""

    # What each worker process runs: module-level functions, as spawned workers import them.
    worker_task = staticmethod(_work)
    worker_init = staticmethod(_init_worker)

    def __init__(
        self,
        options: TranscribeOptions,
        workers: int = 1,
        cache: TranscriptCache | None = None,
        plan: TranscriberPlan | None = None,
    ) -> None:
        self.options = options
        self.workers = max(1, workers)
        self.cache = cache
        self.plan = plan or plan_transcriber(options)
        self.threads = options.cpu_threads or threads_per_worker(self.workers)
        self._local: LazyTranscriber | None = None

    @property
    def identity(self) -> str:
        return self.plan.identity

    def run(
        self, jobs: Iterable[RecordingJob]
    ) -> Iterator[tuple[RecordingJob, RecordingTranscript | Exception]]:
        if self.workers == 1:
            yield from self._run_here(jobs)
        else:
            yield from self._run_pool(jobs)

    def _run_here(
        self, jobs: Iterable[RecordingJob]
    ) -> Iterator[tuple[RecordingJob, RecordingTranscript | Exception]]:
        if self._local is None:
            self._local = LazyTranscriber(self.options, self.threads, self.plan)
        for job in jobs:
            try:
                yield job, _run_job(job, self._local, self.options, self.cache)
            except AuditorError as exc:
                if not isinstance(exc, AudioError):
                    raise  # a model that does not load fails every recording: stop here
                yield job, exc
            except Exception as exc:  # one recording's bug must not end the batch
                log.exception("%s: transcription failed", job.path)
                yield job, exc

    def _new_executor(self) -> ProcessPoolExecutor:
        cache_dir = str(self.cache.root) if self.cache else None
        return ProcessPoolExecutor(
            max_workers=self.workers,
            # spawn, not fork: CTranslate2, onnxruntime and torch keep threads that a fork
            # copies in a broken state.
            mp_context=get_context("spawn"),
            initializer=self.worker_init,
            initargs=(self.options, self.plan, self.threads, cache_dir),
        )

    def _run_pool(
        self, jobs: Iterable[RecordingJob]
    ) -> Iterator[tuple[RecordingJob, RecordingTranscript | Exception]]:
        # Jobs are pulled only when a worker is free: the stage leases each call from the store
        # as it pulls it, so a long backlog is neither held in memory nor leased all at once.
        source = enumerate(jobs)
        queue: list[tuple[int, RecordingJob]] = []  # retried jobs; popped from the end

        def has_next() -> bool:
            if not queue and (item := next(source, None)) is not None:
                queue.append(item)
            return bool(queue)

        suspects: dict[int, int] = {}  # job index -> pools that broke while it ran
        while has_next():
            executor = self._new_executor()
            running: dict[Future[RecordingTranscript], tuple[int, RecordingJob]] = {}
            broken = False
            try:
                while (has_next() or running) and not broken:
                    # One job per worker in flight, so a worker that dies takes only what it
                    # held; a job that was in flight when a pool died is retried alone.
                    while has_next() and len(running) < self.workers:
                        index, job = queue[-1]
                        alone = any(i in suspects for i, _ in running.values())
                        if alone or (index in suspects and running):
                            break
                        queue.pop()
                        running[executor.submit(self.worker_task, job)] = (index, job)
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        index, job = running.pop(future)
                        try:
                            yield job, future.result()
                        except BrokenProcessPool:
                            broken = True
                            running[future] = (index, job)  # blamed with the others below
                        except AuditorError as exc:
                            if not isinstance(exc, AudioError):
                                raise
                            yield job, exc
                        except Exception as exc:
                            log.error("%s: transcription failed: %r", job.path, exc)
                            yield job, exc
                if broken:
                    for index, job in running.values():
                        suspects[index] = suspects.get(index, 0) + 1
                        if suspects[index] >= 2 or len(running) == 1:
                            log.error("%s: a transcription worker died on it", job.path)
                            yield (
                                job,
                                AudioError(
                                    f"{job.path}: the transcription worker died on this recording "
                                    f"(out of memory, or a crash in the decoder)"
                                ),
                            )
                        else:
                            queue.append((index, job))
            finally:
                executor.shutdown(wait=True, cancel_futures=True)
