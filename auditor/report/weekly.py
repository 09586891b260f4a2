"""The manager's weekly report: one self-contained HTML page per ISO week."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from auditor import __version__
from auditor.models import Severity
from auditor.report import charts, frames
from auditor.report.data import WeekData, collector_slug, load_week_data, market_of
from auditor.report.i18n import (
    format_date,
    format_datetime,
    format_delta,
    format_number,
    text,
    week_label,
)
from auditor.report.masking import mask
from auditor.report.rulemeta import RuleMeta, describe_rule, load_rule_meta
from auditor.report.scoring import CATEGORIES, SEVERITIES, SEVERITY_WEIGHTS, team_score
from auditor.report.templates import environment
from auditor.store import Store

log = logging.getLogger(__name__)

SERIOUS_SHOWN = 10


@dataclass
class ReportResult:
    week: str
    lang: str
    weekly_path: Path
    scorecard_paths: dict[str, Path] = field(default_factory=dict)
    contacts: int = 0
    findings_counted: int = 0

    def describe(self) -> str:
        return (
            f"week {self.week}: {self.contacts} contacts, {self.findings_counted} counted findings; "
            f"report {self.weekly_path}, {len(self.scorecard_paths)} scorecards"
        )


def scorecard_name(collector_id: str, unmasked: bool = False) -> str:
    return f"collector-{collector_slug(collector_id, unmasked)}.html"


def _labels(lang: str) -> dict[str, Any]:
    return {
        "category": {c: text(f"cat_{c}", lang) for c in CATEGORIES},
        "severity": {s: text(f"sev_{s}", lang) for s in SEVERITIES},
    }


def _headline(data: WeekData, week: str) -> dict[str, Any]:
    contacts = data.contacts.loc[data.contacts["week"] == week]
    findings = data.findings.loc[data.findings["week"] == week]
    counted = findings.loc[findings["counted"]]
    calls = contacts.loc[contacts["channel"] == "call"]
    n = len(contacts)
    return {
        "contacts": n,
        "calls": len(calls),
        "unanswered": int((~calls["connected"].astype(bool)).sum()),
        "messages": n - len(calls),
        "audio_hours": float(calls["duration_s"].fillna(0).sum()) / 3600.0,
        "findings": len(counted),
        "per_100": (len(counted) * 100.0 / n) if n else None,
        "score": team_score(n, findings),
    }


def _diff(now: float | None, before: float | None) -> float | None:
    if now is None or before is None:
        return None
    return now - before


def build_weekly_context(
    data: WeekData, rule_meta: RuleMeta, unmasked: bool = False
) -> dict[str, Any]:
    lang, week = data.lang, data.week
    labels = _labels(lang)
    now = _headline(data, week)
    previous_week = data.weeks[-2] if len(data.weeks) > 1 else None
    has_previous = previous_week is not None and bool(
        (data.contacts["week"] == previous_week).any()
    )
    before = _headline(data, previous_week) if has_previous and previous_week else None
    deltas = {
        key: format_delta(_diff(now[key], before[key]) if before else None, lang, digits)
        for key, digits in (("contacts", 0), ("audio_hours", 1), ("per_100", 1), ("score", 1))
    }

    week_findings = data.week_findings
    counted = week_findings.loc[week_findings["counted"]]
    contacts_n = now["contacts"]
    # One crosstab instead of a filter per cell: the week can hold tens of thousands of rows.
    table = pd.crosstab(counted["category"], counted["severity"]).reindex(
        index=CATEGORIES, columns=SEVERITIES, fill_value=0
    )
    matrix = []
    for category in CATEGORIES:
        cells = []
        for severity in SEVERITIES:
            count = int(table.at[category, severity])
            cells.append(
                {
                    "count": count,
                    "per_100": format_number(count * 100.0 / contacts_n, lang, 1)
                    if contacts_n
                    else "–",
                }
            )
        total = int(table.loc[category].sum())
        matrix.append(
            {
                "category": category,
                "label": labels["category"][category],
                "colour": charts.CATEGORY_COLOURS[category],
                "cells": cells,
                "total": total,
                "total_per_100": format_number(total * 100.0 / contacts_n, lang, 1)
                if contacts_n
                else "–",
            }
        )

    scores = data.scores
    this_week = scores.loc[scores["week"] == week].copy()
    this_week = this_week.sort_values(
        ["score", "findings", "collector_id"], ascending=[True, False, True]
    )
    trend = scores.pivot_table(
        index="collector_id", columns="week", values="score", aggfunc="first"
    )
    ranking = []
    for position, row in enumerate(this_week.itertuples(index=False), start=1):
        history: list[float | None] = (
            [
                None if pd.isna(v) else float(v)
                for v in trend.loc[row.collector_id].reindex(data.weeks)
            ]
            if row.collector_id in trend.index
            else [None] * len(data.weeks)
        )
        ranking.append(
            {
                "rank": position,
                "collector": mask(row.collector_id, unmasked),
                "team": mask(row.team, unmasked),
                "contacts": int(row.contacts),
                "findings": int(row.findings),
                "critical_high": int(row.critical_high),
                "score": row.score,
                "score_text": format_number(row.score, lang, 1),
                "band": _band(row.score),
                "spark": charts.sparkline(history),
                "href": quote(scorecard_name(row.collector_id, unmasked)),
            }
        )

    per_week = data.findings.loc[data.findings["counted"]]
    weekly_counts = pd.crosstab(per_week["category"], per_week["week"]).reindex(
        index=CATEGORIES, columns=data.weeks, fill_value=0
    )
    category_counts: dict[str, Sequence[float]] = {
        category: [int(v) for v in weekly_counts.loc[category]] for category in CATEGORIES
    }
    week_names = [w.split("-")[1] for w in data.weeks]
    category_chart = charts.stacked_bars(week_names, category_counts, labels["category"])

    contacts = data.week_contacts
    markets = [
        market_of(tz or "", lg or "")
        for tz, lg in zip(contacts["timezone"], contacts["language"], strict=True)
    ]
    hour_charts = []
    hours = contacts["hour"].tolist()
    for market in ("cn", "us"):
        mine = [h for h, m in zip(hours, markets, strict=True) if m == market]
        if not mine and not (market == "cn" and not hours):
            continue
        counts = [0] * 24
        for h in mine:
            counts[int(h)] += 1
        forbidden = charts.FORBIDDEN_HOURS[market]
        hour_charts.append(
            {
                "title": text(f"market_{market}", lang),
                "chart": charts.hour_bars(counts, forbidden),
                "total": len(mine),
                "forbidden": sum(counts[h] for h in forbidden),
            }
        )

    serious = []
    if not counted.empty:
        ordered = counted.assign(
            rank=counted["severity"].map(lambda s: Severity(s).rank)
        ).sort_values(
            ["rank", "confidence", "local_time", "id"], ascending=[False, False, True, True]
        )
        for row in ordered.head(SERIOUS_SHOWN).itertuples(index=False):
            rule = describe_rule(rule_meta, row.rule_id)
            serious.append(
                {
                    "id": int(row.id),
                    "severity": row.severity,
                    "severity_label": labels["severity"][row.severity],
                    "category_label": labels["category"].get(row.category, row.category),
                    "colour": charts.CATEGORY_COLOURS.get(row.category, "#888"),
                    "collector": mask(row.collector_id, unmasked),
                    "href": quote(scorecard_name(row.collector_id, unmasked)) + f"#f{int(row.id)}",
                    "contact": mask(row.external_id, unmasked),
                    "channel": text(f"channel_{row.channel}", lang)
                    if f"channel_{row.channel}" in _CHANNELS
                    else row.channel,
                    "when": format_datetime(row.local_time.to_pydatetime(), lang),
                    "rule_id": row.rule_id,
                    "rule_title": rule["title"],
                    "cite": rule["cite"],
                    "quote": mask(row.quote, unmasked),
                    "why": mask(_evidence_why(row.evidence), unmasked),
                }
            )

    failures = data.failures
    failure_rows = [
        {
            "path": mask(str(r.path), unmasked),
            "line": None if pd.isna(r.line) else int(r.line),
            "stage": r.stage,
            "error": mask(str(r.error), unmasked),
        }
        for r in failures.itertuples(index=False)
    ]

    return {
        "lang": lang,
        "t": {key: text(key, lang) for key in _KEYS},
        "title": f"{text('weekly_title', lang)} · {week_label(week, data.monday, lang)}",
        "week": week,
        "week_label": week_label(week, data.monday, lang),
        "headline": {
            "contacts": format_number(now["contacts"], lang),
            "calls": format_number(now["calls"], lang),
            "messages": format_number(now["messages"], lang),
            "unanswered": format_number(now["unanswered"], lang),
            "audio_hours": format_number(now["audio_hours"], lang, 1),
            "findings": format_number(now["findings"], lang),
            "per_100": format_number(now["per_100"], lang, 1),
            "score": format_number(now["score"], lang, 1),
            "band": _band(now["score"]),
        },
        "deltas": deltas,
        "has_previous": before is not None,
        "severities": [{"key": s, "label": labels["severity"][s]} for s in SEVERITIES],
        "matrix": matrix,
        "formula": text("formula", lang).format(**SEVERITY_WEIGHTS),
        "ranking": ranking,
        "category_chart": category_chart,
        "legend": [
            {"label": labels["category"][c], "colour": charts.CATEGORY_COLOURS[c]}
            for c in CATEGORIES
        ],
        "weeks_shown": ", ".join(data.weeks),
        "hour_charts": hour_charts,
        "serious": serious,
        "failures": failure_rows,
        "unmasked": unmasked,
        "tool_version": __version__,
        "period": f"{format_date(data.monday, lang)} – {format_date(data.monday + timedelta(days=6), lang)}",
    }


_CHANNELS = {"channel_call", "channel_sms", "channel_chat", "channel_app", "channel_email"}
_KEYS = (
    "weekly_title",
    "week_note",
    "headline",
    "contacts_audited",
    "calls",
    "messages",
    "unanswered",
    "audio_hours",
    "findings_counted",
    "per_100",
    "team_score",
    "vs_previous",
    "by_category_severity",
    "category",
    "total",
    "ranking",
    "rank",
    "collector",
    "team",
    "contacts",
    "contacts_lc",
    "findings",
    "critical_high",
    "score",
    "trend",
    "scorecard",
    "formula_title",
    "category_trend",
    "contact_hours",
    "in_forbidden_hours",
    "serious",
    "no_findings",
    "failures",
    "failures_note",
    "no_failures",
    "path",
    "stage",
    "error",
    "line",
    "time",
    "contact",
    "rule",
    "quote",
    "evidence",
    "masked_note",
    "unmasked_note",
    "weeks_shown",
    "no_contacts",
    "clause",
)


def _band(score: float | None) -> str:
    """Colour band of a score: good ≥ 90, watch ≥ 70, poor below."""
    if score is None:
        return "none"
    return "good" if score >= 90 else ("watch" if score >= 70 else "poor")


def _evidence_why(evidence_json: str) -> str:
    import json

    try:
        return str(json.loads(evidence_json).get("why", ""))
    except (ValueError, AttributeError):
        return ""


def load_week_failures(store: Store, data: WeekData) -> pd.DataFrame:
    runs = frames.runs_of_contacts(store.engine, data.week_contacts["id"].tolist())
    start = datetime.combine(data.monday, datetime.min.time(), tzinfo=UTC)
    return frames.load_failures(store.engine, runs, start, start + timedelta(days=7))


def build_weekly_report(
    store: Store,
    out_dir: str | Path,
    week: str | None = None,
    lang: str | None = None,
    unmasked: bool = False,
    rules: str | None = "all",
    rule_meta: dict[str, dict[str, str]] | None = None,
    embed_audio: bool = False,
    trend_weeks: int = 8,
    scorecards: bool = True,
) -> ReportResult:
    """Write `out_dir/<week>/weekly.html` (and, by default, every collector's scorecard beside it).

    `week` defaults to the latest ISO week with contacts; `lang` (zh | en) to the language most
    contacts are in. `rule_meta` (rule id → {title, cite}) overrides what the rule packs say.
    """
    from auditor.report.scorecard import write_scorecards

    data = load_week_data(store, week, lang, trend_weeks)
    data.failures = load_week_failures(store, data)
    meta = load_rule_meta(rules, rule_meta)
    folder = Path(out_dir) / data.week
    folder.mkdir(parents=True, exist_ok=True)
    context = build_weekly_context(data, meta, unmasked)
    html = environment().get_template("weekly.html.j2").render(**context)
    path = folder / "weekly.html"
    path.write_text(html, encoding="utf-8")
    result = ReportResult(
        week=data.week,
        lang=data.lang,
        weekly_path=path,
        contacts=len(data.week_contacts),
        findings_counted=int(data.week_findings["counted"].sum()),
    )
    if scorecards:
        result.scorecard_paths = write_scorecards(
            store, data, folder, meta, unmasked=unmasked, embed_audio=embed_audio
        )
    log.info("%s", result.describe())
    return result
