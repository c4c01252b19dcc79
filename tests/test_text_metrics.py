"""Text answers' metrics equal the libraries they are named after, on any text, and their intervals behave.

Oracles: SQuAD's own ``normalize_answer`` (written out below as the reference script has it), sacrebleu's corpus
scores, rouge-score's ``score_multi`` and jiwer's corpus rates, each on the same rows as Arena's.
"""

from __future__ import annotations

import re
import string
from collections import Counter

import jiwer
import numpy as np
import pytest
import sacrebleu
from conftest import require_in_ci
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rouge_score.rouge_scorer import RougeScorer

from arena import _fast
from arena.intervals.confidence import metric_interval
from arena.intervals.text import stats_interval, weighted_values
from arena.metrics import text
from arena.metrics.registry import METRICS, get_metric, is_known


@pytest.fixture(autouse=True, scope="module", params=["compiled", "numpy"])
def statistics_path(request):
    """Every test here runs on both ways of collecting the per-row statistics: the compiled loops (numba, installed
    with the server) and numpy's column passes (without numba)."""
    if request.param == "compiled":
        if _fast.text_kernels() is None:
            require_in_ci("numba is not installed (the fast extra): the compiled text statistics cannot run")
        yield request.param
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_fast, "text_kernels", lambda: None)
        yield request.param


# --- the oracles --------------------------------------------------------------------------------------------------


def normalize_answer(s):
    """SQuAD v1.1's evaluation script, verbatim: lower text and remove punctuation, articles and extra whitespace."""

    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def squad_f1(prediction, ground_truth):
    """SQuAD's f1_score, with v2.0's rule for empty answers (1 if both are empty, else 0)."""
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    if not prediction_tokens or not ground_truth_tokens:
        return float(prediction_tokens == ground_truth_tokens)
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


# --- text that breaks things --------------------------------------------------------------------------------------

ODD = [
    "",
    " ",
    "\t\n",
    "\u00a0",
    "e\u0301",  # e and a combining acute
    "\u00e9",
    "\u05e9\u05dc\u05d5\u05dd",  # Hebrew, right to left
    "\u0645\u0631\u062d\u0628\u0627",  # Arabic
    "\U0001f600",
    "\U0001f469\u200d\U0001f4bb",  # an emoji joined by ZWJ
    "The",
    "an",
    "a.",
    "\u0130stanbul",  # lower() grows it
    "\u00df",
    "1,000",
    "1000.0",
    "12",
    "  spaced   out  ",
    "don't",
    "(hi)",
]
WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "fast", "Cat", "cat.", "ran,"]
piece = st.one_of(st.sampled_from(ODD), st.sampled_from(WORDS), st.text(max_size=6))
sentence = st.lists(piece, max_size=8).map(" ".join) | st.text(max_size=30)
row = st.tuples(st.lists(sentence, min_size=1, max_size=3).map(tuple), sentence)
rows_strategy = st.lists(row, min_size=1, max_size=25)


def arrays(rows) -> tuple[np.ndarray, np.ndarray]:
    truth = np.empty(len(rows), dtype=object)
    for i, (refs, _) in enumerate(rows):
        truth[i] = refs
    return truth, np.array([answer for _, answer in rows] + [None], dtype=object)[:-1]


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(sentence)
def test_squad_normalisation_is_squads(answer):
    assert text.squad_normalise(answer) == normalize_answer(answer)


@SETTINGS
@given(rows_strategy)
def test_exact_match_and_token_f1_are_squads_best_over_references(rows):
    truth, pred = arrays(rows)
    squad = text.Options("squad")
    em = [max(float(normalize_answer(a) == normalize_answer(r)) for r in refs) for refs, a in rows]
    f1 = [max(squad_f1(a, r) for r in refs) for refs, a in rows]
    assert text.text_score("exact_match", truth, pred, options=squad) == pytest.approx(np.mean(em), abs=1e-12)
    assert text.text_score("token_f1", truth, pred, options=squad) == pytest.approx(np.mean(f1), abs=1e-12)
    raw = [max(float(a == r) for r in refs) for refs, a in rows]  # "none": as written, byte for byte
    assert text.text_score("exact_match", truth, pred) == pytest.approx(np.mean(raw), abs=1e-12)


