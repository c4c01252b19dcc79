"""The compiled text statistics give exactly numpy's on uploads large enough to run in slices on every core.

The library tests (``test_text_metrics.py``) run both paths on small inputs; here thousands of rows, with non-ASCII
answers, articles, punctuation, repeated and empty strings mixed in, are cut into slices (made small, as a large
upload's are many) that normalise strings in place side by side, so a slice writing past its own strings would
change the counts.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_in_ci

from arena import _fast
from arena.metrics import text

PIECES = ["the", "cat", "Sat.", "a", "an", "on", "mat,", "d\u00e9j\u00e0", "vu", "\u00df", "x-y", "", "  ", "\t", "9,5"]


def rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)

    def phrase() -> str:
        return " ".join(rng.choice(PIECES, rng.integers(0, 7)))

    truth = np.empty(n, dtype=object)
    truth[:] = [tuple(phrase() for _ in range(rng.integers(1, 4))) for _ in range(n)]
    pred = np.empty(n, dtype=object)
    pred[:] = [refs[0] if rng.random() < 0.3 else phrase() for refs in truth]
    return truth, pred


@pytest.mark.parametrize("name", ["exact_match", "token_f1", "bleu", "chrf"])
@pytest.mark.parametrize("ascii_only", [True, False])
def test_compiled_statistics_equal_numpys_over_many_slices(name, ascii_only, monkeypatch):
    if _fast.text_kernels() is None:  # pragma: no cover
        require_in_ci("numba is not installed (the fast extra): the compiled text statistics cannot run")
    kernels = _fast.text_kernels()
    monkeypatch.setattr(kernels, "_SLICE_ROWS", 500)
    truth, pred = rows(6_000, seed=3)
    if ascii_only:
        truth[:] = [tuple(r.encode("ascii", "ignore").decode() for r in refs) for refs in truth]
        pred[:] = [p.encode("ascii", "ignore").decode() for p in pred]
    options = text.Options("squad")
    compiled = text.row_stats(name, truth, pred, options)
    monkeypatch.setattr(_fast, "text_kernels", lambda: None)
    plain = text.row_stats(name, truth, pred, options)
    np.testing.assert_array_equal(compiled, plain)


def numpy_stats(name: str, truth: np.ndarray, pred: np.ndarray, monkeypatch) -> np.ndarray:
    with monkeypatch.context() as patch:
        patch.setattr(_fast, "text_kernels", lambda: None)
        return text.row_stats(name, truth, pred, text.Options("squad"))


@pytest.mark.parametrize("name", ["token_f1", "chrf", "bleu"])
def test_references_prepared_once_per_answer_key_never_go_stale(name, monkeypatch):
    """A worker scores every submission against the same answer key object, so its references are prepared once;
    other answers against it, and another answer key (even one that takes the place of a collected one in
    memory), are scored as if nothing were kept."""
    if _fast.text_kernels() is None:  # pragma: no cover
        require_in_ci("numba is not installed (the fast extra): the compiled text statistics cannot run")
    options = text.Options("squad")
    truth, pred = rows(300, seed=5)
    first = text.row_stats(name, truth, pred, options)
    _, other = rows(300, seed=6)
    np.testing.assert_array_equal(
        text.row_stats(name, truth, other, options), numpy_stats(name, truth, other, monkeypatch)
    )
    np.testing.assert_array_equal(text.row_stats(name, truth, pred, options), first)
    for seed in range(7, 7 + 2 * text._PREPARED_KEPT):  # new keys, each freed as the next comes (ids are reused)
        del truth
        truth, pred = rows(300, seed=seed)
        expected = numpy_stats(name, truth, pred, monkeypatch)
        np.testing.assert_array_equal(text.row_stats(name, truth, pred, options), expected)
    assert len(text._PREPARED) <= text._PREPARED_KEPT
