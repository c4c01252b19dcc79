"""A GRU layer laid out like PyTorch's CPU GRU: input projections of all steps in one product, a scan over the rest.

``nnx.RNN(nnx.GRUCell)`` computes ``x_t @ W_ih`` inside the scan, one small product
per step, and its gradient adds ``h_{t-1}^T dgates_t`` into ``dW_hh`` at every step
of the backward scan. Here the input projection of the whole sequence is one
matrix product before the scan, the forward scan does only ``h @ W_hh`` (the
three gates fused into one matrix), and a hand-written backward pass (a custom
VJP) scans only the chain through ``h``: both weight gradients become one large
product each after the scan. The parameters and the arithmetic are those of
``nnx.GRUCell`` (checked numerically in the tests).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

GATE_SHUT = 1e4  # added to the update gate's input on padding: sigmoid gives exactly 1.0 in float32


def gru_cell(w_hh: jnp.ndarray, h: jnp.ndarray, gi: tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]):
    """One step from the precomputed input projections ``gi`` = (r, z, n parts, each (batch, hidden)), as nnx.GRUCell."""
    gh_r, gh_z, gh_n = jnp.split(h @ w_hh, 3, axis=-1)
    r = jax.nn.sigmoid(gi[0] + gh_r)
    z = jax.nn.sigmoid(gi[1] + gh_z)
    n = jnp.tanh(gi[2] + r * gh_n)
    return n + z * (h - n), (r, z, n, gh_n)  # (1 - z) * n + z * h


@jax.custom_vjp
def gru_scan(gi: tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray], w_hh: jnp.ndarray, h0: jnp.ndarray) -> jnp.ndarray:
    """Hidden states of every step, (time, batch, hidden), from the r, z, n input projections (time, batch, hidden).

    The three gates' projections come as separate arrays: slicing one (batch, 3 * hidden)
    row per step inside the scan made the loop twice as slow on XLA's CPU backend.
    """

    def step(h, g):
        h, _ = gru_cell(w_hh, h, g)
        return h, h

    return jax.lax.scan(step, h0, gi)[1]


def _forward(gi, w_hh, h0):
    def step(h, g):
        new, saved = gru_cell(w_hh, h, g)
        return new, (new, *saved)

    _, (out, r, z, n, gh_n) = jax.lax.scan(step, h0, gi)
    previous = jnp.concatenate([h0[None], out[:-1]])
    return out, (w_hh, previous, r, z, n, gh_n)


def _backward(saved, d_out):
    w_hh, previous, r, z, n, gh_n = saved
    w_r, w_z, w_n = (w.T for w in jnp.split(w_hh, 3, axis=-1))

    def step(d_h, xs):
        d_o, h, r, z, n, gh_n = xs
        d = d_h + d_o
        d_an = d * (1.0 - z) * (1.0 - n * n)  # through n = tanh(a_n)
        d_az = d * (h - n) * z * (1.0 - z)
        d_ar = d_an * gh_n * r * (1.0 - r)
        d_ghn = d_an * r
        return d * z + d_ar @ w_r + d_az @ w_z + d_ghn @ w_n, (d_ar, d_az, d_an, d_ghn)

    d_h0, (d_ar, d_az, d_an, d_ghn) = jax.lax.scan(
        step, jnp.zeros_like(previous[0]), (d_out, previous, r, z, n, gh_n), reverse=True
    )
    # the weight gradient: one product over all steps, not one per step
    d_w_hh = jnp.einsum("tbh,tbg->hg", previous, jnp.concatenate([d_ar, d_az, d_ghn], axis=-1))
    return (d_ar, d_az, d_an), d_w_hh, d_h0


gru_scan.defvjp(_forward, _backward)


class GRU(nnx.Module):
    """A GRU over (batch, time, features) -> (batch, time, hidden); ``reverse`` reads from the end."""

    def __init__(self, in_features: int, hidden: int, *, rngs: nnx.Rngs) -> None:
        self.hidden = hidden
        self.w_ih = nnx.Param(nnx.initializers.lecun_normal()(rngs.params(), (in_features, 3 * hidden)))
        self.b_ih = nnx.Param(jnp.zeros((3 * hidden,)))
        self.w_hh = nnx.Param(nnx.initializers.orthogonal()(rngs.params(), (hidden, 3 * hidden)))

    def __call__(
        self,
        x: jnp.ndarray,
        *,
        mask: jnp.ndarray | None = None,
        reverse: bool = False,
        initial: jnp.ndarray | None = None,
    ) -> jnp.ndarray:
        """Outputs of every step; where ``mask`` (batch, time) is False the state passes through unchanged.

        ``initial`` (batch, hidden) is the state before the first step (zeros when not given).
        """
        projected = jnp.swapaxes(x, 0, 1) @ self.w_ih[...] + self.b_ih[...]  # every step in one product, time-major
        gi_r, gi_z, gi_n = jnp.split(projected, 3, axis=-1)
        if mask is not None:  # padding: hold the update gate shut (z = 1 exactly, so h' = h and no gradient)
            gi_z = gi_z + jnp.where(jnp.swapaxes(mask, 0, 1)[..., None], 0.0, GATE_SHUT).astype(gi_z.dtype)
        gi = (gi_r, gi_z, gi_n)
        if reverse:
            gi = tuple(g[::-1] for g in gi)
        h0 = jnp.zeros((x.shape[0], self.hidden), projected.dtype) if initial is None else initial
        out = gru_scan(gi, self.w_hh[...], h0)
        if reverse:
            out = out[::-1]
        return jnp.swapaxes(out, 0, 1)
