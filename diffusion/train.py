"""Stage 2 training: the graph denoiser on the designs of stage 1's datasets.

Read top to bottom: load the examples, lay each instance out as a graph once, then for each
step take a few instances and, for each, ``noise_draws`` noisy copies of its design at
random timesteps (DDPM forward process, Ho et al. 2020, eq. 4); drop goal groups at random
(classifier-free guidance); with probability 1/2 first let the network estimate the design
without help and give it the radio state of that estimate (self-conditioning, Chen et al.
2023: what it will see at every sampling step but the first); regress the clean design
(``x_0`` prediction, MSE over users), and keep an exponential moving average of the
weights, which is what is saved and sampled from.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from diffusion.checkpoint import DiffusionModel
from diffusion.conditioning import GOAL_DIM, GOAL_DROPOUT, drop_goals
from diffusion.data import DesignData, DesignExample, load_design_data
from diffusion.denoisers import DenoiserConfig, GraphDenoiser
from diffusion.graph import DEFAULT_NEIGHBOURS, DesignGraph, design_graph, radio_features
from diffusion.improve import improve_designs
from diffusion.normalizer import PowerNormalizer
from diffusion.runtime import torch_threads
from diffusion.scheduler import DDIMScheduler, SchedulerConfig
from twin.core import AignError


@dataclass
class TrainArgs:
    """What ``aign train diffusion`` takes."""

    data: str | Sequence[str]  # stage-1 dataset folder(s) (aign collect --out)
    out: str  # model folder to write (model.safetensors, config.json, checkpoints/)
    steps: int = 6000  # gradient steps
    instances_per_step: int = 4  # instances per gradient step
    off_gap: float = 0.25  # the design space: extra span between off and the lowest level
    size_weighting: float = 0.0  # draw instances ∝ users ** this (1: every user counts alike)
    noise_draws: int = 8  # noisy copies of each instance's design per step
    hidden: int = 64  # encoder width
    layers: int = 3  # encoder message-passing rounds
    step_hidden: int = 48  # step-network width
    step_layers: int = 1  # message-passing rounds per denoising step
    heads: int = 4  # edge weights per step round
    neighbours: int = DEFAULT_NEIGHBOURS  # interferers per user in the graph
    lr: float = 2e-3  # AdamW peak learning rate (linear warm-up, cosine decay to 5%)
    warmup_steps: int = 200
    weight_decay: float = 1e-4
    ema_decay: float = 0.999  # EMA of the weights (with the usual (1+n)/(10+n) warm-up)
    goal_drop_prob: float = GOAL_DROPOUT  # chance of dropping each goal group (CFG)
    self_condition_prob: float = 0.5  # chance of a self-conditioning first pass
    train_timesteps: int = 100  # diffusion steps T of the cosine schedule
    seed: int = 0  # initialization, batches and noise
    checkpoint_every: int = 0  # also save checkpoints/step-N every N steps (0: final only)
    best_only: bool = False  # learn only each instance's best episode (DesignData.best_only)
    improve_rounds: int = 0  # then retrain on the planner's own twin-validated designs
    improve_candidates: int = 16  # K of each improvement round's plans
    threads: int | None = 1  # torch CPU threads
    progress: bool = False  # show a tqdm progress bar
    extra: dict = field(default_factory=dict)  # free-form provenance stored in config.json


@dataclass
class TrainReport:
    """What a training run produced."""

    model: DiffusionModel
    path: Path
    final_loss: float  # mean loss over the last 100 steps
    seconds: float


@dataclass
class _Prepared:
    """An example laid out once: its graph and its design in the model's space."""

    graph: DesignGraph
    norm: PowerNormalizer  # the instance's design space
    x0: torch.Tensor  # (U,)
    goal: torch.Tensor  # (GOAL_DIM,)


def _prepare(example: DesignExample, neighbours: int, off_gap: float) -> _Prepared:
    graph = design_graph(example.instance, neighbours)
    norm = graph.normalizer(off_gap)
    x0 = norm.normalize(np.asarray(example.design_mw, dtype=float))
    return _Prepared(graph, norm, torch.as_tensor(x0, dtype=torch.float32),
                     torch.as_tensor(example.goal, dtype=torch.float32))  # fmt: skip


def denoising_loss(
    model: GraphDenoiser,
    scheduler: DDIMScheduler,
    item: _Prepared,
    draws: int,
    generator: torch.Generator,
    goal_drop_prob: float,
    self_condition_prob: float,
) -> torch.Tensor:
    """``x_0``-prediction MSE for ``draws`` noisy copies of one instance's design."""
    g = item.graph
    n = g.n_users
    t = torch.randint(0, scheduler.num_train_timesteps, (draws,), generator=generator)
    noise = torch.randn((draws, n), generator=generator)
    x_t = scheduler.add_noise(item.x0[None].expand(draws, -1), noise, t)
    goals = drop_goals(item.goal[None].expand(draws, -1).clone(), generator, goal_drop_prob)
    frac = scheduler.time_fraction(t)
    encoded = model.encode(g.static, g.neighbours, g.edges, g.valid)
    radio = torch.zeros((draws, n, model.config.radio_features))
    estimated = torch.zeros(draws)
    if torch.rand((), generator=generator) < self_condition_prob:
        with torch.no_grad():
            first = model.step(encoded, x_t, frac, radio, estimated, goals).clamp(-1.0, 1.0)
        radio = radio_features(g, item.norm.unnormalize(first.numpy().astype(np.float64)))
        estimated = torch.ones(draws)
    pred = model.step(encoded, x_t, frac, radio, estimated, goals)
    return ((pred - item.x0[None]) ** 2).mean()


