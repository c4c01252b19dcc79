"""Turn a task's tables into arrays a model can eat: images, float sequences, token ids or characters.

Everything a model learns from comes from train.csv; the test features are
transformed with statistics fitted on train only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from arena.bundles.loading import Task
from arena.bundles.splits import stratified_split

PAD = 0
UNKNOWN = 1
BOS = 2  # text answers: the decoder's first input
EOS = 3  # text answers: the end of an answer


@dataclass(frozen=True)
class InputSpec:
    """What a model needs to know about its input and output."""

    kind: str  # "image" (N, H, W, 1) | "sequence" (N, L, F) floats | "tokens" (N, L) ints | "text" (N, L) characters
    shape: tuple[int, ...]  # per-example shape
    n_outputs: int  # classes, or 1 for regression
    vocab_size: int = 0
    regression: bool = False
    target_length: int = 0  # text answers: characters written per answer, the end mark included


@dataclass
class Arrays:
    """Train/validation/test arrays for one task, plus how to turn outputs into predictions."""

    spec: InputSpec
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    test_ids: np.ndarray
    target_scale: tuple[float, float] = (0.0, 1.0)  # regression targets are standardised
    history: np.ndarray | None = None  # forecasting: the training series, to forecast from
    alphabet: tuple[str, ...] = ()  # text: the character of each id from 4 on (0-3: padding, unknown, start, end)
    val_references: list[tuple[str, ...]] = field(default_factory=list)  # text: each validation row's answers
    text_options: Any = None  # text: the task's [metrics] normalise, tolerance and stemming (its spec.text)

    def decode_text(self, ids: np.ndarray) -> list[str]:
        """Characters of each row of ids up to the first end mark (text answers)."""
        out = []
        for row in np.asarray(ids):
            chars = []
            for i in row:
                if i == EOS:
                    break
                if i > EOS:
                    chars.append(self.alphabet[i - 4])
            out.append("".join(chars))
        return out


def _tokens(texts: pd.Series, vocab: dict[str, int], length: int) -> np.ndarray:
    out = np.full((len(texts), length), PAD, dtype=np.int32)
    for row, text in enumerate(texts):
        ids = [vocab.get(token, 1) for token in text.split()][-length:]
        out[row, length - len(ids) :] = ids  # left-padded: recurrent models end on the last real token
    return out


def _features(task: Task, frame: pd.DataFrame) -> np.ndarray:
    return frame[task.feature_columns].to_numpy(dtype=np.float32)


def prepare(task: Task, *, val_fraction: float = 0.1, seed: int = 0, window: int = 24) -> Arrays:
    """Arrays for ``task`` with a validation split cut from train (stratified for classification)."""
    spec = task.spec
    train = task.train
    if spec.kind == "text":
        return _prepare_text(task, val_fraction, seed)
    if spec.modality == "series":
        return _prepare_series(task, window, val_fraction)
    classes = task.classes
    y = np.searchsorted(classes, train[spec.target].to_numpy()).astype(np.int32)
    is_val = stratified_split(y, len(y), val_fraction, seed + 1)
    if spec.modality == "tokens":
        column = task.feature_columns[0]
        vocabulary = sorted({t for text in train[column] for t in text.split()})
        vocab = {token: i + 2 for i, token in enumerate(vocabulary)}  # 0 = padding, 1 = unknown
        length = int(max(len(t.split()) for t in train[column]))
        x = _tokens(train[column], vocab, length)
        x_test = _tokens(task.test[column], vocab, length)
        input_spec = InputSpec("tokens", (length,), len(classes), vocab_size=len(vocab) + 2)
    else:
        x, x_test = _features(task, train), _features(task, task.test)
        mean, std = x[~is_val].mean(), x[~is_val].std() + 1e-6
        x, x_test = (x - mean) / std, (x_test - mean) / std
        if spec.modality == "image":
            shape = tuple(spec.shape) + (1,)
            input_spec = InputSpec("image", shape, len(classes))
        else:  # sequences and tabular rows: a sequence of one feature per step
            shape = (x.shape[1], 1)
            input_spec = InputSpec("sequence", shape, len(classes))
        x, x_test = x.reshape(-1, *shape), x_test.reshape(-1, *shape)
    return Arrays(
        input_spec, x[~is_val], y[~is_val], x[is_val], y[is_val], x_test, task.test[spec.id_column].to_numpy()
    )


def references(answer: object) -> tuple[str, ...]:
    """A row's accepted answers: the answer itself, or each of a JSON list of them; a model learns the first."""
    text = "" if answer is None else str(answer)
    if text.startswith("["):
        try:
            accepted = json.loads(text)
        except json.JSONDecodeError:
            return (text,)
        if isinstance(accepted, list) and accepted:
            return tuple(str(a) for a in accepted)
    return (text,)


