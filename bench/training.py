"""Training throughput of each baseline against an identical PyTorch model on the CPU, in one run.

Same batch size, same shapes, same optimiser (AdamW), same layers. The JAX and
PyTorch steps run interleaved, in short rounds (alternating which goes first), so
that other load on the machine hits both alike; the figures are medians over the
rounds, and the ratio is the median of the per-round ratios. The last column is the
ratio of each side's best round: PyTorch's OpenMP threads can collapse for a whole
round when other processes hold the cores, and the best rounds compare the two
as on a quiet machine. For the CNN it also
times the plain Flax NNX way (``nnx.jit`` + ``nnx.Optimizer``), and for the GRU
the textbook ``nnx.RNN`` over ``nnx.GRUCell`` and the fused layer with JAX's own
backward pass, to show what each change buys. ``seq2seq-transformer`` and
``seq2seq-gru`` are the text-answer models (the dates task's shapes: 24 input
characters, 11 output characters, teacher-forced, padding masked; the inputs
have no padding, so PyTorch's GRU needs no packed sequences).

Needs PyTorch for the comparison only (CPU wheel):
pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
Usage: python bench/training.py [--steps N] [--rounds R] [--batch B] [--only MODEL ...]
(models: cnn gru transformer mlp seq2seq-transformer seq2seq-gru)
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from flax import nnx
from torch import nn

from baselines.data import BOS, EOS, PAD, Arrays, InputSpec
from baselines.models import build
from baselines.models.common import SequenceInput
from baselines.models.gru import GRU, gru_cell
from baselines.train import TrainConfig, Trainer

LENGTH, CLASSES = 40, 10
TEXT_LENGTH, TARGET_LENGTH, ALPHABET = 24, 11, 60  # the dates task: characters in, an ISO date and its end mark out


# --- the same models in PyTorch -------------------------------------------------------


class TorchCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.project = nn.Linear(1, 32)
        self.convs = nn.ModuleList([nn.Conv1d(a, b, 5, padding="same") for a, b in ((32, 32), (32, 64), (64, 128))])
        self.head = nn.Linear(128, CLASSES)

    def forward(self, x):
        h = self.project(x).transpose(1, 2)
        for i, conv in enumerate(self.convs):
            h = nn.functional.gelu(conv(h))
            if i < 2:
                h = nn.functional.max_pool1d(h, 2)
        return self.head(h.mean(dim=2))


class TorchGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.project = nn.Linear(1, 64)
        self.gru = nn.GRU(64, 128, batch_first=True)
        self.norm = nn.LayerNorm(256)
        self.head = nn.Linear(256, CLASSES)

    def forward(self, x):
        out, _ = self.gru(self.project(x))
        return self.head(self.norm(torch.cat([out[:, -1], out.mean(dim=1)], dim=-1)))


class TorchBlock(nn.Module):
    def __init__(self, d=64, heads=4):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attention = nn.MultiheadAttention(d, heads, batch_first=True)
        self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attention(h, h, h, need_weights=False)[0]
        return x + self.down(nn.functional.gelu(self.up(self.norm2(x))))


class TorchTransformer(nn.Module):
    def __init__(self, d=64):
        super().__init__()
        self.conv1 = nn.Conv1d(1, d, 5, padding="same")
        self.conv2 = nn.Conv1d(d, d, 3, stride=2, padding=1)
        self.positions = nn.Parameter(0.02 * torch.randn(LENGTH // 2, d))
        self.blocks = nn.ModuleList([TorchBlock(d) for _ in range(3)])
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, CLASSES)

    def forward(self, x):
        h = self.conv2(nn.functional.gelu(self.conv1(x.transpose(1, 2)))).transpose(1, 2) + self.positions
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h).mean(dim=1))


class TorchMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(LENGTH, 256), nn.GELU(), nn.Linear(256, 128), nn.GELU(), nn.Linear(128, CLASSES)
        )

    def forward(self, x):
        return self.net(x)


class TorchEncoderBlock(TorchBlock):
    def forward(self, x, padding=None):  # the tanh GELU, as jax.nn.gelu computes it
        h = self.norm1(x)
        x = x + self.attention(h, h, h, key_padding_mask=padding, need_weights=False)[0]
        return x + self.down(nn.functional.gelu(self.up(self.norm2(x)), approximate="tanh"))


class TorchDecoderBlock(nn.Module):
    def __init__(self, d=64, heads=4):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_attention = nn.MultiheadAttention(d, heads, batch_first=True)
        self.cross_attention = nn.MultiheadAttention(d, heads, batch_first=True)
        self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, y, memory, causal, padding):
        h = self.norm1(y)
        y = y + self.self_attention(h, h, h, attn_mask=causal, need_weights=False)[0]
        h = self.norm2(y)
        y = y + self.cross_attention(h, memory, memory, key_padding_mask=padding, need_weights=False)[0]
        return y + self.down(nn.functional.gelu(self.up(self.norm3(y)), approximate="tanh"))


class TorchSeq2SeqTransformer(nn.Module):
    """baselines.models.seq2seq.Seq2SeqTransformer: 2 + 2 pre-LayerNorm blocks, learned positions."""

    def __init__(self, d=64, layers=2):
        super().__init__()
        self.embed_in, self.embed_out = nn.Embedding(ALPHABET, d), nn.Embedding(ALPHABET, d)
        self.positions_in = nn.Parameter(0.02 * torch.randn(TEXT_LENGTH, d))
        self.positions_out = nn.Parameter(0.02 * torch.randn(TARGET_LENGTH, d))
        self.encoder = nn.ModuleList([TorchEncoderBlock(d) for _ in range(layers)])
        self.encoder_norm = nn.LayerNorm(d)
        self.decoder = nn.ModuleList([TorchDecoderBlock(d) for _ in range(layers)])
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, ALPHABET)
        self.register_buffer("causal", torch.triu(torch.ones(TARGET_LENGTH, TARGET_LENGTH, dtype=torch.bool), 1))

    def forward(self, x, y_in):
        mask = x != 0
        h = self.embed_in(x) + self.positions_in[(mask.cumsum(1) - 1).clamp(min=0)]
        for block in self.encoder:
            h = block(h, ~mask)
        memory = self.encoder_norm(h)
        h = self.embed_out(y_in) + self.positions_out[: y_in.shape[1]]
        for block in self.decoder:
            h = block(h, memory, self.causal, ~mask)
        return self.head(self.norm(h))


class TorchSeq2SeqGRU(nn.Module):
    """baselines.models.seq2seq.Seq2SeqGRU: bidirectional GRU encoder, GRU decoder, dot-product attention."""

    def __init__(self, embed=64, hidden=128):
        super().__init__()
        self.hidden = hidden
        self.embed_in, self.embed_out = nn.Embedding(ALPHABET, embed), nn.Embedding(ALPHABET, embed)
        self.encoder = nn.GRU(embed, hidden, batch_first=True, bidirectional=True)
        self.bridge, self.keys = nn.Linear(2 * hidden, hidden), nn.Linear(2 * hidden, hidden)
        self.decoder = nn.GRU(embed, hidden, batch_first=True)
        self.combine, self.head = nn.Linear(2 * hidden, hidden), nn.Linear(hidden, ALPHABET)

    def forward(self, x, y_in):
        out, _ = self.encoder(self.embed_in(x))
        state = torch.tanh(self.bridge(torch.cat([out[:, -1, : self.hidden], out[:, 0, self.hidden :]], dim=-1)))
        keys = self.keys(out)
        h, _ = self.decoder(self.embed_out(y_in), state[None])
        weights = torch.softmax(h @ keys.transpose(1, 2) / self.hidden**0.5, dim=-1)
        return self.head(torch.tanh(self.combine(torch.cat([h, weights @ keys], dim=-1))))


TORCH = {
    "cnn": TorchCNN,
    "gru": TorchGRU,
    "transformer": TorchTransformer,
    "mlp": TorchMLP,
    "seq2seq-transformer": TorchSeq2SeqTransformer,
    "seq2seq-gru": TorchSeq2SeqGRU,
}
TEXT_MODELS = {"seq2seq-transformer": "transformer", "seq2seq-gru": "gru"}  # bench name -> baseline name
TEXT_SPEC = InputSpec("text", (TEXT_LENGTH,), ALPHABET, vocab_size=ALPHABET, target_length=TARGET_LENGTH)


# --- the GRU as it was, and half-way ---------------------------------------------------


class CellGRU(nnx.Module):
    """The baseline GRU before the fused layer: ``nnx.RNN`` over ``nnx.GRUCell``, same sizes and head."""

    def __init__(self, spec: InputSpec, *, rngs: nnx.Rngs) -> None:
        self.input = SequenceInput(spec, 64, rngs=rngs)
        self.rnn = nnx.RNN(nnx.GRUCell(64, 128, rngs=rngs), rngs=False)
        self.norm, self.head = nnx.LayerNorm(256, rngs=rngs), nnx.Linear(256, spec.n_outputs, rngs=rngs)

    def __call__(self, x):
        out = self.rnn(self.input(x), initial_carry=jnp.zeros((x.shape[0], 128)))
        return self.head(self.norm(jnp.concatenate([out[:, -1], out.mean(axis=1)], axis=-1)))


def autodiff_scan(gi, w_hh, h0):
    """The fused layer's forward scan, differentiated by JAX (no hand-written backward pass)."""

    def step(h, g):
        h, _ = gru_cell(w_hh, h, g)
        return h, h

    return jax.lax.scan(step, h0, gi)[1]


