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
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize("ascii_only", [True, False])
def test_chrf_interval_summed_while_counting_equals_the_one_from_its_rows(ascii_only, monkeypatch):
    """Without row weights, chrF's interval sums each row's statistics into its block as the rows are counted (a few
    thousand at a time, on each core) and never writes them: its value and bounds must be exactly those from the
    rows' statistics, in slices that hold more rows than one count does."""
    if _fast.text_kernels() is None:  # pragma: no cover
        require_in_ci("numba is not installed (the fast extra): the compiled text statistics cannot run")
    from arena.intervals import text as text_intervals
    from arena.metrics.registry import get_metric

    monkeypatch.setattr(_fast.text_kernels(), "_SLICE_ROWS", 5_000)
    truth, pred = rows(12_000, seed=11)
    if ascii_only:
        truth[:] = [tuple(r.encode("ascii", "ignore").decode() for r in refs) for refs in truth]
        pred[:] = [p.encode("ascii", "ignore").decode() for p in pred]
    metric = get_metric("chrf", kind="text")
    expected = text_intervals.stats_interval("chrf", text.row_stats("chrf", truth, pred), blocks=256, seed=7)
    with monkeypatch.context() as patch:
        patch.setattr(text, "row_stats", None)  # the rows' statistics are not what it reads
        found = text_intervals.value_and_interval(metric, truth, pred, blocks=256, seed=7)
    assert found == expected
    monkeypatch.setattr(_fast, "text_kernels", lambda: None)
    assert text_intervals.value_and_interval(metric, truth, pred, blocks=256, seed=7) == expected


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


def arrow_forms(pred: np.ndarray) -> dict[str, object]:
    """The answers as the upload reader may hand them over: one Arrow string column, a slice of a longer one (its
    offsets do not start at 0), several chunks, and 64-bit offsets."""
    import pyarrow as pa

    strings = list(pred)
    longer = pa.array(["lead", *strings, "tail"], pa.string())
    half = len(strings) // 2
    return {
        "array": pa.array(strings, pa.string()),
        "slice": longer.slice(1, len(strings)),
        "chunks": pa.chunked_array([pa.array(strings[:half], pa.string()), pa.array(strings[half:], pa.string())]),
        "large": pa.array(strings, pa.large_string()),
    }


@pytest.mark.parametrize("normalise", ["none", "squad", "numeric"])
@pytest.mark.parametrize("ascii_only", [True, False])
def test_answers_read_from_arrow_where_they_lie_score_as_python_strings(normalise, ascii_only, monkeypatch):
    """The scorer hands the metrics the upload's Arrow column; every text metric's statistics must be those of the
    same answers as Python strings, on both the compiled and the numpy path."""
    truth, pred = rows(3_000, seed=5)
    if ascii_only:
        truth[:] = [tuple(r.encode("ascii", "ignore").decode() for r in refs) for refs in truth]
        pred[:] = [p.encode("ascii", "ignore").decode() for p in pred]
    options = text.Options(normalise, tolerance=0.5)
    names = ["exact_match", "token_f1", "bleu", "chrf", "rouge1", "wer", "cer"]
    if _fast.text_kernels() is not None:
        monkeypatch.setattr(_fast.text_kernels(), "_SLICE_ROWS", 500)
    expected = {name: text.row_stats(name, truth, pred, options) for name in names}
    for form, column in arrow_forms(pred).items():
        for name in names:
            found = text.row_stats(name, truth, column, options)
            np.testing.assert_array_equal(found, expected[name], err_msg=f"{name}, {form}")
        with monkeypatch.context() as patch:
            patch.setattr(_fast, "text_kernels", lambda: None)
            for name in ("exact_match", "token_f1", "bleu", "chrf"):
                found = text.row_stats(name, truth, column, options)
                np.testing.assert_array_equal(found, expected[name], err_msg=f"{name}, {form}, numpy path")


