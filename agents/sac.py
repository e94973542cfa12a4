"""Stage 1's online learner: SAC (stable-baselines3) on instances randomized from scenarios.

Two formulations (``ARCHITECTURE.md``, "MDP"):

- ``per-user`` (default): one shared policy over local observations, trained on the
  :class:`~agents.peruser_env.UserSlotsVectorEnv` whose slots are the users of a group of
  instances (a mix of scenarios, ``paper-20*4,paper-50*2,paper-80``: ``NAME*K`` repeats a
  scenario ``K`` times in the group); it acts on any user count. ``steps`` counts user
  transitions.
- ``joint``: the paper's literal reading (one action for all users, padded to
  ``max_users``), kept as the ablation.

Read top to bottom: arguments, environments, model, callbacks (progress, TensorBoard,
periodic safetensors checkpoints), learn, save.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from stable_baselines3 import SAC
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecMonitor
from stable_baselines3.sac.policies import SACPolicy

from agents.env import PowerAllocationEnv
from agents.peruser import USER_FEATURES, UserMDPConfig
from agents.peruser_env import SB3VecEnv, UserSlotsVectorEnv
from agents.stored import AGENT_FILE, LoadedAgent, agent_config, read_agent_meta
from twin.core import AignError, write_json_atomic
from twin.scenario import MAX_USERS

FORMULATIONS = ("per-user", "joint")


@dataclass
class SACArgs:
    """``aign train sac`` settings; ``None`` takes the formulation's default (:data:`DEFAULTS`)."""

    scenario: str  # scenario (per-user: a comma-separated mix, NAME*K repeats one)
    out: str  # output folder: agent.json, policy.safetensors, model.zip, checkpoints/, tb/
    formulation: str = "per-user"  # "per-user" (shared policy, any size) or "joint" (ablation)
    users: Sequence[int] | None = None  # user counts to draw from (default: each scenario's)
    max_users: int | None = None  # joint: pad observations to this (default: max of users)
    steps: int | None = None  # environment steps (per-user: user transitions)
    seed: int = 0
    n_envs: int = 1  # joint: parallel environments; per-user: instance groups
    horizon: int | None = None  # steps per episode (per-user 16, joint 8)
    learning_starts: int | None = None
    batch_size: int = 256
    buffer_size: int = 300_000
    learning_rate: float | None = None
    gamma: float | None = None
    net_arch: list[int] | None = None
    gradient_steps: int | None = None  # per vector step
    target_entropy: float | str = "auto"  # SB3's "auto" is -(action dims)
    ent_coef: str = "auto"  # SB3's entropy coefficient ("auto_0.01": tuned, from 0.01)
    move_prob: float = 0.5  # per-user: chance that a user moves at a step
    action: str = "relative"  # per-user: "relative" to the priced best response, or "level"
    counterfactual: str = "hold"  # per-user: what a user's difference reward compares to
    random_start: float = 0.5  # per-user: share of training episodes from random powers
    anchor: str = "checked"  # per-user relative actions: where a = 0 points (agents.peruser)
    dead_zone: float = 0.0  # per-user relative actions: |a| below this is the anchor
    checkpoint_every: int = 5_000  # steps between checkpoints (0: none)
    environment_seed: int = 0
    noise_jitter_db: float = 0.0
    price_jitter: float = 1.0  # per-user: each instance's price x log-uniform [1/f, f]
    threads: int = 1  # torch CPU threads: small MLPs run far faster on one (benchmarks)
    progress: bool = False


# What each formulation uses where SACArgs leaves None (per-user: measured in
# benchmarks/RESULTS.md, "Stage 1 per-user"; joint: the settings it always had).
DEFAULTS: dict[str, dict] = {
    "per-user": {"steps": 40_000, "learning_starts": 4_000, "learning_rate": 1e-3,
                 "gamma": 0.0, "net_arch": [64, 64], "gradient_steps": 64, "horizon": 16,
                 "target_entropy": -2.0, "ent_coef": "auto_0.01"},  # fmt: skip
    "joint": {"steps": 20_000, "learning_starts": 500, "learning_rate": 3e-4, "gamma": 0.9,
              "net_arch": [256, 256], "gradient_steps": 1, "horizon": 8},  # fmt: skip
}


