"""The transcribe stage: every stored call whose transcript is missing or stale, to segments.

A contact is pending when its "transcribe" stage is not done at this stage version: a hash of
the back end, the model's hash, its precision and the decoding options. Each contact is saved in
its own transaction as soon as it is done, so a killed batch resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from auditor.models import Contact, Segment
from auditor.progress import Progress, no_progress
from auditor.store.leases import release_dead_leases, worker_name
from auditor.transcribe.backends import TranscriberPlan, plan_transcriber
from auditor.transcribe.cache import TranscriptCache
from auditor.transcribe.options import TranscribeOptions
from auditor.transcribe.pool import RecordingJob, TranscriptionPool
from auditor.transcribe.recording import RecordingTranscript

log = logging.getLogger(__name__)

STAGE = "transcribe"


class TranscriptStore(Protocol):
    """The part of auditor.store.Store this stage uses."""

    def pending(self, stage: str, version: str, channel: str | None = None) -> list[Contact]: ...

    def claimed(
        self, stage: str, version: str, worker: str, channel: str | None = None, batch: int = 1
    ) -> Iterator[Contact]: ...

    def release(self, contact_id: int, stage: str) -> None: ...

    def leases(self, stage: str) -> list[tuple[int, str]]: ...

    def save_segments(
        self,
        contact_id: Any,
        segments: list[Segment],
        stage_version: str,
        run_id: int,
        duration_s: float | None = None,
    ) -> None: ...

    def record_failure(
        self, run_id: int, path: str, stage: str, error: str, line: int | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class ContactProgress:
    """Reported after each contact: `status` is whisper, cache, sidecar, no_audio or failed."""

    contact: Contact
    status: str
    segments: int
    audio_s: float | None
    error: str | None = None


@dataclass(slots=True)
class TranscribeSummary:
    stage_version: str
    model: str
    model_sha256: str
    pending: int = 0
    transcribed: int = 0  # by Whisper in this run
    cached: int = 0
    sidecar: int = 0
    no_audio: int = 0  # call contacts without a recording (unanswered attempts)
    failed: int = 0
    segments: int = 0
    audio_s: float = 0.0  # of the recordings Whisper transcribed in this run
    wall_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def status(self) -> str:
        """For the run row: ok, partial (some failed) or failed (all failed)."""
        if not self.failed:
            return "ok"
        return "failed" if self.failed == self.pending else "partial"

    @property
    def real_time_factor(self) -> float | None:
        """Seconds of audio per second of work; None when nothing was transcribed."""
        return self.audio_s / self.wall_s if self.transcribed and self.wall_s else None

    def describe(self) -> str:
        parts = [
            f"{self.pending} pending",
            f"{self.transcribed} transcribed",
            f"{self.cached} from cache",
        ]
        if self.sidecar:
            parts.append(f"{self.sidecar} from sidecar transcripts")
        if self.no_audio:
            parts.append(f"{self.no_audio} without a recording")
        parts.append(f"{self.failed} failed")
        line = ", ".join(parts) + f"; {self.segments} segments with {self.model}"
        if (rtf := self.real_time_factor) is not None:
            line += f" ({self.audio_s:.0f} s of audio at {rtf:.1f}x real time)"
        return line


def stage_version(plan: TranscriberPlan, options: TranscribeOptions) -> str:
    """Changes whenever the transcript could: back end, model bytes, precision, options."""
    text = f"{plan.identity}|{options.fingerprint()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def transcribe_pending(
    store: TranscriptStore,
    options: TranscribeOptions,
    run_id: int,
    workers: int = 1,
    progress: Progress | None = None,
    *,
    on_contact: Callable[[ContactProgress], None] | None = None,
    cache: TranscriptCache | None = None,
    use_cache: bool = True,
) -> TranscribeSummary:
    """Transcribe every call contact pending at this stage version and save its segments.

    `progress` (auditor.progress) advances once per finished contact; `on_contact` is told how
    each one went. A recording that cannot be decoded is recorded with `store.record_failure` and
    the batch goes on; a model that cannot be loaded raises ModelError.
    """
    started = time.perf_counter()
    plan = plan_transcriber(options)
    version = stage_version(plan, options)
    summary = TranscribeSummary(version, plan.model.name, plan.model.sha256)
    contacts = store.pending(STAGE, version, channel="call")
    summary.pending = len(contacts)
    log.info("%d calls to transcribe at stage version %s", len(contacts), version)
    # Other processes may work on the same store: each contact is leased before it is worked on,
    # so none is transcribed twice; `pending` above only sizes the progress bar.
    release_dead_leases(store, STAGE)
    leased = store.claimed(STAGE, version, worker_name(STAGE), channel="call", batch=workers)

    # The bar advances as contacts finish, in whatever order the workers finish them.
    ticks = iter((progress or no_progress)(contacts, "transcribe"))

    def report(contact: Contact, status: str, result: RecordingTranscript | None) -> None:
        next(ticks, None)
        if on_contact is not None:
            segments = len(result.segments) if result else 0
            on_contact(
                ContactProgress(contact, status, segments, result.duration_s if result else None)
            )

    by_job: dict[int, Contact] = {}

    def jobs() -> Iterator[RecordingJob]:
        for contact in leased:
            if not contact.source_path:
                store.save_segments(_contact_key(contact), [], version, run_id)
                summary.no_audio += 1
                report(contact, "no_audio", None)
                continue
            job = RecordingJob(
                key=len(by_job),
                path=contact.source_path,
                collector_channel=contact.collector_channel or "left",
                language=contact.language or None,
                audio_sha256=contact.source_sha256 or None,
            )
            by_job[len(by_job)] = contact
            yield job

    if use_cache and cache is None:
        cache = TranscriptCache()
    pool = TranscriptionPool(options, workers, cache if use_cache else None, plan)
    for job, result in pool.run(jobs()):
        contact = by_job[int(job.key)]  # type: ignore[call-overload]
        if isinstance(result, Exception):
            message = str(result) if str(result).startswith(job.path) else f"{job.path}: {result!r}"
            log.error("%s", message)
            store.record_failure(run_id, job.path, STAGE, message)
            store.release(_contact_key(contact), STAGE)  # the next run tries it again
            summary.failed += 1
            summary.failures.append((job.path, message))
            next(ticks, None)
            if on_contact is not None:
                on_contact(ContactProgress(contact, "failed", 0, None, message))
            continue
        save_transcript(store, contact, result, version, run_id, summary)
        report(contact, result.source, result)
    summary.wall_s = time.perf_counter() - started
    log.info("transcribe: %s", summary.describe())
    return summary


def save_transcript(
    store: TranscriptStore,
    contact: Contact,
    result: RecordingTranscript,
    version: str,
    run_id: int,
    summary: TranscribeSummary,
) -> None:
    """Store one recording's transcript and count it, for the local and the Ray engine alike."""
    store.save_segments(
        _contact_key(contact), result.segments, version, run_id, duration_s=result.duration_s
    )
    summary.segments += len(result.segments)
    if result.source == "whisper":
        summary.transcribed += 1
        summary.audio_s += result.duration_s or 0.0
    elif result.source == "cache":
        summary.cached += 1
    else:
        summary.sidecar += 1


def _contact_key(contact: Contact) -> Any:
    """The store's key of a contact (its row id), or its external id before it has one."""
    return contact.id if contact.id is not None else contact.external_id
