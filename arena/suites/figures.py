"""The suite analysis's two pictures as standalone SVG text: Demšar's critical-difference diagram and Dolan & Moré's
performance profile.

The statistics come from :mod:`arena.suites.analysis`; this module only draws them,
with the standard library alone, so that a board page can embed the pictures
inline and serve them as ``image/svg+xml`` files, and so the same numbers always
give the same bytes (a frozen release stores them). Every name is text from users:
hidden characters (bidirectional overrides included) are dropped, the rest is
XML-escaped into text nodes only, never into an attribute, and a long name is cut
with an ellipsis, whole in its tooltip. Styling uses presentation attributes only,
no ``style`` attribute or element, so a page's content-security policy
(``style-src 'self'``) leaves the pictures as drawn.

Text widths are estimated from DejaVu Sans, among the widest common sans-serif
fonts, so labels fit whichever font the reader's browser picks.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from xml.sax.saxutils import escape

from arena.hidden_text import is_hidden

PAD = 16
NAME_SIZE = 13  # px: model names
SMALL_SIZE = 11  # px: ticks, mean ranks, captions; never smaller
TITLE_SIZE = 15
ROW = 20  # px between label rows: a 13px name is about 15px tall
MAX_NAME_PX = 240.0  # a longer name is cut with an ellipsis
MAX_TITLE_PX = 600.0
NO_NAME = "(no name)"
INK = "#222"
MUTED = "#555"
GRID = "#ddd"
# Okabe & Ito's colour-blind-safe palette, less its yellow (too pale on white), and dash patterns that tell the
# lines apart in greyscale: model i draws colour i % 7 with dash (i // 7 + i % 7) % 6, so the first 42 pairs differ.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
DASHES = ("", "8 4", "2 3", "10 3 2 3", "4 4", "12 3 2 3 2 3")

_NARROW = set("'ijlIJ,. /:;\\|f-()[]t!r")
_WIDE = set("mwMW%@#+<=>^~&")
_SVG_NS = "http://www.w3.org/2000/svg"


# --- text: cleaning, measuring, escaping ------------------------------------------------------


def clean_name(name: str) -> str:
    """The name as a figure shows it (:func:`clean_text`), or "(no name)" where nothing visible is left."""
    return clean_text(name) or NO_NAME


def clean_text(text: str) -> str:
    """Text from users as a figure shows it: line breaks and tabs as spaces, hidden characters (controls,
    bidirectional overrides, zero-width marks) dropped, runs of combining marks cut to two so that no name draws
    over the rows above and below it."""
    kept: list[str] = []
    marks = 0
    for ch in text:
        if ch in "\t\n\r\u2028\u2029":
            ch = " "
        if is_hidden(ch):
            continue
        marks = marks + 1 if unicodedata.combining(ch) else 0
        if marks > 2:
            continue
        kept.append(ch)
    return " ".join("".join(kept).split())


def text_width(text: str, size: float) -> float:
    """An upper estimate of the text's width in px at this font size (DejaVu Sans's widths, rounded up by class)."""
    em = 0.0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        if ch in _NARROW:
            em += 0.42
        elif unicodedata.category(ch) == "So":  # symbols and emoji, often drawn from a wider fallback font
            em += 1.3
        elif ch in _WIDE or unicodedata.east_asian_width(ch) in ("W", "F"):
            em += 1.05
        elif ch.isascii() and not ch.isupper():
            em += 0.66
        else:  # capitals, and letters beyond ASCII (Cyrillic's widest are near 1em)
            em += 0.9
    return em * size


def shorten(text: str, max_width: float = MAX_NAME_PX, size: float = NAME_SIZE) -> str:
    """The text, cut with an ellipsis where it would be wider than ``max_width``."""
    if text_width(text, size) <= max_width:
        return text
    room = max_width - text_width("…", size)
    cut = ""
    for ch in text:
        if text_width(cut + ch, size) > room:
            break
        cut += ch
    return cut.rstrip() + "…"


def _esc(text: str) -> str:
    return escape(text, {'"': "&quot;", "'": "&apos;"})


def _num(value: float) -> str:
    """A coordinate with two decimals at most, never ``-0``: the same figure always gives the same bytes."""
    text = f"{round(value, 2) + 0.0:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text(
    x: float,
    y: float,
    content: str,
    *,
    size: int = NAME_SIZE,
    anchor: str = "start",
    cls: str = "",
    fill: str = INK,
    **attrs: str,
) -> str:
    extra = "".join(f' {key.replace("_", "-")}="{value}"' for key, value in attrs.items())
    klass = f' class="{cls}"' if cls else ""
    return (
        f'<text{klass} x="{_num(x)}" y="{_num(y)}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{extra}>'
        f"{_esc(content)}</text>"
    )


def _svg(width: float, height: float, kind: str, title: str, description: str, body: list[str]) -> str:
    w, h = _num(math.ceil(width)), _num(math.ceil(height))
    head = (
        f'<svg xmlns="{_SVG_NS}" class="arena-figure {kind}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        f'role="img" font-family="DejaVu Sans, Verdana, Arial, sans-serif">'
    )
    return "\n".join(
        [
            head,
            f"<title>{_esc(title)}</title>",
            f"<desc>{_esc(description)}</desc>",
            f'<rect width="{w}" height="{h}" fill="#fff"/>',
            *body,
            "</svg>",
        ]
    )


def _heading(title: str, default: str) -> tuple[str, str]:
    """The picture's accessible title (the whole title, or ``default``) and the title it shows (cut to fit)."""
    cleaned = clean_text(title)
    return cleaned or default, shorten(cleaned, MAX_TITLE_PX, TITLE_SIZE) if cleaned else ""