@settings(max_examples=60, deadline=None)
@given(
    stem=st.text(alphabet="ab c", max_size=12),
    tails=st.lists(st.tuples(st.text(alphabet="abc ", max_size=6), st.text(alphabet="abc ", max_size=6)), min_size=1),
    answer_tail=st.text(alphabet="abc", max_size=6),
    end=st.text(alphabet="ab", max_size=6),
)
def test_chrf_counts_texts_that_share_a_beginning_or_an_end_as_sacrebleu_does(stem, tails, answer_tail, end):
    """The compiled chrF counts the n-grams of a shared beginning and end whole and the rest one by one, and passes
    over a row's other references where its answer is one of them; answers and references built from one stem with
    short tails (a few letters, so n-grams repeat) must still give sacrebleu's statistics and choice of reference."""
    truth = np.empty(1, dtype=object)
    truth[0] = tuple(head + stem + tail + end for head, tail in tails)
    pred = np.array([stem + answer_tail + end], dtype=object)
    for answers in (pred, np.array([truth[0][-1]], dtype=object)):
        compiled = text.row_stats("chrf", truth, answers)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_fast, "text_kernels", lambda: None)
            np.testing.assert_array_equal(compiled, text.row_stats("chrf", truth, answers))
        import sacrebleu

        expected = sacrebleu.corpus_chrf(list(answers), text.reference_streams(truth)).score
        assert abs(text.text_score("chrf", truth, answers) - expected) <= 1e-9


@settings(max_examples=80, deadline=None)
@given(
    answer=st.text(alphabet="abcab ", max_size=30),
    references=st.lists(st.text(alphabet="abcba ", max_size=30), min_size=1, max_size=3),
)
def test_chrf_counts_repeated_n_grams_of_every_order_as_numpy_does(answer, references):
    """Texts of three letters repeat n-grams of every order, share them in any place (not only at their ends), and
    hold several references a row: the compiled chrF's tables, their stamps and its choice of reference must give
    numpy's statistics."""
    assert_chrf_is_numpys(answer, tuple(references))


def assert_chrf_is_numpys(answer: str, references: tuple[str, ...]) -> None:
    """One row's compiled chrF statistics equal numpy's."""
    truth = np.empty(1, dtype=object)
    truth[0] = references
    pred = np.array([answer], dtype=object)
    compiled = text.row_stats("chrf", truth, pred)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_fast, "text_kernels", lambda: None)
        np.testing.assert_array_equal(compiled, text.row_stats("chrf", truth, pred))


@settings(max_examples=60, deadline=None)
@given(
    answer=st.text(alphabet="abcab", min_size=56, max_size=72),
    references=st.lists(st.text(alphabet="abcba", max_size=80), min_size=1, max_size=3),
    cut=st.integers(0, 72),
)
def test_chrf_counts_answers_either_side_of_the_short_answer_bound_as_numpy_does(answer, references, cut):
    """Answers of up to 64 characters are counted with a bit per position, longer ones with keys: answers around
    that bound (the reference sometimes one of the answer's beginnings, so both sides are long and share much) must
    give numpy's statistics either way."""
    assert_chrf_is_numpys(answer, (*references, answer[:cut]))


