"""Turn a task's tables into arrays a model can eat: images, float sequences or token ids.

Everything a model learns from comes from train.csv; the test features are
transformed with statistics fitted on train only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from arena.bundles.loading import Task
from arena.bundles.splits import stratified_split

PAD = 0


@dataclass(frozen=True)
class InputSpec:
    """What a model needs to know about its input and output."""

    kind: str  # "image" (N, H, W, 1) | "sequence" (N, L, F) floats | "tokens" (N, L) ints
    shape: tuple[int, ...]  # per-example shape
    n_outputs: int  # classes, or 1 for regression
    vocab_size: int = 0
    regression: bool = False


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
