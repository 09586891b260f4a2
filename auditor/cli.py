"""The `auditor` command: a thin click layer over the stages. It parses, calls one library
function, and prints. Library errors (AuditorError) become one line here and nowhere else.

Exit codes: 0 all done; 1 a user error; 2 a usage error; 3 the batch finished but some items
failed (listed in the summary and stored in the failure table).
"""

from __future__ import annotations

import functools
import json
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
            default=None,
            help="Beams of the decoder. Default: 1 (greedy), measured on sample_calls/ to give "
            "the same Mandarin error rate as 5 at 1.2-1.4x less CPU.",
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
    model: str | None, backend: str, language: str | None, beam_size: int | None, device: str
) -> Any:
    from auditor.transcribe import TranscribeOptions

    chosen: dict[str, Any] = {"beam_size": beam_size} if beam_size is not None else {}
    try:
        return TranscribeOptions(
            backend=backend, model=model, language=language, device=device, **chosen
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
    click.echo(f"ingest: {summary.describe()}")
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
    beam_size: int | None,
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
    "Default: start a private local Ray for this run.",
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
    beam_size: int | None,
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


@cli.command()
@out_option
@db_option
@rules_option
@quiet_option
@with_logging
def scan(out: Path, db: str | None, rules: str, quiet: bool) -> None:
    """Run the rule pack over stored transcripts and messages and store the findings.

    Only contacts not yet scanned with this rule-set version are scanned; frequency rules are
    then re-checked for every account with something new.

    Example:

    \b
        auditor scan --db week47.db --rules cn
    """
    from auditor.engine import load_pack
    from auditor.engine.stage import scan_pending

    pack = load_pack(rules)
    store = _open(db, out)
    run_id = store.begin_run("scan", {"rules": rules}, ruleset_version=pack.version)
    summary = scan_pending(store, pack, run_id, progress=_progress(quiet))
    store.finish_run(run_id, "partial" if summary.failed else "ok")
    click.echo(f"scan: {summary.describe()}")
    _finish([contact for contact, _ in summary.failed])


def unmasked_option(func: F) -> F:
    return click.option(
        "--unmasked",
        is_flag=True,
        help="Show ID, card and phone numbers and e-mails in full (masked by default; recorded).",
    )(func)


@cli.command()
@click.option("--week", default=None, help="ISO week, e.g. 2026-W47. Default: the latest week.")
@click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default=None,
    help="Interface language; default: the language of most contacts.",
)
@click.option(
    "--embed-audio",
    is_flag=True,
    help="Copy recordings beside the scorecards instead of linking them.",
)
@out_option
@db_option
@rules_option
@unmasked_option
@quiet_option
@with_logging
def report(
    week: str | None,
    lang: str | None,
    embed_audio: bool,
    out: Path,
    db: str | None,
    rules: str,
    unmasked: bool,
    quiet: bool,
) -> None:
    """Write the weekly team report and one scorecard per collector into OUT/reports/WEEK/.

    Self-contained HTML (no network, no JavaScript needed), in Chinese or English; findings
    dismissed in review are struck through and do not count.

    Example:

    \b
        auditor report --week 2026-W47 --lang en
    """
    from auditor.report.commands import report_command

    result = report_command(
        _open(db, out),
        out,
        week=week,
        lang=lang,
        unmasked=unmasked,
        rules=rules,
        embed_audio=embed_audio,
    )
    click.echo(f"report: {result.describe()}")


