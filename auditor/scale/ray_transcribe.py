"""The transcribe stage on Ray: actors that load the model once, fed from store leases.

The driver leases calls from the store (so other drivers on the same store never take them),
keeps `window` of them in flight per actor, and saves each transcript as it arrives. An actor
whose process dies is restarted by Ray and its task retried (`max_restarts`,
`max_task_retries`); since every save replaces the contact's transcript and stage mark in one
transaction, a retried call ends exactly as if it had run once.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from auditor.errors import AudioError, AuditorError, ModelError
from auditor.models import Contact
from auditor.progress import Progress, no_progress
from auditor.scale.ray_engine import RayOptions, cluster_gpus, ray_session, windowed
from auditor.store.leases import release_dead_leases, worker_name
from auditor.transcribe.backends import LazyTranscriber, plan_transcriber
from auditor.transcribe.cache import TranscriptCache
from auditor.transcribe.options import TranscribeOptions
from auditor.transcribe.pool import RecordingJob
from auditor.transcribe.recording import (
    SIDECAR_SUFFIX,
    RecordingTranscript,
    sidecar_path,
    transcribe_recording,
)
from auditor.transcribe.stage import (
    STAGE,
    TranscribeSummary,
    TranscriptStore,
    save_transcript,
    stage_version,
)

log = logging.getLogger(__name__)

RESTARTS = 3  # a worker process that dies is restarted this often, and its call retried
# Fault injection for tests: "MARKER_FILE:PATH_PART" makes a worker process exit abruptly the
# first time it is given a recording whose path contains PATH_PART (the marker records that it
# happened), the way an out-of-memory kill or a hardware fault would end it.
CRASH_ONCE_ENV = "AUDITOR_TEST_CRASH_WORKER_ONCE"


@dataclass(frozen=True, slots=True)
class CallFailure:
    """One call that could not be transcribed; returned, not raised, so Ray does not retry it."""

    message: str


class TranscriptionWorker:
    """A Ray actor: one loaded model, many recordings."""

    def __init__(
        self,
        options: TranscribeOptions,
        identity: str,
        threads: int,
        cache_dir: str | None,
        crash_once: str | None = None,
    ) -> None:
        plan = plan_transcriber(options)
        if plan.identity != identity:
            raise ModelError(
                f"{socket.gethostname()}: this worker's model is {plan.identity}, the driver's "
                f"is {identity}: install the same model on every node (or pass --model)"
            )
        self.options = options
        self.transcriber = LazyTranscriber(options, threads, plan)
        self.cache = TranscriptCache(Path(cache_dir)) if cache_dir else None
        self.crash_once = crash_once

    def ready(self) -> str:
        return socket.gethostname()

    def transcribe(
        self, job: RecordingJob, shipped: dict[str, bytes] | None
    ) -> RecordingTranscript | CallFailure:
        self._maybe_crash(job.path)
        try:
            if shipped is None:
                return self._transcribe(job, job.path)
            with tempfile.TemporaryDirectory(prefix="auditor-call-") as folder:
                local = Path(folder) / Path(job.path).name
                local.write_bytes(shipped["recording"])
                if "sidecar" in shipped:
                    Path(f"{local}{SIDECAR_SUFFIX}").write_bytes(shipped["sidecar"])
                try:
                    result = self._transcribe(job, str(local))
                except AudioError as exc:
                    raise AudioError(str(exc).replace(str(local), job.path)) from exc
                return replace(result, path=job.path)
        except AudioError as exc:
            return CallFailure(str(exc) if job.path in str(exc) else f"{job.path}: {exc}")
        except AuditorError:
            raise  # a model that does not load fails every call: the driver stops
        except Exception as exc:  # one recording's bug must not end the batch
            log.exception("%s: transcription failed", job.path)
            return CallFailure(f"{job.path}: {exc!r}")

    def _transcribe(self, job: RecordingJob, path: str) -> RecordingTranscript:
        return transcribe_recording(
            path,
            self.transcriber,
            self.options,
            collector_channel=job.collector_channel,
            language=job.language,
            audio_sha256=job.audio_sha256,
            cache=self.cache,
        )

    def _maybe_crash(self, path: str) -> None:
        if not self.crash_once:
            return
        marker, _, part = self.crash_once.partition(":")
        if part in path and not os.path.exists(marker):
            Path(marker).write_text(f"{os.getpid()} {path}\n")
            os._exit(137)


def _read_call(contact: Contact) -> dict[str, bytes]:
    """The bytes a worker without the input folder needs: the recording and its sidecar."""
    try:
        shipped = {"recording": Path(contact.source_path).read_bytes()}
        if sidecar_path(contact.source_path).is_file():
            shipped["sidecar"] = sidecar_path(contact.source_path).read_bytes()
    except OSError as exc:
        raise AudioError(f"{contact.source_path}: cannot read the recording: {exc}") from exc
    return shipped


def transcribe_pending_ray(
    store: TranscriptStore,
    options: TranscribeOptions,
    run_id: int,
    ray_options: RayOptions,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> TranscribeSummary:
    """`transcribe_pending` with Ray actors as the workers; the same summary and store rows."""
    started = time.perf_counter()
    with ray_session(ray_options) as ray:
        gpus = cluster_gpus(ray)
        if options.device == "auto":
            # The driver may have no GPU while the workers do: plan for the workers' device,
            # so the stage version names what actually ran.
            options = replace(options, device="cuda" if gpus else "cpu")
        plan = plan_transcriber(options)
        version = stage_version(plan, options)
        summary = TranscribeSummary(version, plan.model.name, plan.model.sha256)
        contacts = store.pending(STAGE, version, channel="call")
        summary.pending = len(contacts)
        ticks = iter((progress or no_progress)(contacts, "transcribe"))
        if not contacts:
            summary.wall_s = time.perf_counter() - started
            return summary

        cpus = int(ray.cluster_resources().get("CPU", 1))
        workers = ray_options.workers or max(1, gpus or cpus)
        threads = options.cpu_threads or max(1, cpus // workers)
        cache_dir = str(TranscriptCache().root) if use_cache else None
        actor_class = ray.remote(TranscriptionWorker).options(
            num_cpus=0 if gpus else threads,
            num_gpus=1 if gpus else 0,
            max_restarts=RESTARTS,
            max_task_retries=RESTARTS,
        )
        actors = [
            actor_class.remote(
                options, plan.identity, threads, cache_dir, os.environ.get(CRASH_ONCE_ENV)
            )
            for _ in range(workers)
        ]
        try:
            hosts = ray.get([a.ready.remote() for a in actors])
        except ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, AuditorError):
                raise cause from exc
            raise ModelError(f"transcription workers did not start: {exc}") from exc
        log.info("transcribe on Ray: %d workers on %s, %d GPUs", workers, sorted(set(hosts)), gpus)

        release_dead_leases(store, STAGE)
        window = workers * max(1, ray_options.window)
        leased = store.claimed(STAGE, version, worker_name("ray"), channel="call", batch=window)
        load = [0] * workers
        owner: dict[Any, int] = {}

        def calls() -> Any:
            for contact in leased:
                if contact.source_path:
                    yield contact
                    continue
                store.save_segments(contact.id, [], version, run_id)
                summary.no_audio += 1
                next(ticks, None)

        def submit(contact: Contact) -> Any:
            job = RecordingJob(
                key=contact.id,
                path=contact.source_path,
                collector_channel=contact.collector_channel or "left",
                language=contact.language or None,
                audio_sha256=contact.source_sha256 or None,
            )
            shipped: Any = None
            if ray_options.ship_audio:
                try:
                    shipped = ray.put(_read_call(contact))
                except AudioError as exc:
                    return ray.put(CallFailure(str(exc)))  # a result already, no worker needed
            index = min(range(workers), key=load.__getitem__)
            load[index] += 1
            ref = actors[index].transcribe.remote(job, shipped)
            owner[ref] = index
            return ref

        def done(ref: Any) -> None:
            if (index := owner.pop(ref, None)) is not None:
                load[index] -= 1

        for contact, result in windowed(ray, calls(), submit, window, done):
            if isinstance(result, RecordingTranscript):
                save_transcript(store, contact, result, version, run_id, summary)
            else:
                cause = getattr(result, "cause", None)
                if isinstance(cause, AuditorError) and not isinstance(cause, AudioError):
                    raise cause from result
                message = (
                    result.message
                    if isinstance(result, CallFailure)
                    else f"{contact.source_path}: the transcription worker died on this call "
                    f"{RESTARTS + 1} times ({type(result).__name__})"
                )
                store.record_failure(run_id, contact.source_path, STAGE, message)
                store.release(contact.id, STAGE)
                summary.failed += 1
                summary.failures.append((contact.source_path, message))
            next(ticks, None)
        for actor in actors:
            ray.kill(actor)
    summary.wall_s = time.perf_counter() - started
    log.info("transcribe (ray): %s", summary.describe())
    return summary
