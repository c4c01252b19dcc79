"""Free-text answers' per-row statistics in compiled loops: normal forms, and n-gram overlaps of every row.

Why compiled: a text metric's statistics are counts per row (a row's words or character n-grams that its answer
shares with each reference), and rows are short. numpy reaches them only through whole-column passes (a sort of
every n-gram key of every row, once per order), which cost tens of times the file's read. Here each string is
normalised where it lies, and each row's answer n-grams go into a small hash table that stays in cache, where each
reference's n-grams are looked up; rows are independent, so slices of them run on every core at once.

Everything is exact: n-grams whose hashes agree are compared item by item, and words character by character.
Strings are read as their Unicode code points, as Python reads them. Only text a rule here might read differently
from the library's own code (non-ASCII text, control characters, what sacrebleu's 13a tokenizer changes) is flagged
by :func:`normalise`; the caller tokenizes those strings with the library, and their words, joined by single spaces,
are their normal form.

A normal form is a string's words separated by single spaces (words never hold a space), or for character n-grams
its characters less white space. The loops are compiled on first use and cached on disk; :func:`warm` loads them
ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from arena._fast.memory import pooled_empty
from arena._fast.parallel import over_slices

WORDS = 0
"""Words are what Python's ``str.split()`` gives (answers compared as written)."""
SQUAD = 1
"""Words of SQuAD's normal form: lower case, ASCII punctuation dropped, split on white space, a/an/the dropped."""
WORDS_13A = 2
"""sacrebleu's 13a tokenizer on text it leaves as it is (letters, digits and spaces): the words between spaces."""
CHARACTERS = 3
"""Characters, white space (what ``str.split()`` splits on) dropped: chrF's."""

SPACE = 32
_MUL = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(31)
_SEED = np.uint64(0x2545F4914F6CDD1D)
_STEP = np.uint64(1099511628211)  # a word's characters are stepped in cheaply, then the word's hash mixed once
_MISSING = np.int64(-1)
_SLICE_ROWS = 1 << 14  # rows below which a second core costs more than it saves


class Normal(NamedTuple):
    """Normal forms of strings: ``chars[start[s]:start[s] + length[s]]`` is string s's, of ``items[s]`` words (or
    characters)."""

    chars: np.ndarray
    start: np.ndarray
    length: np.ndarray
    items: np.ndarray


@numba.njit(inline="always")
def _mix(h, x):  # pragma: no cover (compiled)
    h = (h ^ np.uint64(x)) * _MUL
    return h ^ (h >> _SHIFT)


@numba.njit(inline="always")
def _article(out, start, stop):  # pragma: no cover (compiled)
    """Whether out[start:stop] is "a", "an" or "the"."""
    length = stop - start
    if length == 1:
        return out[start] == 97
    if length == 2:
        return out[start] == 97 and out[start + 1] == 110
    if length == 3:
        return out[start] == 116 and out[start + 1] == 104 and out[start + 2] == 101
    return False


KEEP, SEPARATE, DROP, ODD, LOWER = 0, 1, 2, 3, 4
"""What a mode's rules do with an ASCII character: keep it, end a word at it, drop it, leave the whole string to the
library, or keep it in lower case."""