class AutodiffGRU(CellGRU):
    """Input projections hoisted out of the scan, gates fused, but JAX's backward pass of the scan."""

    def __init__(self, spec: InputSpec, *, rngs: nnx.Rngs) -> None:
        super().__init__(spec, rngs=rngs)
        self.rnn = GRU(64, 128, rngs=rngs)

    def __call__(self, x):
        u = jnp.swapaxes(self.input(x), 0, 1)
        gi = tuple(jnp.split(u @ self.rnn.w_ih[...] + self.rnn.b_ih[...], 3, axis=-1))
        out = jnp.swapaxes(autodiff_scan(gi, self.rnn.w_hh[...], jnp.zeros((x.shape[0], 128))), 0, 1)
        return self.head(self.norm(jnp.concatenate([out[:, -1], out.mean(axis=1)], axis=-1)))


VARIANTS = {"gru, nnx.RNN over nnx.GRUCell": CellGRU, "gru, fused, JAX's backward": AutodiffGRU}


# --- steppers: each runs n training steps and waits for them ----------------------------


def torch_stepper(name: str, x: np.ndarray, y: np.ndarray):
    torch.manual_seed(0)
    model = TORCH[name]()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    xs, ys = torch.from_numpy(x.astype(np.int64) if name in TEXT_MODELS else x), torch.from_numpy(y.astype(np.int64))
    if name in TEXT_MODELS:  # teacher forcing, the loss over real characters only (as baselines.train)
        y_in = torch.cat([torch.full((len(ys), 1), BOS), ys[:, :-1]], dim=1)
        real = (ys != PAD).float()

        def loss_of() -> torch.Tensor:
            losses = nn.functional.cross_entropy(model(xs, y_in).transpose(1, 2), ys, reduction="none")
            return (losses * real).sum() / real.sum()
    else:
        loss_fn = nn.CrossEntropyLoss()

        def loss_of() -> torch.Tensor:
            return loss_fn(model(xs), ys)

    def run(n: int) -> None:
        for _ in range(n):
            optimiser.zero_grad(set_to_none=True)
            loss = loss_of()
            loss.backward()
            optimiser.step()

    return run


