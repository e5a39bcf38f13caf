"""Server-rendered inline SVG charts: no JavaScript, no network, legible in any language."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import formats
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 28
COLORS = ("#2b6cb0", "#dd6b20", "#718096", "#38a169", "#805ad5")


@dataclass(frozen=True)
class Line:
    label: str
    values: list  # numbers or None (no value that day)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def _fmt(value: float) -> str:
    if abs(value) >= 1_000_000:
        return formats.number_format(round(value / 1_000_000, 1), decimal_pos=1) + "M"
    if abs(value) >= 10_000:
        return formats.number_format(round(value / 1000), use_l10n=True) + "k"
    return formats.number_format(round(value, 2), use_l10n=True, force_grouping=True)


def line_chart(
    title: str, days: list[date], lines: list[Line], *, bars: bool = False
) -> SafeString:
    """A chart of one value per day per line; ``bars`` draws grouped bars instead of lines."""
    numbers = [float(v) for line in lines for v in line.values if v is not None]
    low = min([0.0, *numbers])
    high = _nice_max(max([0.0, *numbers]))
    if low < 0:
        low = -_nice_max(-low)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(days), 1)

    def x(i: float) -> float:
        return LEFT + (i + 0.5) * plot_w / n

    def y(v: float) -> float:
        return TOP + plot_h - (v - low) / (high - low) * plot_h

    parts = [
        f'<svg class="report-chart" viewBox="0 0 {WIDTH} {HEIGHT + 24 + 16 * len(lines)}" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for k in range(5):
        v = low + (high - low) * k / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#e2e8f0"/>'
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#4a5568">{escape(_fmt(v))}</text>'
        )
    step = max(1, math.ceil(n / 8))
    for i, day in enumerate(days):
        if i % step == 0 or (i == n - 1 and n <= 8):
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="11" '
                f'fill="#4a5568">{escape(formats.date_format(day, "d.m"))}</text>'
            )
    for k, line in enumerate(lines):
        color = COLORS[k % len(COLORS)]
        if bars:
            width = plot_w / n / (len(lines) + 1)
            for i, v in enumerate(line.values):
                if v is None:
                    continue
                top, base = y(max(float(v), 0)), y(min(float(v), 0))
                parts.append(
                    f'<rect x="{x(i) - plot_w / n / 2 + width * (k + 0.5):.1f}" y="{top:.1f}" '
                    f'width="{width:.1f}" height="{max(base - top, 0.5):.1f}" fill="{color}">'
                    f"<title>{escape(line.label)} {escape(_fmt(float(v)))}</title></rect>"
                )
        else:
            # A day without a value (no check, so no average) breaks the line.
            segments: list[list[str]] = [[]]
            for i, v in enumerate(line.values):
                if v is None:
                    segments.append([])
                else:
                    segments[-1].append(f"{x(i):.1f},{y(float(v)):.1f}")
            for segment in segments:
                if len(segment) == 1:
                    cx, cy = segment[0].split(",")
                    parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>')
                elif segment:
                    parts.append(
                        f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                        f'points="{" ".join(segment)}"/>'
                    )
        legend_y = HEIGHT + 12 + 16 * k
        parts.append(
            f'<rect x="{LEFT}" y="{legend_y - 9}" width="12" height="10" fill="{color}"/>'
            f'<text x="{LEFT + 18}" y="{legend_y}" font-size="12" fill="#1a202c">'
            f"{escape(line.label)}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped


def values(rows: list[dict], key: str) -> list:
    return [None if row[key] is None else Decimal(row[key]) for row in rows]
