"""Everything a week's reports need, loaded once: the contacts and findings of the report week
and the weeks before it (for trends), with local times, weeks and the counted flag."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

import pandas as pd

from auditor.errors import ExportError
from auditor.report import frames
from auditor.report.i18n import LANGS
from auditor.report.masking import mask
from auditor.report.scoring import collector_weeks
from auditor.store import Store

log = logging.getLogger(__name__)

TREND_WEEKS = 8
_US_ZONES = ("America/", "US/", "Pacific/Honolulu", "Canada/")


@dataclass
class WeekData:
    week: str
    weeks: list[str]  # the trend window, oldest first, ending with `week`
    monday: date
    lang: str
    contacts: pd.DataFrame  # every contact of the trend window
    findings: pd.DataFrame  # their findings, with the contact's columns beside
    scores: pd.DataFrame  # one row per (collector_id, week)
    # files that failed in the runs that processed the week (set by the weekly report)
    failures: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["path", "line", "stage", "error"])
    )

    @cached_property
    def week_contacts(self) -> pd.DataFrame:
        return self.contacts.loc[self.contacts["week"] == self.week]

    @cached_property
    def week_findings(self) -> pd.DataFrame:
        return self.findings.loc[self.findings["week"] == self.week]


def market_of(timezone: str, language: str) -> str:
    """Which contact-hour rules apply: the US ones for US zones or English, else China's."""
    if timezone.startswith(_US_ZONES):
        return "us"
    if language == "en" and not timezone.startswith("Asia/"):
        return "us"
    return "cn"


def _is_chinese_side(timezone: str, language: str) -> bool:
    if language:
        return language == "zh"
    if timezone.startswith("Asia/"):
        return True
    # Offsets turned into zones at ingest: Etc/GMT-8 is UTC+8.
    found = re.fullmatch(r"Etc/GMT-(\d+)", timezone or "")
    return bool(found and 5 <= int(found[1]) <= 10)


def detect_language(contacts: pd.DataFrame) -> str:
    """zh when most contacts are Chinese (by language, else by an Asian zone), else en."""
    if contacts.empty:
        return "zh"
    chinese = sum(
        _is_chinese_side(tz or "", lang or "")
        for tz, lang in zip(contacts["timezone"], contacts["language"], strict=True)
    )
    return "zh" if chinese * 2 >= len(contacts) else "en"


def collector_slug(collector_id: str, unmasked: bool = False) -> str:
    """A file-name-safe form of a collector id (Chinese names kept, path characters replaced).

    When characters had to be replaced or masked, a short hash of the id keeps two collectors
    apart ("a/b" and "a_b"); 24 bits cannot identify a masked number.
    """
    shown = mask(collector_id, unmasked)
    slug = re.sub(r"[^\w.-]", "_", shown).strip(".")[:100] or "_"
    if slug != collector_id:
        slug += "-" + hashlib.sha256(collector_id.encode("utf-8")).hexdigest()[:6]
    return slug


def load_week_data(
    store: Store, week: str | None = None, lang: str | None = None, trend_weeks: int = TREND_WEEKS
) -> WeekData:
    if lang is not None and lang not in LANGS:
        raise ExportError(f"language {lang!r}: use one of {', '.join(LANGS)}")
    if week is None:
        week = frames.latest_week(store.engine)
        if week is None:
            raise ExportError(f"{store.url}: no contacts in the store; ingest recordings first")
    monday = frames.parse_week(week)
    weeks = frames.weeks_back(week, max(1, trend_weeks))
    window = (frames.parse_week(weeks[0]), monday + timedelta(days=7))
    contacts = frames.load_contacts(store.engine, *window)
    findings = frames.load_findings(store.engine, contacts["id"].tolist(), window)
    context = contacts[
        [
            "id",
            "external_id",
            "channel",
            "collector_id",
            "team",
            "account_id",
            "party_reached",
            "started_at",
            "timezone",
            "local_time",
            "week",
            "duration_s",
            "source_path",
            "source_sha256",
            "language",
        ]
    ].rename(columns={"id": "contact_id"})
    findings = findings.merge(context, on="contact_id", how="inner")
    scores = collector_weeks(contacts, findings)
    if lang is None:
        in_week = contacts.loc[contacts["week"] == week]
        lang = detect_language(in_week if not in_week.empty else contacts)
    log.info(
        "week %s: %d contacts and %d findings loaded over %d weeks",
        week,
        int((contacts["week"] == week).sum()),
        int((findings["week"] == week).sum()),
        len(weeks),
    )
    return WeekData(
        week=week,
        weeks=weeks,
        monday=monday,
        lang=lang,
        contacts=contacts,
        findings=findings,
        scores=scores,
    )