@cli.command()
@click.option("--from", "date_from", required=True, help="First local date, e.g. 2026-11-09.")
@click.option("--to", "date_to", required=True, help="Last local date (inclusive).")
@click.option(
    "--bundle",
    "bundle_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Bundle folder (empty, or an earlier bundle). Default: OUT/export.",
)
@click.option("--xlsx", is_flag=True, help="Also write audit.xlsx.")
@click.option("--zip", "as_zip", is_flag=True, help="Also write the bundle as one .zip file.")
@out_option
@db_option
@rules_option
@unmasked_option
@quiet_option
@with_logging
def export(
    date_from: str,
    date_to: str,
    bundle_dir: Path | None,
    xlsx: bool,
    as_zip: bool,
    out: Path,
    db: str | None,
    rules: str,
    unmasked: bool,
    quiet: bool,
) -> None:
    """Write a verifiable export bundle for a regulator.

    contacts, findings and review history as CSV (UTF-8 with BOM) and JSON Lines, transcripts,
    the rule files used, the runs (tool version, model, settings), and MANIFEST.json with the
    SHA-256 of every file and of every source recording. Re-exporting the same data gives a
    byte-identical bundle.

    Example:

    \b
        auditor export --from 2026-11-16 --to 2026-11-22 --zip
    """
    from auditor.report.commands import export_command

    result = export_command(
        _open(db, out),
        bundle_dir or out / "export",
        date_from,
        date_to,
        unmasked=unmasked,
        xlsx=xlsx,
        zip=as_zip,
        rules=rules,
    )
    click.echo(f"export: {result.describe()}")


@cli.command()
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--recordings", is_flag=True, help="Also rehash the source recordings it names.")
def verify(bundle: Path, recordings: bool) -> None:
    """Recompute every hash of an export bundle (folder or .zip); exit 1 if anything changed.

    Example:

    \b
        auditor verify auditor-out/export
    """
    from auditor.report.commands import verify_command

    result = verify_command(bundle, check_recordings=recordings)
    click.echo(result.describe())
    if not result.ok:
        sys.exit(1)


@cli.group()
def rules() -> None:
    """The rule packs: list, show, test and lint them.

    Example:

    \b
        auditor rules test && auditor rules lint
    """


def _pack_argument(func: F) -> F:
    return click.option(
        "--pack",
        "pack_name",
        default="all",
        show_default=True,
        help="A pack name (cn, us, all) or a folder of rule files.",
    )(func)


@rules.command("list")
@_pack_argument
def rules_list(pack_name: str) -> None:
    """One line per rule: id, status, category, severity, languages, title.

    Example:

    \b
        auditor rules list --pack cn
    """
    from auditor.engine import load_pack
    from auditor.engine.commands import format_rules_list
    from auditor.engine.commands import rules_list as list_rules

    click.echo(format_rules_list(list_rules(load_pack(pack_name))))


@rules.command("show")
@click.argument("rule_id")
@_pack_argument
def rules_show(rule_id: str, pack_name: str) -> None:
    """The page a compliance officer reads: what, why, source, what to say instead, examples.

    Example:

    \b
        auditor rules show CN-THREAT-004
    """
    from auditor.engine import load_pack
    from auditor.engine.commands import rules_show as show

    click.echo(show(load_pack(pack_name), rule_id))