def draw_instances(
    sizes: Sequence[int], count: int, weighting: float, generator: torch.Generator
) -> torch.Tensor:
    """Indices of ``count`` training instances, drawn with replacement with probability
    proportional to ``users ** weighting``: 0 draws instances alike (small networks then
    dominate the users the loss sees), 1 draws every user alike."""
    if not weighting:
        return torch.randint(0, len(sizes), (count,), generator=generator)
    weights = torch.tensor(sizes, dtype=torch.float64) ** weighting
    return torch.multinomial(weights, count, replacement=True, generator=generator)


def _learning_rate(args: TrainArgs, step: int) -> float:
    warm = min(1.0, (step + 1) / max(args.warmup_steps, 1))
    progress = step / max(args.steps - 1, 1)
    return args.lr * warm * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * progress)))


@torch.no_grad()
def _update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float, step: int) -> None:
    d = min(decay, (1.0 + step) / (10.0 + step))
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p, 1.0 - d)


def train_diffusion(
    args: TrainArgs,
    progress: Callable[[int, int, float], None] | None = None,
    data: DesignData | None = None,
) -> TrainReport:
    """Train on ``args.data`` (or on ``data`` already loaded) and write ``args.out``.

    ``progress(step, total, loss)`` is called every step (for the UI's background jobs).
    """
    if args.steps < 1 or args.instances_per_step < 1 or args.noise_draws < 1:
        raise AignError("steps, instances_per_step and noise_draws must be >= 1")
    if not 0.0 <= args.goal_drop_prob < 1.0:
        raise AignError(f"goal_drop_prob must be in [0, 1), got {args.goal_drop_prob}")
    if args.threads is not None and args.threads < 1:
        raise AignError(f"threads must be >= 1, got {args.threads}")
    if args.improve_rounds < 0 or args.improve_candidates < 1:
        raise AignError("improve_rounds must be >= 0 and improve_candidates >= 1")
    if not 0.0 <= args.size_weighting <= 4.0:  # (also refuses NaN)
        raise AignError(f"size_weighting must be in [0, 4], got {args.size_weighting}")
    if not 0.0 <= args.off_gap < 1.0:
        raise AignError(f"off_gap must be in [0, 1), got {args.off_gap}")
    if args.step_layers < 1:
        raise AignError(f"step_layers must be >= 1, got {args.step_layers}")
    started = time.perf_counter()
    with torch_threads(args.threads):
        data = data or load_design_data(args.data)
        if args.best_only:
            data = data.best_only()
        report = _train(args, progress, data)
        for r in range(args.improve_rounds):
            # Each round starts from the same initialization and seed: only the data differ.
            data, _ = improve_designs(report.model, data, args.improve_candidates, seed=r)
            report = _train(args, progress, data)
    report.seconds = time.perf_counter() - started  # every round and the improvements
    return report


def _train(args: TrainArgs, progress, data: DesignData) -> TrainReport:
    started = time.perf_counter()
    items = [_prepare(e, args.neighbours, args.off_gap) for e in data.examples]
    try:
        config = DenoiserConfig(goal_dim=GOAL_DIM, hidden=args.hidden, layers=args.layers,
                                step_hidden=args.step_hidden, step_layers=args.step_layers,
                                heads=args.heads)  # fmt: skip
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(args.seed)
            model = GraphDenoiser(config)
    except ValueError as exc:
        raise AignError(str(exc)) from None
    scheduler = DDIMScheduler(SchedulerConfig(num_train_timesteps=args.train_timesteps))
    ema = copy.deepcopy(model).eval()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    generator = torch.Generator().manual_seed(args.seed)
    out = Path(args.out)
    losses: list[float] = []
    bar = None
    if args.progress:
        from tqdm import tqdm

        bar = tqdm(total=args.steps, desc="train diffusion", unit="step")
    model.train()
    sizes = [it.graph.n_users for it in items]
    for step in range(args.steps):
        picks = draw_instances(sizes, args.instances_per_step, args.size_weighting, generator)
        loss = sum(
            denoising_loss(model, scheduler, items[int(i)], args.noise_draws, generator,
                           args.goal_drop_prob, args.self_condition_prob)
            for i in picks
        ) / len(picks)  # fmt: skip
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(args, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        _update_ema(ema, model, args.ema_decay, step)
        losses.append(float(loss.item()))
        if bar is not None:
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if progress is not None:
            progress(step + 1, args.steps, losses[-1])
        if args.checkpoint_every and (step + 1) % args.checkpoint_every == 0:
            bundle = _bundle(args, data, ema, config, scheduler, items)
            bundle.meta["train"]["steps_done"] = step + 1
            bundle.save(out / "checkpoints" / f"step-{step + 1}")
    if bar is not None:
        bar.close()
    bundle = _bundle(args, data, ema, config, scheduler, items)
    final_loss = float(np.mean(losses[-100:]))
    bundle.meta["train"]["steps_done"] = args.steps
    bundle.meta["train"]["final_loss"] = final_loss
    bundle.path = bundle.save(out)
    return TrainReport(bundle, out, final_loss, time.perf_counter() - started)


def _bundle(args, data: DesignData, ema, config, scheduler, items) -> DiffusionModel:
    from diffusion.envelope import Envelope

    train = {k: v for k, v in asdict(args).items() if k not in ("extra", "progress", "threads")}
    train["data"] = [str(d) for d in ([args.data] if isinstance(args.data, str) else args.data)]
    meta = {"dataset": data.provenance, "train": train,
            **({"extra": args.extra} if args.extra else {})}  # fmt: skip
    envelope = Envelope.of([it.graph for it in items], [e.goal for e in data.examples])
    return DiffusionModel(ema, config, scheduler, args.neighbours, envelope, meta,
                          off_gap=args.off_gap)
