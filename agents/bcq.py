"""Offline baseline: BCQ (d3rlpy) trained on a stage-1 dataset, usable as a controller.

The dataset's format picks the formulation: a per-user dataset (``aign collect``'s default,
:mod:`agents.user_dataset`) trains one shared policy with a 1-D action on every user's
episode, which then acts on any user count; a joint dataset trains the padded joint policy.
d3rlpy reads either through its ``to_d3rlpy``. The networks' weights are saved as
``policy.safetensors`` (agents trained before were saved with d3rlpy's ``save_model`` as
``model.pt``, still read with ``torch.load(..., weights_only=True)``), next to an
``agent.json`` that records the MDP and the settings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from agents.dataset import TrajectoryDataset, manifest_format
from agents.peruser import USER_FEATURES, UserMDPConfig
from agents.stored import AGENT_FILE, LoadedAgent, agent_config, read_agent_meta
from agents.user_dataset import USER_FORMAT, UserTrajectoryDataset
from twin.core import AignError, write_json_atomic

WEIGHTS = "policy.safetensors"


@dataclass
class BCQArgs:
    """``aign train bcq`` settings."""

    # dataset folder (aign collect); per-user datasets may be several (one per network
    # family: their headers differ, their user transitions are alike)
    data: str | Sequence[str]
    out: str  # output folder: agent.json, model.pt, logs/
    steps: int = 10_000  # gradient steps
    steps_per_epoch: int = 1_000
    seed: int = 0
    batch_size: int = 256
    # discount; None: 0.9 for joint data, 0 for per-user data (a user's "hold" difference
    # reward already scores its move; later rewards mostly score the others' moves)
    gamma: float | None = None
    # candidate actions scored by the critics (decision time and targets); None: 50 for joint
    # data, 10 for per-user data (a 1-D action needs fewer, and each costs a forward pass
    # of every network for every sample of the batch)
    n_action_samples: int | None = None
    threads: int = 1  # torch CPU threads: small networks run far faster on one (benchmarks)
    progress: bool = False


def _config(args_or_meta: dict):
    from d3rlpy.algos import BCQConfig

    return BCQConfig(
        batch_size=int(args_or_meta["batch_size"]),
        gamma=float(args_or_meta["gamma"]),
        n_action_samples=int(args_or_meta["n_action_samples"]),
    )


def train_bcq(args: BCQArgs, report: Callable[[int, int, str], None] | None = None) -> Path:
    """Train BCQ offline on ``args.data`` and save it as an agent folder; returns the folder.
    ``report(done, total, note)`` hears how far it is after every gradient step; the note
    holds the last finished epoch's mean losses (d3rlpy's epoch metrics)."""
    import d3rlpy
    from d3rlpy.logging import FileAdapterFactory

    folders = [args.data] if isinstance(args.data, str | Path) else list(args.data)
    if not folders:
        raise AignError("BCQ needs a dataset")
    per_user = manifest_format(folders[0]) == USER_FORMAT
    if len(folders) > 1 and not all(manifest_format(f) == USER_FORMAT for f in folders):
        raise AignError("only per-user datasets can be combined (joint ones are padded to "
                        "their own network)")  # fmt: skip
    datasets = [(UserTrajectoryDataset if per_user else TrajectoryDataset).load(f)
                for f in folders]  # fmt: skip
    dataset = datasets[0]
    for folder, other in zip(folders[1:], datasets[1:], strict=True):
        if other.header.mdp != dataset.header.mdp:
            raise AignError(f"{folder}: recorded with MDP {other.header.mdp.to_dict()}, "
                            f"{folders[0]} with {dataset.header.mdp.to_dict()}: they cannot "
                            f"be combined")  # fmt: skip
    episodes = sum(d.n_episodes for d in datasets)
    if episodes < 2:
        raise AignError(f"{', '.join(map(str, folders))}: {episodes} episode(s) is too little "
                        f"to train on")  # fmt: skip
    out = Path(args.out)
    if args.n_action_samples is None:
        args = replace(args, n_action_samples=10 if per_user else 50)
    if args.gamma is None:
        args = replace(args, gamma=0.0 if per_user else 0.9)
    torch.set_num_threads(args.threads)
    d3rlpy.seed(args.seed)
    torch.manual_seed(args.seed)
    algo = _config(asdict(args)).create(device="cpu:0")
    per_epoch = min(args.steps_per_epoch, args.steps)
    total = args.steps // per_epoch * per_epoch  # d3rlpy runs whole epochs
    note = ""

    def step(_algo, _epoch: int, done: int) -> None:
        if report is not None:
            report(done, total, note)

    for epoch, metrics in algo.fitter(
        dataset.to_d3rlpy(*datasets[1:]),
        n_steps=args.steps,
        n_steps_per_epoch=per_epoch,
        experiment_name="bcq",
        with_timestamp=False,
        logger_adapter=FileAdapterFactory(root_dir=str(out / "logs")),
        show_progress=args.progress,
        save_interval=10**9,  # aign keeps its own weights file below
        callback=step,
    ):
        losses = ", ".join(f"{k.removesuffix('_loss')} {v:.4g}" for k, v in metrics.items()
                           if k.endswith("_loss"))  # fmt: skip
        note = f"epoch {epoch} losses: {losses}" if losses else ""
        if report is not None:
            report(epoch * per_epoch, total, note)
    out.mkdir(parents=True, exist_ok=True)
    save_file(_weights(algo), str(out / WEIGHTS))
    meta = {
        "kind": "bcq",
        "formulation": "per-user" if per_user else "joint",
        "mdp": dataset.header.mdp.to_dict(),
        **({"features": list(USER_FEATURES)} if per_user else {}),
        "scenario": ",".join(dict.fromkeys(d.header.scenario for d in datasets)),
        "dataset": ",".join(map(str, folders)),
        "episodes": episodes,
        **{k: v for k, v in asdict(args).items() if k not in ("progress", "data")},
    }
    write_json_atomic(out / AGENT_FILE, meta)
    return out


def _networks(algo) -> dict[str, torch.nn.Module]:
    """BCQ's networks by name (d3rlpy's checkpointer also lists optimizers: not needed to act)."""
    modules = algo.impl.modules.create_checkpointer("cpu:0").modules
    return {k: m for k, m in modules.items() if isinstance(m, torch.nn.Module)}


def _weights(algo) -> dict[str, torch.Tensor]:
    return {f"{name}.{key}": value.detach().cpu().contiguous()
            for name, module in _networks(algo).items()
            for key, value in module.state_dict().items()}  # fmt: skip


def load_bcq(path: str | Path) -> LoadedAgent:
    """Rebuild BCQ from ``agent.json`` and its safetensors weights (or an older agent's
    ``model.pt``, read with ``weights_only=True``)."""
    folder, meta = read_agent_meta(path, "bcq")
    config = agent_config(folder, meta)
    algo = _config(meta).create(device="cpu:0")
    per_user = isinstance(config, UserMDPConfig)
    algo.create_impl((config.obs_dim,), 1 if per_user else config.max_users)
    weights = folder / WEIGHTS
    try:
        if weights.exists():
            flat = load_file(str(weights))
            for name, module in _networks(algo).items():
                prefix = f"{name}."
                module.load_state_dict({k[len(prefix):]: v for k, v in flat.items()
                                        if k.startswith(prefix)})  # fmt: skip
        elif (folder / "model.pt").exists():
            weights = folder / "model.pt"
            state = torch.load(weights, map_location="cpu", weights_only=True)
            # The modules d3rlpy's save_model wrote, by name (its own load_model does the same).
            for name, module in algo.impl.modules.create_checkpointer("cpu:0").modules.items():
                module.load_state_dict(state[name])
        else:
            raise AignError(f"{folder}: {WEIGHTS} is missing")
    except (RuntimeError, OSError, KeyError, ValueError, SafetensorError) as exc:
        raise AignError(f"{weights}: cannot load the BCQ weights ({exc})") from None

    def predict(obs: np.ndarray) -> np.ndarray:
        return algo.predict(np.asarray(obs, dtype=np.float32))

    return LoadedAgent("bcq", folder, config, predict, meta)