def _message(kind: str, heading: str, title: str, message: str) -> str:
    """A small figure that says why there is nothing to draw."""
    top = PAD
    body = []
    if title:
        body.append(_text(PAD, top + TITLE_SIZE, title, size=TITLE_SIZE, font_weight="bold"))
        top += 26
    body.append(_text(PAD, top + NAME_SIZE, message, cls="message", fill_opacity="0.8"))
    width = max(text_width(title, TITLE_SIZE), text_width(message, NAME_SIZE)) + 2 * PAD
    return _svg(width, top + NAME_SIZE + 8 + PAD, kind, heading, message, body)


def _check_names(names: list[str], count: int, what: str) -> None:
    if len(names) != count:
        raise ValueError(f"{len(names)} names for {count} {what}: give one name per model, in the same order")


# --- the critical-difference diagram ----------------------------------------------------------


def _rank_ticks(low: float, high: float, px_per_rank: float) -> list[int]:
    """Integer ranks to label on the axis, at least 28px apart, always the first and the last."""
    if high - low < 1:
        return [1]
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000) if s * px_per_rank >= 28)
    last = int(high)
    ticks = [1, *(t for t in range(step, last + 1, step) if (t - 1) * px_per_rank >= 28)]
    if ticks[-1] != last:
        if (last - ticks[-1]) * px_per_rank < 28 and len(ticks) > 1:
            ticks.pop()
        ticks.append(last)
    return ticks


def _lanes(spans: list[tuple[float, float]], gap: float = 8.0) -> list[int]:
    """The lane of each bar, so that bars in one lane keep ``gap`` px apart (spans sorted by their left end)."""
    ends: list[float] = []
    lanes = []
    for left, right in spans:
        lane = next((i for i, end in enumerate(ends) if end + gap < left), len(ends))
        if lane == len(ends):
            ends.append(right)
        else:
            ends[lane] = right
        lanes.append(lane)
    return lanes


