"""Metrics of free-text answers: exact match and token F1 (SQuAD), BLEU and chrF (sacrebleu), ROUGE (rouge-score),
WER and CER (jiwer).

Every metric here is computed from per-row sufficient statistics, collected once per row by the very code of the
library it matches (sacrebleu's own segment statistics, rouge-score's scorer) or by a faithful copy of its
definition (SQuAD's ``normalize_answer``, jiwer's word split and Levenshtein distance):

- exact match, token F1 and ROUGE are means of one per-row value;
- BLEU sums, over rows, the hypothesis and closest-reference lengths and the matching and total n-gram counts per
  order; chrF sums the hypothesis, reference and matching character n-grams per order; WER and CER sum the edit
  operations and the reference words or characters. Each is then a function of those sums.

So a score is a function of column sums, and an interval resamples sums (:mod:`arena.intervals.text`): no row is
ever scored twice. The truth is an object array whose every element is a tuple of accepted references (at least
one; the empty string is a valid reference), the prediction an object array of strings.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

Normalise = Literal["none", "squad", "numeric"]
NORMALISATIONS: tuple[str, ...] = ("none", "squad", "numeric")


class TextOptions(Protocol):
    """What a text task's ``[metrics]`` table declares (the task's ``spec.text``)."""

    @property
    def normalise(self) -> str: ...

    @property
    def tolerance(self) -> float: ...

    @property
    def stemming(self) -> bool: ...


@dataclass(frozen=True)
class Options:
    """The options a text metric uses where a task declares none: answers compared as written."""

    normalise: str = "none"
    tolerance: float = 0.0
    stemming: bool = False


DEFAULT = Options()

# --- normalisation ------------------------------------------------------------------------------------------------

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normalise(text: str) -> str:
    """SQuAD v1.1's ``normalize_answer``, exactly: lower case, drop ASCII punctuation, drop the articles a, an and the
    (as whole words), collapse white space."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def as_number(text: str) -> float | None:
    """The finite number a text answer writes (``"1,234.5"``, ``" 7 "``, ``"1e3"``), or None: thousands separators
    (commas) are dropped, then Python's ``float`` reads it."""
    try:
        value = float(text.strip().replace(",", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _normaliser(options: TextOptions) -> Callable[[str], str]:
    if options.normalise == "none":
        return lambda text: text
    if options.normalise in ("squad", "numeric"):
        return squad_normalise
    raise ValueError(f"unknown normalisation {options.normalise!r}: use one of {', '.join(NORMALISATIONS)}")


class _Cache:
    """Each distinct string's normal form and number, computed once: answers repeat (and references are read once
    per row whatever the metric)."""

    def __init__(self, options: TextOptions) -> None:
        self.normalise = _normaliser(options)
        self.numeric = options.normalise == "numeric"
        self.tolerance = float(options.tolerance)
        self.forms: dict[str, str] = {}
        self.numbers: dict[str, float | None] = {}

    def form(self, text: str) -> str:
        found = self.forms.get(text)
        if found is None:
            found = self.forms[text] = self.normalise(text)
        return found

    def number(self, text: str) -> float | None:
        if text not in self.numbers:
            self.numbers[text] = as_number(text)
        return self.numbers[text]

    def same_number(self, pred: str, ref: str) -> bool | None:
        """Whether two numbers agree within the tolerance; None unless both are numbers (or numbers are off)."""
        if not self.numeric:
            return None
        a, b = self.number(pred), self.number(ref)
        if a is None or b is None:
            return None
        return abs(a - b) <= self.tolerance


# --- per-row statistics -------------------------------------------------------------------------------------------


def _exact_rows(truth: np.ndarray, pred: np.ndarray, options: TextOptions) -> np.ndarray:
    cache = _Cache(options)
    out = np.zeros((len(pred), 1))
    for i, (refs, answer) in enumerate(zip(truth, pred, strict=True)):
        form = cache.form(answer)
        for ref in refs:
            same = cache.same_number(answer, ref)
            if same if same is not None else form == cache.form(ref):
                out[i, 0] = 1.0
                break
    return out


def token_f1_of(pred_tokens: Sequence[str], ref_tokens: Sequence[str]) -> float:
    """SQuAD's token F1 of two token lists; where either is empty, 1 if both are, else 0 (SQuAD v2.0's rule, so an
    empty reference, an unanswerable question, is matched by an empty answer)."""
    if not pred_tokens or not ref_tokens:
        return float(not pred_tokens and not ref_tokens)
    common = Counter(pred_tokens) & Counter(ref_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = 1.0 * same / len(pred_tokens)
    recall = 1.0 * same / len(ref_tokens)
    return (2 * precision * recall) / (precision + recall)


def _token_f1_rows(truth: np.ndarray, pred: np.ndarray, options: TextOptions) -> np.ndarray:
    cache = _Cache(options)
    tokens: dict[str, list[str]] = {}

    def split(text: str) -> list[str]:
        found = tokens.get(text)
        if found is None:
            found = tokens[text] = cache.form(text).split()
        return found

    out = np.zeros((len(pred), 1))
    for i, (refs, answer) in enumerate(zip(truth, pred, strict=True)):
        best = 0.0
        for ref in refs:
            same = cache.same_number(answer, ref)
            value = float(same) if same is not None else token_f1_of(split(answer), split(ref))
            if value > best:
                best = value
        out[i, 0] = best
    return out


def reference_streams(truth: np.ndarray) -> list[list[str | None]]:
    """The references as sacrebleu takes them: parallel streams, one per reference position, a row with fewer
    references padded with None (which sacrebleu drops for that row)."""
    width = max((len(refs) for refs in truth), default=1)
    return [[refs[j] if j < len(refs) else None for refs in truth] for j in range(width)]


BLEU_ORDER = 4  # sacrebleu's default max n-gram order
CHRF_ORDER = 6  # sacrebleu's default character order (chrF; word order 0)


def _sacrebleu(name: str):
    """sacrebleu's metric object with its defaults (corpus_bleu's and corpus_chrf's)."""
    from sacrebleu.metrics import BLEU, CHRF

    return BLEU() if name == "bleu" else CHRF()


def _sacrebleu_rows(name: str, truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """sacrebleu's own per-segment statistics: BLEU's [hyp length, closest reference length, matches per order, totals
    per order]; chrF's [hyp, ref, match] counts per character order, from the best reference of each row."""
    if not len(pred):
        return np.zeros((0, 2 + 2 * BLEU_ORDER if name == "bleu" else 3 * CHRF_ORDER))
    metric = _sacrebleu(name)
    stats = metric._extract_corpus_statistics(list(pred), reference_streams(truth))
    return np.asarray(stats, dtype=np.float64)


ROUGE = ("rouge1", "rouge2", "rougeL")


def _rouge_rows(name: str, truth: np.ndarray, pred: np.ndarray, options: TextOptions) -> np.ndarray:
    """rouge-score's F-measure per row, the best over the references (``RougeScorer.score_multi``)."""
    from rouge_score.rouge_scorer import RougeScorer  # type: ignore[import-untyped]

    scorer = RougeScorer([name], use_stemmer=bool(options.stemming))
    out = np.zeros((len(pred), 1))
    for i, (refs, answer) in enumerate(zip(truth, pred, strict=True)):
        out[i, 0] = scorer.score_multi(list(refs), answer)[name].fmeasure
    return out


_SPACES = re.compile(r"\s\s+")


def jiwer_words(text: str) -> list[str]:
    """jiwer's default word transform (``wer_default``): runs of two or more white-space characters become one space,
    the ends are stripped, and words are what lies between single spaces."""
    return [word for word in _SPACES.sub(" ", text).strip().split(" ") if word]


def jiwer_characters(text: str) -> list[str]:
    """jiwer's default character transform (``cer_default``): the stripped text's characters, spaces included."""
    return list(text.strip())


def _error_rows(name: str, truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """[edit operations, reference words (or characters)] per row, against the row's first reference (Levenshtein
    distance, unit costs: the substitutions, deletions and insertions of jiwer's alignment)."""
    from rapidfuzz.distance import Levenshtein

    split = jiwer_words if name == "wer" else jiwer_characters
    out = np.zeros((len(pred), 2))
    for i, (refs, answer) in enumerate(zip(truth, pred, strict=True)):
        ref = split(refs[0])
        out[i, 0] = Levenshtein.distance(ref, split(answer))
        out[i, 1] = len(ref)
    return out


def row_stats(name: str, truth: np.ndarray, pred: np.ndarray, options: TextOptions = DEFAULT) -> np.ndarray:
    """Each row's sufficient statistics (n, d) of text metric ``name``: the metric is :func:`value_of_sums` of their
    (weighted) column sums."""
    if name == "exact_match":
        return _exact_rows(truth, pred, options)
    if name == "token_f1":
        return _token_f1_rows(truth, pred, options)
    if name in ("bleu", "chrf"):
        return _sacrebleu_rows(name, truth, pred)
    if name in ROUGE:
        return _rouge_rows(name, truth, pred, options)
    if name in ("wer", "cer"):
        return _error_rows(name, truth, pred)
    raise KeyError(name)


# --- values from summed statistics (vectorised: the bootstrap evaluates thousands at once) -------------------------


def _log_or_floor(values: np.ndarray) -> np.ndarray:
    """sacrebleu's ``my_log``: the natural log, and -9999999999 for 0."""
    out = np.full(values.shape, -9999999999.0)
    np.log(values, out=out, where=values > 0)
    return out


def bleu_of_sums(sums: np.ndarray) -> np.ndarray:
    """Corpus BLEU (0-100) from summed statistics (..., 2 + 2 * order), as sacrebleu's ``compute_bleu`` with its
    defaults: exponential ("exp", NIST) smoothing of orders without a match, a brevity penalty, and 0 where no
    n-gram matches at all (or an order has no n-gram)."""
    sums = np.asarray(sums, dtype=np.float64)
    sys_len, ref_len = sums[..., 0], sums[..., 1]
    correct, total = sums[..., 2 : 2 + BLEU_ORDER], sums[..., 2 + BLEU_ORDER :]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        penalty = np.where(sys_len < ref_len, np.where(sys_len > 0, np.exp(1 - ref_len / sys_len), 0.0), 1.0)
        missing = correct == 0
        halvings = np.cumsum(missing, axis=-1)
        precision = np.where(missing, 100.0 / (2.0**halvings * total), 100.0 * correct / total)
        precision = np.where(np.cumsum(total == 0, axis=-1) > 0, 0.0, precision)  # sacrebleu stops at an empty order
        score = penalty * np.exp(_log_or_floor(precision).sum(axis=-1) / BLEU_ORDER)
    return np.where(np.any(correct != 0, axis=-1), score, 0.0)


CHRF_BETA = 2
_EPS = 1e-16


def chrf_of_sums(sums: np.ndarray) -> np.ndarray:
    """Corpus chrF (0-100) from summed statistics (..., 3 * order), as sacrebleu's ``CHRF`` with its defaults
    (beta 2, character order 6, no word n-grams, effective-order averaging of precision and recall)."""
    sums = np.asarray(sums, dtype=np.float64)
    stats = sums.reshape(*sums.shape[:-1], CHRF_ORDER, 3)
    hyp, ref, match = stats[..., 0], stats[..., 1], stats[..., 2]
    factor = CHRF_BETA**2
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(hyp > 0, match / hyp, _EPS)
        recall = np.where(ref > 0, match / ref, _EPS)
        counted = (hyp > 0) & (ref > 0)
        orders = counted.sum(axis=-1)
        avg_precision = np.where(orders > 0, np.where(counted, precision, 0.0).sum(axis=-1) / orders, 0.0)
        avg_recall = np.where(orders > 0, np.where(counted, recall, 0.0).sum(axis=-1) / orders, 0.0)
        score = 100 * ((1 + factor) * avg_precision * avg_recall) / (factor * avg_precision + avg_recall)
    return np.where(avg_precision + avg_recall > 0, score, 0.0)


def error_rate_of_sums(sums: np.ndarray) -> np.ndarray:
    """Edits over reference words (or characters); with no reference word at all, the edits themselves (jiwer's
    convention: every one an insertion)."""
    sums = np.asarray(sums, dtype=np.float64)
    edits, words = sums[..., 0], sums[..., 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(words > 0, edits / words, edits)


def _mean_of_sums(sums: np.ndarray, rows: np.ndarray | float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(sums, dtype=np.float64)[..., 0] / rows


RATIOS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "bleu": bleu_of_sums,
    "chrf": chrf_of_sums,
    "wer": error_rate_of_sums,
    "cer": error_rate_of_sums,
}
"""Corpus metrics: a function of the rows' summed statistics (sacrebleu's smoothing reads them on the rows' scale, so
the sums are given as counts, not means)."""

MEANS = ("exact_match", "token_f1", *ROUGE)
"""Means of one per-row value in [0, 1]."""

NAMES = (*MEANS, *RATIOS)
LOWER_IS_BETTER = ("wer", "cer")


def value_of_sums(name: str, sums: np.ndarray, rows: np.ndarray | float) -> np.ndarray:
    """The metric from its statistics summed over ``rows`` rows (or weights averaging 1): (..., d) -> (...)."""
    if name in RATIOS:
        return RATIOS[name](sums)
    return _mean_of_sums(sums, rows)


def weighted_sums(stats: np.ndarray, weight: np.ndarray | None) -> tuple[np.ndarray, float]:
    """Column sums of per-row statistics and their rows; with row weights each row counts its weight relative to the
    mean weight (so a corpus metric's counts keep the rows' scale)."""
    if weight is None:
        return stats.sum(axis=0), float(len(stats))
    w = np.asarray(weight, dtype=np.float64)
    relative = w / w.mean() if len(w) and w.mean() > 0 else w
    return relative @ stats, float(relative.sum())


def text_score(
    name: str,
    truth: np.ndarray,
    pred: np.ndarray,
    weight: np.ndarray | None = None,
    options: TextOptions = DEFAULT,
) -> float:
    """Text metric ``name`` on these rows (NaN without rows)."""
    if not len(pred):
        return float("nan")
    sums, rows = weighted_sums(row_stats(name, truth, pred, options), weight)
    return float(value_of_sums(name, sums, rows))


def scorer(name: str, options: TextOptions = DEFAULT) -> Callable[..., float]:
    """``from_rows`` of text metric ``name`` with these options: ``(truth, pred, weight=None) -> float``."""

    def from_rows(truth: np.ndarray, pred: np.ndarray, weight: np.ndarray | None = None) -> float:
        return text_score(name, truth, pred, weight, options)

    from_rows.__name__ = name
    return from_rows


def per_row(name: str, options: TextOptions = DEFAULT) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``per_row`` of a mean-type text metric with these options: each row's value."""

    def values(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
        return row_stats(name, truth, pred, options)[:, 0]

    return values


# --- what a score says it used ------------------------------------------------------------------------------------


def signature(name: str, options: TextOptions = DEFAULT) -> str:
    """How text metric ``name`` was computed, to show beside its value: sacrebleu's own signature for BLEU and chrF
    (``nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0``), the library and its options otherwise."""
    if name in ("bleu", "chrf"):
        metric = _sacrebleu(name)
        metric.num_refs = -1  # "var": the count of references may differ by row (sacrebleu sets it while scoring)
        return str(metric.get_signature())
    if name in ROUGE:
        from importlib.metadata import version

        return f"rouge-score:{version('rouge-score')}|{name}|f|stem:{'yes' if options.stemming else 'no'}|refs:best"
    if name in ("wer", "cer"):
        from importlib.metadata import version

        unit = "words" if name == "wer" else "chars"
        return f"jiwer:{version('jiwer')}|{name}|{unit}|refs:first|corpus"
    if name in ("exact_match", "token_f1"):
        tolerance = f"|tol:{float(options.tolerance):g}" if options.normalise == "numeric" else ""
        return f"{name}|norm:{options.normalise}{tolerance}|refs:best"
    raise KeyError(name)
