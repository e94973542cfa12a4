"""Offline baseline: BCQ (d3rlpy) trained on a stage-1 dataset, usable as a controller.

d3rlpy reads the dataset through :meth:`TrajectoryDataset.to_d3rlpy`; the trained weights
are saved with d3rlpy's ``save_model`` (a torch state dict) and loaded back with
``weights_only=True``, next to an ``agent.json`` that records the MDP and the settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from agents.dataset import TrajectoryDataset
from agents.mdp import MDPConfig
from agents.stored import AGENT_FILE, LoadedAgent, read_agent_meta
from twin.core import AignError, write_json_atomic


@dataclass
class BCQArgs:
    """``aign train bcq`` settings."""

    data: str  # dataset folder (aign collect)
    out: str  # output folder: agent.json, model.pt, logs/
    steps: int = 10_000  # gradient steps
    steps_per_epoch: int = 1_000
    seed: int = 0
    batch_size: int = 256
    gamma: float = 0.9
    n_action_samples: int = 50  # candidate actions scored by the critics at decision time
    threads: int = 1  # torch CPU threads: small networks run far faster on one (benchmarks)
    progress: bool = False


def _config(args_or_meta: dict):
    from d3rlpy.algos import BCQConfig

    return BCQConfig(
        batch_size=int(args_or_meta["batch_size"]),
        gamma=float(args_or_meta["gamma"]),
        n_action_samples=int(args_or_meta["n_action_samples"]),
    )


def train_bcq(args: BCQArgs) -> Path:
    import d3rlpy
    from d3rlpy.logging import FileAdapterFactory

    dataset = TrajectoryDataset.load(args.data)
    if dataset.n_episodes < 2:
        raise AignError(f"{args.data}: {dataset.n_episodes} episode(s) is too little to train on")
    out = Path(args.out)
    torch.set_num_threads(args.threads)
    d3rlpy.seed(args.seed)
    torch.manual_seed(args.seed)
    algo = _config(asdict(args)).create(device="cpu:0")
    algo.fit(
        dataset.to_d3rlpy(),
        n_steps=args.steps,
        n_steps_per_epoch=min(args.steps_per_epoch, args.steps),
        experiment_name="bcq",
        with_timestamp=False,
        logger_adapter=FileAdapterFactory(root_dir=str(out / "logs")),
        show_progress=args.progress,
        save_interval=10**9,  # aign keeps its own weights file below
    )
    out.mkdir(parents=True, exist_ok=True)
    algo.save_model(str(out / "model.pt"))
    meta = {
        "kind": "bcq",
        "mdp": dataset.header.mdp.to_dict(),
        "scenario": dataset.header.scenario,
        "dataset": str(args.data),
        "episodes": dataset.n_episodes,
        **{k: v for k, v in asdict(args).items() if k not in ("progress",)},
    }
    write_json_atomic(out / AGENT_FILE, meta)
    return out


def load_bcq(path: str | Path) -> LoadedAgent:
    """Rebuild BCQ from ``agent.json`` and load its state dict (``weights_only=True``)."""
    folder, meta = read_agent_meta(path, "bcq")
    config = MDPConfig(**meta["mdp"])
    weights = folder / "model.pt"
    if not weights.exists():
        raise AignError(f"{folder}: model.pt is missing")
    algo = _config(meta).create(device="cpu:0")
    algo.create_impl((config.obs_dim,), config.max_users)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        # The modules d3rlpy's save_model wrote, by name (its own load_model does the same).
        for name, module in algo.impl.modules.create_checkpointer("cpu:0").modules.items():
            module.load_state_dict(state[name])
    except (RuntimeError, OSError, KeyError, ValueError) as exc:
        raise AignError(f"{weights}: cannot load the BCQ weights ({exc})") from None

    def predict(obs: np.ndarray) -> np.ndarray:
        return algo.predict(np.asarray(obs, dtype=np.float32))

    return LoadedAgent("bcq", folder, config, predict, meta)
