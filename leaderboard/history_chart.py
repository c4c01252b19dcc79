"""The submissions page's chart: a team's public scores against the time of each upload, with each score's
95% interval as a bar, drawn as inline SVG (no script). It scales to the width of its box, so a phone shows
all of it without scrolling sideways."""

from __future__ import annotations

from datetime import datetime

WIDTH, HEIGHT = 560, 200
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 34


def _when(row: dict) -> datetime:
    return datetime.strptime(row["submitted_at"], "%Y-%m-%d %H:%M:%S")


def history_chart(rows: list[dict]) -> dict | None:
    """Geometry of the chart (in a 560 x 200 view box) for the rows of the page, or None under two scores."""
    scored = [r for r in reversed(rows) if r["public"] and r["public"].get(r["metric"]) is not None]
    if len(scored) < 2:
        return None
    scored.sort(key=_when)
    values = [r["public"][r["metric"]] for r in scored]
    intervals = [r["public_ci"] if r["public_ci"] and None not in r["public_ci"][:2] else None for r in scored]
    every = values + [bound for ci in intervals if ci for bound in ci[:2]]
    low, high = min(every), max(every)
    span = (high - low) or 1.0
    times = [_when(r) for r in scored]
    first, seconds = times[0], (times[-1] - times[0]).total_seconds()

    def x(i: int) -> float:
        share = (times[i] - first).total_seconds() / seconds if seconds else i / (len(times) - 1)
        return LEFT + share * (WIDTH - LEFT - RIGHT)

    def y(value: float) -> float:
        return TOP + (high - value) / span * (HEIGHT - TOP - BOTTOM)

    points = [(x(i), y(v)) for i, v in enumerate(values)]
    middle = times[0] + (times[-1] - times[0]) / 2
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "points": " ".join(f"{px:.1f},{py:.1f}" for px, py in points),
        "dots": [
            {
                "x": px,
                "y": py,
                "id": r["id"],
                "value": v,
                "when": r["submitted_at"],
                "bar": (y(ci[1]), y(ci[0])) if ci else None,
                "ci": ci,
            }
            for (px, py), r, v, ci in zip(points, scored, values, intervals)
        ],
        "y_ticks": [(y(v), v) for v in (high, (high + low) / 2, low)],
        "x_ticks": [
            (LEFT, "start", times[0].strftime("%m-%d %H:%M")),
            ((LEFT + WIDTH - RIGHT) / 2, "middle", middle.strftime("%m-%d %H:%M")),
            (WIDTH - RIGHT, "end", times[-1].strftime("%m-%d %H:%M")),
        ],
        "plot": (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM),
        "low": low,
        "high": high,
        "metric": scored[0]["metric"],
    }
