"""Transformer encoder: pre-LayerNorm blocks, learned or sinusoidal positions, a classification head.

Float sequences go through a small convolutional tokenizer first: one scalar per
token gives attention too little to compare, and patches of the signal work far
better (the known fix for MNIST-1D).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..data import InputSpec
from .common import SequenceInput, masked_mean, padding_mask


def sinusoidal_positions(length: int, features: int) -> np.ndarray:
    positions = np.arange(length)[:, None]
    rates = np.exp(-np.log(10_000.0) * (np.arange(0, features, 2) / features))
    table = np.zeros((length, features), dtype=np.float32)
    table[:, 0::2] = np.sin(positions * rates)
    table[:, 1::2] = np.cos(positions * rates)
    return table


class Block(nnx.Module):
    """x + Attention(LN(x)); x + MLP(LN(x))."""

    def __init__(self, features: int, heads: int, *, rngs: nnx.Rngs) -> None:
        self.norm1 = nnx.LayerNorm(features, rngs=rngs)
        self.attention = nnx.MultiHeadAttention(heads, features, decode=False, rngs=rngs)
        self.norm2 = nnx.LayerNorm(features, rngs=rngs)
        self.up = nnx.Linear(features, 4 * features, rngs=rngs)
        self.down = nnx.Linear(4 * features, features, rngs=rngs)

    def __call__(self, x: jnp.ndarray, mask: jnp.ndarray | None) -> jnp.ndarray:
        attention_mask = None if mask is None else nnx.make_attention_mask(mask, mask)
        x = x + self.attention(self.norm1(x), mask=attention_mask)
        return x + self.down(jax.nn.gelu(self.up(self.norm2(x))))


class ConvTokenizer(nnx.Module):
    """Patches of a float sequence: two strided 1-D convolutions."""

    def __init__(self, in_features: int, features: int, *, rngs: nnx.Rngs) -> None:
        self.conv1 = nnx.Conv(in_features, features, (5,), rngs=rngs)
        self.conv2 = nnx.Conv(features, features, (3,), strides=(2,), rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        return self.conv2(jax.nn.gelu(self.conv1(x)))


class Transformer(nnx.Module):
    def __init__(
        self,
        spec: InputSpec,
        *,
        features: int = 64,
        heads: int = 4,
        layers: int = 3,
        positions: str = "learned",
        rngs: nnx.Rngs,
    ) -> None:
        self.spec = spec
        if spec.kind == "sequence":
            self.tokenize = ConvTokenizer(spec.shape[-1], features, rngs=rngs)
            length = (spec.shape[0] + 1) // 2
        else:
            self.tokenize = SequenceInput(spec, features, rngs=rngs)
            length = spec.shape[0]
        if positions == "learned":
            self.positions = nnx.Param(0.02 * jax.random.normal(rngs.params(), (length, features)))
        else:
            self.positions = nnx.Variable(jnp.asarray(sinusoidal_positions(length, features)))
        self.blocks = nnx.List([Block(features, heads, rngs=rngs) for _ in range(layers)])
        self.norm = nnx.LayerNorm(features, rngs=rngs)
        self.head = nnx.Linear(features, spec.n_outputs, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        mask = padding_mask(self.spec, x)
        h = self.tokenize(x)
        if mask is None:
            h = h + self.positions[...][: h.shape[1]]
        else:  # counted from the first real token, so the amount of left padding changes nothing
            h = h + self.positions[...][jnp.maximum(jnp.cumsum(mask, axis=1) - 1, 0)]
        for block in self.blocks:
            h = block(h, mask)
        return self.head(masked_mean(self.norm(h), mask))