def _classes(mode: int) -> np.ndarray:
    """Each ASCII character's class under ``mode`` (anything from 128 on is ODD, or for CHARACTERS looked up)."""
    table = np.full(128, ODD, dtype=np.int8)
    if mode == CHARACTERS:
        table[:] = KEEP
        table[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = SEPARATE  # ASCII white space, as str.isspace reads it
        return table
    if mode == WORDS_13A:  # letters, digits and spaces: nothing the 13a tokenizer changes
        table[[ord(c) for c in "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"]] = KEEP
        table[32] = SEPARATE
        return table
    table[33:127] = KEEP
    table[[9, 10, 11, 12, 13, 32]] = SEPARATE
    if mode == SQUAD:
        table[[ord(c) for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"]] = DROP  # string.punctuation
        table[65:91] = LOWER
    return table


CLASSES = tuple(_classes(mode) for mode in (WORDS, SQUAD, WORDS_13A, CHARACTERS))


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _normalise(codes, offsets, mode, classes, white, first, last, out, length, items, odd):  # pragma: no cover
    """Strings ``first`` up to ``last``: each one's normal form written over ``out`` where the string lies, its length
    and item count; a string the rules might misread is flagged in ``odd`` instead (what was written over it is then
    of no use: its normal form comes from the library). ``out`` may be ``codes`` itself: no character is written
    before it is read (a normal form never runs ahead of its string, as a space is written only where white space
    was). ``classes``: each ASCII character's class (:data:`CLASSES`); ``white``: the sorted code points from 128 on
    that CHARACTERS drops."""
    largest = white[-1]
    for s in range(first, last):
        a, b = offsets[s], offsets[s + 1]
        written = a
        if mode == CHARACTERS:
            for i in range(a, b):
                c = codes[i]
                if c < 128:
                    if classes[c] == SEPARATE:
                        continue
                elif c <= largest and white[np.searchsorted(white, c)] == c:
                    continue
                out[written] = c
                written += 1
            length[s] = written - a
            items[s] = written - a
            continue
        count = 0
        word = a  # where the word being read begins (after its separating space)
        for i in range(a, b + 1):
            if i < b:
                c = codes[i]
                kind = classes[c] if c < 128 else ODD
            else:
                kind = SEPARATE
            if kind == KEEP or kind == LOWER:
                if written == word and count:  # a word after the first: one space between (white space was there)
                    out[written] = 32
                    written += 1
                    word = written
                out[written] = c + 32 if kind == LOWER else c
                written += 1
            elif kind == SEPARATE:
                if written > word:
                    if mode == SQUAD and _article(out, word, written):
                        written = word - 1 if count else word  # the article goes, and the space before it
                    else:
                        count += 1
                    word = written
            elif kind == ODD:
                odd[s] = True
                break
        length[s] = written - a
        items[s] = count


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _decode(data, codes):  # pragma: no cover (compiled)
    """UTF-8 bytes (Python's, lone surrogates passed through) into ``codes``, one code point each; how many were
    written. Bytes that are not UTF-8 never make it read or write past either array: it stops early instead."""
    i = 0
    j = 0
    n = data.shape[0]
    while i < n and j < codes.shape[0]:
        c = np.int32(data[i])
        width = 1 if c < 0x80 else 2 if c < 0xE0 else 3 if c < 0xF0 else 4
        if i + width > n:
            break
        if c < 0x80:
            i += 1
        elif c < 0xE0:
            c = ((c & 0x1F) << 6) | (np.int32(data[i + 1]) & 0x3F)
            i += 2
        elif c < 0xF0:
            c = ((c & 0x0F) << 12) | ((np.int32(data[i + 1]) & 0x3F) << 6) | (np.int32(data[i + 2]) & 0x3F)
            i += 3
        else:
            c = (
                ((c & 0x07) << 18)
                | ((np.int32(data[i + 1]) & 0x3F) << 12)
                | ((np.int32(data[i + 2]) & 0x3F) << 6)
                | (np.int32(data[i + 3]) & 0x3F)
            )
            i += 4
        codes[j] = c
        j += 1
    return j if i == n else -1


def _decoded(data: np.ndarray, codes: np.ndarray) -> None:
    """:func:`_decode` into all of ``codes``, or a ValueError where the bytes are not UTF-8 of that many code
    points (the upload reader refuses such text first; this keeps any other caller's memory safe)."""
    if _decode(data, codes) != len(codes):
        raise ValueError("the answers' bytes are not UTF-8 text")


def code_points(texts: Sequence[str] | np.ndarray | pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The strings' code points, one after another, and each string's first position (strings + 1). Code points are
    ``uint8`` where every string is ASCII, else ``int32``; the array is writable. An Arrow column is read from its
    buffers where it lies (no Python string is made; a null reads as ""); anything else as Python strings."""
    if isinstance(texts, (pa.Array, pa.ChunkedArray)):
        return _arrow_code_points(texts)
    strings = texts.tolist() if isinstance(texts, np.ndarray) else list(texts)
    try:  # Arrow writes the strings' UTF-8 in one pass, faster than joining and measuring them here
        return _arrow_code_points(pa.array(strings, pa.large_string()))
    except (pa.ArrowException, UnicodeError):  # a lone surrogate, which Python's strings may hold: by hand
        pass
    offsets = np.zeros(len(strings) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, strings), dtype=np.int64, count=len(strings)), out=offsets[1:])
    data = "".join(strings).encode("utf-8", "surrogatepass")
    if len(data) == offsets[-1]:  # ASCII: a byte a character
        codes = pooled_empty(len(data), np.uint8)
        codes[:] = np.frombuffer(data, dtype=np.uint8)
        return codes, offsets
    codes = pooled_empty(int(offsets[-1]), np.int32)
    _decoded(np.frombuffer(data, dtype=np.uint8), codes)
    return codes, offsets


def _arrow_code_points(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`code_points` of an Arrow string column, from its offsets and UTF-8 bytes."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], pa.string())
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = column.cast(pa.string())
    if column.null_count:
        column = pc.fill_null(column, "")
    count = len(column)
    if not count:
        return pooled_empty(0, np.uint8), np.zeros(1, dtype=np.int64)
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    _, offset_buffer, data_buffer = column.buffers()
    byte_offsets = np.frombuffer(offset_buffer, dtype=width)[column.offset : column.offset + count + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    lo, hi = int(byte_offsets[0]), int(byte_offsets[-1])
    data = data[lo:hi]
    if not len(data) or int(data.max()) < 0x80:  # ASCII: a byte a character
        codes = pooled_empty(len(data), np.uint8)
        codes[:] = data
        return codes, byte_offsets.astype(np.int64) - lo
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(pc.utf8_length(column).to_numpy(zero_copy_only=False), out=offsets[1:])
    codes = pooled_empty(int(offsets[-1]), np.int32)
    _decoded(data, codes)
    return codes, offsets


_NO_WHITE = np.array([-1], dtype=np.int32)


def normal_forms(
    texts: Sequence[str] | np.ndarray | pa.Array | pa.ChunkedArray,
    mode: int,
    exact: Callable[[str], list[str]] | None = None,
    white: np.ndarray = _NO_WHITE,
) -> Normal:
    """The normal form of every string under ``mode`` (Python strings, or an Arrow string column read where it lies);
    a string the rules might misread takes ``exact(string)``'s words (once per distinct string). ``white``: the
    sorted code points CHARACTERS drops."""
    chars, offsets = code_points(texts)
    count = len(offsets) - 1
    length = pooled_empty(count, np.int64)  # every string's is written
    items = pooled_empty(count, np.int64)
    odd = pooled_empty(count, np.bool_)
    odd[:] = False
    white = np.asarray(white, dtype=np.int32)
    classes = CLASSES[mode]

    def work(strings: slice) -> None:
        _normalise(chars, offsets, mode, classes, white, strings.start, strings.stop, chars, length, items, odd)

    over_slices(work, count, min_rows=_SLICE_ROWS)
    start = offsets[:-1].copy()
    flagged = np.flatnonzero(odd)
    if len(flagged):
        if exact is None:
            raise ValueError("strings the compiled rules cannot read need the library's tokenizer")
        done: dict[str, list[str]] = {}
        originals = _strings_at(texts, flagged)
        words = [done.setdefault(text, exact(text)) for text in originals]
        extra, extra_offsets = code_points([" ".join(found) for found in words])
        start[flagged] = len(chars) + extra_offsets[:-1]
        length[flagged] = np.diff(extra_offsets)
        items[flagged] = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        chars = np.concatenate([chars, extra])  # int32 if either is
    return Normal(chars, start, length, items)


def _strings_at(texts, positions: np.ndarray) -> list[str]:
    """The Python strings at ``positions`` of a sequence or an Arrow column (a null as "")."""
    if isinstance(texts, (pa.Array, pa.ChunkedArray)):
        return ["" if text is None else text for text in texts.take(pa.array(positions)).to_pylist()]
    return [texts[int(i)] for i in positions]


def _alike(answers: Normal, references: Normal) -> tuple[Normal, Normal]:
    """The two sides with characters of one type (a compiled loop reads both as one): ``int32`` if either is."""
    if answers.chars.dtype == references.chars.dtype:
        return answers, references
    return answers._replace(chars=answers.chars.astype(np.int32)), references._replace(
        chars=references.chars.astype(np.int32)
    )


@numba.njit(inline="always")
def _same(x, a, y, b, length):  # pragma: no cover (compiled)
    """Whether x[a:a + length] and y[b:b + length] hold the same characters."""
    for j in range(length):
        if x[a + j] != y[b + j]:
            return False
    return True


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _equal(chars, start, length, ref_chars, ref_start, ref_length, starts, first, last, equal):  # pragma: no cover
    for r in range(first, last):
        a, size = start[r], length[r]
        for p in range(starts[r], starts[r + 1]):
            equal[p] = ref_length[p] == size and _same(chars, a, ref_chars, ref_start[p], size)


def equal_pairs(answers: Normal, references: Normal, starts: np.ndarray) -> np.ndarray:
    """Each (row, reference) pair's flag: True where the row's answer and the reference have the same normal form.
    Row r's references are ``references``' strings ``starts[r]`` up to ``starts[r + 1]``."""
    answers, references = _alike(answers, references)
    equal = pooled_empty(int(starts[-1]), np.bool_)  # every pair's is written

    def work(rows: slice) -> None:
        _equal(*answers[:3], *references[:3], starts, rows.start, rows.stop, equal)

    over_slices(work, len(starts) - 1, min_rows=_SLICE_ROWS)
    return equal


@numba.njit(inline="always")
def _split(chars, a, size, words, at, item_hash, item_start, item_size):  # pragma: no cover (compiled)
    """A normal form's items (words between single spaces, or characters) written from ``at`` on: their hashes,
    starts (in ``chars``) and sizes; how many there are."""
    count = 0
    if not words:
        for i in range(size):
            item_hash[at + i], item_start[at + i], item_size[at + i] = np.uint64(chars[a + i]), a + i, 1
        return size
    if size == 0:
        return 0
    h = _SEED
    word = a
    for i in range(a, a + size + 1):
        if i == a + size or chars[i] == SPACE:
            item_hash[at + count], item_start[at + count], item_size[at + count] = _mix(h, i - word), word, i - word
            count += 1
            h = _SEED
            word = i + 1
        else:
            h = h * _STEP + np.uint64(chars[i])
    return count


@numba.njit(inline="always")
def _same_items(chars, ref_chars, answer_items, item_hash, item_start, item_size, i, j, k):  # pragma: no cover
    """Whether the k items from i on (the answer's) and those from j on are the same, item by item; items below
    ``answer_items`` are the answer's (in ``chars``), the others a reference's (in ``ref_chars``)."""
    for m in range(k):
        if item_hash[i + m] != item_hash[j + m] or item_size[i + m] != item_size[j + m]:
            return False
        other = chars if j + m < answer_items else ref_chars
        if not _same(chars, item_start[i + m], other, item_start[j + m], item_size[i + m]):
            return False
    return True


@numba.njit(inline="always")
def _extended(rolling, item_hash, i, k, mask):  # pragma: no cover (compiled)
    """The hash of the k-gram from item i, from the (k-1)-gram's kept in ``rolling[i]`` (and kept there in its
    place), and its first slot in a table of ``mask + 1``."""
    h = _mix(rolling[i], item_hash[i + k - 1])
    rolling[i] = h
    return h, np.int64(h & np.uint64(mask))


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _overlaps(
    chars,
    start,
    length,
    answer_items,
    ref_chars,
    ref_start,
    ref_length,
    words,
    starts,
    order,
    first,
    last,
    pairs,
    matched,
    clipped,
):  # pragma: no cover (compiled)
    """Rows ``first`` up to ``last``: see :func:`overlap_counts` (``pairs``: whether ``matched`` is wanted).

    One order at a time, a row's answer n-grams go into a small hash table (compared item by item where hashes
    agree) and each reference's are looked up in it. A reference with no n-gram of some order in common has none of
    a higher order in common either (each holds one of the lower order), so it is left there; a reference whose
    normal form is the answer's shares all of them, so it is not looked at. (ASCII characters on both sides go to
    :func:`_packed_matches` instead.)
    """
    longest_answer, most_ref_items, most_refs = 1, 1, 1
    for r in range(first, last):
        longest_answer = max(longest_answer, length[r] + 1)
        total = 0
        for p in range(starts[r], starts[r + 1]):
            total += ref_length[p] + 1
        most_ref_items = max(most_ref_items, total)
        most_refs = max(most_refs, starts[r + 1] - starts[r])
    capacity = 16
    while capacity < 2 * longest_answer:
        capacity *= 2
    mask = capacity - 1
    where = np.full(capacity, _MISSING, dtype=np.int64)  # the slot's n-gram: its first item among the answer's
    hashes = np.zeros(capacity, dtype=np.uint64)
    in_answer = np.zeros(capacity, dtype=np.int32)
    in_this_ref = np.zeros(capacity, dtype=np.int32)
    most_in_a_ref = np.zeros(capacity, dtype=np.int32)
    used = np.empty(capacity, dtype=np.int64)
    items = longest_answer + most_ref_items  # the answer's items, then every reference's
    item_hash, item_start, item_size = np.empty(items, np.uint64), np.empty(items, np.int64), np.empty(items, np.int64)
    rolling = np.empty(items, dtype=np.uint64)  # each item's hash of the n-gram of the current order it begins
    ref_first = np.empty(most_refs + 1, dtype=np.int64)
    alive = np.empty(most_refs, dtype=np.bool_)
    for r in range(first, last):
        if not pairs:  # only the clipped counts: an answer that is one of its references is clipped by nothing
            answered = False
            for p in range(starts[r], starts[r + 1]):
                if ref_length[p] == length[r] and _same(chars, start[r], ref_chars, ref_start[p], length[r]):
                    answered = True
            if answered:
                for k in range(1, order + 1):
                    clipped[r, k - 1] = max(answer_items[r] - k + 1, 0)
                continue
        count = _split(chars, start[r], length[r], words, 0, item_hash, item_start, item_size)
        refs = starts[r + 1] - starts[r]
        at = count
        identical = False
        for q in range(refs):
            p = starts[r] + q
            ref_first[q] = at
            alive[q] = False
            if ref_length[p] == length[r] and _same(chars, start[r], ref_chars, ref_start[p], length[r]):
                identical = True
                for k in range(1, order + 1):
                    if pairs:
                        matched[p, k - 1] = max(count - k + 1, 0)
            else:
                alive[q] = True
                at += _split(ref_chars, ref_start[p], ref_length[p], words, at, item_hash, item_start, item_size)
        ref_first[refs] = at
        if identical:  # every answer n-gram is in that reference as often: clipped by nothing
            for k in range(1, order + 1):
                clipped[r, k - 1] = max(count - k + 1, 0)
        for i in range(at):
            rolling[i] = _SEED
        for k in range(1, order + 1):
            searched = False
            for q in range(refs):
                searched |= alive[q]
            if not searched or count - k + 1 <= 0:
                break
            filled = 0
            for i in range(count - k + 1):
                h, slot = _extended(rolling, item_hash, i, k, mask)
                while True:
                    there = where[slot]
                    if there == _MISSING:
                        where[slot], hashes[slot], in_answer[slot] = i, h, 1
                        used[filled] = slot
                        filled += 1
                        break
                    if hashes[slot] == h and _same_items(
                        chars, ref_chars, count, item_hash, item_start, item_size, there, i, k
                    ):
                        in_answer[slot] += 1
                        break
                    slot = (slot + 1) & mask
            for q in range(refs):
                if not alive[q]:
                    continue
                found = 0
                for i in range(ref_first[q], ref_first[q + 1] - k + 1):
                    h, slot = _extended(rolling, item_hash, i, k, mask)
                    while True:
                        there = where[slot]
                        if there == _MISSING:
                            break
                        if hashes[slot] == h and _same_items(
                            chars, ref_chars, count, item_hash, item_start, item_size, there, i, k
                        ):
                            if in_this_ref[slot] < in_answer[slot]:
                                found += 1
                            in_this_ref[slot] += 1
                            break
                        slot = (slot + 1) & mask
                if pairs:
                    matched[starts[r] + q, k - 1] = found
                alive[q] = found > 0
                for u in range(filled):
                    slot = used[u]
                    most_in_a_ref[slot] = max(most_in_a_ref[slot], in_this_ref[slot])
                    in_this_ref[slot] = 0
            for u in range(filled):
                slot = used[u]
                if not identical:
                    clipped[r, k - 1] += min(in_answer[slot], most_in_a_ref[slot])
                where[slot] = _MISSING
                most_in_a_ref[slot] = 0


def _packed(answers: Normal, references: Normal, order: int) -> bool:
    """Whether both sides are ASCII characters, so an n-gram of ``order`` is one exact key of seven bits a character."""
    return answers.chars.dtype == np.uint8 and references.chars.dtype == np.uint8 and 7 * order <= 63


def overlap_counts(
    answers: Normal, references: Normal, starts: np.ndarray, order: int, words: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Each (row, reference) pair's count of shared n-grams of every order up to ``order`` (each n-gram counted as
    often as the side with fewer of it has it), (pairs, order); and each row's answer n-grams clipped by their
    largest count in any one reference (BLEU's matches), (rows, order). Items are words (``words``) or characters;
    row r's references are ``references``' strings ``starts[r]`` up to ``starts[r + 1]``."""
    return _overlap_counts(answers, references, starts, order, words, pairs=True)


def _overlap_counts(
    answers: Normal, references: Normal, starts: np.ndarray, order: int, words: bool, *, pairs: bool
) -> tuple[np.ndarray, np.ndarray]:
    n = len(starts) - 1
    matched = np.zeros((int(starts[-1]) if pairs else 0, order), dtype=np.int64)
    clipped = np.zeros((n, order), dtype=np.int64)
    answers, references = _alike(answers, references)

    def work(rows: slice) -> None:
        _overlaps(*answers, *references[:3], words, starts, order, rows.start, rows.stop, pairs, matched, clipped)

    over_slices(work, n, min_rows=_SLICE_ROWS)
    return matched, clipped


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _bleu_fill(items, ref_items, starts, clipped, order, first, last, out):  # pragma: no cover (compiled)
    for r in range(first, last):
        hyp = items[r]
        closest, gap = 0, -1
        for p in range(starts[r], starts[r + 1]):
            ref = ref_items[p]
            distance = abs(hyp - ref)
            if gap < 0 or distance < gap or (distance == gap and ref < closest):
                closest, gap = ref, distance
        out[r, 0] = hyp
        out[r, 1] = closest
        for k in range(order):
            out[r, 2 + k] = clipped[r, k]
            out[r, 2 + order + k] = max(hyp - k, 0)


def bleu_rows(answers: Normal, references: Normal, starts: np.ndarray, order: int) -> np.ndarray:
    """sacrebleu's BLEU statistics of every row (rows, 2 + 2 * order): the answer's words, the closest reference's
    (the least distance in words, then the shorter), the answer's n-grams of each order clipped by their largest
    count in any one reference, and its n-grams of each order; items are words."""
    n = len(starts) - 1
    clipped = _overlap_counts(answers, references, starts, order, words=True, pairs=False)[1]
    out = pooled_empty((n, 2 + 2 * order))  # every row's is written

    def work(rows: slice) -> None:
        _bleu_fill(answers.items, references.items, starts, clipped, order, rows.start, rows.stop, out)

    over_slices(work, n, min_rows=_SLICE_ROWS)
    return out


@numba.njit(inline="always")
def _extend(keys, chars, a, lo, rolled, hi, k):  # pragma: no cover (compiled)
    """The keys of the (k + 1)-grams at positions lo..hi - 1: from rolled on, each k-gram's key (kept there) extended
    by one character; below it, positions whose key is made from their characters anew."""
    for i in range(lo, min(rolled, hi)):
        key = np.uint64(0)
        for t in range(k + 1):
            key = (key << np.uint64(7)) | np.uint64(chars[a + i + t])
        keys[i] = key
    for i in range(max(rolled, lo), hi):
        keys[i] = (keys[i] << np.uint64(7)) | np.uint64(chars[a + i + k])


@numba.njit(inline="always")
def _take_direct(table, answer_keys, answer_lo, answer_hi, ref_keys, ref_lo, ref_hi):  # pragma: no cover (compiled)
    """The answer's keys counted in ``table`` (a counter for every possible key), then each of the reference's keys
    with a count left takes one away: how many were taken. The table is left at 0."""
    for i in range(answer_lo, answer_hi):
        table[np.int64(answer_keys[i])] += 1
    found = 0
    for j in range(ref_lo, ref_hi):
        left = table[np.int64(ref_keys[j])]
        hit = 1 if left > 0 else 0
        table[np.int64(ref_keys[j])] = left - hit
        found += hit
    for i in range(answer_lo, answer_hi):
        table[np.int64(answer_keys[i])] = 0
    return found


_ONE = np.uint64(1)
SHORT = 64  # answers up to this many characters: each character's positions in it are one 64-bit word


@numba.njit(inline="always")
def _bit_matches(positions, masks, ref_chars, b, ref_size, order, matched):  # pragma: no cover (compiled)
    """One pair's shared n-grams of every order (into ``matched``, one row of counts), for an answer of at most
    :data:`SHORT` characters whose every character's positions in it are a bit set in ``positions``.

    ``masks[j]`` starts as the answer positions holding the reference's character j; kept as ``masks[j] &
    (masks[j + 1] >> 1)``, it is those where the answer's n-gram one character longer equals the reference's at
    j. Those positions hold the same n-gram as one another, so the reference's n-gram at j is shared while one of
    them is still unspent: each takes the lowest unspent, and the matches are the n-grams that found one (the
    multiset intersection, without a key or a table per order)."""
    for j in range(ref_size):
        masks[j] = positions[ref_chars[b + j]]
    for k in range(order):
        if ref_size - k <= 0:
            break
        unspent = ~np.uint64(0)
        found = 0
        for j in range(ref_size - k):
            at = masks[j] & (masks[j + 1] >> _ONE) if k else masks[j]
            masks[j] = at
            hit = at & unspent
            unspent ^= hit & (~hit + _ONE)  # the lowest position that holds it, spent
            found += hit != 0
        matched[k] = found
        if found == 0:
            break


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _packed_matches(
    chars, start, length, ref_chars, ref_start, ref_length, starts, order, first, last, matched, base
):  # pragma: no cover (compiled)
    """Rows ``first`` up to ``last`` of ASCII character n-grams: each pair's shared n-grams of every order (see
    :func:`character_matches`), pair p's in ``matched[p - base]``.

    A pair whose answer has at most :data:`SHORT` characters is counted by :func:`_bit_matches`. Longer answers'
    n-grams are keys: each its characters' seven bits each, one exact key. A prefix both texts begin with, and a
    suffix both end with, hold the same n-grams on both sides, so those are shared whole: only the n-grams that
    reach outside them are counted (the shared multiset of the rest, plus the prefix's and the suffix's own). For
    each pair and order, the answer's keys are counted in a table and each of the reference's keys found there with
    a count left takes one away: the matches are the counts taken. Orders 1 and 2 count in tables with a counter for
    every possible key (128 and 16,384); higher orders in a small hash table whose slots are in use only where they
    carry the current stamp, so no table is ever cleared. A pair with no n-gram of some order in common has none of
    a higher order in common; a pair whose answer is its reference shares all of them. Where a row's answer (not
    empty) is one of its references, that pair's segment chrF is 100 and no other pair's can be higher (a pair
    scoring 100 shares every n-gram, so its statistics are the same): the row's other pairs are passed over and
    count 0."""
    longest, most, most_refs = 1, 1, 1
    for r in range(first, last):
        longest = max(longest, length[r])
        most_refs = max(most_refs, starts[r + 1] - starts[r])
        for p in range(starts[r], starts[r + 1]):
            most = max(most, ref_length[p])
    bits = 4
    while (1 << bits) < 2 * longest:
        bits += 1
    shift, mask = np.uint64(64 - bits), (1 << bits) - 1
    keys = np.zeros(1 << bits, np.uint64)
    counts = np.zeros(1 << bits, np.int32)
    stamp = np.zeros(1 << bits, np.int64)
    ones = np.zeros(1 << 7, np.int32)
    twos = np.zeros(1 << 14, np.int32)
    answer_keys, ref_keys = np.empty(longest, np.uint64), np.empty(most, np.uint64)
    prefixes = np.empty(most_refs, np.int64)
    positions, masks = np.zeros(256, np.uint64), np.empty(most + 1, np.uint64)
    now = 0
    for r in range(first, last):
        a, size = start[r], length[r]
        placed = False  # the answer's characters' positions, set in ``positions`` (cleared when the row ends)
        answered = False  # a nonempty answer that is one of the row's references: chrF 100, the most there is
        for p in range(starts[r], starts[r + 1]):
            b, ref_size = ref_start[p], ref_length[p]
            shortest = min(size, ref_size)
            prefix = 0
            while prefix < shortest and chars[a + prefix] == ref_chars[b + prefix]:
                prefix += 1
            prefixes[p - starts[r]] = prefix
            answered |= size > 0 and prefix == size and ref_size == size
        for p in range(starts[r], starts[r + 1]):
            b, ref_size = ref_start[p], ref_length[p]
            prefix = prefixes[p - starts[r]]
            matched[p - base, :] = 0
            if prefix == size and prefix == ref_size:
                for k in range(order):
                    matched[p - base, k] = max(size - k, 0)
                continue
            if answered:
                continue  # passed over: the reference the answer is scores higher than any other can
            if size <= SHORT:
                if not placed:
                    for i in range(size):
                        positions[chars[a + i]] |= _ONE << np.uint64(i)
                    placed = True
                _bit_matches(positions, masks, ref_chars, b, ref_size, order, matched[p - base])
                continue
            shortest = min(size, ref_size)
            suffix = 0
            while suffix < shortest - prefix and chars[a + size - 1 - suffix] == ref_chars[b + ref_size - 1 - suffix]:
                suffix += 1
            for k in range(order):
                if size - k <= 0 or ref_size - k <= 0:
                    break
                # n-grams of k + 1 characters: those at i < prefix - k lie in the prefix, those from size - suffix on
                # in the suffix; only the others, which reach outside both, are counted. Each order's range of
                # those begins one position lower (a position entering it has its key made anew) and ends no later.
                shared = max(prefix - k, 0) + max(suffix - k, 0)
                lo, rolled = max(prefix - k, 0), (max(prefix - k + 1, 0) if k else 1 << 62)
                answer_hi, ref_hi = min(size - k, size - suffix), min(ref_size - k, ref_size - suffix)
                _extend(answer_keys, chars, a, lo, rolled, answer_hi, k)
                _extend(ref_keys, ref_chars, b, lo, rolled, ref_hi, k)
                if k < 2:
                    found = _take_direct(ones if k == 0 else twos, answer_keys, lo, answer_hi, ref_keys, lo, ref_hi)
                else:
                    now += 1
                    for i in range(lo, answer_hi):
                        key = answer_keys[i]
                        slot = np.int64((key * _MUL) >> shift)
                        while True:
                            if stamp[slot] != now:
                                stamp[slot], keys[slot], counts[slot] = now, key, 1
                                break
                            if keys[slot] == key:
                                counts[slot] += 1
                                break
                            slot = (slot + 1) & mask
                    found = 0
                    for j in range(lo, ref_hi):
                        key = ref_keys[j]
                        slot = np.int64((key * _MUL) >> shift)
                        while stamp[slot] == now:
                            if keys[slot] == key:
                                if counts[slot] > 0:
                                    counts[slot] -= 1
                                    found += 1
                                break
                            slot = (slot + 1) & mask
                matched[p - base, k] = shared + found
                if shared + found == 0:
                    break
        if placed:
            for i in range(size):
                positions[chars[a + i]] = 0


def character_matches(answers: Normal, references: Normal, starts: np.ndarray, order: int) -> np.ndarray:
    """Each (row, reference) pair's count of shared character n-grams of every order up to ``order`` (each counted
    as often as the side with fewer of it has it), (pairs, order), as chrF's choice of reference reads them:
    :func:`overlap_counts`' first result, by a loop made for ASCII text where both sides are (which counts 0 for
    the pairs it passes over, see :func:`_packed_matches`)."""
    if not _packed(answers, references, order):
        return overlap_counts(answers, references, starts, order, words=False)[0]
    matched = pooled_empty((int(starts[-1]), order), np.int64)  # every count is written

    def work(rows: slice) -> None:
        _packed_matches(*answers[:3], *references[:3], starts, order, rows.start, rows.stop, matched, 0)

    over_slices(work, len(starts) - 1, min_rows=_SLICE_ROWS)
    return matched


@numba.njit(inline="always")
def _word_at(chars, word, end):  # pragma: no cover (compiled)
    """The hash and width of the word of a normal form that begins at ``word`` (the form ends at ``end``): its
    characters stepped in with one multiply each, the whole mixed once."""
    h = _SEED
    i = word
    while i < end and chars[i] != SPACE:
        h = h * _STEP + np.uint64(chars[i])
        i += 1
    return _mix(h, i - word), i - word


SHORT_WORDS = 64  # answers of up to this many words: which of them are spent is one 64-bit word


@numba.njit(inline="always")
def _width_at(chars, word, end):  # pragma: no cover (compiled)
    """The width of the word of a normal form that begins at ``word`` (the form ends at ``end``)."""
    i = word
    while i < end and chars[i] != SPACE:
        i += 1
    return i - word


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _word_f1(
    chars, start, length, items, ref_chars, ref_start, ref_length, ref_items, starts, best_only, first, last, f1
):  # pragma: no cover (compiled)
    """Rows ``first`` up to ``last``: each pair's token F1 (see :func:`token_f1_pairs`).

    A row's answer words are found once. Against each reference, each of the reference's words takes the first
    unspent answer word equal to it (widths, then characters, compared: short texts need no hash): the matches are
    the words taken. An answer of more than :data:`SHORT_WORDS` words goes into a small table with its words'
    counts instead (a slot is in use only where it carries the current stamp, so no table is ever cleared), and each
    reference word found there takes one count away. Only word lookups need a hash there, not n-grams of words, so a
    word's characters are stepped into it with one multiply each and mixed once at its end. With ``best_only``,
    where a row's answer (with a word) is one of its references, that pair's F1 is 1, the most there is: the row's
    other pairs are passed over and count 0."""
    most, longest, most_refs = 1, 1, 1
    for r in range(first, last):
        most = max(most, items[r])
        longest = max(longest, length[r])
        most_refs = max(most_refs, starts[r + 1] - starts[r])
    bits = 4
    while (1 << bits) < 2 * most:
        bits += 1
    mask = (1 << bits) - 1
    hashes = np.zeros(1 << bits, np.uint64)
    word_start = np.zeros(1 << bits, np.int64)
    word_size = np.zeros(1 << bits, np.int64)
    counts = np.zeros(1 << bits, np.int32)
    stamp = np.zeros(1 << bits, np.int64)
    answer_at = np.empty(longest + 1, np.int64)  # a row's answer words, in order (at most one a character)
    answer_width = np.empty(longest + 1, np.int64)
    identical = np.empty(most_refs, np.bool_)
    now = 0
    for r in range(first, last):
        a, size = start[r], length[r]
        answered = False  # an answer with a word that is one of the row's references: F1 1, the most there is
        for p in range(starts[r], starts[r + 1]):
            same = ref_length[p] == size and _same(chars, a, ref_chars, ref_start[p], size)
            identical[p - starts[r]] = same
            answered |= same and items[r] > 0 and best_only
        words = -1  # how many words the answer has, once they are found
        for p in range(starts[r], starts[r + 1]):
            b, ref_size = ref_start[p], ref_length[p]
            if items[r] == 0 or ref_items[p] == 0:  # SQuAD v2.0's rule: 1 if both are empty, else 0
                f1[p] = 1.0 if items[r] == ref_items[p] else 0.0
                continue
            if identical[p - starts[r]]:
                f1[p] = 1.0
                continue
            if answered:
                f1[p] = 0.0  # passed over: the reference the answer is gives the row's F1
                continue
            if words < 0:
                words = 0
                word = a
                while word <= a + size:
                    answer_at[words], answer_width[words] = word, _width_at(chars, word, a + size)
                    words += 1
                    word += answer_width[words - 1] + 1
            found = 0
            if words <= SHORT_WORDS:
                unspent = ~np.uint64(0)
                word = b
                while word <= b + ref_size:  # the reference's words, each taking the first unspent equal one
                    width = _width_at(ref_chars, word, b + ref_size)
                    for i in range(words):
                        if (
                            answer_width[i] == width
                            and (unspent >> np.uint64(i)) & _ONE
                            and _same(chars, answer_at[i], ref_chars, word, width)
                        ):
                            unspent ^= _ONE << np.uint64(i)
                            found += 1
                            break
                    word += width + 1
            else:
                now += 1
                for i in range(words):  # the answer's words, counted
                    h, width = _word_at(chars, answer_at[i], a + size)
                    slot = np.int64(h & np.uint64(mask))
                    while True:
                        if stamp[slot] != now:
                            stamp[slot], hashes[slot], word_start[slot], word_size[slot] = now, h, answer_at[i], width
                            counts[slot] = 1
                            break
                        if (
                            hashes[slot] == h
                            and word_size[slot] == width
                            and _same(chars, word_start[slot], chars, answer_at[i], width)
                        ):
                            counts[slot] += 1
                            break
                        slot = (slot + 1) & mask
                word = b
                while word <= b + ref_size:  # the reference's words, each taking a count left
                    h, width = _word_at(ref_chars, word, b + ref_size)
                    slot = np.int64(h & np.uint64(mask))
                    while stamp[slot] == now:
                        if (
                            hashes[slot] == h
                            and word_size[slot] == width
                            and _same(chars, word_start[slot], ref_chars, word, width)
                        ):
                            if counts[slot] > 0:
                                counts[slot] -= 1
                                found += 1
                            break
                        slot = (slot + 1) & mask
                    word += width + 1
            if found == 0:
                f1[p] = 0.0
                continue
            precision = 1.0 * found / items[r]
            recall = 1.0 * found / ref_items[p]
            f1[p] = (2 * precision * recall) / (precision + recall)


def token_f1_pairs(answers: Normal, references: Normal, starts: np.ndarray, *, best_only: bool = False) -> np.ndarray:
    """Each (row, reference) pair's token F1 (pairs,), SQuAD's: the words both share (each counted as often as the
    side with fewer of it has it) against each side's word count, with the same floating-point steps; where either
    side has no word, 1 if both have none, else 0. ``best_only``: only each row's best pair is read, so a row
    whose answer is one of its references has its other pairs passed over (they count 0, see :func:`_word_f1`);
    not where a pair's value may yet be replaced (numbers compared as numbers)."""
    answers, references = _alike(answers, references)
    f1 = pooled_empty(int(starts[-1]))  # every pair's is written

    def work(rows: slice) -> None:
        _word_f1(*answers, *references, starts, best_only, rows.start, rows.stop, f1)

    over_slices(work, len(starts) - 1, min_rows=_SLICE_ROWS)
    return f1


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _choose(length, ref_length, starts, matched, base, order, factor, first, last, chosen):  # pragma: no cover
    """Rows ``first`` up to ``last``: each one's pair whose segment chrF is highest, the first of equals, into
    ``chosen[r - first]`` (pair p's matches in ``matched[p - base]``). One loop over the rows: as a helper called
    per row, the same steps took twice as long."""
    for r in range(first, last):
        best_pair = starts[r]
        if starts[r + 1] - starts[r] > 1:
            hyp = length[r]
            best = -1.0
            for p in range(starts[r], starts[r + 1]):
                ref = ref_length[p]
                precision, recall, orders = 0.0, 0.0, 0.0
                for k in range(order):
                    hyp_k, ref_k = max(hyp - k, 0), max(ref - k, 0)
                    if hyp_k > 0 and ref_k > 0:
                        precision = precision + matched[p - base, k] / hyp_k
                        recall = recall + matched[p - base, k] / ref_k
                        orders += 1.0
                if orders > 0:
                    precision, recall = precision / orders, recall / orders
                score = 0.0
                if precision + recall != 0:
                    score = (1 + factor) * precision * recall
                    score = 100 * (score / (factor * precision + recall))
                if score > best:
                    best, best_pair = score, p
        chosen[r - first] = best_pair


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _chrf_rows(length, ref_length, starts, matched, order, beta, first, last, out):  # pragma: no cover (compiled)
    chosen = np.empty(last - first, np.int64)
    _choose(length, ref_length, starts, matched, 0, order, np.float64(beta) ** 2, first, last, chosen)
    for r in range(first, last):
        hyp, pair = length[r], chosen[r - first]
        ref = ref_length[pair]
        for k in range(order):
            ref_k = max(ref - k, 0)
            out[r, 3 * k] = max(hyp - k, 0) if ref_k > 0 else 0
            out[r, 3 * k + 1] = ref_k
            out[r, 3 * k + 2] = matched[pair, k]


def chrf_rows(answers: Normal, references: Normal, starts: np.ndarray, order: int, beta: float) -> np.ndarray:
    """sacrebleu's chrF statistics of every row (rows, 3 * order): [answer, reference, shared] character n-grams per
    order, those of the reference whose segment chrF (sacrebleu's ``_compute_f_score``, the same floating-point
    steps in the same order) is highest, the first of equals."""
    n = len(starts) - 1
    matched = character_matches(answers, references, starts, order)
    out = pooled_empty((n, 3 * order))

    def work(rows: slice) -> None:
        _chrf_rows(answers.items, references.items, starts, matched, order, beta, rows.start, rows.stop, out)

    over_slices(work, n, min_rows=_SLICE_ROWS)
    return out


_SUMMED_ROWS = 4096  # rows whose pairs' matches are counted, then summed, while they are in the core's cache


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _chrf_sums(
    chars, start, length, ref_chars, ref_start, ref_length, starts, order, beta, first, last, block, sums
):  # pragma: no cover (compiled)
    """Rows ``first`` up to ``last``: each one's chrF statistics (as :func:`_chrf_rows` writes them) added to
    ``sums[block[r]]``, a few thousand rows at a time, counted by :func:`_packed_matches`."""
    factor = np.float64(beta) ** 2
    chosen = np.empty(_SUMMED_ROWS, np.int64)
    for head in range(first, last, _SUMMED_ROWS):
        tail = min(head + _SUMMED_ROWS, last)
        base = starts[head]
        matched = np.empty((starts[tail] - base, order), np.int64)
        _packed_matches(
            chars, start, length, ref_chars, ref_start, ref_length, starts, order, head, tail, matched, base
        )
        _choose(length, ref_length, starts, matched, base, order, factor, head, tail, chosen)
        for r in range(head, tail):
            hyp, pair, into = length[r], chosen[r - head], block[r]
            ref = ref_length[pair]
            for k in range(order):
                ref_k = max(ref - k, 0)
                sums[into, 3 * k] += max(hyp - k, 0) if ref_k > 0 else 0
                sums[into, 3 * k + 1] += ref_k
                sums[into, 3 * k + 2] += matched[pair - base, k]


def chrf_block_sums(
    answers: Normal, references: Normal, starts: np.ndarray, order: int, beta: float, block: np.ndarray, blocks: int
) -> np.ndarray | None:
    """The sums over each of ``blocks`` blocks of rows (row r's being ``block[r]``) of :func:`chrf_rows`' statistics,
    (blocks, 3 * order), without writing any row's: counted a few thousand rows at a time, each core summing its
    rows into sums of its own (whole numbers, so their total is exact in any order). None where the text is not all
    ASCII (then the rows' statistics are summed instead)."""
    if not _packed(answers, references, order):
        return None

    def work(rows: slice) -> np.ndarray:
        sums = np.zeros((blocks, 3 * order))
        _chrf_sums(*answers[:3], *references[:3], starts, order, beta, rows.start, rows.stop, block, sums)
        return sums

    return np.sum(over_slices(work, len(starts) - 1, min_rows=_SLICE_ROWS), axis=0)


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _row_best(values, starts, first, last, out):  # pragma: no cover (compiled)
    for r in range(first, last):
        best = values[starts[r]]
        for p in range(starts[r] + 1, starts[r + 1]):
            best = max(best, values[p])
        out[r, 0] = best


def best_of_rows(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each row's largest pair value (rows, 1), row r's pairs being ``starts[r]`` up to ``starts[r + 1]`` (at least
    one each): ``np.maximum.reduceat``'s, without its cost per row."""
    n = len(starts) - 1
    out = pooled_empty((n, 1))

    def work(rows: slice) -> None:
        _row_best(values, starts, rows.start, rows.stop, out)

    over_slices(work, n, min_rows=_SLICE_ROWS)
    return out


def warm() -> None:
    """Compile (or load from the disk cache) every loop here on a tiny input."""
    starts = np.array([0, 1], dtype=np.int64)
    for mode in (WORDS, SQUAD, WORDS_13A, CHARACTERS):
        for answer, reference in (("a b", "b\u00e9"), ("a b", "b c")):
            white = np.array([9, 32], dtype=np.int32)
            answers = normal_forms([answer], mode, str.split, white)
            references = normal_forms([reference], mode, str.split, white)
            equal_pairs(answers, references, starts)
            overlap_counts(answers, references, starts, 2, mode != CHARACTERS)
            best_of_rows(token_f1_pairs(answers, references, starts), starts)
            chrf_rows(answers, references, starts, 2, 2.0)
            chrf_block_sums(answers, references, starts, 2, 2.0, np.zeros(1, np.int32), 1)
            bleu_rows(answers, references, starts, 2)
