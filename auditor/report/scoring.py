"""The compliance score: one severity-weighted formula, used by the weekly report and the
scorecards alike and printed on both pages."""

from __future__ import annotations

import pandas as pd

from auditor.models import Category, Severity

# How many "points" one counted finding costs, by severity. A critical finding (violence,
# impersonating police) in every tenth contact takes a collector to zero; one low-severity slip
# in a hundred contacts costs one point.
SEVERITY_WEIGHTS: dict[str, int] = {"critical": 10, "high": 5, "medium": 2, "low": 1}

SEVERITIES = [s.value for s in sorted(Severity, key=lambda s: -s.rank)]
CATEGORIES = [c.value for c in Category]


def compliance_score(points: float, contacts: int) -> float | None:
    """100 − weighted findings per 100 contacts, within 0–100; None without contacts."""
    if contacts <= 0:
        return None
    return round(min(100.0, max(0.0, 100.0 - points * 100.0 / contacts)), 1)


def collector_weeks(contacts: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    """One row per (collector_id, week): contacts, counted findings, critical+high, points, score.

    `findings` must carry the contact's collector_id and week (merged from `contacts`) and the
    `counted` flag; dismissed and preview findings are left out here and only here.
    """
    volume = contacts.groupby(["collector_id", "week"]).size().rename("contacts")
    teams = contacts.groupby("collector_id")["team"].agg(
        lambda s: s.mode().iat[0] if len(s) else ""
    )
    counted = findings.loc[findings["counted"]]
    weighted = counted.assign(points=counted["severity"].map(SEVERITY_WEIGHTS).fillna(0))
    grouped = weighted.groupby(["collector_id", "week"])
    table = pd.concat(
        [
            volume,
            grouped.size().rename("findings"),
            grouped["points"].sum().rename("points"),
            weighted.loc[weighted["severity"].isin(["critical", "high"])]
            .groupby(["collector_id", "week"])
            .size()
            .rename("critical_high"),
        ],
        axis=1,
    )
    table = table.loc[table["contacts"].notna()].fillna(0)
    table = table.astype({"contacts": "int64", "findings": "int64", "critical_high": "int64"})
    table["score"] = [
        compliance_score(p, c) for p, c in zip(table["points"], table["contacts"], strict=True)
    ]
    table = table.reset_index()
    table["team"] = table["collector_id"].map(teams).fillna("")
    return table


def team_score(contacts: int, findings: pd.DataFrame) -> float | None:
    counted = findings.loc[findings["counted"]]
    points = float(counted["severity"].map(SEVERITY_WEIGHTS).fillna(0).sum())
    return compliance_score(points, contacts)
