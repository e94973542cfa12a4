"""Per-user collection: one batch of episodes rolled by a shared policy, as shard arrays.

Episode ``k`` of a collection draws its instance with seed ``seed + k`` and its user count
round-robin from ``users`` (``users[k % len(users)]``), so a batch is a pure task any
executor runs with the same result, like the joint collector's (:mod:`agents.collect`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agents.dataset import CONSTRAINT_NAMES, ENV_PARAM_NAMES
from agents.peruser import UserMDPConfig
from agents.peruser_env import PerUserEnv
from agents.user_dataset import EPISODE_FIELDS, USER_FIELDS, UserDatasetHeader
from agents.user_policies import make_user_policy, policy_action
from twin.scenario import Scenario


def user_env(args, scenario: Scenario, n_users: int, sampler=None,
             action: dict | None = None) -> PerUserEnv:  # fmt: skip
    """A collection's environment; ``action``: how its policy reads actions
    (:func:`agents.user_policies.policy_action`; the defaults otherwise)."""
    return PerUserEnv(
        scenario, n_users, environment_seed=args.environment_seed,
        horizon=UserMDPConfig.horizon if args.horizon is None else args.horizon,
        noise_jitter_db=args.noise_jitter_db, constraint_draw=args.impose,
        price_jitter=args.price_jitter, sampler=sampler, **(action or {}),
    )  # fmt: skip


def user_header(env: PerUserEnv) -> UserDatasetHeader:
    sc = env.scenario
    return UserDatasetHeader(
        mdp=env.config, n_bs=sc.base_stations.n, levels_mw=sc.power.levels(),
        bandwidth_hz=sc.channel.bandwidth_hz, price=sc.objective.price_per_mw,
        constraints=sc.constraints.model_dump(), reuse=sc.reuse, scenario=sc.name,
        price_jitter=env.sampler.price_jitter,
    )  # fmt: skip


def user_counts(args, scenario: Scenario) -> list[int]:
    return [int(u) for u in (args.users or [scenario.users.n])]


def run_user_batch(args, scenario: Scenario, indices: Sequence[int]) -> dict[str, np.ndarray]:
    """Roll episodes ``indices`` of a per-user collection; returns one shard's arrays."""
    counts = user_counts(args, scenario)
    action = policy_action(args.policy)  # an agent's actions are relative to its own anchor
    first = user_env(args, scenario, counts[indices[0] % len(counts)], action=action)
    envs = [first, *(user_env(args, scenario, counts[k % len(counts)], first.sampler, action)
                      for k in indices[1:])]  # fmt: skip
    seeds = [args.seed + k for k in indices]
    obs = [env.reset(seed=s)[0] for env, s in zip(envs, seeds, strict=True)]
    config = envs[0].config
    policy = make_user_policy(args.policy, config, seed=args.seed)
    policy.begin(seeds)
    h = config.horizon
    rec = [{"obs": [o], "actions": [], "rewards": [], "moves": [], "powers": [e.power_mw.copy()],
            "utilities": [float(e.instance.objective(e.power_mw)[0])]}
           for o, e in zip(obs, envs, strict=True)]  # fmt: skip
    for _ in range(h):
        actions = policy.act(obs, [e.instance for e in envs], [e.power_mw for e in envs])
        for i, (env, a) in enumerate(zip(envs, actions, strict=True)):
            moves = env.moves.copy()
            o, _, _, _, info = env.step(a)
            obs[i] = o
            r = rec[i]
            r["obs"].append(o)
            r["actions"].append(np.asarray(a, np.float32))
            r["rewards"].append(info["user_rewards"])
            r["moves"].append(moves)
            r["powers"].append(env.power_mw.copy())
            r["utilities"].append(info["utility"])
    return _shard(envs, rec, seeds, indices, policy.name)


def _shard(envs, rec, seeds, indices, source: str) -> dict[str, np.ndarray]:
    users, episodes = {k: [] for k in USER_FIELDS}, {k: [] for k in EPISODE_FIELDS}
    for e, (env, r) in enumerate(zip(envs, rec, strict=True)):
        inst, n = env.instance, env.n_users
        rewards = np.stack(r["rewards"], axis=1)  # (U, H)
        final = r["powers"][-1]
        violations = inst.evaluate(final).violations
        ok = [violations.get(name, 0.0) == 0.0 for name in CONSTRAINT_NAMES]
        limits = [np.nan if getattr(inst.constraints, name) is None
                  else getattr(inst.constraints, name) for name in CONSTRAINT_NAMES]  # fmt: skip
        serving = inst.gains[np.arange(n), inst.assoc]
        users["user_episode"].append(np.full(n, e))
        users["observations"].append(np.stack(r["obs"], axis=1))
        users["actions"].append(np.stack(r["actions"], axis=1))
        users["rewards"].append(rewards)
        users["moves"].append(np.stack(r["moves"], axis=1))
        users["powers_mw"].append(np.stack(r["powers"], axis=1))
        users["gains"].append(inst.gains)
        users["assoc"].append(inst.assoc)
        users["user_returns"].append(rewards.sum(axis=1))
        for name, value in (
            ("n_users", n), ("noise_mw", inst.noise_mw), ("utilities", r["utilities"]),
            ("returns", rewards.mean(axis=0).sum()), ("final_utility", r["utilities"][-1]),
            ("feasible", all(ok)), ("constraint_ok", ok), ("constraint_limits", limits),
            ("env_params", [n, 10 * np.log10(inst.noise_mw), 10 * np.log10(serving).mean(),
                            inst.price, inst.n_bs]),
            ("seeds", seeds[e]), ("episode_index", indices[e]), ("source", source),
        ):  # fmt: skip
            episodes[name].append(value)
    assert len(ENV_PARAM_NAMES) == 5
    out = {k: np.concatenate(v) for k, v in users.items()}
    out.update({k: np.asarray(v) for k, v in episodes.items()})
    return out
