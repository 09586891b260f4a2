"""Ingest a folder of calls: the manifest, the recordings it names, and message logs.

Every source file is identified by its SHA-256. Ingesting the same bytes again is a no-op; a
recording whose bytes changed becomes a new version of its contact. A bad row or file is recorded
as a failure naming file and line, and the rest of the folder is ingested.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from auditor.errors import AuditorError, ManifestError
from auditor.ingest.tables import Row, Table, iter_known, parse_time, read_table
from auditor.models import Channel, Contact, Direction, Party, Segment, Speaker
from auditor.store import Store

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = {".wav", ".mp3", ".m4a", ".amr", ".flac", ".ogg", ".opus", ".aac", ".wma"}
MANIFEST_NAMES = ("manifest.csv", "manifest.jsonl")

MANIFEST_REQUIRED = {"file", "call_id", "collector_id", "account_id", "start_time"}
MANIFEST_OPTIONAL = {
    "team",
    "timezone",
    "party_reached",
    "direction",
    "collector_channel",
    "language",
    "connected",
    "duration_s",
}
MESSAGE_REQUIRED = {"time", "collector_id", "account_id", "channel", "text"}
MESSAGE_OPTIONAL = {"message_id", "timezone", "team", "party", "direction", "language"}

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


@dataclass(slots=True)
class IngestSummary:
    contacts_added: int = 0
    contacts_known: int = 0
    messages_added: int = 0
    messages_known: int = 0
    failures: list[str] = field(default_factory=list)

    def describe(self) -> str:
        text = (
            f"{self.contacts_added} new calls ({self.contacts_known} already stored), "
            f"{self.messages_added} new messages ({self.messages_known} already stored)"
        )
        if self.failures:
            text += f", {len(self.failures)} failed"
        return text


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


E = TypeVar("E", bound=StrEnum)


def _enum(value: str, enum: type[E], column: str, where: str, default: E) -> E:
    if not value:
        return default
    try:
        return enum(value.strip().lower())
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise ManifestError(f"{where}: {column} {value!r} is not one of: {allowed}") from None


def _bool(value: str, column: str, where: str) -> bool:
    lowered = value.strip().lower()
    if not lowered or lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ManifestError(f"{where}: {column} {value!r} is not true or false")


def _language(value: str, where: str) -> str:
    lowered = value.strip().lower()
    if lowered not in {"", "zh", "en"}:
        raise ManifestError(f"{where}: language {value!r} is not zh or en")
    return lowered


class FolderIngest:
    """One ingest of one folder into the store, recording failures under `run_id`."""

    def __init__(
        self,
        store: Store,
        folder: Path,
        run_id: int | None,
        collector_channel: str = "left",
    ) -> None:
        self.store = store
        self.folder = folder.resolve()
        self.run_id = run_id
        self.collector_channel = collector_channel  # for rows that do not say
        self.summary = IngestSummary()

    def fail(self, path: Path | str, error: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else str(path)
        message = error if error.startswith(str(path)) else f"{where}: {error}"
        log.error("%s", message)
        self.summary.failures.append(message)
        self.store.record_failure(self.run_id, str(path), "ingest", message, line)

    def _check_known_columns(self, table: Table, known: set[str], required: set[str]) -> bool:
        for column in iter_known(table, known):
            self.fail(
                table.path,
                f"unknown column {column!r} ignored (known: {', '.join(sorted(known))})",
                1,
            )
        missing = sorted(required - set(table.columns))
        if missing:
            self.fail(table.path, f"missing required column(s): {', '.join(missing)}", 1)
            return False
        return True

    # -- recordings ------------------------------------------------------------------------

    def run(self) -> IngestSummary:
        if not self.folder.is_dir():
            self.fail(self.folder, "not a folder" if self.folder.exists() else "no such folder")
            return self.summary
        manifests = [self.folder / n for n in MANIFEST_NAMES if (self.folder / n).is_file()]
        message_logs = sorted(
            p
            for p in self.folder.iterdir()
            if p.is_file() and p.name.startswith("messages") and p.suffix in {".csv", ".jsonl"}
        )
        if manifests:
            for manifest in manifests:
                self.ingest_manifest(manifest)
        else:
            recordings = sorted(
                p for p in self.folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES
            )
            if recordings:
                log.warning(
                    "%s: no manifest.csv; %d recordings ingested without collector, account or "
                    "time metadata",
                    self.folder,
                    len(recordings),
                )
                self.ingest_bare_recordings(recordings)
        for message_log in message_logs:
            self.ingest_messages(message_log)
        nothing = self.summary.contacts_added == 0 and self.summary.contacts_known == 0
        if not manifests and not message_logs and nothing:
            self.fail(
                self.folder, "no manifest.csv, recordings or messages*.csv found; nothing to audit"
            )
        return self.summary

    def _recording(self, relative: str, where: str) -> Path:
        if not relative:
            raise ManifestError(f"{where}: empty file column")
        path = (self.folder / relative).resolve()
        if not path.is_relative_to(self.folder):
            raise ManifestError(f"{where}: {relative!r} is outside the folder {self.folder}")
        if not path.is_file():
            raise ManifestError(f"{where}: recording {relative!r} not found")
        return path

    def _contact_from_manifest(self, row: Row, table: Table) -> tuple[Contact, Path, int]:
        where = f"{table.path}:{row.line}"
        if "__error__" in row.values:
            raise ManifestError(f"{where}: {row.values['__error__']}")
        v = row.values
        for column in sorted(MANIFEST_REQUIRED - {"file", "start_time"}):
            if not v.get(column):
                raise ManifestError(f"{where}: empty {column}")
        path = self._recording(v.get("file", ""), where)
        started_at, zone = parse_time(v.get("start_time", ""), v.get("timezone", ""), where)
        channel = v.get("collector_channel", "").lower() or self.collector_channel
        if channel not in {"left", "right"}:
            raise ManifestError(f"{where}: collector_channel {channel!r} is not left or right")
        duration = None
        if v.get("duration_s"):
            try:
                duration = float(v["duration_s"])
            except ValueError:
                raise ManifestError(
                    f"{where}: duration_s {v['duration_s']!r} is not a number"
                ) from None
        try:
            sha = sha256_file(path)
            size = path.stat().st_size
        except OSError as exc:
            raise ManifestError(f"{where}: cannot read {path}: {exc.strerror or exc}") from exc
        contact = Contact(
            external_id=v["call_id"],
            channel=Channel.CALL,
            collector_id=v["collector_id"],
            team=v.get("team", ""),
            account_id=v["account_id"],
            started_at=started_at,
            timezone=zone,
            party_reached=_enum(
                v.get("party_reached", ""), Party, "party_reached", where, Party.UNKNOWN
            ),
            direction=_enum(
                v.get("direction", ""), Direction, "direction", where, Direction.OUTBOUND
            ),
            duration_s=duration,
            source_path=str(path),
            source_sha256=sha,
            collector_channel=channel,
            language=_language(v.get("language", ""), where),
            connected=_bool(v.get("connected", ""), "connected", where),
        )
        return contact, path, size

    def _open_table(self, path: Path, required: set[str], optional: set[str]) -> Table | None:
        """The file's rows, or None (with the failure recorded) when it cannot be used at all."""
        try:
            table = read_table(path)
        except AuditorError as exc:
            self.fail(path, str(exc))
            return None
        log.info("%s: %d rows (%s)", path, len(table.rows), table.encoding)
        if not self._check_known_columns(table, required | optional, required):
            return None
        return table

    def ingest_manifest(self, manifest: Path) -> None:
        table = self._open_table(manifest, MANIFEST_REQUIRED, MANIFEST_OPTIONAL)
        if table is None:
            return
        seen: dict[str, int] = {}
        prepared: list[tuple[Contact, Path, int]] = []
        for row in table.rows:
            try:
                contact, path, size = self._contact_from_manifest(row, table)
                if contact.external_id in seen:
                    raise ManifestError(
                        f"{table.path}:{row.line}: call_id {contact.external_id!r} repeats line "
                        f"{seen[contact.external_id]}"
                    )
                seen[contact.external_id] = row.line
                prepared.append((contact, path, size))
            except AuditorError as exc:
                self.fail(table.path, str(exc), row.line)
        self._store_contacts(prepared, kind="recording")

    def ingest_bare_recordings(self, recordings: Iterable[Path]) -> None:
        prepared: list[tuple[Contact, Path, int]] = []
        for path in recordings:
            try:
                stat = path.stat()
                sha = sha256_file(path)
            except OSError as exc:
                self.fail(path, f"cannot read: {exc.strerror or exc}")
                continue
            relative = path.relative_to(self.folder)
            contact = Contact(
                external_id=str(relative.with_suffix("")),
                channel=Channel.CALL,
                collector_id="unknown",
                account_id="unknown",
                started_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                timezone="",  # unknown: contact-hour rules cannot judge it
                source_path=str(path),
                source_sha256=sha,
                collector_channel=self.collector_channel,
            )
            prepared.append((contact, path, stat.st_size))
        self._store_contacts(prepared, kind="recording")

    def _store_contacts(self, prepared: list[tuple[Contact, Path, int]], kind: str) -> None:
        # One transaction per file: an interrupted ingest leaves none of its rows half-written.
        with self.store.transaction() as conn:
            for contact, path, size in prepared:
                self.store.add_source(
                    conn, contact.source_sha256, str(path), kind, size, self.run_id
                )
                _, created = self.store.add_contact(conn, contact, self.run_id)
                if created:
                    self.summary.contacts_added += 1
                else:
                    self.summary.contacts_known += 1

    # -- messages --------------------------------------------------------------------------

    def _message(self, row: Row, table: Table) -> tuple[Contact, Segment]:
        where = f"{table.path}:{row.line}"
        if "__error__" in row.values:
            raise ManifestError(f"{where}: {row.values['__error__']}")
        v = row.values
        for column in sorted(MESSAGE_REQUIRED - {"time"}):
            if not v.get(column):
                raise ManifestError(f"{where}: empty {column}")
        started_at, zone = parse_time(v.get("time", ""), v.get("timezone", ""), where)
        channel = _enum(v["channel"], Channel, "channel", where, Channel.SMS)
        if channel == Channel.CALL:
            raise ManifestError(
                f"{where}: channel 'call' belongs in manifest.csv, not a message log"
            )
        direction = _enum(v.get("direction", ""), Direction, "direction", where, Direction.OUTBOUND)
        # The row's content identifies the message: the same row again is a no-op, an edited
        # text under the same message_id becomes a new version.
        canonical = "\x1f".join(
            [
                v.get("message_id", ""),
                started_at.isoformat(),
                v["collector_id"],
                v["account_id"],
                str(channel),
                v.get("party", ""),
                str(direction),
                v["text"],
            ]
        )
        sha = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        contact = Contact(
            external_id=v.get("message_id") or f"msg-{sha[:16]}",
            channel=channel,
            collector_id=v["collector_id"],
            team=v.get("team", ""),
            account_id=v["account_id"],
            started_at=started_at,
            timezone=zone,
            party_reached=_enum(v.get("party", ""), Party, "party", where, Party.UNKNOWN),
            direction=direction,
            duration_s=0.0,
            source_path=f"{table.path}:{row.line}",
            source_sha256=sha,
            language=_language(v.get("language", ""), where),
        )
        speaker = Speaker.COLLECTOR if direction == Direction.OUTBOUND else Speaker.CUSTOMER
        segment = Segment(
            speaker=speaker,
            start_s=0.0,
            end_s=0.0,
            text=v["text"],
            language=contact.language or None,
        )
        return contact, segment

    def ingest_messages(self, message_log: Path) -> None:
        table = self._open_table(message_log, MESSAGE_REQUIRED, MESSAGE_OPTIONAL)
        if table is None:
            return
        prepared: list[tuple[Contact, Segment]] = []
        seen: set[str] = set()
        for row in table.rows:
            try:
                contact, segment = self._message(row, table)
                if contact.external_id in seen:
                    raise ManifestError(
                        f"{table.path}:{row.line}: message_id {contact.external_id!r} repeats"
                    )
                seen.add(contact.external_id)
                prepared.append((contact, segment))
            except AuditorError as exc:
                self.fail(table.path, str(exc), row.line)
        data = message_log.read_bytes()
        with self.store.transaction() as conn:
            self.store.add_source(
                conn,
                hashlib.sha256(data).hexdigest(),
                str(message_log),
                "messages",
                len(data),
                self.run_id,
            )
            for contact, segment in prepared:
                _, created = self.store.add_contact(
                    conn, contact, self.run_id, message_segment=segment
                )
                if created:
                    self.summary.messages_added += 1
                else:
                    self.summary.messages_known += 1


def ingest_folder(
    store: Store, folder: Path, run_id: int | None, collector_channel: str = "left"
) -> IngestSummary:
    """Ingest `folder` into `store`; failures are recorded and listed in the summary.

    `collector_channel` is the stereo channel of the collector for manifest rows that do not say.
    """
    return FolderIngest(store, folder, run_id, collector_channel).run()
