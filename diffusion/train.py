"""Stage 2 training: a conditional diffusion model over the power trajectories of a dataset.

Read top to bottom: load the datasets, build the condition of every episode, then for each
step draw a batch, drop goal groups at random (classifier-free guidance), noise the
trajectories at random timesteps (DDPM, Ho et al. 2020, eq. 4), regress the noise (L_simple,
eq. 14) on real users and steps after the first, and keep an exponential moving average
(EMA) of the weights. The EMA weights are what is saved and sampled from.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from diffusion.checkpoint import DiffusionModel
from diffusion.conditioning import GOAL_GROUPS
from diffusion.data import (
    RETURN_NORMALIZATIONS,
    TrainingData,
    build_training_data,
    load_datasets,
)
from diffusion.denoisers import DENOISER_KINDS, DenoiserConfig, build_denoiser
from diffusion.normalizer import apply_mask
from diffusion.runtime import torch_threads
from diffusion.scheduler import DDIMScheduler, SchedulerConfig
from twin.core import AignError


@dataclass
class TrainArgs:
    """What ``aign train diffusion`` takes."""

    data: str | Sequence[str]  # dataset folder(s) written by aign collect
    out: str  # model folder to write (model.safetensors, config.json, checkpoints/)
    denoiser: str = "transformer"  # "transformer" (users as tokens) or "unet" (temporal U-Net)
    width: int = 64  # transformer token size / U-Net channels of the first level
    depth: int = 2  # transformer blocks
    heads: int = 4  # transformer attention heads
    dim_mults: tuple[int, ...] = (1, 2)  # U-Net channel multiplier per level
    steps: int = 4000  # gradient steps
    batch_size: int = 128  # trajectories per step
    lr: float = 1e-3  # AdamW peak learning rate (linear warm-up, cosine decay to 10%)
    warmup_steps: int = 100  # steps of linear learning-rate warm-up
    weight_decay: float = 1e-4  # AdamW weight decay
    ema_decay: float = 0.995  # EMA of the weights (with the usual (1+n)/(10+n) warm-up)
    return_normalization: str = "instance"  # "instance" or "user_count" (see diffusion.data)
    goal_drop_prob: float = 0.25  # chance of dropping each goal group (CFG training)
    train_timesteps: int = 100  # diffusion steps T of the cosine schedule
    seed: int = 0  # initialization, batches and noise
    checkpoint_every: int = 0  # also save checkpoints/step-N every N steps (0: final only)
    threads: int | None = 1  # torch CPU threads (None: torch's default; 1 suits small nets)
    progress: bool = False  # show a tqdm progress bar
    extra: dict = field(default_factory=dict)  # free-form provenance stored in config.json


@dataclass
class TrainReport:
    """What a training run produced."""

    model: DiffusionModel
    path: Path
    final_loss: float  # mean loss over the last 100 steps
    seconds: float


def denoising_loss(
    denoiser: torch.nn.Module,
    scheduler: DDIMScheduler,
    x0: torch.Tensor,
    cond,
    generator: torch.Generator,
) -> torch.Tensor:
    """Noise-prediction MSE on one batch (Ho et al. 2020, eq. 14, ``L_simple``).

    The first state is given (inpainted, as at sampling) and padded users are held at 0 mW,
    so neither counts in the loss.
    """
    b = x0.shape[0]
    t = torch.randint(0, scheduler.num_train_timesteps, (b,), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    mask = cond.user_mask
    x_t = scheduler.add_noise(x0, noise, t)
    x_t[:, 0] = x0[:, 0]
    x_t = apply_mask(x_t, mask)
    eps = denoiser(x_t, t, cond)
    weight = mask[:, None, :].expand_as(x0).clone()
    weight[:, 0] = 0.0
    return ((eps - noise) ** 2 * weight).sum() / weight.sum().clamp(min=1.0)


def _learning_rate(args: TrainArgs, step: int) -> float:
    warm = min(1.0, (step + 1) / max(args.warmup_steps, 1))
    progress = step / max(args.steps - 1, 1)
    return args.lr * warm * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


@torch.no_grad()
def _update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float, step: int) -> None:
    d = min(decay, (1.0 + step) / (10.0 + step))
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p, 1.0 - d)


def _bundle(args: TrainArgs, data: TrainingData, ema, config, scheduler, mdp, levels):
    meta = {
        "dataset": data.provenance,
        "train": {
            k: v for k, v in asdict(args).items() if k not in ("extra", "progress", "threads")
        },
        **({"extra": args.extra} if args.extra else {}),
    }
    meta["train"]["data"] = [str(d) for d in ([args.data] if isinstance(args.data, str)
                                              else args.data)]  # fmt: skip
    meta["train"]["dim_mults"] = list(args.dim_mults)
    return DiffusionModel(ema, config, scheduler, data.normalizer, mdp, data.return_ranges,
                          levels, meta)  # fmt: skip


def train_diffusion(
    args: TrainArgs, progress: Callable[[int, int, float], None] | None = None
) -> TrainReport:
    """Train on ``args.data`` and write the model folder ``args.out``.

    ``progress(step, total, loss)`` is called every step (for the UI's background jobs).
    """
    if args.steps < 1 or args.batch_size < 1:
        raise AignError(f"steps and batch_size must be >= 1, got {args.steps}, {args.batch_size}")
    if args.denoiser not in DENOISER_KINDS:
        kinds = ", ".join(DENOISER_KINDS)
        raise AignError(f"denoiser must be one of {kinds}, got {args.denoiser!r}")
    if args.return_normalization not in RETURN_NORMALIZATIONS:
        allowed = ", ".join(RETURN_NORMALIZATIONS)
        raise AignError(f"return_normalization must be one of {allowed}, "
                        f"got {args.return_normalization!r}")  # fmt: skip
    if not 0.0 <= args.goal_drop_prob < 1.0:
        raise AignError(f"goal_drop_prob must be in [0, 1), got {args.goal_drop_prob}")
    if args.threads is not None and args.threads < 1:
        raise AignError(f"threads must be >= 1, got {args.threads}")
    with torch_threads(args.threads):
        return _train(args, progress)


def _train(args: TrainArgs, progress: Callable[[int, int, float], None] | None) -> TrainReport:
    started = time.perf_counter()
    datasets = load_datasets(args.data)
    header = datasets[0].header
    data = build_training_data(datasets, args.return_normalization)
    try:
        config = DenoiserConfig(
            kind=args.denoiser, max_users=header.mdp.max_users, horizon=header.mdp.horizon,
            width=args.width, depth=args.depth, heads=args.heads, dim_mults=tuple(args.dim_mults),
        )  # fmt: skip
    except ValueError as exc:
        raise AignError(str(exc)) from None
    scheduler = DDIMScheduler(SchedulerConfig(num_train_timesteps=args.train_timesteps))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        model = build_denoiser(config)
    ema = copy.deepcopy(model).eval()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    generator = torch.Generator().manual_seed(args.seed)
    out = Path(args.out)
    n = len(data)
    losses: list[float] = []
    bar = None
    if args.progress:
        from tqdm import tqdm

        bar = tqdm(total=args.steps, desc="train diffusion", unit="step")
    model.train()
    for step in range(args.steps):
        idx = torch.randint(0, n, (args.batch_size,), generator=generator)
        cond = data.cond.select(idx)
        keep = torch.rand((len(idx), len(GOAL_GROUPS)), generator=generator)
        cond.goal_keep = (keep >= args.goal_drop_prob).float()
        loss = denoising_loss(model, scheduler, data.x0[idx], cond, generator)
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(args, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        _update_ema(ema, model, args.ema_decay, step)
        losses.append(loss.item())
        if bar is not None:
            bar.update(1)
            if step % 50 == 0:
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
        if progress is not None:
            progress(step + 1, args.steps, losses[-1])
        if args.checkpoint_every and (step + 1) % args.checkpoint_every == 0:
            bundle = _bundle(args, data, ema, config, scheduler, header.mdp, header.levels_mw)
            bundle.meta["train"]["steps_done"] = step + 1
            bundle.save(out / "checkpoints" / f"step-{step + 1}")
    if bar is not None:
        bar.close()
    bundle = _bundle(args, data, ema, config, scheduler, header.mdp, header.levels_mw)
    final_loss = float(sum(losses[-100:]) / len(losses[-100:]))
    bundle.meta["train"]["steps_done"] = args.steps
    bundle.meta["train"]["final_loss"] = final_loss
    bundle.path = bundle.save(out)
    return TrainReport(bundle, out, final_loss, time.perf_counter() - started)
