"""Charts of a review's tables, drawn as inline SVG on the server (no script, no library
in the page): a table indexed by horizon becomes one line chart per metric (its columns
grouped by the header's last word), e.g. per-horizon MASE of the challenger, the champion
and the baselines; an interval coverage chart shows the target band of the platform's
coverage gate (80% ± 5 points)."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, PAD = 520, 260, 44
COLOURS = ("#1f6feb", "#d1242f", "#8250df", "#1a7f37", "#bf8700", "#57606a")
COVERAGE_BAND = (0.75, 0.85)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def line_charts(title: str, headers, rows) -> list[str]:
    """SVG charts of a table whose first column counts horizons (1, 2, …); none otherwise."""
    if not rows or str(headers[0]).lower() not in {"horizon", "h", "day"}:
        return []
    xs = [_number(r[0]) for r in rows]
    if any(x is None for x in xs):
        return []
    groups: dict[str, list[int]] = {}
    for j, header in enumerate(headers[1:], start=1):
        values = [_number(r[j]) for r in rows]
        if sum(v is not None for v in values) >= 2:
            groups.setdefault(str(header).split()[-1], []).append(j)
    return [
        _chart(f"{title}: {metric}", headers, rows, xs, columns, metric)
        for metric, columns in groups.items()
    ]


def _chart(title, headers, rows, xs, columns, metric) -> str:
    series = [(str(headers[j]), [_number(r[j]) for r in rows]) for j in columns]
    values = [v for _, vs in series for v in vs if v is not None]
    band = COVERAGE_BAND if metric.lower() == "coverage" else None
    low, high = min(values + list(band or [])), max(values + list(band or []))
    if high == low:
        high = low + 1.0
    span_x = (max(xs) - min(xs)) or 1.0

    def sx(x):
        return PAD + (x - min(xs)) / span_x * (WIDTH - 2 * PAD)

    def sy(y):
        return HEIGHT - PAD - (y - low) / (high - low) * (HEIGHT - 2 * PAD)

    parts = [
        f'<svg class="chart" role="img" width="{WIDTH}" height="{HEIGHT + 18 * len(series)}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT + 18 * len(series)}"><title>{escape(title)}</title>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT + 18 * len(series)}" fill="#fff"/>',
    ]
    if band:
        top, bottom = sy(band[1]), sy(band[0])
        parts.append(
            f'<rect x="{PAD}" y="{top:.1f}" width="{WIDTH - 2 * PAD}" '
            f'height="{bottom - top:.1f}" fill="#dff3e4"/>'
            f'<text x="{WIDTH - PAD}" y="{top - 3:.1f}" font-size="10" '
            'text-anchor="end">target band</text>'
        )
    parts.append(
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
        'stroke="#999"/>'
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>'
    )
    for y in (low, (low + high) / 2, high):
        parts.append(
            f'<text x="{PAD - 4}" y="{sy(y) + 3:.1f}" font-size="10" '
            f'text-anchor="end">{y:.2f}</text>'
        )
    for x in xs:
        parts.append(
            f'<text x="{sx(x):.1f}" y="{HEIGHT - PAD + 14}" font-size="10" '
            f'text-anchor="middle">{x:g}</text>'
        )
    parts.append(
        f'<text x="{WIDTH / 2}" y="{HEIGHT - PAD + 28}" font-size="11" '
        f'text-anchor="middle">{escape(str(headers[0]))}</text>'
    )
    for k, (name, vs) in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        points = " ".join(
            f"{sx(x):.1f},{sy(v):.1f}" for x, v in zip(xs, vs, strict=True) if v is not None
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        y = HEIGHT + 4 + 18 * k
        parts.append(
            f'<rect x="{PAD}" y="{y}" width="12" height="3" fill="{colour}"/>'
            f'<text x="{PAD + 18}" y="{y + 5}" font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
