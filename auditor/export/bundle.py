"""A verifiable audit bundle for a regulator: contacts, findings, their review history, the
transcripts they rest on, the rule set and the runs that produced them, and a manifest of the
SHA-256 of every file in the bundle and of every recording it refers to.

Deterministic: the same store, date range and rule files give a byte-identical bundle (rows
sorted, JSON keys sorted, no wall-clock time but the runs' and reviews' recorded times, fixed
timestamps inside the zip and the workbook).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

import auditor
from auditor import __version__
from auditor.errors import ExportError
from auditor.report import frames
from auditor.report.masking import mask
from auditor.store import Store
from auditor.store import schema as t

log = logging.getLogger(__name__)

BUNDLE_FORMAT = "auditor-export/1"
MANIFEST = "MANIFEST.json"
# Zip entries and workbook properties carry this instead of "now", so bundles compare by bytes.
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_FIXED_XLSX_TIME = "2000-01-01T00:00:00Z"

CONTACT_FIELDS = [
    "contact_id",
    "version",
    "store_key",
    "channel",
    "collector_id",
    "team",
    "account_id",
    "party_reached",
    "direction",
    "started_at_utc",
    "local_time",
    "timezone",
    "local_week",
    "duration_s",
    "language",
    "connected",
    "source_path",
    "source_sha256",
]
FINDING_FIELDS = [
    "finding_id",
    "contact_id",
    "store_key",
    "collector_id",
    "team",
    "local_time",
    "timezone",
    "rule_id",
    "rule_status",
    "ruleset_version",
    "category",
    "severity",
    "confidence",
    "speaker",
    "segment_index",
    "span_start",
    "span_end",
    "start_s",
    "end_s",
    "quote",
    "evidence_matcher",
    "evidence_pattern",
    "evidence_why",
    "related_contacts",
    "decision",
    "reviewer",
    "review_reason",
    "counted",
]
REVIEW_FIELDS = ["review_id", "finding_id", "decision", "reviewer", "reason", "decided_at"]
TRANSCRIPT_FIELDS = ["contact_id", "store_key", "segment", "speaker", "start_s", "end_s", "text"]

# Free text and identifiers that can hold personal data; hashes, enums and times never do, and
# masking a hex digest would corrupt it (long digit runs occur in SHA-256 hex).
_MASKED = {
    "contact_id",
    "collector_id",
    "team",
    "account_id",
    "source_path",
    "quote",
    "evidence_pattern",
    "evidence_why",
    "reviewer",
    "review_reason",
    "reason",
    "text",
}


@dataclass
class ExportResult:
    path: Path
    zip_path: Path | None
    files: dict[str, str]  # bundle file → sha256
    contacts: int
    findings: int
    reviews: int
    recordings: int

    def describe(self) -> str:
        where = self.zip_path or self.path
        return (
            f"{where}: {self.contacts} contacts, {self.findings} findings, {self.reviews} review "
            f"decisions, {self.recordings} recordings referenced; {len(self.files)} files hashed"
        )


@dataclass
class VerifyResult:
    path: Path
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    recordings_changed: list[str] = field(default_factory=list)
    recordings_missing: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added or self.recordings_changed)

    def describe(self) -> str:
        if self.ok:
            note = (
                f"; {len(self.recordings_missing)} recordings not found to check"
                if self.recordings_missing
                else ""
            )
            return f"{self.path}: OK, {self.checked} files match MANIFEST.json{note}"
        lines = [f"{self.path}: FAILED verification against MANIFEST.json"]
        lines += [f"  changed: {name}" for name in self.changed]
        lines += [f"  missing: {name}" for name in self.missing]
        lines += [f"  added (not in the manifest): {name}" for name in self.added]
        lines += [f"  recording changed: {name}" for name in self.recordings_changed]
        return "\n".join(lines)


def _as_date(value: date | datetime | str, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ExportError(f"{name} {value!r}: expected a date such as 2026-11-16") from exc


def _plain(value: Any) -> Any:
    """A JSON- and CSV-ready scalar: NaN → None, numpy → Python, times → ISO text."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        if value is pd.NaT:
            return None
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return _plain(value.item())
    return value


def _utc_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


def _masked_row(row: dict[str, Any], unmasked: bool) -> dict[str, Any]:
    return {
        key: (mask(value, unmasked) if key in _MASKED and isinstance(value, str) else value)
        for key, value in row.items()
    }


