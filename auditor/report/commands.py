"""What the `report`, `export` and `verify` commands call; cli.py only parses and prints.

auditor report --week 2026-W47 --lang zh      → report_command(store, out, week="2026-W47", lang="zh")
auditor export --from 2026-11-16 --to 2026-11-22 --zip
                                             → export_command(store, out, "2026-11-16", "2026-11-22", zip=True)
auditor verify BUNDLE                         → verify_command(BUNDLE); exit 1 unless .ok
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditor.errors import ExportError
from auditor.export import ExportResult, VerifyResult, export_bundle, verify_bundle
from auditor.report.weekly import ReportResult, build_weekly_report
from auditor.store import Store


def report_command(
    store: Store,
    out: str | Path,
    week: str | None = None,
    lang: str | None = None,
    unmasked: bool = False,
    rules: str | None = "all",
    embed_audio: bool = False,
    rule_meta: Mapping[str, Mapping[str, str]] | None = None,
) -> ReportResult:
    """Weekly report and scorecards into OUT/reports/<week>/ (weekly.html, collector-*.html)."""
    return build_weekly_report(
        store,
        Path(out) / "reports",
        week=week,
        lang=lang,
        unmasked=unmasked,
        rules=rules,
        rule_meta={k: dict(v) for k, v in (rule_meta or {}).items()},
        embed_audio=embed_audio,
    )


def rule_files_for(rules: str | Path | None) -> list[Path] | None:
    """The rule files a `--rules` value names (pack name, pack folder or folder of packs);
    None lets the export take the shipped packs."""
    if rules is None:
        return None
    from auditor.export.bundle import _with_models

    path = Path(rules)
    if path.is_dir():
        return _with_models(sorted(p for p in path.rglob("*.yaml") if p.is_file()))
    try:
        from auditor.engine.loader import pack_folders
    except ImportError:
        from auditor.export.bundle import _default_rule_files

        root, _ = _default_rule_files()
        folder = (root / str(rules)) if root else None
        if folder is None or not folder.is_dir():
            raise ExportError(f"--rules {rules}: no such rule pack or folder") from None
        return _with_models(sorted(p for p in folder.rglob("*.yaml") if p.is_file()))
    return _with_models(
        sorted(p for folder in pack_folders(str(rules)) for p in folder.rglob("*.yaml"))
    )


def export_command(
    store: Store,
    out: str | Path,
    date_from: str,
    date_to: str,
    unmasked: bool = False,
    xlsx: bool = False,
    zip: bool = False,
    rules: str | Path | None = None,
    settings: Mapping[str, Any] | None = None,
) -> ExportResult:
    """The bundle into OUT itself (an empty folder or an earlier bundle), plus OUT.zip if asked."""
    return export_bundle(
        store,
        out,
        date_from,
        date_to,
        unmasked=unmasked,
        xlsx=xlsx,
        zip=zip,
        ruleset_files=rule_files_for(rules),
        settings={"rules": str(rules) if rules is not None else None, **dict(settings or {})},
    )


def verify_command(path: str | Path, check_recordings: bool = False) -> VerifyResult:
    """Check a bundle; the caller exits non-zero unless `.ok` and prints `.describe()`."""
    return verify_bundle(path, check_recordings=check_recordings)
