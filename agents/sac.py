"""Stage 1's online learner: SAC (stable-baselines3) on instances randomized from a scenario.

Read top to bottom: arguments, environments, model, callbacks (progress, TensorBoard,
periodic safetensors checkpoints), learn, save.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from stable_baselines3 import SAC
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.sac.policies import SACPolicy

from agents.env import PowerAllocationEnv
from agents.mdp import MDPConfig
from agents.stored import AGENT_FILE, LoadedAgent, read_agent_meta
from twin.core import AignError, write_json_atomic


@dataclass
class SACArgs:
    """``aign train sac`` settings."""

    scenario: str  # scenario file or shipped name whose instances are explored
    out: str  # output folder: agent.json, policy.safetensors, model.zip, checkpoints/, tb/
    users: Sequence[int] | None = None  # user counts to draw from (default: the scenario's)
    max_users: int | None = None  # pad observations to this (default: max of users)
    steps: int = 20_000  # environment steps of training
    seed: int = 0
    n_envs: int = 1  # parallel environments (vectorized)
    horizon: int = 8
    learning_starts: int = 500
    batch_size: int = 256
    buffer_size: int = 100_000
    learning_rate: float = 3e-4
    gamma: float = 0.9  # short episodes: a near horizon
    net_arch: list[int] = field(default_factory=lambda: [256, 256])
    checkpoint_every: int = 5_000  # steps between checkpoints (0: none)
    environment_seed: int = 0
    noise_jitter_db: float = 0.0
    threads: int = 1  # torch CPU threads: small MLPs run far faster on one (benchmarks)
    progress: bool = False


class SafetensorsCheckpoint(BaseCallback):
    """Every ``every`` steps, save the policy as ``checkpoints/step-N`` (a loadable agent)."""

    def __init__(self, out: Path, meta: dict, every: int):
        super().__init__()
        self.out, self.meta, self.every = out, meta, every

    def _on_step(self) -> bool:
        if self.every and self.num_timesteps % self.every == 0:
            save_agent(self.model, self.out / "checkpoints" / f"step-{self.num_timesteps}",
                       {**self.meta, "steps": self.num_timesteps})  # fmt: skip
        return True


def train_sac(args: SACArgs) -> Path:
    """Train SAC and save it as an agent folder; returns the folder."""
    out = Path(args.out)
    torch.set_num_threads(args.threads)
    env_kwargs = {
        "scenario": args.scenario, "users": list(args.users) if args.users else None,
        "max_users": args.max_users, "horizon": args.horizon,
        "environment_seed": args.environment_seed, "noise_jitter_db": args.noise_jitter_db,
    }  # fmt: skip
    probe = PowerAllocationEnv(**env_kwargs)
    vec_env = make_vec_env(
        PowerAllocationEnv, n_envs=args.n_envs, seed=args.seed, env_kwargs=env_kwargs
    )
    model = SAC(
        "MlpPolicy",
        vec_env,
        learning_rate=args.learning_rate,
        buffer_size=args.buffer_size,
        learning_starts=args.learning_starts,
        batch_size=args.batch_size,
        gamma=args.gamma,
        policy_kwargs={"net_arch": list(args.net_arch)},
        tensorboard_log=str(out / "tb"),
        seed=args.seed,
        device="cpu",
        verbose=0,
    )
    meta = {
        "kind": "sac",
        "mdp": probe.config.to_dict(),
        "net_arch": list(args.net_arch),
        "scenario": probe.scenario.name,
        "users": list(probe.user_counts),
        "train_args": {k: v for k, v in asdict(args).items() if k != "progress"},
    }
    callback = SafetensorsCheckpoint(out, meta, args.checkpoint_every)
    model.learn(total_timesteps=args.steps, callback=callback, progress_bar=args.progress)
    save_agent(model, out, {**meta, "steps": args.steps})
    model.save(out / "model.zip")  # SB3's format, to resume training; never loaded by aign
    vec_env.close()
    return out


def save_agent(model: SAC, folder: Path, meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.policy.state_dict().items()}
    save_file(tensors, str(folder / "policy.safetensors"))
    write_json_atomic(folder / AGENT_FILE, meta)


def load_sac(path: str | Path) -> LoadedAgent:
    """Rebuild the SAC policy from ``agent.json`` and its safetensors weights (no pickle)."""
    from gymnasium import spaces

    folder, meta = read_agent_meta(path, "sac")
    config = MDPConfig(**meta["mdp"])
    weights = folder / "policy.safetensors"
    if not weights.exists():
        raise AignError(f"{folder}: policy.safetensors is missing")
    obs_space = spaces.Box(-10.0, 10.0, (config.obs_dim,), np.float32)
    act_space = spaces.Box(-1.0, 1.0, (config.max_users,), np.float32)
    policy = SACPolicy(obs_space, act_space, lambda _: 0.0, net_arch=meta["net_arch"])
    try:
        state = load_file(str(weights))
        policy.load_state_dict(state)
    except (RuntimeError, OSError, ValueError, SafetensorError) as exc:
        raise AignError(f"{weights}: cannot load the policy weights ({exc})") from None
    policy.set_training_mode(False)

    def predict(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            actions, _ = policy.predict(obs, deterministic=True)
        return actions

    return LoadedAgent("sac", folder, config, predict, meta)