def _characters(texts: list[str], table: dict[str, int], length: int, *, left: bool, end: bool) -> np.ndarray:
    out = np.full((len(texts), length), PAD, dtype=np.int32)
    for row, text in enumerate(texts):
        ids = [table.get(c, UNKNOWN) for c in text] + ([EOS] if end else [])
        ids = ids[-length:] if left else ids[:length]
        if left:  # inputs: left-padded, like token ids
            out[row, length - len(ids) :] = ids
        else:  # answers: written from the start, end mark, then padding
            out[row, : len(ids)] = ids
    return out


def _prepare_text(task: Task, val_fraction: float, seed: int) -> Arrays:
    """Characters in, characters out: one alphabet of the training inputs and answers, ids from 4 on."""
    spec = task.spec
    column = task.feature_columns[0]
    inputs = [str(t) for t in task.train[column]]
    accepted = [references(a) for a in task.train[spec.target]]
    answers = [a[0] for a in accepted]
    alphabet = tuple(sorted({c for text in inputs + answers for c in text}))
    table = {c: i + 4 for i, c in enumerate(alphabet)}
    test_inputs = [str(t) for t in task.test[column]]
    length = max(len(t) for t in inputs + test_inputs)  # test inputs are public: none is cut
    target_length = max(len(a) for a in answers) + 1
    x = _characters(inputs, table, length, left=True, end=False)
    y = _characters(answers, table, target_length, left=False, end=True)
    x_test = _characters(test_inputs, table, length, left=True, end=False)
    is_val = stratified_split(None, len(y), val_fraction, seed + 1)
    size = len(alphabet) + 4
    input_spec = InputSpec("text", (length,), size, vocab_size=size, target_length=target_length)
    return Arrays(
        input_spec,
        x[~is_val],
        y[~is_val],
        x[is_val],
        y[is_val],
        x_test,
        task.test[spec.id_column].to_numpy(),
        alphabet=alphabet,
        val_references=[a for a, v in zip(accepted, is_val, strict=True) if v],
        text_options=spec.text,
    )


def _prepare_series(task: Task, window: int, val_fraction: float) -> Arrays:
    """Windows of the training series -> next value; the last years of train validate.

    Test rows are forecast recursively from the end of the training series, so no
    test value is ever an input.
    """
    spec = task.spec
    series = task.train.sort_values(spec.id_column)[spec.target].to_numpy(dtype=np.float32)
    mean, std = float(series.mean()), float(series.std())
    z = (series - mean) / std
    x = np.stack([z[i : i + window] for i in range(len(z) - window)])[..., None]
    y = z[window:].astype(np.float32)
    n_val = max(1, int(round(len(y) * val_fraction)))
    test_ids = task.test.sort_values(spec.id_column)[spec.id_column].to_numpy()
    return Arrays(
        InputSpec("sequence", (window, 1), 1, regression=True),
        x[:-n_val],
        y[:-n_val],
        x[-n_val:],
        y[-n_val:],
        np.zeros((0, window, 1), np.float32),
        test_ids,
        (mean, std),
        history=z,
    )
