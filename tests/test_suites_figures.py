"""The suite analysis's pictures as SVG: well-formed for any input, drawn where the numbers say, inert whatever the
names, the same bytes for the same numbers, and a clear error for numbers that cannot be drawn."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena.suites.figures import (
    MAX_NAME_PX,
    NAME_SIZE,
    clean_name,
    critical_difference_svg,
    performance_profile_svg,
    shorten,
    text_width,
)

NS = {"svg": "http://www.w3.org/2000/svg"}
SVG = "{http://www.w3.org/2000/svg}"
DRAWN_TAGS = {"svg", "title", "desc", "rect", "line", "polyline", "path", "text", "g"}


def parse(svg: str) -> ET.Element:
    """The SVG as an element tree, after checking what every standalone picture must carry."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}" and width > 0 and height > 0
    assert root[0].tag == f"{SVG}title" and (root[0].text or "").strip()
    return root


def leaders(root: ET.Element) -> dict[str, tuple[float, float]]:
    """Each model's name (from its tooltip) -> the x of its leader line and the y of its label row."""
    found = {}
    for group in root.iterfind("svg:g[@class='cd-model']", NS):
        name = group.findtext("svg:title", namespaces=NS) or ""
        points = [tuple(map(float, p.split(","))) for p in group.find("svg:polyline", NS).get("points").split()]
        (x, _), (x_again, row) = points[0], points[1]
        assert x == x_again  # the leader runs straight down from the axis
        found[name.rsplit(" (mean rank", 1)[0]] = (x, row)
    return found


def bars(root: ET.Element) -> list[tuple[float, float]]:
    return sorted(
        (float(line.get("x1")), float(line.get("x2"))) for line in root.iterfind("svg:g/svg:line[@class='bar']", NS)
    )


def inert(root: ET.Element) -> None:
    """Only drawing elements, no event handlers, no links, no styles: nothing in the picture can run or fetch."""
    for element in root.iter():
        assert element.tag.removeprefix(SVG) in DRAWN_TAGS, element.tag
        for attribute in element.attrib:
            assert not attribute.lower().startswith("on") and "href" not in attribute and attribute != "style"


# --- any input gives a well-formed, inert picture ---------------------------------------------------------


@st.composite
def cd_inputs(draw):
    k = draw(st.integers(min_value=0, max_value=30))
    names = draw(st.lists(st.text(max_size=60), min_size=k, max_size=k))
    ranks = draw(st.lists(st.floats(min_value=1, max_value=max(k, 1)), min_size=k, max_size=k))
    cliques = draw(st.lists(st.lists(st.integers(0, k - 1), min_size=2, max_size=k), max_size=6)) if k >= 2 else []
    return names, ranks, cliques, draw(st.text(max_size=40))


@st.composite
def profile_inputs(draw):
    k = draw(st.integers(min_value=0, max_value=30))
    names = draw(st.lists(st.text(max_size=60), min_size=k, max_size=k))
    steps = draw(st.lists(st.floats(min_value=1e-6, max_value=50), min_size=0, max_size=20, unique=True))
    taus = [1.0]
    for step in sorted(steps):
        taus.append(taus[-1] + step)
    shares = [sorted(draw(st.lists(st.floats(0, 1), min_size=len(taus), max_size=len(taus)))) for _ in range(k)]
    return names, taus, shares, draw(st.text(max_size=40))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cd_inputs())
def test_any_critical_difference_input_gives_well_formed_inert_svg(case):
    names, ranks, cliques, title = case
    root = parse(critical_difference_svg(names, ranks, cliques, title=title))
    inert(root)
    assert len(root.findall("svg:g[@class='cd-model']", NS)) == len(names)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile_inputs())
def test_any_performance_profile_input_gives_well_formed_inert_svg(case):
    names, taus, shares, title = case
    root = parse(performance_profile_svg(names, taus, shares, title=title))
    inert(root)
    assert len(root.findall("svg:path[@class='profile']", NS)) == len(names)
    assert len(root.findall(".//svg:text[@class='legend-name']", NS)) == len(names)


def test_every_text_is_at_least_eleven_pixels_high():
    names = [f"model {i}" for i in range(8)]
    svgs = [
        critical_difference_svg(names, [1 + i * 0.9 for i in range(8)], [[0, 1, 2]], title="t"),
        performance_profile_svg(names, [1.0, 2.0], [[0.5, 1.0]] * 8, title="t"),
    ]
    for svg in svgs:
        sizes = [float(t.get("font-size")) for t in parse(svg).iter(f"{SVG}text")]
        assert sizes and min(sizes) >= 11


# --- the critical-difference diagram is drawn where the numbers say --------------------------------------