@settings(max_examples=60, deadline=None)
@given(
    answer=st.lists(st.sampled_from(["a", "b", "ab", "ba", "The", "cat."]), min_size=56, max_size=72),
    references=st.lists(st.lists(st.sampled_from(["a", "b", "ab", "bb", "cat"]), max_size=80), min_size=1, max_size=3),
    cut=st.integers(0, 72),
    exact=st.booleans(),
)
def test_token_f1_of_answers_either_side_of_the_short_answer_bound_is_numpys(answer, references, cut, exact):
    """Answers of up to 64 words are matched word by word, longer ones through a table of counts, and a row whose
    answer is one of its references passes its other pairs over: answers of repeated words around that bound, with a
    reference holding the answer's words in another order and one that is one of the answer's beginnings or
    (``exact``) the answer itself, must give numpy's F1."""
    reordered = " ".join(answer[:0:-1])  # all but one word shared, so at least 64 of the answer's are spent
    refs = (*(" ".join(words) for words in references), reordered, " ".join(answer if exact else answer[:cut]))
    truth = np.empty(len(refs) + 1, dtype=object)
    truth[:] = [(ref,) for ref in refs] + [refs]  # each reference alone, then all of them
    pred = np.array([" ".join(answer)] * len(truth), dtype=object)
    for options in (text.Options("squad"), text.Options("none")):
        compiled = text.row_stats("token_f1", truth, pred, options)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_fast, "text_kernels", lambda: None)
            np.testing.assert_array_equal(compiled, text.row_stats("token_f1", truth, pred, options))


def test_token_f1_under_numeric_keeps_every_pair_whose_numbers_are_compared_after(monkeypatch):
    """Under ``numeric`` a pair of two numbers is worth 1 or 0 by their difference, whatever its words: "-3" is "3"
    once SQuAD drops punctuation, yet the numbers differ, so the row's F1 is that of "3 degrees" (2/3). No pair
    may be passed over as beaten by a pair whose words are equal."""
    truth = np.empty(2, dtype=object)
    truth[:] = [("3", "3 degrees"), ("15", "1.5 apples")]
    pred = np.array(["-3", "1.5"], dtype=object)
    options = text.Options("numeric", tolerance=0.01)
    compiled = text.row_stats("token_f1", truth, pred, options)[:, 0]
    np.testing.assert_allclose(compiled, [2 / 3, 2 / 3])
    monkeypatch.setattr(_fast, "text_kernels", lambda: None)
    np.testing.assert_array_equal(compiled, text.row_stats("token_f1", truth, pred, options)[:, 0])


def test_a_reference_holding_a_lone_surrogate_is_read_as_python_reads_it(monkeypatch):
    """An answer key read from JSON may hold a lone surrogate (``"\\udc80"`` is valid JSON); Arrow cannot hold it, so
    the compiled loops read such references as Python's own code points: exact match as SQuAD's definition gives it,
    chrF as numpy's path counts it."""
    truth = np.empty(3, dtype=object)
    truth[:] = [("caf\udc80 au lait",), ("the \ud800 cat", "a cat"), ("plain",)]
    pred = np.array(["Caf\udc80 au lait!", "\ud800 cat", "plain text"], dtype=object)
    found = text.row_stats("exact_match", truth, pred, text.Options("squad"))[:, 0]
    expected = [
        max(float(text.squad_normalise(answer) == text.squad_normalise(ref)) for ref in refs)
        for answer, refs in zip(pred, truth, strict=True)
    ]
    assert found.tolist() == expected == [1.0, 1.0, 0.0]
    compiled = text.row_stats("chrf", truth, pred)
    monkeypatch.setattr(_fast, "text_kernels", lambda: None)
    np.testing.assert_array_equal(compiled, text.row_stats("chrf", truth, pred))


@pytest.mark.parametrize("name", ["exact_match", "token_f1", "bleu", "chrf"])
def test_no_answers_at_all_read_from_arrow_give_no_rows(name):
    """An empty column, and an empty slice of a longer one (its offsets start past 0), give no row's statistics."""
    import pyarrow as pa

    truth = np.empty(0, dtype=object)
    for column in (pa.array([], pa.string()), pa.array(["a", "b"], pa.string()).slice(1, 0)):
        assert text.row_stats(name, truth, column, text.Options("squad")).shape[0] == 0
    if _fast.text_kernels() is not None:
        chars, offsets = _fast.text_kernels().code_points(pa.array(["ab", "c"], pa.string()).slice(1, 0))
        assert len(chars) == 0 and offsets.tolist() == [0]