def test_numeric_answers_compare_as_numbers_within_the_tolerance():
    truth = np.empty(5, dtype=object)
    truth[:] = [("1,000",), ("3.14",), ("3.14",), ("The Answer",), ("7", "seven")]
    pred = np.array(["1000.0", "3.1", "3.2", "answer", "Seven!"], dtype=object)
    rows = text.row_stats("exact_match", truth, pred, text.Options("numeric", tolerance=0.05))[:, 0]
    assert rows.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0]  # 3.2 is 0.06 away; non-numbers are squad-normalised
    exact = text.row_stats("exact_match", truth, pred, text.Options("numeric", tolerance=0.0))[:, 0]
    assert exact.tolist() == [1.0, 0.0, 0.0, 1.0, 1.0]
    f1 = text.row_stats("token_f1", truth, pred, text.Options("numeric", tolerance=0.05))[:, 0]
    assert f1.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0]


def test_empty_answers_match_only_empty_references():
    truth = np.empty(3, dtype=object)
    truth[:] = [("",), ("",), ("x", "")]
    pred = np.array(["", "something", ""], dtype=object)
    for name in ("exact_match", "token_f1"):
        assert text.row_stats(name, truth, pred, text.Options("squad"))[:, 0].tolist() == [1.0, 0.0, 1.0]


@SETTINGS
@given(rows_strategy)
def test_bleu_and_chrf_are_sacrebleus_corpus_scores(rows):
    truth, pred = arrays(rows)
    streams = text.reference_streams(truth)
    bleu = sacrebleu.corpus_bleu(list(pred), streams).score
    chrf = sacrebleu.corpus_chrf(list(pred), streams).score
    assert text.text_score("bleu", truth, pred) == pytest.approx(bleu, abs=1e-9, rel=0)
    assert text.text_score("chrf", truth, pred) == pytest.approx(chrf, abs=1e-9, rel=0)


def test_rows_with_fewer_references_are_padded_as_sacrebleu_expects():
    truth = np.empty(3, dtype=object)
    truth[:] = [("a cat sat", "the cat sat down", "one more"), ("dog",), ("", "x y")]
    pred = np.array(["the cat sat", "a dog", "x y z"], dtype=object)
    streams = text.reference_streams(truth)
    assert streams[1] == ["the cat sat down", None, "x y"] and streams[2] == ["one more", None, None]
    assert text.text_score("bleu", truth, pred) == pytest.approx(sacrebleu.corpus_bleu(list(pred), streams).score)


def test_bleu_and_chrf_from_summed_statistics_match_sacrebleu_on_sums():
    rng = np.random.default_rng(3)
    bleu, chrf = sacrebleu.metrics.BLEU(), sacrebleu.metrics.CHRF()
    for _ in range(300):
        counts = rng.integers(0, 6, 2 + 2 * text.BLEU_ORDER)
        counts[2 : 2 + text.BLEU_ORDER] = np.minimum(counts[2 : 2 + text.BLEU_ORDER], counts[2 + text.BLEU_ORDER :])
        expected = bleu._compute_score_from_stats([int(c) for c in counts]).score
        assert float(text.bleu_of_sums(counts.astype(float))) == pytest.approx(expected, abs=1e-9, rel=0)
        char = rng.integers(0, 6, 3 * text.CHRF_ORDER)
        expected = chrf._compute_score_from_stats([int(c) for c in char]).score
        assert float(text.chrf_of_sums(char.astype(float))) == pytest.approx(expected, abs=1e-9, rel=0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows_strategy, st.booleans())
def test_rouge_is_rouge_scores_best_reference_f(rows, stemming):
    truth, pred = arrays(rows)
    options = text.Options(stemming=stemming)
    for name in text.ROUGE:
        scorer = RougeScorer([name], use_stemmer=stemming)
        expected = np.mean([scorer.score_multi(list(refs), answer)[name].fmeasure for refs, answer in rows])
        assert text.text_score(name, truth, pred, options=options) == pytest.approx(expected, abs=1e-12)


@SETTINGS
@given(rows_strategy)
def test_wer_and_cer_are_jiwers_corpus_rates_on_the_first_reference(rows):
    truth, pred = arrays(rows)
    first = [refs[0] for refs, _ in rows]
    assert text.text_score("wer", truth, pred) == pytest.approx(jiwer.wer(first, list(pred)), abs=1e-12)
    assert text.text_score("cer", truth, pred) == pytest.approx(jiwer.cer(first, list(pred)), abs=1e-12)