@rules.command("train")
@click.option("--language", type=click.Choice(["zh", "en"]), required=True)
@click.option(
    "--data",
    "data",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A labelled JSON Lines file (as `auditor eval` reads); repeat for more.",
)
@click.option(
    "--with-examples",
    "examples_pack",
    default=None,
    help="Also learn from the match / no_match examples of this pack's rules (cn, us, all).",
)
@click.option(
    "--cold",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="COLD train.csv: general Chinese offensive language for the insult label; alone "
    "(no --data) it trains a general offensive-language model.",
)
@click.option("--cold-weight", default=0.2, show_default=True, help="Weight of a COLD row.")
@click.option("--c", "c_value", default=4.0, show_default=True, help="Inverse regularisation.")
@click.option("--target-precision", default=0.95, show_default=True)
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The model file to write, e.g. rules/cn/models/zh-collection.npz.",
)
def rules_train(
    language: str,
    data: tuple[Path, ...],
    examples_pack: str | None,
    cold: Path | None,
    cold_weight: float,
    c_value: float,
    target_precision: float,
    out_file: Path,
) -> None:
    """Train a pack's learned classifier (needs scikit-learn: pip install 'auditor[train]').

    Prints each label's operating point on 5-fold cross-validated predictions: the lowest
    threshold whose precision reaches the target, with its recall. A rule uses it as
    `match: {model: {name: ..., label: ..., threshold: ...}}`.

    Example:

    \b
        auditor rules train --language zh --data tests/data/dev_utterances.jsonl \\
            --with-examples cn --out rules/cn/models/zh-collection.npz
    """
    from auditor.engine.loader import load_pack_folder, pack_folders
    from auditor.engine.train import model_card, train_model

    packs = [load_pack_folder(f) for f in pack_folders(examples_pack)] if examples_pack else None
    result = train_model(
        language=language,
        data=list(data),
        name=out_file.stem,
        packs=packs,
        cold=cold,
        cold_weight=cold_weight,
        c=c_value,
        target_precision=target_precision,
    )
    out_file.parent.mkdir(parents=True, exist_ok=True)
    result.model.save(out_file)
    parts = ["auditor rules train", f"--language {language}"]
    parts += [f"--data {d}" for d in data]
    parts += [f"--with-examples {examples_pack}"] if examples_pack else []
    parts += [f"--cold {cold}"] if cold else []
    parts += [f"--cold-weight {cold_weight:g}"] if cold and data else []
    parts += [f"--c {c_value:g}", f"--target-precision {target_precision:g}", f"--out {out_file}"]
    card_file = out_file.with_suffix(".md")
    card_file.write_text(model_card(result.model, " ".join(parts)), encoding="utf-8")
    click.echo(f"{'label':<12} {'threshold':>9} {'precision':>9} {'recall':>7} {'positives':>9}")
    for label, row in result.cv.items():
        click.echo(
            f"{label:<12} {row['threshold']:>9.2f} {row['precision']:>9.3f} "
            f"{row['recall']:>7.3f} {row['positives']:>9d}"
        )
    size = out_file.stat().st_size
    click.echo(f"wrote {out_file} ({len(result.model.vocabulary)} n-grams, {size / 1e6:.1f} MB)")
    click.echo(f"wrote {card_file}")


@rules.command("test")
@click.argument("path", required=False, default="all")
def rules_test(path: str) -> None:
    """Run every rule's own examples (match, no_match, known_miss); exit 1 on a failure.

    Example:

    \b
        auditor rules test rules/cn
    """
    from auditor.engine.commands import rules_test as run_tests

    result = run_tests(path)
    click.echo(result.describe())
    if not result.ok:
        sys.exit(1)


@rules.command("lint")
@click.argument("path", required=False, default="all")
def rules_lint(path: str) -> None:
    """Check the schema, ids, citations and regex safety of every rule; exit 1 on a problem.

    Example:

    \b
        auditor rules lint
    """
    from auditor.engine.commands import rules_lint as lint

    problems = lint(path)
    for problem in problems:
        click.echo(problem)
    click.echo(f"{len(problems)} problem(s)")
    if problems:
        sys.exit(1)


@rules.command("docs")
@_pack_argument
@click.option(
    "--to",
    "to_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs/rules"),
    show_default=True,
    help="Folder for the pages.",
)
def rules_docs(pack_name: str, to_dir: Path) -> None:
    """Write one Markdown page per rule (what, why, source, what to say instead, examples) and
    an index; the test suite fails when the checked-in pages are stale.

    Example:

    \b
        auditor rules docs
    """
    from auditor.engine import load_pack
    from auditor.engine.commands import write_rule_docs

    written = write_rule_docs(load_pack(pack_name), to_dir)
    click.echo(f"{len(written)} pages written to {to_dir}")