def text_batch(rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Characters in (no padding) and answers out: 10 characters, the end mark, as an ISO date is written."""
    x = rng.integers(4, ALPHABET, (batch, TEXT_LENGTH)).astype(np.int32)
    y = np.concatenate([rng.integers(4, ALPHABET, (batch, TARGET_LENGTH - 1)), np.full((batch, 1), EOS)], axis=1)
    return x, y.astype(np.int32)


def jax_stepper(model: nnx.Module, x: np.ndarray, y: np.ndarray, spec: InputSpec | None = None):
    """The baselines' own compiled step (baselines.train.Trainer) on ``model``."""
    spec = spec or InputSpec("sequence", (LENGTH, 1), CLASSES)
    arrays = Arrays(spec, x, y, x[:8], y[:8], x[:0], np.arange(0))
    trainer = Trainer(model, arrays, TrainConfig(epochs=1, batch_size=len(x), learning_rate=1e-3))
    state = [trainer.flat, trainer.opt_state]

    def run(n: int) -> None:
        for _ in range(n):
            state[0], state[1], loss = trainer._step(state[0], state[1], trainer.rest, x, y)
        jax.block_until_ready(loss)

    return run


def plain_nnx_stepper(name: str, x: np.ndarray, y: np.ndarray):
    """The textbook NNX loop: nnx.Optimizer and an nnx.jit-ed step over the module objects."""
    model = build(name, InputSpec("sequence", (LENGTH, 1), CLASSES), 0)
    optimizer = nnx.Optimizer(model, optax.adamw(1e-3, weight_decay=1e-4), wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, x, y):
        def loss_fn(model):
            return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    def run(n: int) -> None:
        for _ in range(n):
            loss = step(model, optimizer, x, y)
        jax.block_until_ready(loss)

    return run


def interleaved(runners: dict[str, object], steps: int, rounds: int, batch: int) -> dict[str, list[float]]:
    """Examples/s of each runner in each round; runners take turns, in an order that rotates every round."""
    for run in runners.values():
        run(5)  # compile and warm up
    names, per_round = list(runners), max(1, steps // rounds)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            runners[name](per_round)
            rates[name].append(per_round * batch / (time.perf_counter() - start))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="training steps per model, all rounds together")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--only", nargs="*", default=["cnn", "gru", "transformer", "mlp", *TEXT_MODELS])
    args = parser.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, LENGTH, 1)).astype(np.float32)
    y = rng.integers(0, CLASSES, args.batch).astype(np.int32)
    spec = InputSpec("sequence", (LENGTH, 1), CLASSES)
    print(
        f"batch {args.batch}, MNIST-1D shapes ({LENGTH} steps), {args.steps} AdamW steps in {args.rounds} rounds, "
        f"jax {jax.__version__} on {jax.devices()[0].platform}, torch {torch.__version__} ({torch.get_num_threads()} threads)"
    )
    print(
        f"{'model':<36} {'jax ex/s':>10} {'torch ex/s':>11} {'jax/torch':>10} {'(range over rounds)':>20} "
        f"{'best rounds':>12}"
    )
    text_x, text_y = text_batch(rng, args.batch)
    for name in args.only:
        if name in TEXT_MODELS:
            model = build(TEXT_MODELS[name], TEXT_SPEC, 0)
            runners = {
                "jax": jax_stepper(model, text_x, text_y, TEXT_SPEC),
                "torch": torch_stepper(name, text_x, text_y),
            }
        else:
            runners = {"jax": jax_stepper(build(name, spec, 0), x, y), "torch": torch_stepper(name, x, y)}
        if name == "cnn":
            runners["cnn, plain nnx.jit + nnx.Optimizer"] = plain_nnx_stepper("cnn", x, y)
        if name == "gru":
            runners.update({label: jax_stepper(cls(spec, rngs=nnx.Rngs(0)), x, y) for label, cls in VARIANTS.items()})
        rates = interleaved(runners, args.steps, args.rounds, args.batch)
        ratios = np.asarray(rates["jax"]) / np.asarray(rates["torch"])
        print(
            f"{name:<36} {np.median(rates['jax']):>10.0f} {np.median(rates['torch']):>11.0f} "
            f"{np.median(ratios):>9.2f}x {f'{ratios.min():.2f}-{ratios.max():.2f}x':>20} "
            f"{max(rates['jax']) / max(rates['torch']):>11.2f}x",
            flush=True,
        )
        for label in list(runners)[2:]:
            ratios = np.asarray(rates[label]) / np.asarray(rates["torch"])
            print(
                f"{label:<36} {np.median(rates[label]):>10.0f} {'':>11} {np.median(ratios):>9.2f}x "
                f"{f'{ratios.min():.2f}-{ratios.max():.2f}x':>20}",
                flush=True,
            )


if __name__ == "__main__":
    main()
