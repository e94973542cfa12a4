"""Action recovery in ``aign plan``: all K candidates at once (the planner) against one
candidate at a time (the loop it replaced), on paper-fig3's 640 default candidates.

Both replay the MDP's own step (``agents.mdp.action_towards`` / ``next_power``); the script
checks that they give identical actions and states, then times each (median of repeats).

    .venv/bin/python benchmarks/action_recovery.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from agents.mdp import action_towards, next_power
from diffusion import default_model_dir, load_planner
from twin.api import snapshot_instance


def one_at_a_time(instance, trajectories, config):
    k, steps, n = trajectories.shape
    actions = np.zeros((k, steps - 1, n), np.float32)
    realized = np.empty_like(trajectories)
    for c in range(k):
        p = realized[c, 0] = trajectories[c, 0]
        for t in range(steps - 1):
            a = action_towards(instance, p, trajectories[c, t + 1], config)
            p = realized[c, t + 1] = next_power(instance, p, a, config)
            actions[c, t] = a[:n]
    return actions, realized


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--scenario", default="paper-fig3")
    args = parser.parse_args()
    planner = load_planner(default_model_dir())
    instance = snapshot_instance(args.scenario)
    result = planner.plan(instance, recover_actions=False)
    traj, config = result.trajectories_mw, planner.model.mdp
    batched = planner._recover_actions(instance, traj)
    looped = one_at_a_time(instance, traj, config)
    assert all(np.array_equal(a, b) for a, b in zip(batched, looped, strict=True))
    t_batch = _median_seconds(lambda: planner._recover_actions(instance, traj), args.repeats)
    t_loop = _median_seconds(lambda: one_at_a_time(instance, traj, config), args.repeats)
    print(f"{args.scenario}: {traj.shape[0]} candidates x {traj.shape[1] - 1} steps; identical")
    print(f"one at a time {t_loop * 1e3:.1f} ms, batched {t_batch * 1e3:.2f} ms, "
          f"{t_loop / t_batch:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