def critical_difference_svg(
    names: list[str], mean_ranks: list[float], cliques: list[list[int]], *, title: str = ""
) -> str:
    """Demšar's (2006, figs. 1-2) critical-difference diagram: the mean-rank axis (1 = best, on the left), each
    model's leader line down from its mean rank to its name and mean rank (the better half on the left, the worse
    half on the right), and a thick bar below the axis joining each group of models that no test tells apart.

    ``cliques`` lists groups of model indices (two or more each, contiguous in mean-rank order); a group inside
    another says nothing more and is not drawn again. Tied models share a position; their labels take a row each.
    Raises ValueError on lengths that do not match, a mean rank that is not a number from 1 to the number of
    models, or a clique naming a model that does not exist.
    """
    k = len(mean_ranks)
    _check_names(names, k, "mean ranks")
    heading, title = _heading(title, "Critical-difference diagram")
    if k == 0:
        return _message("critical-difference", heading, title, "No models to compare yet.")
    low, high = (0.5, 1.5) if k == 1 else (1.0, float(k))
    for i, rank in enumerate(mean_ranks):
        if not (math.isfinite(rank) and 1 - 1e-9 <= rank <= k + 1e-9):
            raise ValueError(f"model {i}: mean rank {rank!r} is not between 1 and {k}, the number of models")
    groups = _maximal_groups(cliques, k)

    shown = [clean_name(n) for n in names]
    order = sorted(range(k), key=lambda i: (mean_ranks[i], i))
    half = (k + 1) // 2
    left, right = order[:half], order[half:][::-1]  # the right side's rows start at the worst model
    labels = [shorten(s) for s in shown]
    rank_texts = [f"{r:.2f}" for r in mean_ranks]
    rank_room = max(text_width(t, SMALL_SIZE) for t in rank_texts) + 12  # the mean rank, beside the name
    lead = 24.0  # px of leader line at least, between a mean rank's text and the axis's end
    left_col = max(text_width(labels[i], NAME_SIZE) for i in left)
    right_col = max((text_width(labels[i], NAME_SIZE) for i in right), default=0.0)

    axis_width = min(max(70.0 * (high - low), 300.0), 600.0)
    x0 = PAD + left_col + rank_room + lead
    px_per_rank = axis_width / (high - low)

    def x_of(rank: float) -> float:
        return x0 + (rank - low) * px_per_rank

    body: list[str] = []
    y = PAD
    if title:
        body.append(_text(PAD, y + TITLE_SIZE, title, size=TITLE_SIZE, cls="title", font_weight="bold"))
        y += 28
    axis_y = y + SMALL_SIZE + 30
    body += _cd_axis(x_of, axis_y, k, _rank_ticks(low, high, px_per_rank), draw_minor=k > 1 and px_per_rank >= 4)
    positions = [x_of(r) for r in mean_ranks]
    bars, lanes = _cd_bars(groups, positions, order, shown, axis_y)
    body += bars
    rows_top = axis_y + 14 + 9 * lanes + 16

    label_right = PAD + left_col
    label_left = x_of(high) + lead + rank_room
    for side, models in (("left", left), ("right", right)):
        for row, i in enumerate(models):
            row_y = rows_top + row * ROW
            if side == "left":
                spots = (label_right, label_right + 6, label_right + rank_room)
            else:
                spots = (label_left, label_left - 6, label_left - rank_room)
            body.append(_cd_label(side, shown[i], labels[i], rank_texts[i], positions[i], axis_y, row_y, *spots))
    note = (
        "Bars join models whose differences are not significant."
        if groups
        else ("Every pair of models differs significantly." if k > 1 else "One model: nothing to compare.")
    )
    bottom = rows_top + (half - 1) * ROW + 12
    body.append(_text(PAD, bottom + SMALL_SIZE + 4, note, size=SMALL_SIZE, cls="note"))
    width = max(
        label_left + right_col + PAD, text_width(title, TITLE_SIZE) + 2 * PAD, text_width(note, SMALL_SIZE) + 2 * PAD
    )
    return _svg(
        width,
        bottom + SMALL_SIZE + 8 + PAD,
        "critical-difference",
        heading,
        _cd_description(shown, mean_ranks, order, groups),
        body,
    )


def _tick(x: float, axis_y: float, length: float) -> str:
    return f'<line class="tick" x1="{_num(x)}" y1="{_num(axis_y - length)}" x2="{_num(x)}" y2="{_num(axis_y)}" stroke="{INK}"/>'