@cli.command("eval")
@click.argument("labels", type=click.Path(exists=True, path_type=Path))
@rules_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object for other tools.")
@click.option("--show", default=20, show_default=True, help="Misses and false alarms to list.")
@click.option("--include-preview", is_flag=True, help="Also score rules of status preview.")
@workers_option
@out_option
@db_option
@quiet_option
@with_logging
def evaluate(
    labels: Path,
    rules: str,
    as_json: bool,
    show: int,
    include_preview: bool,
    workers: int,
    out: Path,
    db: str | None,
    quiet: bool,
) -> None:
    """Precision, recall and F1 per category on a labelled set or a labelled corpus.

    LABELS as a file: JSON Lines, one utterance a line: text, speaker (collector/customer),
    language (zh/en), labels (categories; empty when clean), optionally party.

    LABELS as a folder (such as sample_calls/, with labels.jsonl): the whole pipeline runs over
    it into OUT (cached: a second eval transcribes nothing), then the stored findings are
    compared with the labelled ones (same call and category, overlapping in time) and the
    transcripts with the scripts (character error rate per speaker; word error rate in English).

    Examples:

    \b
        auditor eval tests/data/dev_utterances.jsonl --json
        auditor eval sample_calls/ --out eval-out
    """
    from auditor.engine import load_pack

    if labels.is_dir():
        from auditor.corpus_eval import evaluate_corpus, format_corpus_evaluation
        from auditor.pipeline import PipelineOptions, run_pipeline

        store = _open(db, out)
        options = PipelineOptions(rules=rules, workers=workers, report=False, export=False)
        run_pipeline(store, labels, out, options, progress=_progress(quiet))
        result = evaluate_corpus(store, labels)
        text = format_corpus_evaluation(result, show=show)
    else:
        from auditor.engine.evaluate import evaluate as run_eval
        from auditor.engine.evaluate import format_evaluation

        result = run_eval(load_pack(rules), labels, include_preview=include_preview)
        text = format_evaluation(result, show=show)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))
    else:
        click.echo(text)


def reviewer_option(func: F) -> F:
    return click.option(
        "--reviewer",
        default=None,
        help="Who decides; recorded with each decision. Default: $AUDITOR_REVIEWER, else the OS user.",
    )(func)


