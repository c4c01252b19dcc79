"""CNN: 2-D convolutions for images, 1-D convolutions for sequences and token embeddings."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from ..data import InputSpec
from .common import SequenceInput


class CNN(nnx.Module):
    """Three conv blocks (conv, GELU; pooling after the first two), global pooling, a linear head."""

    def __init__(self, spec: InputSpec, *, channels: tuple[int, ...] = (32, 64, 128), rngs: nnx.Rngs) -> None:
        self.two_d = spec.kind == "image"
        if self.two_d:
            in_channels, kernel = spec.shape[-1], (3, 3)
            self.input = None
        else:
            in_channels, kernel = 32, (5,)
            self.input = SequenceInput(spec, in_channels, rngs=rngs)
        sizes = (in_channels, *channels)
        self.convs = nnx.List([nnx.Conv(a, b, kernel, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        self.head = nnx.Linear(channels[-1], spec.n_outputs, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        h = x if self.input is None else self.input(x)
        window = (2, 2) if self.two_d else (2,)
        for i, conv in enumerate(self.convs):
            h = jax.nn.gelu(conv(h))
            if i < len(self.convs) - 1 and min(h.shape[1:-1]) >= 4:
                h = nnx.max_pool(h, window, strides=window)
        pooled = h.mean(axis=tuple(range(1, h.ndim - 1)))
        return self.head(pooled)
