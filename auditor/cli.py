"""The `auditor` command: a thin click layer over the stages. It parses, calls one library
function, and prints. Library errors (AuditorError) become one line here and nowhere else.

Exit codes: 0 all done; 1 a user error; 2 a usage error; 3 the batch finished but some items
failed (listed in the summary and stored in the failure table).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from auditor import __version__
from auditor.errors import AuditorError
from auditor.progress import Progress, tqdm_progress

F = TypeVar("F", bound=Callable[..., Any])

EXIT_PARTIAL = 3
DEFAULT_OUT = "auditor-out"


class AuditorGroup(click.Group):
    """Turns every AuditorError into one line and exit code 1, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AuditorError as exc:
            raise click.ClickException(str(exc)) from exc


class _LowerLevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = (
        logging.ERROR
        if quiet
        else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LowerLevelFormatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("auditor")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


# -- options shared by several commands, defined once ---------------------------------------


def out_option(func: F) -> F:
    return click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_OUT,
        envvar="AUDITOR_OUT",
        show_default=True,
        help="Folder for the database (unless --db), reports and exports.",
    )(func)


def db_option(func: F) -> F:
    return click.option(
        "--db",
        envvar="AUDITOR_DB",
        default=None,
        help="SQLite file or database URL (postgresql://…). Default: OUT/auditor.db. Env: AUDITOR_DB.",
    )(func)


def rules_option(func: F) -> F:
    return click.option(
        "--rules",
        default="all",
        show_default=True,
        envvar="AUDITOR_RULES",
        help="Rule pack: a name (cn, us, all) or a folder of rule files.",
    )(func)


def quiet_option(func: F) -> F:
    return click.option(
        "--quiet", "-q", is_flag=True, help="No progress bars; print only errors and the summary."
    )(func)


def workers_option(func: F) -> F:
    return click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="Parallel transcription workers (each loads the model once).",
    )(func)