def queue_filter_options(func: F) -> F:
    from auditor.models import Category, Severity

    options = [
        click.option(
            "--collector", "collector_id", default=None, help="Only this collector's findings."
        ),
        click.option(
            "--category",
            type=click.Choice([c.value for c in Category]),
            default=None,
            help="Only findings of this category.",
        ),
        click.option(
            "--min-severity",
            type=click.Choice([s.value for s in Severity]),
            default=None,
            help="Only findings at least this severe.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@cli.group()
def review() -> None:
    """Confirm or dismiss findings; reports and exports count only what stands.

    Every decision is kept, with its time and reviewer; a later one supersedes an earlier one.

    Example:

    \b
        auditor review list --min-severity high --limit 20
    """


@review.command("list")
@click.option(
    "--status",
    type=click.Choice(["open", "confirmed", "dismissed", "all"]),
    default="open",
    show_default=True,
    help="By the latest decision; open: none yet.",
)
@queue_filter_options
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most N findings.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@out_option
@db_option
@with_logging
def review_list(
    status: str,
    collector_id: str | None,
    category: str | None,
    min_severity: str | None,
    limit: int | None,
    as_json: bool,
    out: Path,
    db: str | None,
) -> None:
    """List findings to review: most severe first, then most confident, then oldest, each
    with its quote among the words around it (personal data masked).

    Example:

    \b
        auditor review list --collector w017 --category insult
    """
    from auditor.review import commands

    items = commands.review_list(
        _open(db, out), status, collector_id, category, min_severity, limit
    )
    if as_json:
        for row in commands.queue_json(items):
            click.echo(json.dumps(row, ensure_ascii=False, sort_keys=True))
        return
    for line in commands.queue_lines(items):
        click.echo(line)


@review.command("confirm")
@click.argument("finding_ids", nargs=-1, required=True, type=int)
@click.option("--reason", default="", help="Why (optional when confirming).")
@reviewer_option
@out_option
@db_option
@with_logging
def review_confirm(
    finding_ids: tuple[int, ...], reason: str, reviewer: str | None, out: Path, db: str | None
) -> None:
    """Confirm findings as violations: all the ids, or none if one is unknown.

    Example:

    \b
        auditor review confirm 12 15 --reviewer 王芳
    """
    from auditor.models import Decision
    from auditor.review import commands

    store = _open(db, out)
    for line in commands.review_decide(store, finding_ids, Decision.CONFIRMED, reviewer, reason):
        click.echo(line)


@review.command("dismiss")
@click.argument("finding_ids", nargs=-1, required=True, type=int)
@click.option("--reason", required=True, help="Why it is not a violation (required).")
@reviewer_option
@out_option
@db_option
@with_logging
def review_dismiss(
    finding_ids: tuple[int, ...], reason: str, reviewer: str | None, out: Path, db: str | None
) -> None:
    """Dismiss findings as not violations, with the reason: all the ids, or none.

    Example:

    \b
        auditor review dismiss 13 --reason "催收员在复述客户的话"
    """
    from auditor.models import Decision
    from auditor.review import commands

    store = _open(db, out)
    for line in commands.review_decide(store, finding_ids, Decision.DISMISSED, reviewer, reason):
        click.echo(line)


@review.command("export-queue")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@queue_filter_options
@click.option("--limit", type=click.IntRange(min=0), default=None, help="At most N findings.")
@out_option
@db_option
@with_logging
def review_export_queue(
    file: Path,
    collector_id: str | None,
    category: str | None,
    min_severity: str | None,
    limit: int | None,
    out: Path,
    db: str | None,
) -> None:
    """Write the open queue as a CSV (UTF-8 with BOM) to fill in a spreadsheet: decision
    (confirmed/dismissed), reason, reviewer. Bring it back with `auditor review import`.

    Example:

    \b
        auditor review export-queue week47-queue.csv --min-severity medium
    """
    from auditor.review import commands

    store = _open(db, out)
    for line in commands.review_export_queue(
        store, file, collector_id, category, min_severity, limit
    ):
        click.echo(line)


@review.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@reviewer_option
@out_option
@db_option
@with_logging
def review_import(file: Path, reviewer: str | None, out: Path, db: str | None) -> None:
    """Import decisions from a CSV (columns finding_id, decision, reason, reviewer; UTF-8,
    UTF-8 with BOM or GB18030). Bad rows are reported by line and skipped; the good ones are
    imported in one transaction. Exit code 3 when some rows were bad.

    Example:

    \b
        auditor review import week47-queue.csv --reviewer 王芳
    """
    from auditor.review import commands

    summary = commands.review_import(_open(db, out), file, reviewer)
    for line in summary.describe():
        click.echo(line)
    _finish(summary.errors)


@cli.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on; keep it local."
)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@queue_filter_options
@reviewer_option
@out_option
@db_option
@with_logging
def serve(
    host: str,
    port: int,
    collector_id: str | None,
    category: str | None,
    min_severity: str | None,
    reviewer: str | None,
    out: Path,
    db: str | None,
) -> None:
    """Serve the review page on this machine: one finding at a time with its transcript and
    recording, confirm or dismiss, then the next. Stop with Ctrl-C.

    Example:

    \b
        auditor serve --db week47.db --reviewer 王芳
    """
    from auditor.review import commands

    server, url = commands.serve(
        _open(db, out), reviewer, host, port, collector_id, category, min_severity
    )
    click.echo(f"Review page at {url} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@rules.command("feedback")
@click.option(
    "--write-examples", is_flag=True, help="Also write dismissed findings as no_match candidates."
)
@click.option(
    "--to",
    "to_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("feedback"),
    show_default=True,
    help="Folder for the candidates, one <RULE-ID>.yaml per rule.",
)
@click.option(
    "--rules-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Rule files, to name each rule's file and skip examples it already has.",
)
@click.option(
    "--write-labels",
    "labels_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the reviewed segments as labelled lines (JSONL, masked) for "
    "`auditor rules train --data`.",
)
@out_option
@db_option
@with_logging
def rules_feedback(
    write_examples: bool,
    to_dir: Path,
    rules_dir: Path | None,
    labels_file: Path | None,
    out: Path,
    db: str | None,
) -> None:
    """Per rule: findings confirmed, dismissed and still open, and why they were dismissed.

    Example:

    \b
        auditor rules feedback --write-examples --to feedback/
        auditor rules feedback --write-labels reviewed.jsonl
    """
    from auditor.review import commands
    from auditor.review.feedback import write_training_labels

    store = _open(db, out)
    for line in commands.rules_feedback(store):
        click.echo(line)
    if write_examples:
        for line in commands.rules_feedback_write_examples(store, to_dir, rules_dir):
            click.echo(line)
    if labels_file is not None:
        lines, used = write_training_labels(store, labels_file)
        click.echo(f"{labels_file}: {lines} reviewed segments from {used} decided findings")


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
