"""Reading the tabular files users hand us: CSV or JSON Lines, in whatever encoding their system
exported (UTF-8, UTF-8 with BOM from Excel, GB18030 from Chinese systems)."""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import charset_normalizer

from auditor.errors import ManifestError

log = logging.getLogger(__name__)

# charset-normalizer's "chaos" score: above this the guess reads as mojibake, so we refuse it.
_MAX_CHAOS = 0.2


def decode_text(data: bytes, path: Path) -> tuple[str, str]:
    """Decode a text file; returns (text, encoding). Strict: never silently replaces bytes.

    Accepted: UTF-8 (with or without BOM), UTF-16 with BOM, GB18030 (and so GBK/GB2312), and
    Windows-1252 (US/UK spreadsheets). GB18030 and Windows-1252 both decode almost any bytes, so
    charset-normalizer judges which reads as language; GB18030 wins a tie, as our main market's.
    """
    if data.startswith(codecs.BOM_UTF8):
        return _strict(data, "utf-8-sig", path), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16", path), "utf-16"
    if b"\x00" in data:
        raise ManifestError(
            f"{path}: a binary file, not text (an Excel .xlsx renamed?); save it as CSV UTF-8"
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    readings = charset_normalizer.from_bytes(data, cp_isolation=["gb18030", "cp1252"])
    by_chaos = sorted(readings, key=lambda m: (m.chaos, m.encoding != "gb18030"))
    if by_chaos and by_chaos[0].chaos <= _MAX_CHAOS:
        best = by_chaos[0]
        log.info("%s: decoded as %s", path, best.encoding)
        return str(best), best.encoding
    return _strict(data, "utf-8", path), "utf-8"  # raises, naming the line of the first bad byte


def _strict(data: bytes, encoding: str, path: Path) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManifestError(
            f"{path}:{line}: not valid UTF-8 or GB18030 (byte {data[exc.start]:#04x}); "
            "save the file as UTF-8 or GB18030"
        ) from None


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # line in the file where the row starts, for error messages
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class Table:
    path: Path
    encoding: str
    columns: list[str]
    rows: list[Row]


def read_table(path: Path) -> Table:
    """Read a CSV or JSONL file into rows of stripped strings keyed by lower-case column name."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    text, encoding = decode_text(data, path)
    if path.suffix.lower() == ".jsonl":
        return _read_jsonl(path, text, encoding)
    return _read_csv(path, text, encoding)


def _read_csv(path: Path, text: str, encoding: str) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ManifestError(f"{path}: the file is empty; expected a header row") from None
    except csv.Error as exc:
        raise ManifestError(f"{path}:1: {exc}") from exc
    columns = [c.strip().lower() for c in header]
    rows: list[Row] = []
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ManifestError(f"{path}:{line}: {exc}") from exc
        if any(c.strip() for c in cells):
            if len(cells) > len(columns):
                message = f"{len(cells)} cells but the header has {len(columns)} columns"
                rows.append(Row(line, {"__error__": message}))
            else:
                rows.append(Row(line, {c: v.strip() for c, v in zip(columns, cells, strict=False)}))
        line = reader.line_num + 1
    return Table(path, encoding, columns, rows)


def _read_jsonl(path: Path, text: str, encoding: str) -> Table:
    rows: list[Row] = []
    columns: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            rows.append(Row(number, {"__error__": f"not valid JSON: {exc.msg}"}))
            continue
        if not isinstance(obj, dict):
            rows.append(Row(number, {"__error__": "expected a JSON object per line"}))
            continue
        values = {
            str(k).strip().lower(): "" if v is None else str(v).strip() for k, v in obj.items()
        }
        columns.extend(k for k in values if k not in columns)
        rows.append(Row(number, values))
    return Table(path, encoding, columns, rows)


def iter_known(table: Table, known: set[str]) -> Iterator[str]:
    """Columns of the table that the format does not define."""
    return (c for c in table.columns if c and c not in known)


def zone_name_for_offset(offset: timedelta) -> str | None:
    """The IANA fixed-offset zone (Etc/GMT-8 for +08:00) for a whole-hour offset."""
    seconds = int(offset.total_seconds())
    if seconds % 3600:
        return None
    hours = seconds // 3600
    if hours == 0:
        return "UTC"
    # IANA's Etc zones have the POSIX sign: Etc/GMT-8 is eight hours *ahead* of UTC.
    return f"Etc/GMT{'-' if hours > 0 else '+'}{abs(hours)}"


def parse_time(value: str, zone: str, where: str) -> tuple[datetime, str]:
    """Parse an ISO 8601 time into (UTC instant, the debtor's IANA zone).

    A time with an offset fixes the instant; the zone column (when given) is kept for local-hour
    rules. A naive time needs the zone column.
    """
    if not value:
        raise ManifestError(f"{where}: empty time")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise ManifestError(
            f"{where}: time {value!r} is not ISO 8601 (e.g. 2026-11-16T09:30:00+08:00)"
        ) from None
    tzinfo = None
    if zone:
        try:
            tzinfo = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ManifestError(
                f"{where}: unknown time zone {zone!r}; use an IANA name such as Asia/Shanghai"
            ) from None
    if moment.tzinfo is None:
        if tzinfo is None:
            raise ManifestError(
                f"{where}: time {value!r} has no UTC offset and the row has no timezone; "
                "add an offset (+08:00) or a timezone column (Asia/Shanghai)"
            )
        moment = moment.replace(tzinfo=tzinfo)
    if not zone:
        offset = moment.utcoffset()
        assert offset is not None
        derived = zone_name_for_offset(offset)
        if derived is None:
            raise ManifestError(
                f"{where}: offset {offset} is not a whole hour; add a timezone column so "
                "local contact hours can be checked"
            )
        zone = derived
    return moment.astimezone(UTC), zone
