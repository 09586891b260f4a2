"""`auditor run`: every stage in order over one store, recorded as one run.

Each stage reads what the one before stored and skips what is already done, so running the
pipeline again after a crash, or on a folder with a few new calls, does only the new work.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.progress import Progress
from auditor.store import Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StageResult:
    stage: str
    line: str  # one human line: what the stage did
    failures: int = 0


@dataclass(slots=True)
class PipelineResult:
    run_id: int
    stages: list[StageResult] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(s.failures for s in self.stages)


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    rules: str = "all"
    workers: int = 1
    collector_channel: str = "left"
    transcribe: Any = None  # TranscribeOptions; None for the defaults
    report: bool = True
    export: bool = True
    lang: str | None = None
    unmasked: bool = False
    engine: str = "local"  # local | ray (auditor.scale)
    ray: Any = None  # auditor.scale.RayOptions for --engine ray; None for a private local Ray


def run_pipeline(
    store: Store,
    folder: Path,
    out: Path,
    options: PipelineOptions,
    progress: Progress | None = None,
) -> PipelineResult:
    """Ingest FOLDER, transcribe, scan, then write reports and an export bundle into OUT."""
    from auditor.engine import load_pack
    from auditor.ingest import ingest_folder
    from auditor.scale.engines import open_engine
    from auditor.transcribe import TranscribeOptions

    # Load the rules before any work: a broken rule pack fails the run at once, not after an
    # hour of transcription.
    pack = load_pack(options.rules)
    transcribe_options = options.transcribe or TranscribeOptions()
    run_id = store.begin_run(
        "run",
        {
            "folder": str(folder),
            "rules": options.rules,
            "workers": options.workers,
            "engine": options.engine,
            "transcribe": transcribe_options.as_dict(),
        },
        ruleset_version=pack.version,
    )
    result = PipelineResult(run_id)
    status = "failed"
    engines = ExitStack()  # Ray, when used, is started once for every stage of the run
    try:
        engine = engines.enter_context(open_engine(options.engine, options.ray))
        ingested = ingest_folder(store, folder, run_id, options.collector_channel)
        result.stages.append(StageResult("ingest", ingested.describe(), len(ingested.failures)))

        transcribed = engine.transcribe(
            store, transcribe_options, run_id, workers=options.workers, progress=progress
        )
        store.update_run(run_id, model=transcribed.model, model_hash=transcribed.model_sha256)
        result.stages.append(StageResult("transcribe", transcribed.describe(), transcribed.failed))

        scanned = engine.scan(store, pack, run_id, progress=progress)
        result.stages.append(StageResult("scan", scanned.describe(), len(scanned.failed)))

        if options.report:
            result.stages.append(write_reports(store, out, options))
        if options.export:
            result.stages.append(write_export(store, out, options))
        status = "partial" if result.failures else "ok"
    finally:
        engines.close()
        store.finish_run(run_id, status)
    return result


def write_reports(store: Store, out: Path, options: PipelineOptions) -> StageResult:
    """The weekly report and scorecards of every week with contacts, newest last."""
    from auditor.report.commands import report_command
    from auditor.report.frames import weeks_with_contacts

    weeks = weeks_with_contacts(store.engine)
    written = [
        report_command(
            store, out, week=week, lang=options.lang, unmasked=options.unmasked, rules=options.rules
        )
        for week in weeks
    ]
    if not written:
        return StageResult("report", "no contacts, no report")
    pages = sum(1 + len(r.scorecard_paths) for r in written)
    return StageResult(
        "report",
        f"{len(written)} weekly reports ({', '.join(weeks)}) and scorecards, {pages} pages; "
        f"latest: {written[-1].weekly_path}",
    )


def write_export(store: Store, out: Path, options: PipelineOptions) -> StageResult:
    """The regulator bundle of every stored contact, into OUT/export."""
    from auditor.report.commands import export_command
    from auditor.report.frames import local_date_range

    span = local_date_range(store.engine)
    if span is None:
        return StageResult("export", "no contacts, no export")
    bundle = export_command(
        store,
        out / "export",
        span[0].isoformat(),
        span[1].isoformat(),
        unmasked=options.unmasked,
        rules=options.rules,
    )
    return StageResult("export", bundle.describe())
