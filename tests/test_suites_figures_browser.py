"""The critical-difference diagram and the performance profile read well in a real browser (Playwright driving
Debian's Chromium): no two pieces of text overlap, every one lies inside the picture, hostile names stay inert
text, and each picture opens on its own as an SVG file.

Screenshots of each picture with 3, 8 and 40 models land in a folder under the test's temporary folder, and are
copied to the folder named by ``ARENA_SCREENSHOTS`` when it is set, for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from arena.suites.figures import critical_difference_svg, performance_profile_svg

NAMES = [
    "cnn",
    "gru",
    "mlp",
    "transformer-base",
    "ResNet-50 (ImageNet pre-trained, fine-tuned)",
    "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW",
    "gradient boosting",
    "随机森林基线模型",
    "logistic regression + PCA",
    "my & your <model>",
]


def suite_numbers(
    models: int, tasks: int = 12, seed: int = 3
) -> tuple[list[str], list[float], list[list[int]], list[float], list[list[float]]]:
    """Names, mean ranks, cliques and a profile as the suite analysis gives them, from made-up normalised scores:
    cliques are the maximal runs in mean-rank order whose ranks differ by less than a Nemenyi-like distance, and two
    models with equal scores tie."""
    rng = np.random.default_rng(seed)
    skill = np.linspace(0.9, 0.2, models)
    scores = np.clip(skill[:, None] + rng.normal(0, 0.12, (models, tasks)), 0.01, 1.0)
    if models >= 3:
        scores[2] = scores[1]  # a tie in mean rank
    ranks_per_task = np.argsort(np.argsort(-scores, axis=0, kind="stable"), axis=0) + 1.0
    for t in range(tasks):  # tied scores share their mean rank, as Demšar ranks them
        for value in np.unique(scores[:, t]):
            tied = scores[:, t] == value
            ranks_per_task[tied, t] = ranks_per_task[tied, t].mean()
    mean_ranks = [float(r) for r in ranks_per_task.mean(axis=1)]
    order = sorted(range(models), key=lambda i: (mean_ranks[i], i))
    distance = 2.5 * np.sqrt(models * (models + 1) / (6 * tasks))
    cliques, reach = [], -1
    for start in range(models):
        end = start
        while end + 1 < models and mean_ranks[order[end + 1]] - mean_ranks[order[start]] < distance:
            end += 1
        if end > start and end > reach:
            cliques.append(order[start : end + 1])
            reach = end
    ratios = scores.max(axis=0)[None, :] / scores
    taus = sorted({1.0, *np.unique(ratios).tolist(), float(ratios.max()) * 1.25})
    shares = [[float(np.mean(ratios[m] <= tau)) for tau in taus] for m in range(models)]
    names = [NAMES[i] if i < len(NAMES) else f"model-{i:02d}" for i in range(models)]
    return names, mean_ranks, cliques, taus, shares


def page_with(tmp_path: Path, cd: str, profile: str) -> Path:
    page = tmp_path / "figures.html"
    page.write_text(
        '<!doctype html><html><head><meta charset="utf-8"><title>figures</title></head><body>'
        f'<div id="cd">{cd}</div><div id="profile">{profile}</div></body></html>',
        encoding="utf-8",
    )
    return page


MEASURE = """svg => {
    const vb = svg.viewBox.baseVal, box = svg.getBoundingClientRect();
    const sx = box.width / vb.width, sy = box.height / vb.height;
    return {width: vb.width, height: vb.height, texts: [...svg.querySelectorAll('text')].map(t => {
        const r = t.getBoundingClientRect();
        return {text: t.textContent, cls: t.getAttribute('class'),
                x: (r.left - box.left) / sx, y: (r.top - box.top) / sy, w: r.width / sx, h: r.height / sy};
    })};
}"""


def layout_problems(measured: dict) -> list[str]:
    """Text outside the picture, or two pieces of text that overlap (by more than half a pixel)."""
    problems = []
    texts = measured["texts"]
    for t in texts:
        if (
            t["x"] < -0.5
            or t["y"] < -0.5
            or t["x"] + t["w"] > measured["width"] + 0.5
            or t["y"] + t["h"] > measured["height"] + 0.5
        ):
            problems.append(f"outside the picture: {t}")
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            across = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            down = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if across > 0.5 and down > 0.5:
                problems.append(f"overlap: {a['text']!r} and {b['text']!r}")
    return problems


def keep_shot(path: Path) -> None:
    folder = os.environ.get("ARENA_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)


@pytest.mark.parametrize("models", [1, 2, 3, 8, 40, 100])
def test_no_text_overlaps_and_all_of_it_lies_inside_the_pictures(browser, tmp_path, models):
    names, ranks, cliques, taus, shares = suite_numbers(models)
    cd = critical_difference_svg(names, ranks, cliques, title=f"Core suite: {models} models")
    profile = performance_profile_svg(names, taus, shares, title=f"Core suite: {models} models")
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(page_with(tmp_path, cd, profile).as_uri())
    shots = tmp_path / "shots"
    shots.mkdir()
    for figure in ("cd", "profile"):
        svg = page.locator(f"#{figure} svg")
        measured = svg.evaluate(MEASURE)
        assert len(measured["texts"]) >= models, figure
        assert layout_problems(measured) == [], figure
        shot = shots / f"figure-{figure}-{models}-models.png"
        svg.screenshot(path=str(shot))
        keep_shot(shot)
    legend = page.locator("#profile .legend-name").all_text_contents()
    assert len(legend) == models


def test_hostile_names_stay_inert_text_in_the_browser(browser, tmp_path):
    hostile = [
        '"><svg onload="window.pwned=1">',
        "<script>window.pwned=2</script>",
        "]]><img src=x onerror=window.pwned=3>",
        "\u202egnp.exe\u202c model",
        "x" * 500,
    ]
    ranks = [1.0, 2.5, 2.5, 4.0, 5.0]
    taus = [1.0, 1.5, 3.0]
    shares = [[0.2, 0.6, 1.0]] * 5
    cd = critical_difference_svg(hostile, ranks, [[1, 2, 3]], title="<b>bold</b>")
    profile = performance_profile_svg(hostile, taus, shares, title="<i>x</i>")
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(page_with(tmp_path, cd, profile).as_uri())
    assert page.evaluate("window.pwned") is None
    assert page.evaluate("document.querySelectorAll('script, img, foreignObject, b, i').length") == 0
    handlers = page.evaluate(
        "[...document.querySelectorAll('svg *')].flatMap(e => [...e.attributes].map(a => a.name))"
        ".filter(n => n.startsWith('on'))"
    )
    assert handlers == []
    names = page.locator("#cd .name").all_text_contents()
    assert any(n.startswith('"><svg onload=') for n in names) and any(n.startswith("<script>") for n in names)
    assert "gnp.exe model" in names  # the override is gone: the name reads as stored, left to right
    assert any(n.endswith("…") and len(n) < 60 for n in names)
    for figure in ("cd", "profile"):
        assert layout_problems(page.locator(f"#{figure} svg").evaluate(MEASURE)) == [], figure
    shot = tmp_path / "figure-hostile-names.png"
    page.screenshot(path=str(shot), full_page=True)
    keep_shot(shot)


def test_each_picture_opens_on_its_own_as_an_svg_file(browser, tmp_path):
    names, ranks, cliques, taus, shares = suite_numbers(8)
    page = browser.new_page()
    for name, svg in (
        ("cd.svg", critical_difference_svg(names, ranks, cliques)),
        ("profile.svg", performance_profile_svg(names, taus, shares)),
    ):
        path = tmp_path / name
        path.write_text(svg, encoding="utf-8")
        page.goto(path.as_uri())
        assert page.evaluate("document.documentElement.localName") == "svg", name
        assert page.evaluate("document.getElementsByTagName('parsererror').length") == 0, name
        assert page.evaluate("document.documentElement.getBBox().width") > 100, name
        # as an image too, as a page shows it with <img src=...>
        holder = tmp_path / f"{name}.html"
        holder.write_text(f'<!doctype html><img src="{name}">', encoding="utf-8")
        page.goto(holder.as_uri())
        page.wait_for_function("document.images[0].complete")
        assert page.evaluate("document.images[0].naturalWidth") > 100, name