def test_very_long_rows_score_like_the_libraries():
    rng = np.random.default_rng(5)
    words = np.array(["alpha", "beta", "gamma", "\u05e9\u05dc\u05d5\u05dd", "\U0001f600", "e\u0301t\u00e9"])
    truth = np.empty(3, dtype=object)
    truth[:] = [(" ".join(rng.choice(words, 4000)),) for _ in range(3)]
    pred = np.array([" ".join(rng.choice(words, 3000)) for _ in range(3)], dtype=object)
    streams = text.reference_streams(truth)
    assert text.text_score("bleu", truth, pred) == pytest.approx(sacrebleu.corpus_bleu(list(pred), streams).score)
    assert text.text_score("chrf", truth, pred) == pytest.approx(sacrebleu.corpus_chrf(list(pred), streams).score)
    first = [refs[0] for refs in truth]
    assert text.text_score("wer", truth, pred) == pytest.approx(jiwer.wer(first, list(pred)))


duplicated_rows = st.lists(row, min_size=1, max_size=4).flatmap(
    lambda distinct: st.lists(st.sampled_from(distinct), min_size=1, max_size=40)
)
"""Rows drawn again and again from a few: answers and references repeat, as a benchmark's do."""
long_sentence = st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(ODD)), min_size=20, max_size=120).map(
    " ".join
)
long_rows = st.lists(st.tuples(st.lists(long_sentence, min_size=1, max_size=2).map(tuple), long_sentence), max_size=6)


@SETTINGS
@given(st.one_of(duplicated_rows, long_rows.filter(bool)))
def test_repeated_and_long_rows_score_as_the_libraries_do(rows):
    truth, pred = arrays(rows)
    streams = text.reference_streams(truth)
    assert text.text_score("bleu", truth, pred) == pytest.approx(
        sacrebleu.corpus_bleu(list(pred), streams).score, abs=1e-9, rel=0
    )
    assert text.text_score("chrf", truth, pred) == pytest.approx(
        sacrebleu.corpus_chrf(list(pred), streams).score, abs=1e-9, rel=0
    )
    squad = text.Options("squad")
    em = [max(float(normalize_answer(a) == normalize_answer(r)) for r in refs) for refs, a in rows]
    f1 = [max(squad_f1(a, r) for r in refs) for refs, a in rows]
    assert text.text_score("exact_match", truth, pred, options=squad) == pytest.approx(np.mean(em), abs=1e-12)
    assert text.text_score("token_f1", truth, pred, options=squad) == pytest.approx(np.mean(f1), abs=1e-12)


def test_many_distinct_words_and_characters_score_as_sacrebleu_does():
    """Tens of thousands of distinct words and thousands of distinct characters: n-grams too many to number by
    their words' or characters' numbers alone are renumbered, with the same counts."""
    rng = np.random.default_rng(11)
    letters = np.array([chr(c) for c in range(0x4E00, 0x4E00 + 3000)])  # CJK ideographs
    vocabulary = np.array(["".join(rng.choice(letters, 3)) for _ in range(80_000)])
    truth = np.empty(3000, dtype=object)
    truth[:] = [tuple(" ".join(rng.choice(vocabulary, 6)) for _ in range(rng.integers(1, 3))) for _ in range(3000)]
    pred = np.array([" ".join(refs[0].split()[:4] + list(rng.choice(vocabulary, 2))) for refs in truth], dtype=object)
    streams = text.reference_streams(truth)
    assert text.text_score("bleu", truth, pred) == pytest.approx(
        sacrebleu.corpus_bleu(list(pred), streams).score, abs=1e-9, rel=0
    )
    assert text.text_score("chrf", truth, pred) == pytest.approx(
        sacrebleu.corpus_chrf(list(pred), streams).score, abs=1e-9, rel=0
    )


def test_the_white_space_chrf_drops_is_what_python_splits_on():
    split = {c for c in range(0x110000) if len(f"a{chr(c)}a".split()) == 2}
    assert split == set(text._WHITE_SPACE.tolist())


# --- the registry: a text task's exact_match is the text one ---------------------------------------------------------


def test_a_text_task_gets_the_text_metrics_and_others_keep_theirs():
    assert get_metric("exact_match") is METRICS["exact_match"]
    assert get_metric("exact_match").kinds == ("classification",)
    labels = METRICS["exact_match"].rows_function()(np.array([1, 2, 3]), np.array([1, 2, 0]))
    assert labels == pytest.approx(2 / 3)
    textual = get_metric("exact_match", kind="text", text=text.Options("squad"))
    assert textual.kinds == ("text",) and textual.needs == "text"
    truth = np.empty(2, dtype=object)
    truth[:] = [("The Cat",), ("dog",)]
    assert textual.rows_function()(truth, np.array(["cat", "Dog."], dtype=object)) == 1.0
    assert get_metric("exact_match", kind="text").rows_function()(truth, np.array(["cat", "dog"], dtype=object)) == 0.5
    for name in ("token_f1", "bleu", "chrf", "rouge1", "rouge2", "rougeL", "wer", "cer"):
        assert is_known(name) and get_metric(name).kinds == ("text",)
    assert not get_metric("wer").higher_is_better and get_metric("bleu").higher_is_better


