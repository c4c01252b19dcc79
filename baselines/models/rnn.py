"""RNN: a GRU (our fused layer) or an LSTM (Flax NNX cell), optionally bidirectional, with a linear head."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from ..data import InputSpec
from .common import SequenceInput, masked_mean, padding_mask
from .gru import GRU


class LSTM(nnx.Module):
    """``nnx.RNN`` over ``nnx.OptimizedLSTMCell``, called like :class:`GRU`."""

    def __init__(self, in_features: int, hidden: int, *, rngs: nnx.Rngs) -> None:
        self.hidden = hidden
        # rngs=False: the carry starts at zeros (given below), so no random stream is touched inside the jitted step.
        self.rnn = nnx.RNN(nnx.OptimizedLSTMCell(in_features, hidden, rngs=rngs), rngs=False)

    def __call__(self, x: jnp.ndarray, *, mask: jnp.ndarray | None = None, reverse: bool = False) -> jnp.ndarray:
        zeros = jnp.zeros((x.shape[0], self.hidden))
        return self.rnn(x, initial_carry=(zeros, zeros), reverse=reverse, keep_order=True)  # reads padding too


class RNN(nnx.Module):
    """Reads the whole sequence; the head sees the last output (inputs are left-padded) and the mean.

    Bidirectional: a second layer reads from the end; the head also sees its state after
    the first real token, and the mean of both directions' outputs.
    """

    def __init__(
        self,
        spec: InputSpec,
        *,
        cell: str = "gru",
        hidden: int = 128,
        features: int = 64,
        bidirectional: bool = False,
        rngs: nnx.Rngs,
    ) -> None:
        self.spec = spec
        self.input = SequenceInput(spec, features, rngs=rngs)
        layer = GRU if cell == "gru" else LSTM
        self.forward = layer(features, hidden, rngs=rngs)
        self.backward = layer(features, hidden, rngs=rngs) if bidirectional else None
        width = hidden * (2 if bidirectional else 1)
        self.norm = nnx.LayerNorm(2 * width, rngs=rngs)
        self.head = nnx.Linear(2 * width, spec.n_outputs, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        mask = padding_mask(self.spec, x)
        h = self.input(x)
        outputs = self.forward(h, mask=mask)
        ends = [outputs[:, -1]]  # the forward state after the last token
        if self.backward is not None:
            backward = self.backward(h, mask=mask, reverse=True)
            first = jnp.zeros(x.shape[0], jnp.int32) if mask is None else jnp.argmax(mask, axis=1)
            ends.append(backward[jnp.arange(x.shape[0]), first])  # the backward state after the first real token
            outputs = jnp.concatenate([outputs, backward], axis=-1)
        summary = jnp.concatenate([*ends, masked_mean(outputs, mask)], axis=-1)
        return self.head(self.norm(summary))
