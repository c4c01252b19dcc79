"""Model registry: which models fit which kind of input, and how to build them."""

from __future__ import annotations

from collections.abc import Callable

import jax
from flax import nnx

from ..data import InputSpec
from .cnn import CNN
from .mlp import MLP
from .rnn import RNN
from .seq2seq import Seq2SeqGRU, Seq2SeqTransformer
from .transformer import Transformer

BUILDERS: dict[str, Callable[[InputSpec, nnx.Rngs], nnx.Module]] = {
    "cnn": lambda spec, rngs: CNN(spec, rngs=rngs),
    "gru": lambda spec, rngs: RNN(spec, cell="gru", rngs=rngs),
    "lstm": lambda spec, rngs: RNN(spec, cell="lstm", rngs=rngs),
    "bigru": lambda spec, rngs: RNN(spec, cell="gru", bidirectional=True, rngs=rngs),
    "transformer": lambda spec, rngs: Transformer(spec, rngs=rngs),
    "mlp": lambda spec, rngs: MLP(spec, rngs=rngs),
}


TEXT_BUILDERS: dict[str, Callable[[InputSpec, nnx.Rngs], nnx.Module]] = {
    "transformer": lambda spec, rngs: Seq2SeqTransformer(spec, rngs=rngs),
    "gru": lambda spec, rngs: Seq2SeqGRU(spec, rngs=rngs),
}
"""Models that write text answers (sequence to sequence), under the names of the models they extend."""


def build(name: str, spec: InputSpec, seed: int) -> nnx.Module:
    if name not in BUILDERS:
        raise ValueError(f"unknown model '{name}'; models are: {', '.join(BUILDERS)}.")
    if spec.kind == "text":
        if name not in TEXT_BUILDERS:
            raise ValueError(f"'{name}' does not write text answers; use one of: {', '.join(TEXT_BUILDERS)}.")
        return TEXT_BUILDERS[name](spec, nnx.Rngs(seed))
    return BUILDERS[name](spec, nnx.Rngs(seed))


def count_parameters(model: nnx.Module) -> int:
    return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
