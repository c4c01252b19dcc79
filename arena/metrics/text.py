"""Metrics of free-text answers: exact match and token F1 (SQuAD), BLEU and chrF (sacrebleu), ROUGE (rouge-score),
WER and CER (jiwer).

Every metric here is computed from per-row sufficient statistics, collected once per row: for exact match, token
F1, BLEU and chrF for all rows at once (token ids from Arrow's string kernels, n-grams as integer keys counted per
row with one sort), with the library's own code (SQuAD's ``normalize_answer``, sacrebleu's tokenizer) for any text
those kernels might read differently; for ROUGE by rouge-score's scorer; for WER and CER by a faithful copy of
jiwer's word split and Levenshtein distance. The statistics are the library's own, to the last count:

- exact match, token F1 and ROUGE are means of one per-row value;
- BLEU sums, over rows, the hypothesis and closest-reference lengths and the matching and total n-gram counts per
  order; chrF sums the hypothesis, reference and matching character n-grams per order; WER and CER sum the edit
  operations and the reference words or characters. Each is then a function of those sums.

So a score is a function of column sums, and an interval resamples sums (:mod:`arena.intervals.text`): no row is
ever scored twice. The truth is an object array whose every element is a tuple of accepted references (at least
one; the empty string is a valid reference), the answers an object array of strings or an Arrow string column
(:data:`Texts`).
"""

from __future__ import annotations

import math
import re
import string
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Literal, Protocol, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arena import _fast

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

Texts: TypeAlias = np.ndarray | pa.Array | pa.ChunkedArray
"""A column of answers: an object array of ``str``, or an Arrow string column (read where it lies, no Python string
made for any answer)."""


def as_objects(texts: Texts) -> np.ndarray:
    """The answers as an object array of ``str`` (an Arrow column's nulls as "")."""
    if isinstance(texts, (pa.Array, pa.ChunkedArray)):
        if texts.null_count:
            texts = pc.fill_null(texts, "")
        return texts.to_numpy(zero_copy_only=False).astype(object, copy=False)
    return np.asarray(texts, dtype=object)


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


# --- per-row statistics -------------------------------------------------------------------------------------------


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


ROUGE = ("rouge1", "rouge2", "rougeL")


def _rouge_rows(name: str, truth: np.ndarray, pred: Texts, options: TextOptions) -> np.ndarray:
    """rouge-score's F-measure per row, the best over the references (``RougeScorer.score_multi``)."""
    from rouge_score.rouge_scorer import RougeScorer  # type: ignore[import-untyped]

    pred = as_objects(pred)
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


def _error_rows(name: str, truth: np.ndarray, pred: Texts) -> np.ndarray:
    """[edit operations, reference words (or characters)] per row, against the row's first reference (Levenshtein
    distance, unit costs: the substitutions, deletions and insertions of jiwer's alignment)."""
    from rapidfuzz.distance import Levenshtein

    pred = as_objects(pred)
    split = jiwer_words if name == "wer" else jiwer_characters
    out = np.zeros((len(pred), 2))
    for i, (refs, answer) in enumerate(zip(truth, pred, strict=True)):
        ref = split(refs[0])
        out[i, 0] = Levenshtein.distance(ref, split(answer))
        out[i, 1] = len(ref)
    return out


# --- vectorised per-row statistics ------------------------------------------------------------------------------
#
# Every row's statistics are computed for all rows at once: strings become integer ids (Arrow's string kernels and
# dictionary encoding), n-grams become integer keys, and each row's n-gram overlap is a count of equal keys per row
# (sorted integers, one pass). A string that the vectorised rules might read differently from the library (non-ASCII
# text, control characters, what a tokenizer treats specially) is done by the library's own code instead, one
# distinct string at a time, so the statistics are the same as the per-row definitions above on any text.