def _csv_bytes(rows: Sequence[dict[str, Any]], fields: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow(["" if row[f] is None else _csv_cell(row[f]) for f in fields])
    # BOM: spreadsheet software then reads the Chinese text as UTF-8, not the local code page.
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def _csv_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _jsonl_bytes(rows: Sequence[dict[str, Any]], fields: list[str]) -> bytes:
    return "".join(
        json.dumps({f: row[f] for f in fields}, ensure_ascii=False, sort_keys=True) + "\n"
        for row in rows
    ).encode("utf-8")


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- rows -------------------------------------------------------------------------------------


def _contact_rows(contacts: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for r in contacts.itertuples(index=False):
        rows.append(
            {
                "contact_id": r.external_id,
                "version": int(r.version),
                "store_key": int(r.id),
                "channel": r.channel,
                "collector_id": r.collector_id,
                "team": r.team,
                "account_id": r.account_id,
                "party_reached": r.party_reached,
                "direction": r.direction,
                "started_at_utc": _utc_text(r.started_at),
                "local_time": r.local_time.isoformat(),
                "timezone": r.timezone,
                "local_week": r.week,
                "duration_s": _plain(r.duration_s),
                "language": r.language,
                "connected": bool(r.connected),
                "source_path": r.source_path,
                "source_sha256": r.source_sha256,
            }
        )
    return rows


def _finding_rows(findings: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for r in findings.itertuples(index=False):
        evidence = json.loads(r.evidence) if isinstance(r.evidence, str) else {}
        rows.append(
            {
                "finding_id": int(r.id),
                "contact_id": r.external_id,
                "store_key": int(r.contact_id),
                "collector_id": r.collector_id,
                "team": r.team,
                "local_time": r.local_time.isoformat(),
                "timezone": r.timezone,
                "rule_id": r.rule_id,
                "rule_status": r.rule_status,
                "ruleset_version": r.ruleset_version,
                "category": r.category,
                "severity": r.severity,
                "confidence": _plain(r.confidence),
                "speaker": r.speaker,
                "segment_index": None if pd.isna(r.segment_index) else int(r.segment_index),
                "span_start": int(r.span_start),
                "span_end": int(r.span_end),
                "start_s": _plain(r.start_s),
                "end_s": _plain(r.end_s),
                "quote": r.quote,
                "evidence_matcher": str(evidence.get("matcher", "")),
                "evidence_pattern": str(evidence.get("pattern", "")),
                "evidence_why": str(evidence.get("why", "")),
                "related_contacts": json.loads(r.related_contacts or "[]"),
                "decision": _plain(r.decision),
                "reviewer": _plain(r.reviewer),
                "review_reason": _plain(r.reason),
                "counted": bool(r.counted),
            }
        )
    return rows


def _review_rows(store: Store, finding_ids: list[int]) -> list[dict[str, Any]]:
    rows = []
    rv = t.review.c
    with store.engine.connect() as conn:
        for start in range(0, len(finding_ids), 900):
            chunk = finding_ids[start : start + 900]
            query = select(t.review).where(rv.finding_id.in_(chunk))
            for r in conn.execute(query).mappings():
                rows.append(
                    {
                        "review_id": int(r["id"]),
                        "finding_id": int(r["finding_id"]),
                        "decision": r["decision"],
                        "reviewer": r["reviewer"],
                        "reason": r["reason"],
                        "decided_at": _utc_text(r["decided_at"]),
                    }
                )
    return sorted(rows, key=lambda row: (row["finding_id"], row["review_id"]))


def _transcript_rows(store: Store, contacts: pd.DataFrame) -> list[dict[str, Any]]:
    external = dict(zip(contacts["id"].astype(int), contacts["external_id"], strict=True))
    segments = frames.load_segments(store.engine, external)
    rows = []
    for key in contacts["id"].astype(int):  # the contacts' export order
        for seg in segments.get(int(key), []):
            rows.append(
                {
                    "contact_id": external[int(key)],
                    "store_key": int(key),
                    "segment": int(seg["idx"]),  # type: ignore[call-overload]
                    "speaker": seg["speaker"],
                    "start_s": _plain(seg["start_s"]),
                    "end_s": _plain(seg["end_s"]),
                    "text": seg["text"],
                }
            )
    return rows


def _run_rows(store: Store, run_ids: set[int], unmasked: bool) -> list[dict[str, Any]]:
    rows = []
    for run in store.runs():
        if int(run["id"]) not in run_ids:
            continue
        try:
            options = json.loads(run.get("options") or "{}")
        except ValueError:
            options = {"raw": run.get("options")}
        rows.append(
            {
                "run_id": int(run["id"]),
                "command": run["command"],
                "status": run["status"],
                "started_at": _utc_text(run["started_at"]),
                "finished_at": _utc_text(run["finished_at"]),
                "tool_version": run["tool_version"],
                "model": run["model"],
                "model_hash": run["model_hash"],
                "ruleset_version": run["ruleset_version"],
                "options": json.loads(mask(json.dumps(options, ensure_ascii=False), unmasked)),
            }
        )
    return rows


# -- rule set ---------------------------------------------------------------------------------


def _default_rule_files() -> tuple[Path | None, list[Path]]:
    packaged = Path(auditor.__file__).parent / "_data" / "rules"
    root = (
        packaged if packaged.is_dir() else Path(auditor.__file__).resolve().parent.parent / "rules"
    )
    if not root.is_dir():
        return None, []
    return root, _with_models(sorted(p for p in root.rglob("*.yaml") if p.is_file()))


def _with_models(files: list[Path]) -> list[Path]:
    """Rule files plus each pack's learned models and their cards: they decide findings too."""
    extra = [
        m
        for f in files
        if f.name == "pack.yaml"
        for m in sorted((f.parent / "models").glob("*"))
        if m.suffix in (".npz", ".md") and m.is_file()
    ]
    return sorted(set(files) | set(extra))


def _rule_entries(ruleset_files: Iterable[str | Path] | None) -> list[tuple[str, Path]]:
    """(name inside the bundle, file) for each rule file, names relative to their common root."""
    if ruleset_files is None:
        root, files = _default_rule_files()
    else:
        files = sorted({Path(p).resolve() for p in ruleset_files})
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise ExportError(f"rule files not found: {', '.join(missing)}")
        root = Path(os.path.commonpath([str(p.parent) for p in files])) if files else None
        # Keep the pack's folder name (cn/, us/) in the names inside the bundle.
        if root is not None and (root / "pack.yaml").is_file():
            root = root.parent
    entries = []
    for path in files:
        relative = path.relative_to(root).as_posix() if root else path.name
        entries.append((f"rules/{relative}", path))
    return sorted(entries)


def _ruleset_version(files: list[Path]) -> str | None:
    try:
        from auditor.engine.loader import pack_files, ruleset_version
    except ImportError:
        return None
    # The version the engine stamps on findings: each pack's own files (pack.yaml, rules,
    # models), not sources.yaml or the model cards that travel with them.
    folders = sorted({p.parent for p in files if p.name == "pack.yaml"})
    if not folders:
        return None
    return str(ruleset_version([f for folder in folders for f in pack_files(folder)]))


# -- bundle -----------------------------------------------------------------------------------


def _normalised_xlsx(sheets: list[tuple[str, list[str], list[dict[str, Any]]]]) -> bytes:
    try:
        from openpyxl import Workbook
    except ImportError as exc:
        raise ExportError(
            "xlsx output needs openpyxl: pip install 'openpyxl>=3.1' (or export without --xlsx)"
        ) from exc

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, fields, rows in sheets:
        sheet = workbook.create_sheet(title)
        sheet.append(fields)
        for row in rows:
            sheet.append([_xlsx_cell(row[f]) for f in fields])
    raw = io.BytesIO()
    workbook.save(raw)
    # openpyxl stamps "now" into docProps/core.xml and into every zip entry; fix both.
    source = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)",
                    rb"\g<1>" + _FIXED_XLSX_TIME.encode() + rb"\g<3>",
                    data,
                )
            target.writestr(_zip_info(name), data)
    return out.getvalue()


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _prepare(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise ExportError(f"{out}: exists and is not a folder; choose another export folder")
        if any(out.iterdir()):
            if not (out / MANIFEST).is_file():
                raise ExportError(
                    f"{out}: folder is not empty and holds no earlier bundle; choose an empty folder"
                )
            shutil.rmtree(out)  # an earlier bundle of ours: replaced whole, never mixed
    out.mkdir(parents=True, exist_ok=True)


def export_bundle(
    store: Store,
    out_dir: str | Path,
    date_from: date | datetime | str,
    date_to: date | datetime | str,
    unmasked: bool = False,
    xlsx: bool = False,
    zip: bool = False,
    ruleset_files: Iterable[str | Path] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> ExportResult:
    """Write the bundle of contacts whose local date is in [date_from, date_to] into `out_dir`.

    `ruleset_files`: the rule files the findings were made with (default: the shipped packs).
    `settings`: what the caller wants recorded beside the runs' own options (e.g. the pack
    name and caps used). `zip=True` also writes `<out_dir>.zip`.
    """
    first, last = _as_date(date_from, "date_from"), _as_date(date_to, "date_to")
    if last < first:
        raise ExportError(f"date range {first}..{last}: the end is before the start")
    out = Path(out_dir)
    _prepare(out)

    contacts = frames.load_contacts(store.engine, first, last + timedelta(days=1))
    contacts = contacts.sort_values(["started_at", "external_id", "version"]).reset_index(drop=True)
    findings = frames.load_findings(
        store.engine, contacts["id"].tolist(), (first, last + timedelta(days=1))
    )
    context = contacts[
        ["id", "external_id", "collector_id", "team", "started_at", "timezone", "local_time"]
    ].rename(columns={"id": "contact_id"})
    findings = findings.merge(context, on="contact_id", how="inner").sort_values(
        ["started_at", "external_id", "start_s", "rule_id", "id"]
    )

    contact_rows = [_masked_row(r, unmasked) for r in _contact_rows(contacts)]
    finding_rows = [_masked_row(r, unmasked) for r in _finding_rows(findings)]
    review_rows = [
        _masked_row(r, unmasked) for r in _review_rows(store, findings["id"].astype(int).tolist())
    ]
    transcript_rows = [_masked_row(r, unmasked) for r in _transcript_rows(store, contacts)]
    run_ids = frames.runs_of_contacts(store.engine, contacts["id"].tolist())
    run_ids |= {int(r) for r in findings["run_id"].dropna()}
    runs = _run_rows(store, run_ids, unmasked)

    files: dict[str, bytes] = {
        "contacts.csv": _csv_bytes(contact_rows, CONTACT_FIELDS),
        "contacts.jsonl": _jsonl_bytes(contact_rows, CONTACT_FIELDS),
        "findings.csv": _csv_bytes(finding_rows, FINDING_FIELDS),
        "findings.jsonl": _jsonl_bytes(finding_rows, FINDING_FIELDS),
        "reviews.csv": _csv_bytes(review_rows, REVIEW_FIELDS),
        "reviews.jsonl": _jsonl_bytes(review_rows, REVIEW_FIELDS),
        "transcripts.jsonl": _jsonl_bytes(transcript_rows, TRANSCRIPT_FIELDS),
        "runs.json": _json_bytes(runs),
    }
    if xlsx:
        files["audit.xlsx"] = _normalised_xlsx(
            [
                ("contacts", CONTACT_FIELDS, contact_rows),
                ("findings", FINDING_FIELDS, finding_rows),
                ("reviews", REVIEW_FIELDS, review_rows),
            ]
        )

    rule_entries = _rule_entries(ruleset_files)
    rule_hashes = {}
    for name, path in rule_entries:
        data = path.read_bytes()
        files[name] = data
        rule_hashes[name] = _sha256(data)
    ruleset_digest = hashlib.sha256()
    for name, digest in sorted(rule_hashes.items()):
        ruleset_digest.update(f"{name}\0{digest}\n".encode())
    versions_used = sorted({str(v) for v in findings["ruleset_version"].dropna()})
    engine_version = _ruleset_version([p for _, p in rule_entries])
    if engine_version and versions_used and engine_version not in versions_used:
        log.warning(
            "the rule files exported (version %s) are not the version the findings were made "
            "with (%s); pass the rule files used to the export",
            engine_version,
            ", ".join(versions_used),
        )
    files["ruleset.json"] = _json_bytes(
        {
            "files": rule_hashes,
            "ruleset_sha256": ruleset_digest.hexdigest() if rule_entries else None,
            "ruleset_version": engine_version,
            "versions_in_findings": versions_used,
        }
    )

    recordings: dict[str, dict[str, Any]] = {}
    # `zip` is this function's flag (the CLI's --zip), so pair the rows by position.
    for position, raw in enumerate(contacts.itertuples(index=False)):
        row = contact_rows[position]
        if raw.channel != "call" or not raw.source_sha256:
            continue
        entry = recordings.setdefault(
            raw.source_sha256, {"source_path": row["source_path"], "contacts": []}
        )
        entry["contacts"].append(row["contact_id"])
    for entry in recordings.values():
        entry["contacts"] = sorted(set(entry["contacts"]))

    for name, data in files.items():
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    hashes = {name: _sha256(data) for name, data in files.items()}
    manifest = {
        "bundle_format": BUNDLE_FORMAT,
        "hash_algorithm": "sha256",
        "tool_version": __version__,
        "date_from": first.isoformat(),
        "date_to": last.isoformat(),
        "week_convention": "contacts are selected by their date in the debtor's local time zone "
        "(Contact.timezone; unknown zones count as UTC)",
        "unmasked": bool(unmasked),
        "masking": "none: personal data exported unmasked, as explicitly requested"
        if unmasked
        else "ID, bank card and phone numbers and e-mail addresses masked in every file",
        "settings": json.loads(json.dumps(dict(settings or {}), sort_keys=True, default=str)),
        "counts": {
            "contacts": len(contact_rows),
            "findings": len(finding_rows),
            "reviews": len(review_rows),
            "transcript_segments": len(transcript_rows),
            "runs": len(runs),
            "recordings": len(recordings),
        },
        "files": {name: {"sha256": hashes[name], "bytes": len(files[name])} for name in files},
        "recordings": recordings,
    }
    (out / MANIFEST).write_bytes(_json_bytes(manifest))

    zip_path = None
    if zip:
        zip_path = out.with_name(out.name + ".zip")
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in sorted([*files, MANIFEST]):
                archive.writestr(_zip_info(name), (out / name).read_bytes())
    result = ExportResult(
        path=out,
        zip_path=zip_path,
        files=hashes,
        contacts=len(contact_rows),
        findings=len(finding_rows),
        reviews=len(review_rows),
        recordings=len(recordings),
    )
    log.info("%s", result.describe())
    return result


# -- verification ------------------------------------------------------------------------------


def _read_bundle(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    if path.is_dir():
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise ExportError(f"{path}: no {MANIFEST}; not an auditor export bundle")
        contents = {
            p.relative_to(path).as_posix(): p.read_bytes()
            for p in sorted(path.rglob("*"))
            if p.is_file() and p != manifest_path
        }
        raw = manifest_path.read_bytes()
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if MANIFEST not in names:
                raise ExportError(f"{path}: no {MANIFEST} in the archive; not an export bundle")
            raw = archive.read(MANIFEST)
            contents = {n: archive.read(n) for n in sorted(names) if n != MANIFEST}
    else:
        raise ExportError(f"{path}: neither a bundle folder nor a zip archive")
    try:
        manifest = json.loads(raw.decode("utf-8"))
        listed = manifest["files"]
        if not isinstance(listed, dict):
            raise TypeError("files is not a mapping")
    except (ValueError, KeyError, TypeError) as exc:
        raise ExportError(f"{path}/{MANIFEST}: unreadable manifest: {exc}") from exc
    return manifest, contents


def verify_bundle(path: str | Path, check_recordings: bool = False) -> VerifyResult:
    """Recompute every hash in the bundle (a folder or its zip) against MANIFEST.json.

    With `check_recordings`, also rehash each referenced recording found at its recorded path
    (a masked path cannot be found; those are listed as not checked).
    """
    bundle = Path(path)
    manifest, contents = _read_bundle(bundle)
    listed: dict[str, Any] = manifest["files"]
    result = VerifyResult(path=bundle)
    for name in sorted(listed):
        expected = listed[name].get("sha256") if isinstance(listed[name], dict) else None
        if name not in contents:
            result.missing.append(name)
        elif _sha256(contents[name]) != expected:
            result.changed.append(name)
        else:
            result.checked += 1
    result.added = sorted(set(contents) - set(listed))
    if check_recordings:
        for sha, entry in sorted(manifest.get("recordings", {}).items()):
            source = Path(str(entry.get("source_path", "")))
            if not source.is_file():
                result.recordings_missing.append(str(source))
            elif _sha256_file(source) != sha:
                result.recordings_changed.append(str(source))
    log.info("%s", result.describe())
    return result
