"""Pieces shared by the models: turning any input into a (batch, steps, features) sequence."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from ..data import InputSpec


class SequenceInput(nnx.Module):
    """Embeds token ids, or projects float features, to ``features`` per step.

    Images become sequences of rows, so every model can read every task.
    """

    def __init__(self, spec: InputSpec, features: int, *, rngs: nnx.Rngs) -> None:
        self.tokens = spec.kind == "tokens"
        self.image = spec.kind == "image"
        if self.tokens:
            self.embed = nnx.Embed(spec.vocab_size, features, rngs=rngs)
        else:
            per_step = spec.shape[1] * spec.shape[2] if self.image else spec.shape[-1]
            self.project = nnx.Linear(per_step, features, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        if self.tokens:
            return self.embed(x)
        if self.image:
            x = x.reshape(x.shape[0], x.shape[1], -1)  # (batch, rows, columns * channels)
        return self.project(x)


def padding_mask(spec: InputSpec, x: jnp.ndarray) -> jnp.ndarray | None:
    """True where a real token stands (token inputs only; float inputs have no padding)."""
    return x != 0 if spec.kind == "tokens" else None


def masked_mean(h: jnp.ndarray, mask: jnp.ndarray | None) -> jnp.ndarray:
    if mask is None:
        return h.mean(axis=1)
    weights = mask[..., None].astype(h.dtype)
    return (h * weights).sum(axis=1) / jnp.maximum(weights.sum(axis=1), 1.0)