_ASCII_PUNCTUATION = r"[!-/:-@\[-`{-~]"  # string.punctuation, exactly: the ASCII punctuation SQuAD drops
_PLAIN_TEXT = r"^[\t\n\x0b\x0c\r -~]*$"  # printable ASCII and the white space Arrow and Python both split on
_PLAIN_WORDS = r"^[A-Za-z0-9 ]*$"  # nothing sacrebleu's 13a tokenizer changes: its tokens are the words
_ARTICLES_SET = ("a", "an", "the")


def _flat_refs(truth: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The references of every row, one after another, and each row's first position among them (n + 1)."""
    counts = np.fromiter(map(len, truth), dtype=np.int64, count=len(truth))
    if np.any(counts == 0):
        raise ValueError("every row needs at least one reference (the empty string is a valid reference)")
    return list(chain.from_iterable(truth)), np.concatenate([[0], np.cumsum(counts)])


_PREPARED: dict[tuple[int, int], tuple[weakref.ref, int, tuple]] = {}
_PREPARED_KEPT = 6  # answer keys (times tokenizer modes) whose references stay prepared
_prepared_lock = threading.Lock()


def _normal_forms(kernels, truth: np.ndarray, pred: Texts, mode: int, exact=None, white=None) -> tuple:
    """The compiled normal forms of the answers, those of every reference, and each row's first reference (n + 1).

    The references' side is prepared once per answer key and tokenizer: a worker scores every submission of a task
    against the same answer key object, so only the answers are read again (a task's references are usually more
    text than one submission's answers). The key is the truth array itself, held weakly: a new or rebuilt answer
    key is prepared anew, and one that is gone frees its entry.
    """
    key = (id(truth), mode)
    with _prepared_lock:
        found = _PREPARED.pop(key, None)
        if found is not None and found[0]() is truth and found[1] == len(truth):
            _PREPARED[key] = found  # the most recently used last
    if found is not None and found[0]() is truth and found[1] == len(truth):
        references, starts = found[2]
    else:
        refs, starts = _flat_refs(truth)
        references = kernels.normal_forms(refs, mode, exact, *(() if white is None else (white,)))

        def forget(_: object, key: tuple[int, int] = key) -> None:
            _PREPARED.pop(key, None)

        try:  # the entry goes when the answer key does
            alive: weakref.ref | None = weakref.ref(truth, forget)
        except TypeError:  # not an object that can be held weakly: prepared for this call only
            alive = None
        if alive is not None:
            with _prepared_lock:
                _PREPARED[key] = (alive, len(truth), (references, starts))
                while len(_PREPARED) > _PREPARED_KEPT:
                    del _PREPARED[next(iter(_PREPARED))]  # the least recently used
    answers = kernels.normal_forms(pred, mode, exact, *(() if white is None else (white,)))
    return answers, references, starts


def _objects(strings: list[str]) -> np.ndarray:
    out = np.empty(len(strings), dtype=object)
    out[:] = strings
    return out


def _segments(offsets: np.ndarray, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The flat positions of the items of segments ``which`` (one after another) and, for each, its index in
    ``which``."""
    lengths = offsets[which + 1] - offsets[which]
    group = np.repeat(np.arange(len(which)), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else lengths
    return np.arange(int(lengths.sum())) + np.repeat(offsets[which] - starts, lengths), group


def _words(values: pa.Array, counts: np.ndarray, drop: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Split tokens less the empty ones (Arrow keeps those between adjacent spaces) and those in ``drop``."""
    keep = pc.invert(pc.is_in(values, value_set=drop)).to_numpy(zero_copy_only=False)
    rows = np.repeat(np.arange(len(counts)), counts)
    return values.filter(pa.array(keep)), np.bincount(rows[keep], minlength=len(counts))


def _split_plain(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Python's ``str.split()`` of plain ASCII text, on the whole column."""
    lists = pc.ascii_split_whitespace(arr)
    counts = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    return _words(pc.list_flatten(lists), counts, pa.array([""]))


def _split_squad(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """SQuAD's normal form of plain ASCII text, as tokens: lower case, ASCII punctuation dropped, split on white
    space, the words a, an and the dropped (in plain ASCII text, whole words are exactly what lies between white
    space once punctuation is gone)."""
    lists = pc.ascii_split_whitespace(pc.replace_substring_regex(pc.ascii_lower(arr), _ASCII_PUNCTUATION, ""))
    counts = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    return _words(pc.list_flatten(lists), counts, pa.array(["", *_ARTICLES_SET]))


def _token_ids(
    strings: list[str],
    plain: str,
    vector: Callable[[pa.Array], tuple[pa.Array, np.ndarray]],
    exact: Callable[[str], list[str]],
) -> tuple[np.ndarray, np.ndarray]:
    """Each string's tokens as integer ids (equal ids, equal tokens): flat ids and offsets (len + 1). Strings
    matching the ``plain`` pattern are split by ``vector`` on the whole column, the others by ``exact``."""
    arr = pa.array(strings, pa.string())
    is_plain = pc.match_substring_regex(arr, plain).to_numpy(zero_copy_only=False)
    odd = np.flatnonzero(~is_plain)
    if len(odd):
        arr = pc.if_else(pa.array(is_plain), arr, pa.scalar("", pa.string()))
    values, counts = vector(arr)
    counts = np.asarray(counts, dtype=np.int64)
    odd_tokens = [exact(strings[i]) for i in odd]
    odd_counts = np.fromiter(map(len, odd_tokens), dtype=np.int64, count=len(odd))
    everything = pa.concat_arrays(
        [values.cast(pa.string()), pa.array(list(chain.from_iterable(odd_tokens)), pa.string())]
    )
    encoded = pc.dictionary_encode(everything).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    counts[odd] = odd_counts
    offsets = np.concatenate([[0], np.cumsum(counts)])
    ids = np.empty(int(offsets[-1]), dtype=np.int64)
    vector_rows = np.flatnonzero(is_plain)
    ids[_segments(offsets, vector_rows)[0]] = encoded[: len(values)]
    ids[_segments(offsets, odd)[0]] = encoded[len(values) :]
    return ids, offsets


def _dense(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """The keys numbered 0, 1, ... in order (equal keys, equal numbers), and how many numbers there are."""
    distinct, dense = np.unique(keys, return_inverse=True)
    return dense.reshape(-1).astype(np.int64), len(distinct)


def _counted(group: np.ndarray, key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (group, key) pairs as ``group * size + key``, sorted, and how often each occurs."""
    return np.unique(group * size + key, return_counts=True)


def _common(
    hyp: tuple[np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray], size: int, groups: int
) -> np.ndarray:
    """Per group, the size of the intersection of two multisets of keys (sum over keys of the smaller count),
    from each side's :func:`_counted`."""
    (uh, nh), (ur, nr) = hyp, ref
    if not len(uh) or not len(ur):
        return np.zeros(groups)
    at = np.minimum(np.searchsorted(ur, uh), len(ur) - 1)
    both = np.where(ur[at] == uh, np.minimum(nh, nr[at]), 0)
    return np.bincount(uh // size, weights=both, minlength=groups)


def _overlap(
    hyp_group: np.ndarray, hyp_key: np.ndarray, ref_group: np.ndarray, ref_key: np.ndarray, size: int, groups: int
) -> np.ndarray:
    """Per group, the size of the intersection of the two sides' multisets of keys (each key counted as often as
    the side with fewer of it has it), from one sort of both sides' items together."""
    both = np.concatenate([(hyp_group * size + hyp_key) * 2, (ref_group * size + ref_key) * 2 + 1])
    both.sort()
    value = both >> 1
    if not len(value):
        return np.zeros(groups)
    start = np.flatnonzero(np.concatenate([[True], value[1:] != value[:-1]]))
    refs = np.add.reduceat(both & 1, start)
    hyps = np.diff(np.append(start, len(both))) - refs
    return np.bincount(value[start] // size, weights=np.minimum(hyps, refs), minlength=groups)


def _fits(groups: int, size: int) -> bool:
    return (groups + 1) * (size + 1) < 2**61  # and twice that, for a side bit


def _pair_rows(starts: np.ndarray) -> np.ndarray:
    """Each (row, reference) pair's row."""
    return np.repeat(np.arange(len(starts) - 1), np.diff(starts))


def _numbers(strings: list[str]) -> np.ndarray:
    """Each string's :func:`as_number` (NaN for None), read once per distinct string."""
    encoded = pc.dictionary_encode(pa.array(strings, pa.string()))
    found = [as_number(text) for text in encoded.dictionary.to_pylist()]
    table = np.array([np.nan if value is None else value for value in found], dtype=np.float64)
    return table[encoded.indices.to_numpy(zero_copy_only=False)] if len(table) else np.zeros(0)


def _squad_tokens(text: str) -> list[str]:
    return squad_normalise(text).split()


def _answer_rows(name: str, truth: np.ndarray, pred: Texts, options: TextOptions) -> np.ndarray:
    """Exact match or token F1 of every row: each (row, reference) pair's value, the best per row."""
    _normaliser(options)  # an unknown normalisation is refused here
    n = len(pred)
    if not n:
        return np.zeros((0, 1))
    kernels = _fast.text_kernels()
    if options.normalise == "none":
        split: Callable[[str], list[str]] = str.split
        mode, vector = "WORDS", _split_plain
    else:
        split, mode, vector = _squad_tokens, "SQUAD", _split_squad
    refs: list[str] | None = None
    if kernels is not None:
        answers, references, starts = _normal_forms(kernels, truth, pred, getattr(kernels, mode), split)
        if name == "token_f1":
            pairs = kernels.token_f1_pairs(answers, references, starts, best_only=options.normalise != "numeric")
            return _best_of_pairs(pairs, truth, pred, starts, options)
        hyp_len, ref_len = answers.items, references.items
    else:
        pred = as_objects(pred)
        refs, starts = _flat_refs(truth)
        ids, offsets = _token_ids([*pred, *refs], _PLAIN_TEXT, vector, split)
        length = np.diff(offsets)
        hyp_len, ref_len = length[:n], length[n:]
    rows = _pair_rows(starts)
    hyp_len = hyp_len[rows]
    if name == "exact_match" and options.normalise == "none":
        refs = _flat_refs(truth)[0] if refs is None else refs
        value = (as_objects(pred)[rows] == _objects(refs)).astype(float)
    elif name == "exact_match" and kernels is not None:  # equal normal forms
        value = kernels.equal_pairs(answers, references, starts).astype(np.float64)
    elif name == "exact_match":  # equal token sequences
        value = (hyp_len == ref_len).astype(np.float64)
        both = np.flatnonzero((hyp_len == ref_len) & (ref_len > 0))
        hyp_at, group = _segments(offsets, rows[both])
        ref_at = _segments(offsets, n + both)[0]
        differ = np.bincount(group, weights=ids[hyp_at] != ids[ref_at], minlength=len(both))
        value[both] = differ == 0
    else:
        pairs = len(ref_len)
        size = int(ids.max(initial=0)) + 1
        hyp_at, hyp_group = _segments(offsets, rows)
        ref_at, ref_group = _segments(offsets, n + np.arange(pairs))
        same = _overlap(hyp_group, ids[hyp_at], ref_group, ids[ref_at], size, pairs)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = 1.0 * same / hyp_len
            recall = 1.0 * same / ref_len
            f1 = (2 * precision * recall) / (precision + recall)
        value = np.where(same == 0, 0.0, f1)
        empty = (hyp_len == 0) | (ref_len == 0)
        value[empty] = (hyp_len == ref_len)[empty]
    return _best_of_pairs(value, truth, pred, starts, options, refs)


def _best_of_pairs(
    value: np.ndarray,
    truth: np.ndarray,
    pred: Texts,
    starts: np.ndarray,
    options: TextOptions,
    refs: list[str] | None = None,
) -> np.ndarray:
    """Each row's best (row, reference) pair ``value`` (rows, 1); under ``numeric``, a pair whose two texts are both
    numbers is 1 where they lie within the tolerance, else 0."""
    if options.normalise == "numeric":
        n = len(pred)
        number = _numbers([*as_objects(pred), *(_flat_refs(truth)[0] if refs is None else refs)])
        a, b = number[:n][_pair_rows(starts)], number[n:]
        numbers = np.isfinite(a) & np.isfinite(b)
        value[numbers] = np.abs(a[numbers] - b[numbers]) <= float(options.tolerance)
    kernels = _fast.text_kernels()
    if kernels is not None:
        return kernels.best_of_rows(value, starts)
    return np.maximum.reduceat(value, starts[:-1])[:, None]


def _bleu_rows(truth: np.ndarray, pred: Texts) -> np.ndarray:
    """sacrebleu's BLEU segment statistics of every row: [hyp length, closest reference length, matches per order,
    totals per order], the matches clipped by each n-gram's largest count in any one reference."""
    n = len(pred)
    metric = _sacrebleu("bleu")

    def words_13a(text: str) -> list[str]:
        return metric._preprocess_segment(text).split()

    kernels = _fast.text_kernels()
    if kernels is not None:
        answers, references, starts = _normal_forms(kernels, truth, pred, kernels.WORDS_13A, words_13a)
        return kernels.bleu_rows(answers, references, starts, BLEU_ORDER)
    refs, starts = _flat_refs(truth)
    ids, offsets = _token_ids([*as_objects(pred), *refs], _PLAIN_WORDS, _split_plain, words_13a)
    length = np.diff(offsets)
    hyp_len, ref_len = length[:n], length[n:]
    rows = _pair_rows(starts)
    out = np.zeros((n, 2 + 2 * BLEU_ORDER))
    out[:, 0] = hyp_len
    wide = int(ref_len.max(initial=0)) + 1  # closest length: the least (distance, length)
    out[:, 1] = np.minimum.reduceat(np.abs(hyp_len[rows] - ref_len) * wide + ref_len, starts[:-1]) % wide
    for order in range(1, BLEU_ORDER + 1):
        out[:, 2 + BLEU_ORDER + order - 1] = np.maximum(hyp_len - order + 1, 0)
    string_of = np.repeat(np.arange(len(length)), length)
    end = offsets[1:][string_of]
    split = int(offsets[n])
    key, size, vocabulary = ids, int(ids.max(initial=0)) + 1, int(ids.max(initial=0)) + 1
    for order in range(1, BLEU_ORDER + 1):
        if order > 1:
            if not _fits(size, vocabulary):
                key, size = _dense(key)
            key, size = key[:-1] * vocabulary + ids[order - 1 :], size * vocabulary
        valid = np.arange(len(key)) + order <= end[: len(key)]
        hyp_at = np.flatnonzero(valid[:split])
        ref_at = split + np.flatnonzero(valid[split:])
        if not _fits(max(n, len(ref_len)), size):
            key, size = _dense(key)
        pair_keys, counts = _counted(string_of[ref_at] - n, key[ref_at], size)
        by_row = rows[pair_keys // size] * size + pair_keys % size  # the largest count in any one reference
        order_of = np.argsort(by_row, kind="stable")
        by_row, counts = by_row[order_of], counts[order_of]
        first = np.flatnonzero(np.concatenate([[True], by_row[1:] != by_row[:-1]])) if len(by_row) else by_row
        ref_side = (by_row[first], np.maximum.reduceat(counts, first) if len(first) else counts)
        out[:, 2 + order - 1] = _common(_counted(string_of[hyp_at], key[hyp_at], size), ref_side, size, n)
    return out


_WHITE_SPACE = np.array(
    [9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, *range(8192, 8203), 8232, 8233, 8239, 8287, 12288]
)
"""The characters Python's ``str.split()`` splits on (``str.isspace``), which sacrebleu removes before chrF."""


def _code_points(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each string's characters, white space removed, as integer ids (equal ids, equal characters): flat ids and
    offsets (len + 1)."""
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    codes = np.frombuffer("".join(strings).encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
    keep = ~np.isin(codes, _WHITE_SPACE)
    string_of = np.repeat(np.arange(len(strings)), lengths)[keep]
    codes = codes[keep]
    table = np.zeros(int(codes.max(initial=0)) + 1, dtype=np.int64)
    table[codes] = 1
    ids = np.cumsum(table)[codes]  # 1, 2, ...: the characters present, numbered densely
    return ids, np.concatenate([[0], np.cumsum(np.bincount(string_of, minlength=len(strings)))])


def _chrf_rows(truth: np.ndarray, pred: Texts) -> np.ndarray:
    """sacrebleu's chrF segment statistics of every row: [hyp, ref, match] character n-gram counts per order, from
    the reference whose segment chrF is highest (the first of equals)."""
    n = len(pred)
    kernels = _fast.text_kernels()
    if kernels is not None:
        answers, references, starts = _normal_forms(kernels, truth, pred, kernels.CHARACTERS, white=_WHITE_SPACE)
        return kernels.chrf_rows(answers, references, starts, CHRF_ORDER, CHRF_BETA)
    pred = as_objects(pred)
    refs, starts = _flat_refs(truth)
    rows = _pair_rows(starts)
    pairs = len(refs)
    ids, offsets = _code_points([*pred, *refs])
    length = np.diff(offsets)
    hyp_len, ref_len = length[:n][rows], length[n:]
    identical = np.asarray(pred, dtype=object)[rows] == _objects(refs)
    active = ~identical  # pairs whose n-grams are counted; the others match wholly, or (once none matches) not at all
    stats = np.zeros((pairs, CHRF_ORDER, 3))
    end = np.repeat(offsets[1:], length)
    counted = np.flatnonzero(active)  # the characters of the pairs counted, each with its pair and string's end
    hyp_at, hyp_pair = _segments(offsets, rows[counted])
    ref_at, ref_pair = _segments(offsets, n + counted)
    hyp_pair, ref_pair = counted[hyp_pair], counted[ref_pair]
    hyp_end, ref_end = end[hyp_at], end[ref_at]
    key, size, alphabet = ids, int(ids.max(initial=0)) + 1, int(ids.max(initial=0)) + 1
    for order in range(1, CHRF_ORDER + 1):
        if order > 1:
            if not _fits(size, alphabet):
                key, size = _dense(key)
            key, size = key[:-1] * alphabet + ids[order - 1 :], size * alphabet
        hyp_total, ref_total = np.maximum(hyp_len - order + 1, 0), np.maximum(ref_len - order + 1, 0)
        match = np.where(identical, hyp_total, 0).astype(np.float64)
        if len(hyp_at) or len(ref_at):
            if not _fits(pairs, size):
                key, size = _dense(key)
            hyp_ok = (hyp_at + order <= hyp_end) & active[hyp_pair]
            ref_ok = (ref_at + order <= ref_end) & active[ref_pair]
            hyp_at, hyp_pair, hyp_end = hyp_at[hyp_ok], hyp_pair[hyp_ok], hyp_end[hyp_ok]
            ref_at, ref_pair, ref_end = ref_at[ref_ok], ref_pair[ref_ok], ref_end[ref_ok]
            counted = _overlap(hyp_pair, key[hyp_at], ref_pair, key[ref_at], size, pairs)
            match[active] = counted[active]
            active &= match > 0  # an (n+1)-gram matches only where one of its n-grams does
        stats[:, order - 1] = np.column_stack([np.where(ref_total > 0, hyp_total, 0), ref_total, match])
    return stats[_best_reference(stats, starts, rows)].reshape(n, 3 * CHRF_ORDER)


def _best_reference(stats: np.ndarray, starts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Among pairs (pairs, order, 3), each row's pair whose segment chrF is highest, the first of equals (as
    sacrebleu picks it); ``starts``: each row's first pair, ``rows``: each pair's row."""
    f_score = _segment_chrf(stats)
    best = np.maximum.reduceat(f_score, starts[:-1])
    return np.minimum.reduceat(np.where(f_score == best[rows], np.arange(len(stats)), len(stats)), starts[:-1])


def chrf_block_sums(truth: np.ndarray, pred: Texts, block: np.ndarray, blocks: int) -> np.ndarray | None:
    """The sums of chrF's row statistics (:func:`row_stats`) over each of ``blocks`` blocks of rows (row r's being
    ``block[r]``), (blocks, 3 * order): an interval needs only these, and on ASCII text the compiled loops sum them
    without writing each row's. None where the loops are not installed."""
    kernels = _fast.text_kernels()
    if kernels is None:
        return None
    answers, references, starts = _normal_forms(kernels, truth, pred, kernels.CHARACTERS, white=_WHITE_SPACE)
    sums = kernels.chrf_block_sums(answers, references, starts, CHRF_ORDER, CHRF_BETA, block, blocks)
    if sums is None:  # not all ASCII: each row's statistics, then their sums
        stats = kernels.chrf_rows(answers, references, starts, CHRF_ORDER, CHRF_BETA)
        sums = _fast.block_sums(stats, block, blocks, whole=True)
    return sums


def _segment_chrf(stats: np.ndarray) -> np.ndarray:
    """sacrebleu's segment chrF (``CHRF._compute_f_score``, its defaults) of each pair's statistics (pairs, order, 3),
    with the same floating-point steps in the same order, so the best reference is the one sacrebleu picks."""
    factor = CHRF_BETA**2
    avg_precision = np.zeros(len(stats))
    avg_recall = np.zeros(len(stats))
    orders = np.zeros(len(stats))
    with np.errstate(invalid="ignore", divide="ignore"):
        for i in range(CHRF_ORDER):
            hyp, ref, match = stats[:, i, 0], stats[:, i, 1], stats[:, i, 2]
            counted = (hyp > 0) & (ref > 0)
            avg_precision = np.where(counted, avg_precision + match / hyp, avg_precision)
            avg_recall = np.where(counted, avg_recall + match / ref, avg_recall)
            orders += counted
        avg_precision = np.where(orders > 0, avg_precision / orders, 0.0)
        avg_recall = np.where(orders > 0, avg_recall / orders, 0.0)
        score = (1 + factor) * avg_precision * avg_recall
        score = score / (factor * avg_precision + avg_recall)
    return np.where(avg_precision + avg_recall != 0, 100 * score, 0.0)


def row_stats(name: str, truth: np.ndarray, pred: Texts, options: TextOptions = DEFAULT) -> np.ndarray:
    """Each row's sufficient statistics (n, d) of text metric ``name``: the metric is :func:`value_of_sums` of their
    (weighted) column sums."""
    if name in ("exact_match", "token_f1"):
        return _answer_rows(name, truth, pred, options)
    if name in ("bleu", "chrf"):
        if not len(pred):
            return np.zeros((0, 2 + 2 * BLEU_ORDER if name == "bleu" else 3 * CHRF_ORDER))
        return _bleu_rows(truth, pred) if name == "bleu" else _chrf_rows(truth, pred)
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
    pred: Texts,
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

    def from_rows(truth: np.ndarray, pred: Texts, weight: np.ndarray | None = None) -> float:
        return text_score(name, truth, pred, weight, options)

    from_rows.__name__ = name
    return from_rows


def per_row(name: str, options: TextOptions = DEFAULT) -> Callable[[np.ndarray, Texts], np.ndarray]:
    """``per_row`` of a mean-type text metric with these options: each row's value."""

    def values(truth: np.ndarray, pred: Texts) -> np.ndarray:
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