def _cd_axis(x_of: Callable[[float], float], axis_y: float, k: int, ticks: list[int], *, draw_minor: bool) -> list[str]:
    """The mean-rank axis: its caption, its line, a labelled tick at each of ``ticks`` and a short one at every
    other whole rank where there is room."""
    left, right = x_of(1 if k > 1 else 0.5), x_of(k if k > 1 else 1.5)
    drawn = [
        _text((left + right) / 2, axis_y - 30, "mean rank (1 = best)", size=SMALL_SIZE, anchor="middle"),
        f'<line class="axis" x1="{_num(left)}" y1="{_num(axis_y)}" x2="{_num(right)}" y2="{_num(axis_y)}" '
        f'stroke="{INK}" stroke-width="1.5"/>',
    ]
    if draw_minor:
        drawn += [_tick(x_of(minor), axis_y, 4) for minor in range(1, k + 1) if minor not in ticks]
    for tick in ticks:
        drawn.append(_tick(x_of(tick), axis_y, 8))
        drawn.append(_text(x_of(tick), axis_y - 12, str(tick), size=SMALL_SIZE, anchor="middle", cls="tick"))
    return drawn


def _cd_bars(
    groups: list[list[int]], positions: list[float], order: list[int], shown: list[str], axis_y: float
) -> tuple[list[str], int]:
    """A thick bar below the axis for each group, from its first model's position to its last one's, overlapping
    bars on lanes of their own; returns the bars and the number of lanes."""
    place = {model: n for n, model in enumerate(order)}
    spans = sorted(
        ((min(positions[i] for i in g), max(positions[i] for i in g), g) for g in groups), key=lambda s: (s[0], s[1])
    )
    lanes = _lanes([(a, b) for a, b, _ in spans])
    drawn = []
    for (a, b, group), lane in zip(spans, lanes):
        bar_y = axis_y + 14 + 9 * lane
        members = ", ".join(shown[i] for i in sorted(group, key=place.__getitem__))
        drawn.append(
            f'<g class="cd-clique"><title>{_esc("Not significantly different: " + members)}</title>'
            f'<line class="bar" x1="{_num(a)}" y1="{_num(bar_y)}" x2="{_num(b)}" y2="{_num(bar_y)}" '
            f'stroke="{INK}" stroke-width="4" stroke-linecap="round"/></g>'
        )
    return drawn, max(lanes) + 1 if lanes else 0


def _cd_label(
    side: str,
    name: str,
    label: str,
    rank: str,
    x: float,
    axis_y: float,
    row_y: float,
    name_x: float,
    rank_x: float,
    line_end: float,
) -> str:
    """One model: its leader line down from the axis at ``x`` and across to its row, its (shortened) name and its
    mean rank beside it, and the whole name in a tooltip."""
    name_anchor, rank_anchor = ("end", "start") if side == "left" else ("start", "end")
    return (
        f'<g class="cd-model"><title>{_esc(name)} (mean rank {rank})</title>'
        f'<polyline class="leader" points="{_num(x)},{_num(axis_y)} {_num(x)},{_num(row_y)} '
        f'{_num(line_end)},{_num(row_y)}" fill="none" stroke="{MUTED}" stroke-width="1"/>'
        + _text(name_x, row_y, label, anchor=name_anchor, cls="name", dominant_baseline="central")
        + _text(
            rank_x,
            row_y,
            rank,
            size=SMALL_SIZE,
            anchor=rank_anchor,
            cls="rank",
            fill=MUTED,
            dominant_baseline="central",
        )
        + "</g>"
    )


def _maximal_groups(cliques: list[list[int]], k: int) -> list[list[int]]:
    """The cliques as sets of valid indices, duplicates and those inside another left out, in the order given."""
    sets = []
    for n, clique in enumerate(cliques):
        members = set(clique)
        if any(not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < k for i in members):
            raise ValueError(f"clique {n} names a model that does not exist: indices run from 0 to {k - 1}")
        if len(members) >= 2:
            sets.append(members)
    unique: list[set[int]] = []
    for members in sets:
        if members not in unique:
            unique.append(members)
    return [sorted(members) for members in unique if not any(members < other for other in unique)]


def _cd_description(shown: list[str], ranks: list[float], order: list[int], groups: list[list[int]]) -> str:
    models = "; ".join(f"{shown[i]} {ranks[i]:.2f}" for i in order)
    text = f"Mean ranks over the suite's tasks, 1 = best: {models}."
    if groups:
        joined = "; ".join(", ".join(shown[i] for i in sorted(g, key=lambda i: (ranks[i], i))) for g in groups)
        text += f" Not significantly different: {joined}."
    return text