def test_a_leader_line_stands_at_a_linear_function_of_the_mean_rank():
    ranks = [3.25, 1.0, 6.0, 2.5, 4.75, 5.5]
    names = ["c", "a", "f", "b", "d", "e"]
    found = leaders(parse(critical_difference_svg(names, ranks, [])))
    (x1, _), (x6, _) = found["a"], found["f"]
    per_rank = (x6 - x1) / 5
    assert per_rank > 20  # rank 1 on the left, the worst on the right, far enough apart to read
    for name, rank in zip(names, ranks):
        assert found[name][0] == pytest.approx(x1 + (rank - 1) * per_rank, abs=0.011)


def test_the_better_half_is_labelled_on_the_left_and_the_worse_on_the_right():
    ranks = [1.0, 2.0, 3.0, 4.0, 5.0]
    root = parse(critical_difference_svg(["a", "b", "c", "d", "e"], ranks, []))
    axis = root.find("svg:line[@class='axis']", NS)
    left_end, right_end = float(axis.get("x1")), float(axis.get("x2"))
    for group in root.iterfind("svg:g[@class='cd-model']", NS):
        name = group.find("svg:text[@class='name']", NS)
        x = float(name.get("x"))
        if name.text in ("a", "b", "c"):
            assert x < left_end and name.get("text-anchor") == "end"
        else:
            assert x > right_end and name.get("text-anchor") == "start"


def test_the_bars_of_the_cliques_span_exactly_their_models_positions():
    names = ["a", "b", "c", "d", "e", "f"]
    ranks = [1.0, 2.0, 2.5, 4.0, 5.0, 6.0]
    cliques = [[0, 1, 2], [2, 3], [3, 4, 5]]
    root = parse(critical_difference_svg(names, ranks, cliques))
    x = {name: position for name, (position, _) in leaders(root).items()}
    expected = sorted((min(x[names[i]] for i in c), max(x[names[i]] for i in c)) for c in cliques)
    assert bars(root) == expected
    lanes = {}  # overlapping bars (they share model c and model d) lie on different heights
    for line in root.iterfind("svg:g/svg:line[@class='bar']", NS):
        lanes[(float(line.get("x1")), float(line.get("x2")))] = float(line.get("y1"))
    spans = sorted(lanes)
    for (a1, b1), (a2, b2) in zip(spans, spans[1:]):
        if a2 <= b1 + 8:
            assert lanes[(a1, b1)] != lanes[(a2, b2)]
    axis_y = float(root.find("svg:line[@class='axis']", NS).get("y1"))
    rows = [row for _, row in leaders(root).values()]
    assert all(axis_y < y < min(rows) for y in lanes.values())  # stacked below the axis, above the labels


def test_a_clique_inside_another_or_given_twice_is_drawn_once():
    names = ["a", "b", "c", "d"]
    root = parse(critical_difference_svg(names, [1.0, 2.0, 3.0, 4.0], [[0, 1, 2], [2, 1, 0], [1, 2], [3, 3]]))
    assert len(bars(root)) == 1


def test_all_models_in_one_clique_draw_one_bar_from_the_best_to_the_worst():
    names = ["a", "b", "c", "d"]
    root = parse(critical_difference_svg(names, [1.0, 2.0, 3.5, 4.0], [[0, 1, 2, 3]]))
    x = leaders(root)
    assert bars(root) == [(x["a"][0], x["d"][0])]


def test_no_cliques_draw_no_bars_and_say_that_every_pair_differs():
    root = parse(critical_difference_svg(["a", "b", "c"], [1.0, 2.0, 3.0], []))
    assert bars(root) == []
    assert root.findtext("svg:text[@class='note']", namespaces=NS) == "Every pair of models differs significantly."


def test_one_model_gets_an_axis_and_its_label_and_no_bars():
    root = parse(critical_difference_svg(["alone"], [1.0], []))
    assert list(leaders(root)) == ["alone"]
    assert bars(root) == []
    assert [t.text for t in root.iterfind("svg:text[@class='tick']", NS)] == ["1"]


def test_two_models_sit_at_the_two_ends_of_the_axis():
    root = parse(critical_difference_svg(["a", "b"], [1.0, 2.0], [[0, 1]]))
    axis = root.find("svg:line[@class='axis']", NS)
    x = leaders(root)
    assert (x["a"][0], x["b"][0]) == (float(axis.get("x1")), float(axis.get("x2")))
    assert bars(root) == [(x["a"][0], x["b"][0])]


def test_tied_models_share_a_position_and_their_labels_take_a_row_each():
    names = ["a", "b", "c", "d", "e", "f"]
    ranks = [2.5, 2.5, 2.5, 2.5, 5.5, 5.5]
    found = leaders(parse(critical_difference_svg(names, ranks, [[0, 1, 2, 3]])))
    assert len({found[n][0] for n in "abcd"}) == 1 and found["e"][0] == found["f"][0]
    left = sorted(found[n][1] for n in "abc")  # the better half: a, b, c on the left
    assert all(b - a >= 18 for a, b in zip(left, left[1:]))  # a 13px name is about 15px tall


