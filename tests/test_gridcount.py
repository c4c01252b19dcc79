"""The compiled grid count (ROC AUC's class counts at scale) against numpy's two passes it replaces."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arena._fast import parallel as slices
from arena._fast.gridcount import CHUNK, WRAP, count_cells
from arena.metrics.registry import DECIMAL_GRID, on_decimal_grid

WIDTH = DECIMAL_GRID + 1
BANDS = 6  # two parts' negatives and positives, then rows in no part: as blocked.py lays them out
KEPT = 4


def reference(score: np.ndarray, plus: np.ndarray) -> np.ndarray:
    """numpy's way: every score's grid point written out, then a bincount."""
    return np.bincount(np.rint(score * DECIMAL_GRID).astype(np.int64) + plus, minlength=BANDS * WIDTH)[: KEPT * WIDTH]


@pytest.fixture
def three_slices(monkeypatch):
    """Small inputs cut into three slices, as 10M rows are on a machine with three cores."""
    monkeypatch.setattr(slices, "MIN_SLICE_ROWS", 1000)
    monkeypatch.setattr(slices, "_WORKERS", 3)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 3 * CHUNK + 17), levels=st.integers(1, 2000))
def test_counts_equal_a_bincount_of_the_grid_points(seed, rows, levels):
    rng = np.random.default_rng(seed)
    points = rng.choice(np.unique(np.r_[0, DECIMAL_GRID, rng.integers(0, DECIMAL_GRID + 1, levels)]), rows)
    score = points / DECIMAL_GRID  # correctly rounded: the doubles a CSV's six decimals are read as
    plus = (rng.integers(0, BANDS, rows) * WIDTH).astype(np.int32)
    assert np.array_equal(count_cells(score, plus, BANDS * WIDTH, KEPT * WIDTH), reference(score, plus))


def test_slices_and_counters_that_wrap_add_up(three_slices):
    """Cells past 65,535 rows wrap their 2-byte counters, in every slice; wraps beyond the kept cells are dropped."""
    rng = np.random.default_rng(5)
    rows = 3 * WRAP + 12_345
    score = np.round(rng.random(rows), 6)
    plus = (rng.integers(0, 2, rows) * WIDTH).astype(np.int32)
    score[: 2 * WRAP + 7], plus[: 2 * WRAP + 7] = 0.5, 0  # one cell gets over twice 65,536 rows, over the slices
    plus[-WRAP - 3 :] = 5 * WIDTH  # a cell in the last band, beyond those kept, wraps too
    score[-WRAP - 3 :] = 0.25
    assert len(slices.over_slices(lambda part: part, rows)) == 3
    counts = count_cells(score, plus, BANDS * WIDTH, KEPT * WIDTH)
    assert np.array_equal(counts, reference(score, plus))
    assert counts.max() > 2 * WRAP


@pytest.mark.parametrize("bad", [0.1234567, 1.000001, -0.25, 5e-7, 5e-324, np.nan, np.inf, -np.inf, 1e300])
@pytest.mark.parametrize("where", ["first chunk", "a middle chunk", "last row"])
def test_a_score_off_the_grid_anywhere_counts_nothing(three_slices, bad, where):
    """Off the grid, outside [0, 1], NaN or infinite, in any chunk of any slice: None, as numpy's check says."""
    rng = np.random.default_rng(7)
    score = np.round(rng.random(4 * CHUNK + 3000), 6)
    plus = np.zeros(len(score), np.int32)
    score[{"first chunk": 3, "a middle chunk": 2 * CHUNK + 11, "last row": len(score) - 1}[where]] = bad
    assert count_cells(score, plus, BANDS * WIDTH, KEPT * WIDTH) is None
    assert on_decimal_grid(np.resize(score, 10**5)) is None  # the numpy check agrees


def test_the_ends_of_the_grid_and_negative_zero_count():
    score = np.array([0.0, -0.0, 1.0, 0.000001, 0.999999, 0.5])
    plus = np.array([0, WIDTH, 0, 2 * WIDTH, 3 * WIDTH, 0], np.int32)
    counts = count_cells(score, plus, BANDS * WIDTH, KEPT * WIDTH)
    assert np.array_equal(counts, reference(score, plus))
    assert counts[0] == 1 and counts[WIDTH] == 1 and counts[DECIMAL_GRID] == 1


def test_any_layout_and_type_of_scores_is_read_as_doubles():
    rng = np.random.default_rng(9)
    proba = np.round(rng.random((5000, 3)), 6)  # a row-major table: each class's column is strided
    plus = np.zeros(5000, np.int64)  # any integer type of offsets
    assert np.array_equal(
        count_cells(proba[:, 1], plus, BANDS * WIDTH, KEPT * WIDTH), reference(proba[:, 1], plus.astype(np.int32))
    )
    assert count_cells(proba[:, 1].astype(np.float32), plus, BANDS * WIDTH, KEPT * WIDTH) is None  # 0.1f != 0.1