# --- the performance profile ------------------------------------------------------------------

PLOT_WIDTH = 620.0
PLOT_HEIGHT = 300.0
INNER = 8.0  # px between the frame and the lines, so a line at share 0 or 1 or at τ = 1 stays visible
SAMPLE = 40.0  # px of line drawn beside each legend name


def _tau_ticks(top: float, decade_px: float) -> list[float]:
    """Values of τ to label, as many as keep their labels 44px apart: 1, 2, 5, 10, … or fewer, down to one decade
    in several on a very wide axis; evenly stepped values on an axis that ends before 2."""
    if top < 2:
        raw = (top - 1) / 4
        magnitude = 10.0 ** math.floor(math.log10(raw))
        step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
        return [1 + i * step for i in range(int((top - 1) / step + 1e-9) + 1)]
    decades = int(math.log10(top) + 1e-9)
    choices = [((1.0, 1.5, 2.0, 3.0, 5.0, 7.0), 1), ((1.0, 2.0, 5.0), 1)]
    choices += [((1.0,), every) for every in (1, 2, 5, 10, 20, 50, 100)]
    for mantissas, every in choices:
        ticks = sorted(
            m * 10.0**e for e in range(0, decades + 1, every) for m in mantissas if m * 10.0**e <= top * (1 + 1e-9)
        )
        if all(decade_px * math.log10(b / a) >= 44 for a, b in zip(ticks, ticks[1:])):
            return ticks
    return [1.0]


def _tau_label(value: float) -> str:
    return f"{round(value, 6):g}"


