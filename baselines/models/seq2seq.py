"""Sequence-to-sequence models for text answers: an encoder-decoder Transformer and a GRU with attention.

Both read characters (left-padded, padding masked) and write characters. Training
is teacher-forced: ``model(x, y_in)`` gives the logits of every target position
from the true previous characters. ``model.generate(x)`` decodes greedily, one
character at a time, inside the caller's ``jit`` (a ``lax`` loop of fixed
length, so it compiles once); what follows the first end mark is ignored.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from ..data import BOS, PAD, InputSpec
from .gru import GRU, gru_cell
from .transformer import Block


def _positions_from_first_token(mask: jnp.ndarray) -> jnp.ndarray:
    """Position of each step counted from the first real token, so left padding shifts nothing."""
    return jnp.maximum(jnp.cumsum(mask, axis=1) - 1, 0)


class DecoderBlock(nnx.Module):
    """y + SelfAttention(LN(y)) (causal); y + CrossAttention(LN(y), memory); y + MLP(LN(y))."""

    def __init__(self, features: int, heads: int, *, rngs: nnx.Rngs) -> None:
        self.norm1 = nnx.LayerNorm(features, rngs=rngs)
        self.self_attention = nnx.MultiHeadAttention(heads, features, decode=False, rngs=rngs)
        self.norm2 = nnx.LayerNorm(features, rngs=rngs)
        self.cross_attention = nnx.MultiHeadAttention(heads, features, decode=False, rngs=rngs)
        self.norm3 = nnx.LayerNorm(features, rngs=rngs)
        self.up = nnx.Linear(features, 4 * features, rngs=rngs)
        self.down = nnx.Linear(4 * features, features, rngs=rngs)

    def __call__(self, y: jnp.ndarray, memory: jnp.ndarray, causal: jnp.ndarray, cross: jnp.ndarray) -> jnp.ndarray:
        y = y + self.self_attention(self.norm1(y), mask=causal)
        y = y + self.cross_attention(self.norm2(y), memory, mask=cross)
        return y + self.down(jax.nn.gelu(self.up(self.norm3(y))))


class Seq2SeqTransformer(nnx.Module):
    """Pre-LayerNorm encoder-decoder (Vaswani et al., 2017) with learned positions."""

    def __init__(self, spec: InputSpec, *, features: int = 64, heads: int = 4, layers: int = 2, rngs: nnx.Rngs) -> None:
        self.target_length = spec.target_length
        self.embed_in = nnx.Embed(spec.vocab_size, features, rngs=rngs)
        self.embed_out = nnx.Embed(spec.n_outputs, features, rngs=rngs)
        self.positions_in = nnx.Param(0.02 * jax.random.normal(rngs.params(), (spec.shape[0], features)))
        self.positions_out = nnx.Param(0.02 * jax.random.normal(rngs.params(), (spec.target_length, features)))
        self.encoder = nnx.List([Block(features, heads, rngs=rngs) for _ in range(layers)])
        self.encoder_norm = nnx.LayerNorm(features, rngs=rngs)
        self.decoder = nnx.List([DecoderBlock(features, heads, rngs=rngs) for _ in range(layers)])
        self.norm = nnx.LayerNorm(features, rngs=rngs)
        self.head = nnx.Linear(features, spec.n_outputs, rngs=rngs)

    def encode(self, x: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        mask = x != PAD
        h = self.embed_in(x) + self.positions_in[...][_positions_from_first_token(mask)]
        for block in self.encoder:
            h = block(h, mask)
        return self.encoder_norm(h), mask

    def decode(self, memory: jnp.ndarray, mask: jnp.ndarray, y_in: jnp.ndarray) -> jnp.ndarray:
        h = self.embed_out(y_in) + self.positions_out[...][: y_in.shape[1]]
        causal = nnx.make_causal_mask(y_in)
        cross = nnx.make_attention_mask(jnp.ones(y_in.shape, bool), mask)
        for block in self.decoder:
            h = block(h, memory, causal, cross)
        return self.head(self.norm(h))

    def __call__(self, x: jnp.ndarray, y_in: jnp.ndarray) -> jnp.ndarray:
        return self.decode(*self.encode(x), y_in)

    def generate(self, x: jnp.ndarray) -> jnp.ndarray:
        """Greedy decoding: at step t the decoder reads the t characters so far (positions past t are masked)."""
        memory, mask = self.encode(x)
        length = self.target_length
        start = jnp.full((x.shape[0], length), PAD, jnp.int32).at[:, 0].set(BOS)

        def step(t, tokens):
            logits = self.decode(memory, mask, tokens[:, :length])
            chosen = jnp.argmax(jax.lax.dynamic_index_in_dim(logits, t, axis=1, keepdims=False), axis=-1)
            return jax.lax.dynamic_update_index_in_dim(tokens, chosen.astype(jnp.int32), t + 1, axis=1)

        tokens = jnp.concatenate([start, jnp.full((x.shape[0], 1), PAD, jnp.int32)], axis=1)
        return jax.lax.fori_loop(0, length, step, tokens)[:, 1:]


class Seq2SeqGRU(nnx.Module):
    """Bidirectional GRU encoder, GRU decoder with dot-product attention over the encoder (Luong et al., 2015)."""

    def __init__(self, spec: InputSpec, *, embed: int = 64, hidden: int = 128, rngs: nnx.Rngs) -> None:
        self.target_length, self.hidden = spec.target_length, hidden
        self.embed_in = nnx.Embed(spec.vocab_size, embed, rngs=rngs)
        self.embed_out = nnx.Embed(spec.n_outputs, embed, rngs=rngs)
        self.forward_rnn = GRU(embed, hidden, rngs=rngs)
        self.backward_rnn = GRU(embed, hidden, rngs=rngs)
        self.bridge = nnx.Linear(2 * hidden, hidden, rngs=rngs)
        self.keys = nnx.Linear(2 * hidden, hidden, rngs=rngs)
        self.decoder = GRU(embed, hidden, rngs=rngs)
        self.combine = nnx.Linear(2 * hidden, hidden, rngs=rngs)
        self.head = nnx.Linear(hidden, spec.n_outputs, rngs=rngs)

    def encode(self, x: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
        """Attention keys (batch, steps, hidden), the padding mask, and the decoder's first state."""
        mask = x != PAD
        e = self.embed_in(x)
        forward = self.forward_rnn(e, mask=mask)
        backward = self.backward_rnn(
            e, mask=mask, reverse=True
        )  # padding first: its state at step 0 is the first token's
        state = jnp.tanh(self.bridge(jnp.concatenate([forward[:, -1], backward[:, 0]], axis=-1)))
        return self.keys(jnp.concatenate([forward, backward], axis=-1)), mask, state

    def attend(self, h: jnp.ndarray, keys: jnp.ndarray, mask: jnp.ndarray) -> jnp.ndarray:
        scores = jnp.einsum("bth,blh->btl", h, keys) / jnp.sqrt(float(self.hidden))
        weights = jax.nn.softmax(jnp.where(mask[:, None, :], scores, -1e9), axis=-1)
        context = jnp.einsum("btl,blh->bth", weights, keys)
        return self.head(jnp.tanh(self.combine(jnp.concatenate([h, context], axis=-1))))

    def __call__(self, x: jnp.ndarray, y_in: jnp.ndarray) -> jnp.ndarray:
        keys, mask, state = self.encode(x)
        return self.attend(self.decoder(self.embed_out(y_in), initial=state), keys, mask)

    def generate(self, x: jnp.ndarray) -> jnp.ndarray:
        """Greedy decoding: one GRU step, attention and an argmax per character, in a ``lax.scan``."""
        keys, mask, state = self.encode(x)
        w_ih, b_ih, w_hh = self.decoder.w_ih[...], self.decoder.b_ih[...], self.decoder.w_hh[...]

        def step(carry, _):
            h, token = carry
            gi = tuple(jnp.split(self.embed_out(token) @ w_ih + b_ih, 3, axis=-1))
            h, _ = gru_cell(w_hh, h, gi)
            chosen = jnp.argmax(self.attend(h[:, None], keys, mask)[:, 0], axis=-1).astype(jnp.int32)
            return (h, chosen), chosen

        first = jnp.full((x.shape[0],), BOS, jnp.int32)
        _, tokens = jax.lax.scan(step, (state, first), None, length=self.target_length)
        return tokens.T