def test_signatures_say_how_each_metric_was_computed():
    assert text.signature("bleu") == f"nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:{sacrebleu.__version__}"
    assert text.signature("chrf").startswith("nrefs:var|case:mixed|eff:yes|nc:6|nw:0|space:no|version:")
    assert text.signature("token_f1", text.Options("numeric", 0.5)) == "token_f1|norm:numeric|tol:0.5|refs:best"
    assert "stem:yes" in text.signature("rougeL", text.Options(stemming=True))
    assert "refs:first" in text.signature("wer")


# --- intervals ------------------------------------------------------------------------------------------------------

VOCABULARY = np.array("alpha beta gamma delta epsilon zeta eta theta iota kappa".split())


def answers(n: int, right: float, seed: int, shortest: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Short references of ``shortest`` to five words; each answer is its reference with chance ``right``, else other
    words."""
    rng = np.random.default_rng(seed)
    truth, pred = np.empty(n, dtype=object), np.empty(n, dtype=object)
    for i in range(n):
        ref = " ".join(rng.choice(VOCABULARY, rng.integers(shortest, 6)))
        truth[i] = (ref,)
        pred[i] = ref if rng.random() < right else " ".join(rng.choice(VOCABULARY, rng.integers(1, 6)))
    return truth, pred


@pytest.mark.parametrize("name", text.NAMES)
def test_intervals_hold_their_score_and_narrow_with_more_rows(name):
    widths = []
    for n in (40, 400, 4000):
        truth, pred = answers(n, 0.6, seed=n)
        metric = get_metric(name, kind="text")
        found = metric_interval(metric, truth, pred, seed=1)
        point = metric.rows_function()(truth, pred)
        assert np.isfinite(found.low) and np.isfinite(found.high) and found.low <= point <= found.high
        assert found.undefined == 0
        widths.append(found.high - found.low)
    assert widths[0] > widths[1] > widths[2] > 0


@pytest.mark.parametrize("name", text.NAMES)
def test_a_perfect_submission_gets_an_interval_not_a_point(name):
    truth, _ = answers(50, 1.0, seed=2, shortest=2)  # ROUGE-2 needs a bigram
    pred = np.array([refs[0] for refs in truth], dtype=object)
    metric = get_metric(name, kind="text")
    found = metric_interval(metric, truth, pred, seed=1)
    best = 0.0 if name in text.LOWER_IS_BETTER else (100.0 if name in ("bleu", "chrf") else 1.0)
    assert metric.rows_function()(truth, pred) == pytest.approx(best)
    assert found.high - found.low > 0 and min(abs(found.low - best), abs(found.high - best)) < 1e-9


def test_blocked_sums_above_the_block_count_agree_with_rows_each_their_own_block():
    truth, pred = answers(3000, 0.5, seed=4)
    stats = text.row_stats("chrf", truth, pred)
    exact = stats_interval("chrf", stats, seed=1)
    blocked = stats_interval("chrf", stats, seed=1, blocks=256)
    assert exact[0] == blocked[0]
    assert blocked[1].low == pytest.approx(exact[1].low, abs=0.6) and blocked[1].high == pytest.approx(
        exact[1].high, abs=0.6
    )


def test_row_weights_and_board_weightings_read_the_same_statistics():
    truth, pred = answers(200, 0.5, seed=6)
    for name in ("bleu", "wer", "token_f1"):
        stats = text.row_stats(name, truth, pred)
        unit = weighted_values(name, stats, np.ones((2, len(stats))))
        assert unit == pytest.approx([text.text_score(name, truth, pred)] * 2, abs=1e-9)
        doubled = np.where(np.arange(len(stats)) < 100, 2.0, 1.0)
        repeated = np.concatenate([np.arange(len(stats)), np.arange(100)])
        rows = np.empty(len(repeated), dtype=object)
        rows[:] = [truth[i] for i in repeated]
        if name in text.MEANS:  # a weight of 2 counts a row twice
            assert text.text_score(name, truth, pred, doubled) == pytest.approx(
                text.text_score(name, rows, pred[repeated]), abs=1e-12
            )
        point, found = stats_interval(name, stats, weight=doubled, seed=1)
        assert point == pytest.approx(text.text_score(name, truth, pred, doubled)) and found.low <= point <= found.high
