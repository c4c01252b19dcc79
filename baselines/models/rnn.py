"""RNN: a GRU or LSTM (Flax NNX cells), optionally bidirectional, with a linear head."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from ..data import InputSpec
from .common import SequenceInput


class RNN(nnx.Module):
    """Reads the whole sequence; the head sees the last output (inputs are left-padded) and the mean."""

    def __init__(self, spec: InputSpec, *, cell: str = "gru", hidden: int = 128, features: int = 64,
                 bidirectional: bool = False, rngs: nnx.Rngs) -> None:
        self.input = SequenceInput(spec, features, rngs=rngs)

        def make_rnn(reverse: bool = False) -> nnx.RNN:
            cell_cls = nnx.GRUCell if cell == "gru" else nnx.OptimizedLSTMCell
            # rngs=False: the carry starts at zeros (given below), so no random stream is touched
            # inside the jitted step.
            return nnx.RNN(cell_cls(features, hidden, rngs=rngs), reverse=reverse, keep_order=True, rngs=False)

        self.rnn = nnx.Bidirectional(make_rnn(), make_rnn(reverse=True), rngs=False) if bidirectional else make_rnn()
        self.hidden, self.lstm, self.bidirectional = hidden, cell == "lstm", bidirectional
        width = hidden * (2 if bidirectional else 1)
        self.norm = nnx.LayerNorm(2 * width, rngs=rngs)
        self.head = nnx.Linear(2 * width, spec.n_outputs, rngs=rngs)

    def _zero_carry(self, batch: int):
        zeros = jnp.zeros((batch, self.hidden))
        carry = (zeros, zeros) if self.lstm else zeros
        return (carry, carry) if self.bidirectional else carry

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        outputs = self.rnn(self.input(x), initial_carry=self._zero_carry(x.shape[0]))
        summary = jnp.concatenate([outputs[:, -1], outputs.mean(axis=1)], axis=-1)
        return self.head(self.norm(summary))