def test_offsets_that_could_reach_past_the_counters_are_refused():
    """The compiled loops do not check their bounds: sizes the 32-bit offsets cannot address, or offsets that do
    not match the scores, are refused before any loop runs."""
    score = np.zeros(10)
    with pytest.raises(ValueError):
        count_cells(score, np.zeros(10, np.int32), 2**31, WIDTH)
    with pytest.raises(ValueError):
        count_cells(score, np.zeros(10, np.int32), WIDTH - 1, 0)
    with pytest.raises(ValueError):
        count_cells(score, np.zeros(9, np.int32), BANDS * WIDTH, KEPT * WIDTH)


def test_a_forked_child_uses_the_loops_its_parent_loaded():
    """The queue's worker loads the loops once (warm) and forks a child per job: the child counts without
    compiling or loading them again, and counts right."""
    import multiprocessing

    from arena._fast import gridcount

    gridcount.warm()
    score = np.round(np.random.default_rng(2).random(50_000), 6)
    plus = np.zeros(len(score), np.int32)
    expected = reference(score, plus)

    def child(out):
        inherited = all(len(loop.signatures) > 0 for loop in (gridcount._count, gridcount._add_influence))  # loaded
        out.put((inherited, bool(np.array_equal(count_cells(score, plus, BANDS * WIDTH, KEPT * WIDTH), expected))))

    context = multiprocessing.get_context("fork")
    out = context.Queue()
    process = context.Process(target=child, args=(out,))
    process.start()
    process.join(60)
    assert out.get(timeout=5) == (True, True)


def test_influence_lookups_refuse_rows_and_parts_outside_the_arrays():
    """The compiled lookup does not check its bounds either: rows past the scores, negative parts, or too few
    slopes are refused first, and a score off the grid reads grid point 0 instead of memory past the arrays."""
    from arena._fast.gridcount import add_influence

    grid = np.zeros((2, WIDTH), np.int64)
    grid[0, 0] = 3
    rows, part, truth = np.array([0]), np.array([0]), np.array([1])
    slope, shift = np.ones(2), np.zeros(2)
    for bad in (
        {"rows": np.array([5])},
        {"rows": np.array([-1])},
        {"part": np.array([-1])},
        {"slope": np.ones(1)},
        {"truth": np.array([1, 1])},
    ):
        arguments = {"rows": rows, "part": part, "truth": truth, "slope": slope} | bad
        with pytest.raises(ValueError):
            add_influence(
                np.zeros(3),
                arguments["rows"],
                arguments["part"],
                arguments["truth"],
                1,
                grid,
                grid,
                arguments["slope"],
                shift,
                np.zeros(1),
            )
    for off_grid in (-5.0, 3.0, np.nan):
        influence = np.zeros(1)
        add_influence(np.array([off_grid]), rows, part, truth, 1, grid, grid, slope, shift, influence)
        assert influence[0] == 3 - 0.5 * 3  # grid point 0 of the other band: 3 rows at or below, 3 tied


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 5000), columns=st.integers(1, 20))
def test_block_sums_are_numpys_bincounts_to_the_last_bit(seed, rows, columns):
    """A bootstrap's block sums come from one compiled pass; its replicates, and so every interval, must be those of
    numpy's bincount per column (the same additions in the same order), whatever the values' scale or layout."""
    from arena._fast.gridcount import block_sums

    rng = np.random.default_rng(seed)
    values = rng.standard_normal((rows, columns)) * 10.0 ** rng.integers(-8, 9, columns)
    values = values if seed % 2 else np.asfortranarray(values)  # a strided layout reads the same
    blocks = int(rng.integers(1, 300))
    block = rng.integers(0, blocks, rows, dtype=np.int32)
    expected = np.stack([np.bincount(block, weights=values[:, j], minlength=blocks) for j in range(columns)], axis=1)
    assert np.array_equal(block_sums(values, block, blocks), expected)


def test_block_sums_of_counts_summed_on_every_core_are_exact(monkeypatch):
    """Counts (a corpus text metric's statistics) are summed in slices on every core: whole numbers add up exactly in
    any order, so the sums must still be numpy's to the last bit."""
    from arena._fast.gridcount import block_sums

    monkeypatch.setattr(slices, "_WORKERS", 3)
    rng = np.random.default_rng(7)
    values = rng.integers(0, 10**6, (400_000, 5)).astype(np.float64)
    block = rng.integers(0, 257, len(values), dtype=np.int32)
    expected = np.stack([np.bincount(block, weights=values[:, j], minlength=257) for j in range(5)], axis=1)
    assert np.array_equal(block_sums(values, block, 257, whole=True), expected)