def resolved(args: SACArgs) -> SACArgs:
    """``args`` with every ``None`` (and ``"auto"`` entropy settings) filled from
    :data:`DEFAULTS` for its formulation."""
    if args.formulation not in FORMULATIONS:
        raise AignError(
            f"unknown formulation {args.formulation!r}; use {' or '.join(FORMULATIONS)}"
        )
    defaults = DEFAULTS[args.formulation]
    changes = {k: v for k, v in defaults.items()
               if getattr(args, k) is None or (k in ("target_entropy", "ent_coef")
                                               and getattr(args, k) == "auto")}  # fmt: skip
    return replace(args, **changes)


def scenario_mix(spec: str) -> list[str | tuple[str, int]]:
    """``"paper-20*4,scale-1000x20@200"`` -> ``["paper-20"] * 4 + [("scale-1000x20", 200)]``.

    ``NAME*K`` repeats an entry K times; ``NAME@U`` draws U users from that scenario (its own
    count otherwise, or ``--users``)."""
    entries: list[str | tuple[str, int]] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, count = part.rpartition("*") if "*" in part else (part, "", "1")
        name, _, users = name.partition("@")
        try:
            k = int(count)
            n = int(users) if users else None
        except ValueError:
            raise AignError(f"scenario mix {spec!r}: {part!r} is not NAME[@USERS][*K]") from None
        if k < 1:
            raise AignError(f"scenario mix {spec!r}: {part!r} repeats a scenario {k} times")
        if n is not None and not 1 <= n <= MAX_USERS:
            raise AignError(f"scenario mix {spec!r}: {part!r} asks for {n} users "
                            f"(1 to {MAX_USERS})")  # fmt: skip
        entries += [name.strip() if n is None else (name.strip(), n)] * k
    if not entries:
        raise AignError("no scenario given")
    return entries


class SafetensorsCheckpoint(BaseCallback):
    """Every ``every`` steps, save the policy as ``checkpoints/step-N`` (a loadable agent).

    A vector step adds ``num_envs`` steps at once, so a checkpoint is taken at the first
    step count at or past each multiple of ``every``."""

    def __init__(self, out: Path, meta: dict, every: int):
        super().__init__()
        self.out, self.meta, self.every = out, meta, every
        self.saved = 0

    def _on_step(self) -> bool:
        if self.every and self.num_timesteps // self.every > self.saved:
            self.saved = self.num_timesteps // self.every
            save_agent(self.model, self.out / "checkpoints" / f"step-{self.num_timesteps}",
                       {**self.meta, "steps": self.num_timesteps})  # fmt: skip
        return True


class ReportProgress(BaseCallback):
    """Tells ``report(steps done, total, note)`` after every vector step; the note is the
    mean episode return over SB3's recent episodes (its ``ep_info_buffer``) once there is
    one. Cheap: ``report`` only records (``ui.cli.common.ProgressLines.update``)."""

    def __init__(self, report: Callable[[int, int, str], None], total: int):
        super().__init__()
        self.report, self.total = report, total

    def _on_step(self) -> bool:
        episodes = self.model.ep_info_buffer or ()
        note = (f"mean episode return {np.mean([e['r'] for e in episodes]):.4g} "
                f"(last {len(episodes)} episodes)" if episodes else "")  # fmt: skip
        self.report(int(self.num_timesteps), self.total, note)
        return True


