"""Training throughput of each baseline against an identical PyTorch model on the CPU, in one run.

Same batch size, same shapes, same optimiser (AdamW), same layers. Prints examples/s
and the ratio JAX / PyTorch. For the CNN it also times the plain Flax NNX way
(``nnx.jit`` + ``nnx.Optimizer``) to show what the functional step buys.

Needs PyTorch for the comparison only: pip install torch==2.13.0
Usage: python bench/training.py [--steps N] [--batch B]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
import optax
import torch
from flax import nnx
from torch import nn

from baselines.data import Arrays, InputSpec
from baselines.models import build
from baselines.train import TrainConfig, Trainer

LENGTH, CLASSES = 40, 10


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
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(LENGTH, 256), nn.GELU(), nn.Linear(256, 128), nn.GELU(),
                                 nn.Linear(128, CLASSES))

    def forward(self, x):
        return self.net(x)


TORCH = {"cnn": TorchCNN, "gru": TorchGRU, "transformer": TorchTransformer, "mlp": TorchMLP}


def torch_rate(name: str, x: np.ndarray, y: np.ndarray, steps: int) -> float:
    torch.manual_seed(0)
    model = TORCH[name]()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    xs, ys = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        optimiser.zero_grad(set_to_none=True)
        loss = loss_fn(model(xs), ys)
        loss.backward()
        optimiser.step()

    for _ in range(5):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * len(x) / (time.perf_counter() - start)


def jax_rate(name: str, x: np.ndarray, y: np.ndarray, steps: int) -> float:
    spec = InputSpec("sequence", (LENGTH, 1), CLASSES)
    arrays = Arrays(spec, x, y, x[:8], y[:8], x[:0], np.arange(0))
    trainer = Trainer(build(name, spec, 0), arrays, TrainConfig(epochs=1, batch_size=len(x), learning_rate=1e-3))
    params, opt_state = trainer.params, trainer.opt_state
    for _ in range(5):
        params, opt_state, loss = trainer._step(params, opt_state, trainer.rest, x, y)
    jax.block_until_ready(loss)
    start = time.perf_counter()
    for _ in range(steps):
        params, opt_state, loss = trainer._step(params, opt_state, trainer.rest, x, y)
    jax.block_until_ready(loss)
    return steps * len(x) / (time.perf_counter() - start)


def plain_nnx_rate(name: str, x: np.ndarray, y: np.ndarray, steps: int) -> float:
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

    for _ in range(5):
        loss = step(model, optimizer, x, y)
    jax.block_until_ready(loss)
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(model, optimizer, x, y)
    jax.block_until_ready(loss)
    return steps * len(x) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, LENGTH, 1)).astype(np.float32)
    y = rng.integers(0, CLASSES, args.batch).astype(np.int32)
    print(f"batch {args.batch}, MNIST-1D shapes ({LENGTH} steps), {args.steps} AdamW steps, "
          f"jax {jax.__version__} on {jax.devices()[0].platform}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    print(f"{'model':<12} {'jax ex/s':>10} {'torch ex/s':>11} {'jax/torch':>10}")
    for name in ("cnn", "gru", "transformer", "mlp"):
        ours, theirs = jax_rate(name, x, y, args.steps), torch_rate(name, x, y, args.steps)
        print(f"{name:<12} {ours:>10.0f} {theirs:>11.0f} {ours / theirs:>9.2f}x", flush=True)
    plain = plain_nnx_rate("cnn", x, y, args.steps)
    print(f"{'cnn, plain nnx.jit + nnx.Optimizer':<36} {plain:>10.0f} ex/s")


if __name__ == "__main__":
    main()
