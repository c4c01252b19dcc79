"""MLP: for tabular rows, short windows of a series, or any flattened input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..data import PAD, InputSpec


class MLP(nnx.Module):
    def __init__(self, spec: InputSpec, *, hidden: tuple[int, ...] = (256, 128), rngs: nnx.Rngs) -> None:
        self.tokens = spec.kind == "tokens"
        self.length = spec.shape[0]
        if self.tokens:
            self.embed = nnx.Embed(spec.vocab_size, 32, rngs=rngs)
            width = spec.shape[0] * 32
        else:
            width = int(np.prod(spec.shape))
        sizes = (width, *hidden)
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        self.head = nnx.Linear(hidden[-1], spec.n_outputs, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        if self.tokens and x.shape[1] < self.length:
            # A batch cut to its length bucket: rows are left-padded, so padding back restores the exact full row
            # (the flattened layer needs every position).
            x = jnp.pad(x, ((0, 0), (self.length - x.shape[1], 0)), constant_values=PAD)
        h = self.embed(x) if self.tokens else x
        h = h.reshape(h.shape[0], -1)
        for layer in self.layers:
            h = jax.nn.gelu(layer(h))
        return self.head(h)