def train_sac(args: SACArgs, report: Callable[[int, int, str], None] | None = None) -> Path:
    """Train SAC and save it as an agent folder; returns the folder. ``report(done, total,
    note)`` hears how far it is after every step (steps, and the recent mean return)."""
    args = resolved(args)
    out = Path(args.out)
    torch.set_num_threads(args.threads)
    if args.formulation == "per-user":
        vec_env, meta = _per_user_env(args)
    else:
        vec_env, meta = _joint_env(args)
    model = SAC(
        "MlpPolicy",
        vec_env,
        learning_rate=args.learning_rate,
        buffer_size=args.buffer_size,
        learning_starts=args.learning_starts,
        batch_size=args.batch_size,
        gamma=args.gamma,
        gradient_steps=args.gradient_steps,
        target_entropy=args.target_entropy,
        ent_coef=args.ent_coef,
        policy_kwargs={"net_arch": list(args.net_arch)},
        tensorboard_log=str(out / "tb"),
        seed=args.seed,
        device="cpu",
        verbose=0,
    )
    meta = {**meta, "net_arch": list(args.net_arch),
            "train_args": {k: v for k, v in asdict(args).items() if k != "progress"}}  # fmt: skip
    callback: list[BaseCallback] = [SafetensorsCheckpoint(out, meta, args.checkpoint_every)]
    if report is not None:
        callback.append(ReportProgress(report, int(args.steps)))
    model.learn(total_timesteps=args.steps, callback=callback, progress_bar=args.progress)
    save_agent(model, out, {**meta, "steps": int(model.num_timesteps)})
    model.save(out / "model.zip")  # SB3's format, to resume training; never loaded by aign
    vec_env.close()
    return out


def _per_user_env(args: SACArgs) -> tuple[SB3VecEnv, dict]:
    scenarios = scenario_mix(args.scenario)
    if args.max_users is not None:
        raise AignError("--max-users is for the joint formulation; per-user agents take any "
                        "number of users")  # fmt: skip
    vector = UserSlotsVectorEnv(
        scenarios, users=list(args.users) if args.users else None, groups=args.n_envs,
        horizon=args.horizon, environment_seed=args.environment_seed,
        noise_jitter_db=args.noise_jitter_db, move_prob=args.move_prob, action=args.action,
        counterfactual=args.counterfactual, random_start=args.random_start,
        anchor=args.anchor, price_jitter=args.price_jitter, dead_zone=args.dead_zone,
    )  # fmt: skip
    vec_env = VecMonitor(SB3VecEnv(vector))  # episode returns per user slot in TensorBoard
    vec_env.seed(args.seed)
    meta = {
        "kind": "sac",
        "formulation": "per-user",
        "mdp": vector.config.to_dict(),
        "features": list(USER_FEATURES),
        "scenario": ",".join(dict.fromkeys(sc.name for sc in vector.scenarios)),
        "users": sorted({e.n_users for e in vector.envs}),
        "slots": vector.num_envs,
    }
    return vec_env, meta


def _joint_env(args: SACArgs):
    env_kwargs = {
        "scenario": args.scenario, "users": list(args.users) if args.users else None,
        "max_users": args.max_users, "horizon": args.horizon,
        "environment_seed": args.environment_seed, "noise_jitter_db": args.noise_jitter_db,
    }  # fmt: skip
    probe = PowerAllocationEnv(**env_kwargs)
    vec_env = make_vec_env(
        PowerAllocationEnv, n_envs=args.n_envs, seed=args.seed, env_kwargs=env_kwargs
    )
    meta = {
        "kind": "sac",
        "formulation": "joint",
        "mdp": probe.config.to_dict(),
        "scenario": probe.scenario.name,
        "users": list(probe.user_counts),
    }
    return vec_env, meta


def save_agent(model: SAC, folder: Path, meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.policy.state_dict().items()}
    save_file(tensors, str(folder / "policy.safetensors"))
    write_json_atomic(folder / AGENT_FILE, meta)


def load_sac(path: str | Path) -> LoadedAgent:
    """Rebuild the SAC policy from ``agent.json`` and its safetensors weights (no pickle)."""
    from gymnasium import spaces

    folder, meta = read_agent_meta(path, "sac")
    config = agent_config(folder, meta)
    weights = folder / "policy.safetensors"
    if not weights.exists():
        raise AignError(f"{folder}: policy.safetensors is missing")
    obs_space = spaces.Box(-10.0, 10.0, (config.obs_dim,), np.float32)
    n_actions = 1 if isinstance(config, UserMDPConfig) else config.max_users
    act_space = spaces.Box(-1.0, 1.0, (n_actions,), np.float32)
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
