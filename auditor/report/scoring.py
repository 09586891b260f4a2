"""The compliance score: one severity-weighted formula, used by the weekly report and the
scorecards alike and printed on both pages."""

from __future__ import annotations

import pandas as pd

from auditor.models import Category, Severity

# How many points one counted finding costs, by severity. A contact can lose at most
# CONTACT_POINTS: one critical finding (violence, impersonating police) or two high ones make a
# contact wholly non-compliant, a medium one a fifth of it. The score is then the compliant share
# of the week's contacts, so it reads the same for 5 contacts and for 5,000, and a collector with
# many findings on one bad call is not ranked below one who breaks the rules on every call.
SEVERITY_WEIGHTS: dict[str, int] = {"critical": 10, "high": 5, "medium": 2, "low": 1}
CONTACT_POINTS = 10

SEVERITIES = [s.value for s in sorted(Severity, key=lambda s: -s.rank)]
CATEGORIES = [c.value for c in Category]


def compliance_score(points: float, contacts: int) -> float | None:
    """100 × (1 − points ÷ (CONTACT_POINTS × contacts)); `points` already capped per contact.

    None without contacts.
    """
    if contacts <= 0:
        return None
    lost = points / (CONTACT_POINTS * contacts)
    return round(min(100.0, max(0.0, 100.0 * (1.0 - lost))), 1)


def capped_points(counted: pd.DataFrame) -> pd.Series:
    """Each counted finding's points, scaled down where its contact would lose more than
    CONTACT_POINTS, so that sums over any grouping respect the per-contact cap."""
    raw = counted["severity"].map(SEVERITY_WEIGHTS).fillna(0).astype(float)
    per_contact = raw.groupby(counted["contact_id"]).transform("sum")
    scale = (CONTACT_POINTS / per_contact).clip(upper=1.0).fillna(1.0)
    return raw * scale


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
    weighted = counted.assign(points=capped_points(counted))
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
    return compliance_score(float(capped_points(counted).sum()), contacts)