def transcribe_options(func: F) -> F:
    """The Whisper options shared by `transcribe` and `run`."""
    options = [
        click.option(
            "--model",
            default=None,
            help="A faster-whisper model folder, an openai-whisper .pt file, or a cached model "
            "name (large-v3, turbo). Default: the bundled offline Whisper base.",
        ),
        click.option(
            "--backend",
            type=click.Choice(["faster-whisper", "openai-whisper"]),
            default="faster-whisper",
            show_default=True,
            help="openai-whisper needs `pip install 'auditor[openai-whisper]'`.",
        ),
        click.option(
            "--language",
            type=click.Choice(["zh", "en"]),
            default=None,
            help="Force the language; default: the manifest's, else detected per channel.",
        ),
        click.option(
            "--beam-size",
            type=click.IntRange(min=1),
            default=5,
            show_default=True,
            help="1 is greedy decoding (faster, a little less accurate).",
        ),
        click.option(
            "--device",
            type=click.Choice(["auto", "cpu", "cuda"]),
            default="auto",
            show_default=True,
            help="auto uses CUDA (float16) when present, else CPU (int8).",
        ),
        click.option(
            "--collector-channel",
            type=click.Choice(["left", "right"]),
            default="left",
            show_default=True,
            help="Stereo channel of the collector, for manifest rows that do not say.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _transcribe_options(
    model: str | None, backend: str, language: str | None, beam_size: int, device: str
) -> Any:
    from auditor.transcribe import TranscribeOptions

    try:
        return TranscribeOptions(
            backend=backend, model=model, language=language, beam_size=beam_size, device=device
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def _db_for(db: str | None, out: Path) -> str:
    return db if db else str(out / "auditor.db")


def _open(db: str | None, out: Path) -> Any:
    from auditor.store import open_store

    return open_store(_db_for(db, out))


def _progress(quiet: bool) -> Progress:
    return tqdm_progress(enabled=not quiet and sys.stderr.isatty())


def _finish(failures: list[str]) -> None:
    """Exit 3 when anything failed: the batch completed but not every item did."""
    if failures:
        click.echo(
            f"{len(failures)} item(s) failed; they are listed above and in the failure table.",
            err=True,
        )
        sys.exit(EXIT_PARTIAL)


def with_logging(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        _setup_logging(ctx.find_root().params.get("verbose", 0), kwargs.get("quiet", False))
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@click.group(cls=AuditorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="auditor")
@click.option("-v", "--verbose", count=True, help="More log lines (-vv for debug).")
def cli(verbose: int) -> None:
    """Audit debt-collection calls and messages for compliance.

    auditor ingests recordings, their manifest and message logs, transcribes each call per
    speaker with Whisper (offline), scans transcripts and messages with tested rule packs, stores
    everything in a database, and writes scorecards, weekly reports and regulator exports.

    Example: audit the sample corpus end to end:

    \b
        auditor run sample_calls/
    """


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@out_option
@db_option
@quiet_option
@with_logging
def ingest(folder: Path, out: Path, db: str | None, quiet: bool) -> None:
    """Read FOLDER's manifest, recordings and message logs into the store.

    Each file is identified by its SHA-256: ingesting the same files again adds nothing; a
    changed recording becomes a new version of its call. Bad rows are reported by file and line,
    recorded, and skipped; the rest is ingested.

    Example:

    \b
        auditor ingest sample_calls/ --db week47.db
    """
    from auditor.ingest import ingest_folder

    store = _open(db, out)
    run_id = store.begin_run("ingest", {"folder": str(folder)})
    summary = ingest_folder(store, folder, run_id)
    store.finish_run(run_id, "partial" if summary.failures else "ok")
    click.echo(summary.describe())
    _finish(summary.failures)


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="With FILES: one JSON object per segment.")
@transcribe_options
@workers_option
@out_option
@db_option
@quiet_option
@with_logging
def transcribe(
    files: tuple[Path, ...],
    as_json: bool,
    model: str | None,
    backend: str,
    language: str | None,
    beam_size: int,
    device: str,
    collector_channel: str,
    workers: int,
    out: Path,
    db: str | None,
    quiet: bool,
) -> None:
    """Transcribe stored calls, or the recordings FILES without a store.

    Without FILES: every call in the store not yet transcribed with this model and these
    options, one stereo channel per speaker, cached by audio hash so nothing is transcribed twice.
    With FILES: print each file's segments (speaker, start, end, text, confidence).

    Examples:

    \b
        auditor transcribe --db week47.db --workers 2
        auditor transcribe sample_calls/audio/zh_c001.wav --json
    """
    options = _transcribe_options(model, backend, language, beam_size, device)
    if files:
        import json

        from auditor.transcribe.commands import transcribe_files

        failed = []
        for row in transcribe_files(
            files, options, workers=workers, collector_channel=collector_channel
        ):
            if "error" in row:
                click.echo(f"error: {row['file']}: {row['error']}", err=True)
                failed.append(row["file"])
            elif as_json:
                click.echo(json.dumps(row, ensure_ascii=False))
            else:
                click.echo(
                    f"{row['file']} [{row['start']:7.2f}-{row['end']:7.2f}] "
                    f"{row['speaker']:>9}: {row['text']}"
                )
        _finish(failed)
        return
    from auditor.transcribe.stage import transcribe_pending

    store = _open(db, out)
    run_id = store.begin_run("transcribe", options.as_dict())
    summary = transcribe_pending(store, options, run_id, workers=workers, progress=_progress(quiet))
    store.update_run(run_id, model=summary.model, model_hash=summary.model_sha256)
    store.finish_run(run_id, summary.status)
    click.echo(f"transcribe: {summary.describe()}")
    _finish([path for path, _ in summary.failures])


@cli.command()
@click.argument("folder", type=click.Path(path_type=Path))
@out_option
@db_option
@rules_option
@transcribe_options
@workers_option
@click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default=None,
    help="Language of the reports; default: the language of most contacts.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    envvar="AUDITOR_ENGINE",
    help="local: worker processes on this machine. ray: a Ray cluster (pip install 'auditor[ray]').",
)
@click.option(
    "--ray-address",
    default=None,
    envvar="AUDITOR_RAY_ADDRESS",
    help="With --engine ray: a cluster to join (auto, host:6379, ray://host:10001). "
    "Default: start a private local Ray on 127.0.0.1.",
)
@click.option(
    "--ray-ship-audio",
    is_flag=True,
    help="With --engine ray: send recordings to the workers through Ray's object store, for "
    "workers that cannot read FOLDER (default: workers read it from a shared file system).",
)
@click.option("--no-report", is_flag=True, help="Skip the HTML reports.")
@click.option("--no-export", is_flag=True, help="Skip the regulator export bundle.")
@quiet_option
@with_logging
def run(
    folder: Path,
    out: Path,
    db: str | None,
    rules: str,
    model: str | None,
    backend: str,
    language: str | None,
    beam_size: int,
    device: str,
    collector_channel: str,
    workers: int,
    lang: str | None,
    engine: str,
    ray_address: str | None,
    ray_ship_audio: bool,
    no_report: bool,
    no_export: bool,
    quiet: bool,
) -> None:
    """Audit FOLDER end to end: ingest, transcribe, scan, report, export.

    Everything lands in OUT: the database (unless --db), reports/ and export/. Every stage
    skips what is already done, so a second run, or a run after a crash, does only new work.

    Several `auditor run` processes, on one machine or many, may share one --db: each contact
    is leased to one of them at a time. See docs/scaling.md.

    Examples:

    \b
        auditor run sample_calls/
        auditor run /mnt/calls/2026-11-24 --db postgresql://auditor@db/auditor --engine ray \\
            --ray-address auto
    """
    from auditor.pipeline import PipelineOptions, run_pipeline

    ray_options = None
    if engine == "ray":
        from auditor.scale import RayOptions, require_ray

        require_ray()  # before any work: without the extra, say so at once
        ray_options = RayOptions(address=ray_address, ship_audio=ray_ship_audio)
    elif ray_address or ray_ship_audio:
        raise click.UsageError("--ray-address and --ray-ship-audio need --engine ray")

    options = PipelineOptions(
        rules=rules,
        workers=workers,
        collector_channel=collector_channel,
        transcribe=_transcribe_options(model, backend, language, beam_size, device),
        report=not no_report,
        export=not no_export,
        lang=lang,
        engine=engine,
        ray=ray_options,
    )
    store = _open(db, out)
    result = run_pipeline(store, folder, out, options, progress=_progress(quiet))
    for stage in result.stages:
        click.echo(f"{stage.stage}: {stage.line}")
    click.echo(f"database: {store.url}")
    if result.failures:
        click.echo(
            f"{result.failures} item(s) failed; they are listed above and in the failure table "
            f"(run {result.run_id}).",
            err=True,
        )
        sys.exit(EXIT_PARTIAL)


@cli.group()
def db() -> None:
    """The database: its schema revision and migrations.

    A new database is created at the current revision; an existing one is never recreated or
    changed silently: `auditor db upgrade` migrates it (back it up first).

    Example:

    \b
        auditor db upgrade --db postgresql://auditor@db.internal/auditor
    """


@db.command("status")
@out_option
@db_option
def db_status(out: Path, db: str | None) -> None:
    """Print the database's schema revision and the one this auditor needs.

    Example:

    \b
        auditor db status --db auditor-out/auditor.db
    """
    from auditor.store import open_store

    store = open_store(_db_for(db, out), create=False)
    current, head = store.schema_status()
    if current is None:
        state = "empty: the schema is created on first use"
    else:
        state = "up to date" if current == head else "needs `auditor db upgrade`"
    click.echo(f"{store.url}: revision {current or 'none'}, auditor needs {head}: {state}")


@db.command("upgrade")
@out_option
@db_option
def db_upgrade(out: Path, db: str | None) -> None:
    """Apply the pending schema migrations (SQLite and PostgreSQL alike).

    Example:

    \b
        auditor db upgrade --db auditor-out/auditor.db
    """
    from auditor.store import open_store

    store = open_store(_db_for(db, out), create=False)
    before, after = store.upgrade()
    if before == after:
        click.echo(f"{store.url}: already at revision {after}")
    else:
        click.echo(f"{store.url}: upgraded from revision {before or 'empty'} to {after}")


def main() -> None:
    cli(prog_name="auditor", max_content_width=100)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    main()
