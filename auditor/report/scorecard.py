"""One scorecard per collector and week: the score and its trend, and every finding with the
collector's own words marked in context and a player that starts where they were said."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from auditor import __version__
from auditor.report import charts
from auditor.report.data import WeekData, load_week_data
from auditor.report.frames import load_segments
from auditor.report.i18n import format_datetime, format_number, text, week_label
from auditor.report.masking import mask, mask_around_span
from auditor.report.rulemeta import RuleMeta, describe_rule, load_rule_meta
from auditor.report.scoring import CATEGORIES, SEVERITY_WEIGHTS
from auditor.report.weekly import _band, _labels, scorecard_name
from auditor.store import Store

log = logging.getLogger(__name__)

CONTEXT_SEGMENTS = 1  # neighbouring segments shown on each side of the one with the words

_KEYS = (
    "scorecard_title",
    "week_note",
    "back_to_weekly",
    "score",
    "contacts",
    "findings_counted",
    "score_trend",
    "findings_by_category",
    "category",
    "counted",
    "dismissed",
    "preview_findings",
    "findings",
    "dismissed_by",
    "confirmed_by",
    "reason",
    "clause",
    "play_from",
    "whole_contact",
    "no_audio",
    "no_findings",
    "formula_title",
    "contact",
    "evidence",
    "masked_note",
    "unmasked_note",
    "rank",
    "team",
    "pending_review",
    "col_counted",
    "col_dismissed",
)


def _clock(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole // 60:02d}:{whole % 60:02d}"


class _AudioLinks:
    """The `src` of each recording, relative to the scorecards' folder or copied beside them.

    A path that masking would change (a phone number in the file name is common in call-centre
    exports) is never written into a masked page: the recording is copied under its hash instead.
    """

    def __init__(self, folder: Path, embed: bool, unmasked: bool) -> None:
        self.folder, self.embed, self.unmasked = folder, embed, unmasked
        self.cache: dict[str, str | None] = {}

    def src(self, source_path: str, sha256: str) -> str | None:
        if not source_path:
            return None
        if source_path not in self.cache:
            self.cache[source_path] = self._resolve(source_path, sha256)
        return self.cache[source_path]

    def _resolve(self, source_path: str, sha256: str) -> str | None:
        source = Path(source_path)
        leaks = mask(source_path, self.unmasked) != source_path
        if self.embed or leaks:
            if not source.is_file():
                log.warning(
                    "recording %s not found; its findings have no player",
                    mask(source_path, self.unmasked),
                )
                return None
            name = (
                f"{sha256[:16] or 'recording'}{source.suffix.lower()}"
                if leaks
                else f"{sha256[:8]}-{source.name}"
            )
            target = self.folder / "audio" / name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
            return quote(f"audio/{name}")
        try:
            relative = os.path.relpath(source, self.folder)
        except ValueError:  # another drive on Windows
            return source.resolve().as_uri()
        return quote(Path(relative).as_posix())


def _transcript(
    segments: list[dict[str, Any]], row: Any, lang: str, unmasked: bool
) -> list[dict[str, Any]]:
    if row.segment_index is None or pd.isna(row.segment_index):
        return []
    index = int(row.segment_index)
    lines = []
    for k in range(
        max(0, index - CONTEXT_SEGMENTS), min(len(segments), index + CONTEXT_SEGMENTS + 1)
    ):
        seg = segments[k]
        line = {
            "who": text(f"speaker_{seg['speaker']}", lang),
            "at": _clock(float(seg["start_s"])),
            "focus": k == index,
            "before": "",
            "marked": "",
            "after": mask(seg["text"], unmasked),
        }
        if k == index:
            before, marked, after = mask_around_span(
                seg["text"], (int(row.span_start), int(row.span_end)), unmasked
            )
            line.update(before=before, marked=marked, after=after)
        lines.append(line)
    return lines


def _finding_view(
    row: Any,
    segments: dict[int, list[dict[str, Any]]],
    audio: _AudioLinks,
    meta: RuleMeta,
    lang: str,
    unmasked: bool,
) -> dict[str, Any]:
    labels = _labels(lang)
    rule = describe_rule(meta, row.rule_id)
    evidence = {}
    with contextlib.suppress(ValueError):
        evidence = json.loads(row.evidence)
    src = audio.src(row.source_path, row.source_sha256) if row.channel == "call" else None
    start = float(row.start_s or 0)
    decision = row.decision if isinstance(row.decision, str) else None
    return {
        "id": int(row.id),
        "severity": row.severity,
        "severity_label": labels["severity"].get(row.severity, row.severity),
        "category_label": labels["category"].get(row.category, row.category),
        "colour": charts.CATEGORY_COLOURS.get(row.category, "#888"),
        "rule_id": row.rule_id,
        "rule_title": rule["title"],
        "cite": rule["cite"],
        "contact": mask(row.external_id, unmasked),
        "channel": text(f"channel_{row.channel}", lang),
        "when": format_datetime(row.local_time.to_pydatetime(), lang),
        "at": _clock(start),
        "quote": mask(row.quote, unmasked),
        "why": mask(str(evidence.get("why", "")), unmasked),
        "lines": _transcript(segments.get(int(row.contact_id), []), row, lang, unmasked),
        "whole_contact": row.segment_index is None or pd.isna(row.segment_index),
        "audio": f"{src}#t={start:.1f}" if src else None,
        "is_call": row.channel == "call",
        "decision": decision,
        "reviewer": mask(row.reviewer, unmasked) if isinstance(row.reviewer, str) else "",
        "reason": mask(row.reason, unmasked) if isinstance(row.reason, str) else "",
        "counted": bool(row.counted),
    }


def _scorecard_context(
    data: WeekData,
    collector_id: str,
    rank: int,
    of: int,
    collector_scores: pd.DataFrame,
    findings: pd.DataFrame,
    segments: dict[int, list[dict[str, Any]]],
    audio: _AudioLinks,
    meta: RuleMeta,
    unmasked: bool,
) -> dict[str, Any]:
    lang, week = data.lang, data.week
    labels = _labels(lang)
    # A collector has a handful of findings a week: plain Python over rows is faster here than
    # pandas selections on the wide frame, which copy every column per filter.
    by_week = {
        str(w): (None if pd.isna(v) else float(v))
        for w, v in zip(collector_scores["week"], collector_scores["score"], strict=True)
    }
    now = collector_scores.loc[collector_scores["week"] == week].iloc[0]
    trend = [by_week.get(w) for w in data.weeks]
    ordered = findings.sort_values(["local_time", "start_s", "rule_id", "id"])
    rows = list(ordered.itertuples(index=False))
    views = [_finding_view(r, segments, audio, meta, lang, unmasked) for r in rows]
    preview_ids = {int(r.id) for r in rows if r.rule_status == "preview"}
    tally: dict[str, list[int]] = {}
    for r in rows:
        if r.rule_status == "preview":
            continue
        counts = tally.setdefault(r.category, [0, 0])
        counts[0] += bool(r.counted)
        counts[1] += r.decision == "dismissed"
    by_category = [
        {
            "label": labels["category"][category],
            "colour": charts.CATEGORY_COLOURS[category],
            "counted": tally[category][0],
            "dismissed": tally[category][1],
        }
        for category in CATEGORIES
        if category in tally
    ]
    return {
        "lang": lang,
        "t": {k: text(k, lang) for k in _KEYS},
        "title": f"{text('scorecard_title', lang)} · {mask(collector_id, unmasked)} · {week}",
        "collector": mask(collector_id, unmasked),
        "team": mask(str(now["team"]), unmasked),
        "week_label": week_label(week, data.monday, lang),
        "score": format_number(now["score"], lang, 1),
        "band": _band(now["score"]),
        "contacts": int(now["contacts"]),
        "counted": int(now["findings"]),
        "rank": rank,
        "of": of,
        "rank_text": text("rank_of", lang).format(rank=rank, of=of),
        "trend_chart": charts.score_line([w.split("-")[1] for w in data.weeks], trend),
        "by_category": by_category,
        "findings": [v for v in views if v["id"] not in preview_ids],
        "preview": [v for v in views if v["id"] in preview_ids],
        "formula": text("formula", lang).format(**SEVERITY_WEIGHTS),
        "unmasked": unmasked,
        "tool_version": __version__,
    }


def write_scorecards(
    store: Store,
    data: WeekData,
    folder: Path,
    meta: RuleMeta,
    unmasked: bool = False,
    embed_audio: bool = False,
) -> dict[str, Path]:
    """Write `folder/collector-<id>.html` for every collector with contacts in the week."""
    from auditor.report.templates import environment

    template = environment().get_template("scorecard.html.j2")
    week_scores = data.scores.loc[data.scores["week"] == data.week].sort_values(
        ["score", "findings", "collector_id"], ascending=[True, False, True]
    )
    findings = data.week_findings
    with_words = findings.loc[findings["segment_index"].notna(), "contact_id"].unique().tolist()
    segments = load_segments(store.engine, with_words)
    audio = _AudioLinks(folder, embed_audio, unmasked)
    paths: dict[str, Path] = {}
    collectors = week_scores["collector_id"].tolist()
    # Split once by collector; filtering the whole week per collector is quadratic.
    by_collector = dict(tuple(findings.groupby("collector_id", sort=False)))
    scores_by_collector = dict(tuple(data.scores.groupby("collector_id", sort=False)))
    empty = findings.iloc[0:0]
    for rank, collector_id in enumerate(collectors, start=1):
        context = _scorecard_context(
            data,
            collector_id,
            rank,
            len(collectors),
            scores_by_collector[collector_id],
            by_collector.get(collector_id, empty),
            segments,
            audio,
            meta,
            unmasked,
        )
        path = folder / scorecard_name(collector_id, unmasked)
        path.write_text(template.render(**context), encoding="utf-8")
        paths[collector_id] = path
    return paths


def build_scorecards(
    store: Store,
    out_dir: str | Path,
    week: str | None = None,
    lang: str | None = None,
    unmasked: bool = False,
    rules: str | None = "all",
    rule_meta: dict[str, dict[str, str]] | None = None,
    embed_audio: bool = False,
    trend_weeks: int = 8,
) -> dict[str, Path]:
    """Scorecards alone (the weekly report writes them too): collector id → written page."""
    data = load_week_data(store, week, lang, trend_weeks)
    folder = Path(out_dir) / data.week
    folder.mkdir(parents=True, exist_ok=True)
    return write_scorecards(
        store, data, folder, load_rule_meta(rules, rule_meta), unmasked, embed_audio
    )
