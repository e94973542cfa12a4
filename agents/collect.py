"""Collect labeled trajectories from a behaviour policy into a dataset (stage 1's output).

Episodes run in lockstep in a ``gymnasium`` vector environment, a batch at a time; each
batch becomes one shard. Episode ``k`` of a collection is reset with seed ``seed + k``, and
every random choice of a policy depends on the episode's seed alone, so batches are pure
tasks that any executor (:mod:`twin.compute.executors`: local processes, Ray) can run with the same
result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from agents.constraint_draw import ConstraintDraw
from agents.dataset import (
    CONSTRAINT_NAMES,
    FIELDS,
    DatasetHeader,
    TrajectoryWriter,
)
from agents.env import PowerAllocationEnv
from agents.mdp import MDPConfig
from agents.policies import make_policy
from agents.user_collect import run_user_batch, user_counts, user_env, user_header
from agents.user_dataset import UserTrajectoryWriter
from agents.user_policies import make_user_policy, policy_action
from twin.compute import Executor, TaskError, TaskFailure, make_executor
from twin.core import AignError
from twin.scenario import Scenario, load_scenario


@dataclass
class CollectArgs:
    """What ``aign collect`` takes."""

    scenario: str
    policy: str
    episodes: int
    out: str
    users: Sequence[int] | None = None  # user counts to draw from (default: the scenario's)
    max_users: int | None = None  # pad to this (default: max of users)
    seed: int = 0  # episode k uses seed + k
    batch: int = 16  # episodes per vector-env batch and per shard
    horizon: int | None = None  # steps per episode (None: the formulation's, joint 8, per-user 16)
    environment_seed: int = 0  # the sampler's environment (shadowing fields)
    noise_jitter_db: float = 0.0
    price_jitter: float = 1.0  # per-user only: price x log-uniform [1/f, f] per episode
    impose: ConstraintDraw | None = None  # per-episode constraint limits (--impose)
    formulation: str = "joint"  # "joint" (padded episodes) or "per-user" (agents.user_dataset)


def make_env_fn(
    args: CollectArgs, scenario: Scenario | None = None
) -> Callable[[], PowerAllocationEnv]:
    scenario = load_scenario(args.scenario) if scenario is None else scenario  # read once

    def make() -> PowerAllocationEnv:
        return PowerAllocationEnv(
            scenario, users=args.users, max_users=args.max_users,
            horizon=MDPConfig.horizon if args.horizon is None else args.horizon,
            environment_seed=args.environment_seed, noise_jitter_db=args.noise_jitter_db,
            constraint_draw=args.impose,
        )  # fmt: skip

    return make


def header_for(env: PowerAllocationEnv) -> DatasetHeader:
    sc = env.scenario
    return DatasetHeader(
        mdp=env.config,
        n_bs=sc.base_stations.n,
        levels_mw=sc.power.levels(),
        bandwidth_hz=sc.channel.bandwidth_hz,
        price=sc.objective.price_per_mw,
        constraints=sc.constraints.model_dump(),
        reuse=sc.reuse,
        scenario=sc.name,
    )


@dataclass(frozen=True)
class BatchTask:
    """One shard's worth of episodes: what a worker needs to roll them, and nothing else.

    ``num_envs`` is the same for every batch of a collection (the last one is padded), so a
    batch gives the same episodes whichever executor runs it, alone or with others.
    """

    args: CollectArgs
    scenario: Scenario
    indices: tuple[int, ...]
    num_envs: int


def run_batch(task: BatchTask) -> dict[str, np.ndarray]:
    """Roll one batch of episodes in its own vector environment (an executor's task)."""
    if task.args.formulation == "per-user":
        return run_user_batch(task.args, task.scenario, task.indices)
    make = make_env_fn(task.args, task.scenario)
    vec = gym.vector.SyncVectorEnv([make for _ in range(task.num_envs)])
    try:
        config = vec.envs[0].config
        policy = make_policy(task.args.policy, config, seed=task.args.seed)
        batch = _run_batch(vec, policy, config, list(task.indices), task.args.seed)
        batch["source"] = np.array([policy.name] * len(task.indices))
        return batch
    finally:
        vec.close()


def collect(
    args: CollectArgs,
    progress: Callable[[int, int], None] | None = None,
    executor: str | Executor | None = None,
) -> dict:
    """Run ``args.episodes`` episodes (minus those already stored) and store them.

    Batches run on ``executor`` (default: this process); shards are written in episode
    order as soon as every earlier batch is stored, so an interrupted collection resumes
    where its stored prefix ends. A batch that fails after its retries stops the
    collection with :class:`~twin.compute.executors.TaskError`: the batches before it are kept.
    Returns a small report: episodes stored before, collected now, and the dataset path.
    """
    scenario = load_scenario(args.scenario)
    if args.formulation == "per-user":
        if args.max_users is not None:
            raise AignError("--max-users pads joint episodes; per-user episodes take any "
                            "number of users (drop it, or use --formulation joint)")  # fmt: skip
        probe = user_env(args, scenario, user_counts(args, scenario)[0],
                         action=policy_action(args.policy))
        policy = make_user_policy(args.policy, probe.config, seed=args.seed)  # refuse early
        writer: TrajectoryWriter = UserTrajectoryWriter(args.out, user_header(probe))
        counts = user_counts(args, scenario)
        stream = "per-user|"
    elif args.formulation == "joint":
        if args.price_jitter != 1.0:
            raise AignError("--price-jitter is for per-user episodes (the joint dataset keeps "
                            "one price per dataset)")  # fmt: skip
        probe = make_env_fn(args, scenario)()
        policy = make_policy(args.policy, probe.config, seed=args.seed)  # refuse before writing
        writer = TrajectoryWriter(args.out, header_for(probe))
        counts = list(probe.user_counts)
        stream = ""
    else:
        raise AignError(f"unknown formulation {args.formulation!r}; use per-user or joint")
    source = policy.name
    # What identifies this command's episodes, so that rerunning it resumes it.
    stream += (
        f"{probe.scenario.name}|{source}|users={counts}|seed={args.seed}|"
        f"environment_seed={args.environment_seed}|noise_jitter_db={args.noise_jitter_db:g}"
    )
    if args.price_jitter != 1.0:
        stream += f"|price_jitter={args.price_jitter:g}"
    if args.impose is not None:  # (kept out of unconstrained streams: they resume as before)
        stream += f"|impose={args.impose.spec()}"
    start = writer.done(stream)
    num_envs = max(1, min(args.batch, args.episodes))
    tasks = [
        BatchTask(args, scenario, tuple(range(k, min(k + num_envs, args.episodes))), num_envs)
        for k in range(start, args.episodes, num_envs)
    ]
    runner = make_executor(executor)
    ready: dict[int, dict[str, np.ndarray]] = {}
    failures: list[TaskFailure] = []
    written = 0  # tasks stored, in order
    stored = start
    try:
        for index, result in runner.run(run_batch, tasks):
            if isinstance(result, TaskFailure):
                failures.append(result)
                continue
            ready[index] = result
            while written in ready and not failures_before(failures, written):
                batch = ready.pop(written)
                writer.append(batch, source, stream, probe.scenario.name)
                stored += len(batch["returns"])
                written += 1
                if progress is not None:
                    progress(stored - start, args.episodes - start)
    finally:
        if runner is not executor:
            runner.close()
    if failures:
        raise TaskError(
            failures,
            hint=f"episodes up to {stored} are stored; run the same command again to resume",
        )
    return {"dataset": os.fspath(args.out), "source": source, "already_stored": start,
            "collected": max(0, args.episodes - start), "executor": runner.name}  # fmt: skip


def failures_before(failures: Sequence[TaskFailure], index: int) -> bool:
    """Whether a batch at or before ``index`` failed (later ones then cannot be stored)."""
    return any(f.index <= index for f in failures)


def _run_batch(vec, policy, config, indices: list[int], seed: int) -> dict[str, np.ndarray]:
    """Roll one batch of episodes; sub-environments beyond ``len(indices)`` are discarded."""
    k, h, n_max = vec.num_envs, config.horizon, config.max_users
    seeds = [seed + i for i in indices] + [
        seed + indices[-1] + 1 + j for j in range(k - len(indices))
    ]
    obs, _ = vec.reset(seed=seeds)
    policy.begin(seeds)
    instances = vec.get_attr("instance")
    n_bs = instances[0].n_bs
    rec = {
        "observations": np.zeros((k, h + 1, config.obs_dim), np.float32),
        "actions": np.zeros((k, h, n_max), np.float32),
        "rewards": np.zeros((k, h)),
        "powers_mw": np.zeros((k, h + 1, n_max), np.float32),
        "utilities": np.zeros((k, h + 1)),
    }
    rec["observations"][:, 0] = obs
    for e, (inst, p0) in enumerate(zip(instances, vec.get_attr("power_mw"), strict=True)):
        rec["powers_mw"][e, 0, : inst.n_users] = p0
        rec["utilities"][e, 0] = inst.objective(p0)[0]
    for t in range(h):
        powers = vec.get_attr("power_mw")
        actions = policy.act(obs, instances, powers)
        obs, rewards, _, _, infos = vec.step(actions)
        rec["observations"][:, t + 1] = obs
        rec["actions"][:, t] = actions
        rec["rewards"][:, t] = rewards
        rec["utilities"][:, t + 1] = infos["utility"]
        for e, p in enumerate(vec.get_attr("power_mw")):
            rec["powers_mw"][e, t + 1, : len(p)] = p
    out = {name: rec[name][: len(indices)] for name in rec}
    out.update(_labels(instances[: len(indices)], out, n_max, n_bs))
    out["seeds"] = np.asarray(seeds[: len(indices)], dtype=np.int64)
    out["episode_index"] = np.asarray(indices, dtype=np.int64)
    return {name: out[name] for name in FIELDS if name != "source"}


def _labels(instances, rec, n_max: int, n_bs: int) -> dict[str, np.ndarray]:
    e = len(instances)
    gains = np.zeros((e, n_max, n_bs))
    assoc = np.zeros((e, n_max), np.int32)
    constraint_ok = np.ones((e, len(CONSTRAINT_NAMES)), bool)
    limits = np.full((e, len(CONSTRAINT_NAMES)), np.nan)
    env_params = np.zeros((e, 5), np.float32)
    for i, inst in enumerate(instances):
        n = inst.n_users
        gains[i, :n], assoc[i, :n] = inst.gains, inst.assoc
        final = rec["powers_mw"][i, -1, :n].astype(float)
        violations = inst.evaluate(final).violations
        for c, name in enumerate(CONSTRAINT_NAMES):
            constraint_ok[i, c] = violations.get(name, 0.0) == 0.0
            limit = getattr(inst.constraints, name)
            limits[i, c] = np.nan if limit is None else limit
        serving = inst.gains[np.arange(n), inst.assoc]
        env_params[i] = [n, 10 * np.log10(inst.noise_mw), 10 * np.log10(serving).mean(),
                         inst.price, inst.n_bs]  # fmt: skip
    return {
        "gains": gains,
        "assoc": assoc,
        "noise_mw": np.array([inst.noise_mw for inst in instances]),
        "n_users": np.array([inst.n_users for inst in instances], np.int32),
        "returns": rec["rewards"].sum(axis=1),
        "final_utility": rec["utilities"][:, -1].copy(),
        "feasible": constraint_ok.all(axis=1),
        "constraint_ok": constraint_ok,
        "constraint_limits": limits,
        "env_params": env_params,
    }