def test_the_mean_rank_is_written_beside_each_name():
    root = parse(critical_difference_svg(["a", "b"], [1.25, 1.75], []))
    assert sorted(t.text for t in root.iterfind(".//svg:text[@class='rank']", NS)) == ["1.25", "1.75"]


def test_a_hundred_models_make_a_tall_diagram_whose_labels_do_not_share_rows():
    names = [f"model-{i}" for i in range(100)]
    root = parse(critical_difference_svg(names, [1 + i * 0.99 for i in range(100)], []))
    assert float(root.get("height")) > 50 * 18
    for side in ("end", "start"):  # the left side's names end at their leader lines, the right side's start there
        rows = [float(t.get("y")) for t in root.iterfind(f".//svg:text[@class='name'][@text-anchor='{side}']", NS)]
        assert len(rows) == 50 and len(set(rows)) == 50


# --- the performance profile ------------------------------------------------------------------------------


def vertices(d: str) -> list[tuple[float, float]]:
    """The corners of an ``M x y H x V y … H x`` path."""
    corners: list[tuple[float, float]] = []
    for command, value in re.findall(r"([MHV])([-\d. ]+)", d):
        numbers = [float(v) for v in value.split()]
        if command == "M":
            corners.append((numbers[0], numbers[1]))
        elif command == "H":
            corners.append((numbers[0], corners[-1][1]))
        else:
            corners.append((corners[-1][0], numbers[0]))
    return corners


def test_a_profile_is_a_step_line_over_log_tau_and_share():
    taus = [1.0, 2.0, 4.0, 8.0]
    shares = [[0.25, 0.5, 0.5, 1.0], [0.75, 0.75, 1.0, 1.0]]
    root = parse(performance_profile_svg(["a", "b"], taus, shares))
    first, second = (vertices(p.get("d")) for p in root.iterfind("svg:path[@class='profile']", NS))
    # a: starts at (1, .25), steps up at τ = 2 to .5, at τ = 8 to 1, and holds to the end of the axis
    xs = sorted({x for x, _ in first})
    assert len(xs) == 3  # τ = 1, 2 and 8 (the end of the axis)
    x1, x2, x8 = xs
    assert x8 - x2 == pytest.approx(2 * (x2 - x1), abs=0.02)  # log scale: 2→8 is twice 1→2
    ys = [y for _, y in first]
    y_quarter, y_half, y_one = ys[0], ys[2], ys[-1]
    assert y_quarter > y_half > y_one and (y_quarter - y_half) == pytest.approx((y_half - y_one) / 2, abs=0.02)
    assert first == [(x1, y_quarter), (x2, y_quarter), (x2, y_half), (x8, y_half), (x8, y_one), (x8, y_one)]
    assert second[0][0] == x1 and second[-1][0] == x8


def test_every_share_at_one_draws_every_line_along_the_top():
    root = parse(performance_profile_svg(["a", "b", "c"], [1.0, 1.5, 3.0], [[1.0, 1.0, 1.0]] * 3))
    tops = {y for p in root.iterfind("svg:path[@class='profile']", NS) for _, y in vertices(p.get("d"))}
    assert len(tops) == 1


def test_a_profile_with_tau_one_only_still_draws_an_axis():
    root = parse(performance_profile_svg(["a"], [1.0], [[1.0]]))
    assert len(vertices(root.find("svg:path[@class='profile']", NS).get("d"))) == 2


def test_the_legend_names_every_model_with_its_own_colour_and_dash():
    names = [f"model {i}" for i in range(42)]
    root = parse(performance_profile_svg(names, [1.0, 2.0], [[0.5, 1.0]] * 42))
    entries = root.findall(".//svg:g[@class='legend-entry']", NS)
    assert [e.findtext("svg:title", namespaces=NS) for e in entries] == names
    styles = [(p.get("stroke"), p.get("stroke-dasharray")) for p in root.iterfind("svg:path[@class='profile']", NS)]
    assert len(set(styles)) == 42
    legend = [(e.find("svg:line", NS).get("stroke"), e.find("svg:line", NS).get("stroke-dasharray")) for e in entries]
    assert legend == styles
    assert len({dash for _, dash in styles}) >= 6  # in greyscale the dash patterns still tell lines apart


def test_tau_ticks_are_labelled_on_the_log_axis():
    root = parse(performance_profile_svg(["a"], [1.0, 30.0], [[0.5, 1.0]]))
    ticks = [t.text for t in root.iterfind("svg:text[@class='tick']", NS)]
    assert {"1", "2", "5", "10", "20"} <= set(ticks) and {"0", "0.5", "1"} <= set(ticks)