def _style(m: int) -> tuple[str, str]:
    """Model m's colour and dash pattern."""
    return COLOURS[m % len(COLOURS)], DASHES[(m // len(COLOURS) + m % len(COLOURS)) % len(DASHES)]


def _line_attrs(m: int) -> str:
    colour, dash = _style(m)
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return f'fill="none" stroke="{colour}" stroke-width="2"{dashed}'


def performance_profile_svg(names: list[str], taus: list[float], shares: list[list[float]], *, title: str = "") -> str:
    """Dolan & Moré's (2002) performance profile: for each model a step line of the share of tasks (0 to 1) on which
    it is within a factor τ of the best, over τ on a log scale from 1; a legend names every model with its colour
    and dash pattern, which tell the lines apart in greyscale and for colour-blind readers too.

    ``shares[m][j]`` is model m's share at ``taus[j]``; a share holds until the next τ (the profile is a step
    function) and the last one to the end of the axis. Raises ValueError on lengths that do not match, a τ below 1
    or out of increasing order, or a share that is not a number from 0 to 1.
    """
    _check_names(names, len(shares), "models' shares")
    heading, title = _heading(title, "Performance profile")
    if not taus:
        raise ValueError("no values of τ: give at least τ = 1")
    if any(not math.isfinite(t) or t < 1 for t in taus) or any(b <= a for a, b in zip(taus, taus[1:])):
        raise ValueError("the values of τ must be finite numbers from 1 up, in increasing order")
    for m, row in enumerate(shares):
        if len(row) != len(taus):
            raise ValueError(f"model {m}: {len(row)} shares for {len(taus)} values of τ: give one share per τ")
        if any(not (math.isfinite(s) and 0 <= s <= 1) for s in row):
            raise ValueError(f"model {m}: every share must be a number from 0 to 1")
    if not names:
        return _message("performance-profile", heading, title, "No models to compare yet.")

    top = taus[-1] if taus[-1] > 1 else 2.0
    ticks = _tau_ticks(top, (PLOT_WIDTH - 2 * INNER) / math.log10(top))
    shown = [clean_name(n) for n in names]
    labels = [shorten(s) for s in shown]
    y_room = text_width("0.75", SMALL_SIZE) + 8
    left = PAD + NAME_SIZE + 10 + y_room
    y0 = PAD + (28 if title else 0) + 8
    x1, y1 = left + PLOT_WIDTH, y0 + PLOT_HEIGHT
    width = x1 + PAD + 8

    def x_of(tau: float) -> float:
        return left + INNER + math.log10(tau) / math.log10(top) * (PLOT_WIDTH - 2 * INNER)

    def y_of(share: float) -> float:
        return y1 - INNER - share * (PLOT_HEIGHT - 2 * INNER)

    body: list[str] = []
    if title:
        body.append(_text(PAD, PAD + TITLE_SIZE, title, size=TITLE_SIZE, cls="title", font_weight="bold"))
    body.append(
        f'<rect class="frame" x="{_num(left)}" y="{_num(y0)}" width="{_num(PLOT_WIDTH)}" height="{_num(PLOT_HEIGHT)}" fill="none" stroke="{INK}"/>'
    )
    for share in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y_of(share)
        body.append(
            f'<line class="grid" x1="{_num(left)}" y1="{_num(y)}" x2="{_num(x1)}" y2="{_num(y)}" stroke="{GRID}"/>'
        )
        body.append(
            _text(left - 6, y, f"{share:g}", size=SMALL_SIZE, anchor="end", cls="tick", dominant_baseline="central")
        )
    kept = -1e9
    for tau in ticks:
        x = x_of(tau)
        if x - kept < 44:  # the labels would touch
            continue
        kept = x
        body.append(
            f'<line class="grid" x1="{_num(x)}" y1="{_num(y0)}" x2="{_num(x)}" y2="{_num(y1)}" stroke="{GRID}"/>'
        )
        body.append(_text(x, y1 + 16, _tau_label(tau), size=SMALL_SIZE, anchor="middle", cls="tick"))
    body.append(
        _text(
            (left + x1) / 2, y1 + 36, "τ: within this factor of the best (log scale)", size=SMALL_SIZE, anchor="middle"
        )
    )
    middle = (y0 + y1) / 2
    body.append(
        _text(
            PAD + NAME_SIZE - 2,
            middle,
            "share of tasks",
            size=SMALL_SIZE,
            anchor="middle",
            transform=f"rotate(-90 {_num(PAD + NAME_SIZE - 2)} {_num(middle)})",
        )
    )
    for m, row in enumerate(shares):
        steps = [f"M{_num(x_of(taus[0]))} {_num(y_of(row[0]))}"]
        for j in range(1, len(taus)):
            if row[j] != row[j - 1]:
                steps.append(f"H{_num(x_of(taus[j]))}V{_num(y_of(row[j]))}")
        steps.append(f"H{_num(x_of(top))}")
        body.append(
            f'<path class="profile" d="{"".join(steps)}" {_line_attrs(m)}><title>{_esc(shown[m])}</title></path>'
        )

    item = 8 + SAMPLE + 8 + max(text_width(label, NAME_SIZE) for label in labels) + 16
    columns = max(1, min(len(names), int((width - 2 * PAD) // item)))
    rows = math.ceil(len(names) / columns)
    legend_top = y1 + 58
    for m, label in enumerate(labels):
        x, y = PAD + (m // rows) * item, legend_top + (m % rows) * ROW
        body.append(
            f'<g class="legend-entry"><title>{_esc(shown[m])}</title>'
            f'<line x1="{_num(x)}" y1="{_num(y)}" x2="{_num(x + SAMPLE)}" y2="{_num(y)}" {_line_attrs(m)}/>'
            + _text(x + SAMPLE + 8, y, label, cls="legend-name", dominant_baseline="central")
            + "</g>"
        )
    height = legend_top + (rows - 1) * ROW + 10 + PAD
    return _svg(width, height, "performance-profile", heading, _profile_description(shown, taus, shares), body)


def _profile_description(shown: list[str], taus: list[float], shares: list[list[float]]) -> str:
    """What a reader without the picture needs: each model's share at the first and at the last τ."""
    first, last = _tau_label(taus[0]), _tau_label(taus[-1])
    models = "; ".join(f"{name} {row[0]:.0%} to {row[-1]:.0%}" for name, row in zip(shown, shares))
    return (
        f"Share of tasks on which each model is within a factor τ of the best, from τ = {first} to τ = {last}: "
        f"{models}. Higher and further left is better."
    )
