"""Geometry of the inline SVG charts; the templates only draw what is computed here, so a report
needs no JavaScript and no network to be read or printed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

CATEGORY_COLOURS = {
    "threat": "#b03a2e",
    "false_claim": "#7d3c98",
    "insult": "#d35400",
    "privacy": "#1f618d",
    "pressure": "#b7950b",
    "contact_time": "#148f77",
    "contact_frequency": "#566573",
    "procedure": "#a04000",
}
FORBIDDEN_HOURS = {
    "cn": frozenset([22, 23, 0, 1, 2, 3, 4, 5, 6, 7]),
    # FDCPA 1692c(a)(1): before 8 a.m. and after 9 p.m.; a contact at 21:xx is after 9 p.m.
    "us": frozenset([21, 22, 23, 0, 1, 2, 3, 4, 5, 6, 7]),
}


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


def _gridlines(top: float, y0: float, height: float, count: int = 4) -> list[dict[str, Any]]:
    lines = []
    for k in range(count + 1):
        value = top * k / count
        lines.append(
            {
                "y": round(y0 + height - height * k / count, 1),
                "label": f"{value:g}" if value < 10 else f"{value:,.0f}",
            }
        )
    return lines


def stacked_bars(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    names: dict[str, str],
    width: int = 820,
    height: int = 240,
) -> dict[str, Any]:
    """Bars per label (weeks), stacked by series (categories), with a y axis of counts."""
    left, bottom, top_pad = 40, 24, 8
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    slot = plot_w / max(1, len(labels))
    bar_w = min(56.0, slot * 0.6)
    bars = []
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar_w) / 2
        y = float(top_pad + plot_h)
        for key, values in series.items():
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y -= h
            bars.append(
                {
                    "x": round(x, 1),
                    "y": round(y, 1),
                    "w": round(bar_w, 1),
                    "h": round(h, 1),
                    "colour": CATEGORY_COLOURS.get(key, "#888"),
                    "title": f"{label} · {names.get(key, key)}: {value:g}",
                }
            )
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - 8,
        "bars": bars,
        "grid": _gridlines(top, top_pad, plot_h),
        "xlabels": [
            {"x": round(left + slot * i + slot / 2, 1), "label": label, "total": f"{totals[i]:g}"}
            for i, label in enumerate(labels)
        ],
        "baseline": top_pad + plot_h,
        "label_y": height - 6,
    }


def hour_bars(
    counts: Sequence[int], forbidden: frozenset[int], width: int = 640, height: int = 200
) -> dict[str, Any]:
    """24 bars of contacts by local hour, forbidden hours shaded behind them."""
    left, bottom, top_pad = 40, 24, 8
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    top = _nice_max(max(counts, default=0))
    slot = plot_w / 24
    bars, shades = [], []
    for hour in range(24):
        x = left + slot * hour
        if hour in forbidden:
            shades.append({"x": round(x, 1), "w": round(slot, 1)})
        value = counts[hour]
        h = plot_h * value / top if value else 0
        bars.append(
            {
                "x": round(x + slot * 0.15, 1),
                "y": round(top_pad + plot_h - h, 1),
                "w": round(slot * 0.7, 1),
                "h": round(h, 1),
                "forbidden": hour in forbidden,
                "title": f"{hour:02d}:00–{hour:02d}:59: {value}",
            }
        )
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - 8,
        "top": top_pad,
        "plot_h": plot_h,
        "bars": bars,
        "shades": shades,
        "grid": _gridlines(top, top_pad, plot_h),
        "xlabels": [
            {"x": round(left + slot * h + slot / 2, 1), "label": f"{h:02d}"}
            for h in range(0, 24, 3)
        ],
        "baseline": top_pad + plot_h,
        "label_y": height - 6,
    }


def score_line(
    labels: Sequence[str], scores: Sequence[float | None], width: int = 640, height: int = 200
) -> dict[str, Any]:
    """Score (0–100) per week; weeks without contacts leave a gap."""
    left, bottom, top_pad = 40, 24, 24  # room above 100 for the point's label
    plot_w, plot_h = width - left - 16, height - bottom - top_pad
    slot = plot_w / max(1, len(labels) - 1) if len(labels) > 1 else 0
    points: list[dict[str, Any] | None] = []
    for i, value in enumerate(scores):
        x = left + slot * i if len(labels) > 1 else left + plot_w / 2
        if value is None:
            points.append(None)
            continue
        points.append(
            {
                "x": round(x, 1),
                "y": round(top_pad + plot_h * (1 - value / 100), 1),
                "label": f"{value:g}",
            }
        )
    runs: list[str] = []
    current: list[str] = []
    for point in points:
        if point is None:
            if len(current) > 1:
                runs.append(" ".join(current))
            current = []
        else:
            current.append(f"{point['x']},{point['y']}")
    if len(current) > 1:
        runs.append(" ".join(current))
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - 16,
        "points": [p for p in points if p is not None],
        "lines": runs,
        "grid": _gridlines(100, top_pad, plot_h),
        "xlabels": [
            {
                "x": round(left + slot * i if len(labels) > 1 else left + plot_w / 2, 1),
                "label": label,
            }
            for i, label in enumerate(labels)
        ],
        "label_y": height - 6,
    }


def sparkline(scores: Sequence[float | None], width: int = 96, height: int = 24) -> dict[str, Any]:
    pad = 3
    n = len(scores)
    step = (width - 2 * pad) / max(1, n - 1)
    pts = [
        (round(pad + step * i, 1), round(pad + (height - 2 * pad) * (1 - v / 100), 1))
        for i, v in enumerate(scores)
        if v is not None
    ]
    return {
        "width": width,
        "height": height,
        "points": " ".join(f"{x},{y}" for x, y in pts),
        "last": pts[-1] if pts else None,
    }