# --- names are text from users --------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    '"><svg onload="alert(1)">',
    "]]><![CDATA[",
    "a & b ' \" <",
    "\u202egnp.exe\u202c",
    "\x00\x07\x1b[31mred\ufeff",
    "x" * 500,
    "",
    "e" + "\u0301" * 50,
]


@pytest.mark.parametrize(
    "svg",
    [
        critical_difference_svg(HOSTILE, [float(i + 1) for i in range(len(HOSTILE))], [[0, 1, 2]], title=HOSTILE[1]),
        performance_profile_svg(HOSTILE, [1.0, 2.0], [[0.5, 1.0]] * len(HOSTILE), title=HOSTILE[0]),
    ],
    ids=["critical-difference", "profile"],
)
def test_hostile_names_are_inert_text(svg):
    root = parse(svg)
    inert(root)
    assert "\u202e" not in svg and "\x00" not in svg and "<script" not in svg  # markup only as escaped text
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert any(t.startswith("<script>") for t in texts)  # shown as the characters typed, not as markup
    titles = [t.text or "" for t in root.iter(f"{SVG}title")]
    assert any(t.startswith("x" * 500) for t in titles)  # the whole name in the tooltip
    long = next(t for t in texts if t.startswith("xxx"))
    assert long.endswith("…") and text_width(long, NAME_SIZE) <= MAX_NAME_PX
    assert "(no name)" in texts and "gnp.exe" in texts


def test_clean_name_keeps_what_people_read_and_drops_what_hides():
    assert clean_name("line\nbreak\ttab") == "line break tab"
    assert clean_name("\u202eevil\u202c") == "evil"
    assert clean_name("zero\u200bwidth") == "zerowidth"
    assert clean_name("   ") == "(no name)"
    assert clean_name("e" + "\u0301" * 9) == "e\u0301\u0301"
    assert clean_name("Ünïcødé 模型") == "Ünïcødé 模型"


def test_shorten_cuts_only_names_too_wide():
    assert shorten("resnet") == "resnet"
    wide = "模型" * 40
    assert shorten(wide).endswith("…") and text_width(shorten(wide), NAME_SIZE) <= MAX_NAME_PX


# --- the same numbers give the same bytes ----------------------------------------------------------------

DRAW_BOTH = """
from arena.suites.figures import critical_difference_svg, performance_profile_svg
names = ["b", "a", "c", "d"]
print(critical_difference_svg(names, [2.0, 1.0, 3.5, 3.5], [[0, 1], [2, 3], [3, 2, 0]], title="x"))
print(performance_profile_svg(names, [1.0, 1.5, 4.0], [[0.2, 0.5, 1.0]] * 4, title="x"))
"""


def test_the_same_numbers_give_the_same_bytes_in_any_process():
    outputs = {
        subprocess.run(
            [sys.executable, "-c", DRAW_BOTH], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": seed}
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
    assert critical_difference_svg(["a"], [1.0], []) == critical_difference_svg(["a"], [1.0], [])


# --- numbers that cannot be drawn -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: critical_difference_svg(["a"], [1.0, 2.0], []), "1 names for 2 mean ranks"),
        (lambda: critical_difference_svg(["a", "b"], [1.0, 3.0], []), "mean rank 3.0 is not between 1 and 2"),
        (lambda: critical_difference_svg(["a", "b"], [1.0, math.nan], []), "mean rank nan is not between 1 and 2"),
        (lambda: critical_difference_svg(["a", "b"], [1.0, 2.0], [[0, 2]]), "clique 0 names a model that does not"),
        (lambda: performance_profile_svg(["a"], [1.0, 2.0], [[0.5]]), "1 shares for 2 values of τ"),
        (lambda: performance_profile_svg(["a"], [2.0, 1.0], [[0.5, 1]]), "from 1 up, in increasing order"),
        (lambda: performance_profile_svg(["a"], [0.5, 1.0], [[0.5, 1]]), "from 1 up, in increasing order"),
        (lambda: performance_profile_svg(["a"], [1.0, 2.0], [[0.5, 1.5]]), "every share must be a number from 0"),
        (lambda: performance_profile_svg(["a"], [], [[]]), "give at least τ = 1"),
        (lambda: performance_profile_svg(["a", "b"], [1.0], [[1.0]]), "2 names for 1 models' shares"),
    ],
)
def test_numbers_that_cannot_be_drawn_are_refused_with_what_to_fix(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_no_models_give_a_picture_that_says_so():
    for svg in (critical_difference_svg([], [], []), performance_profile_svg([], [1.0], [])):
        root = parse(svg)
        assert root.findtext("svg:text[@class='message']", namespaces=NS) == "No models to compare yet."
