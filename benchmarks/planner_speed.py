"""The planner's time per plan against coordinate ascent, side by side in one run.

    nice -n 10 .venv/bin/python benchmarks/planner_speed.py [--users 80] [--instances 10]

Held-out paper instances (``evaluation.paper.held_out``); for each instance the methods run
back to back in a rotated order, ``--repeats`` times, timed in-process (torch 1 thread, the
planner warmed up once). Reported: the median time per design of each method, its ratio to
the planner's, and the mean and worst quality (utility / the best of these methods on the
instance).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from diffusion import default_model_dir, load_planner  # noqa: E402
from evaluation.paper import held_out  # noqa: E402
from twin.solvers import coordinate_ascent, wmmse  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=80)
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    planner = load_planner(args.model or default_model_dir(), candidates=args.candidates,
                           recover_actions=False)  # fmt: skip
    instances = held_out(f"paper-{args.users}", 0, args.instances)
    planner.plan(instances[0])  # warm-up: torch's first calls
    methods = {
        f"planner K={args.candidates}": lambda i: planner.plan(i).designs_mw[0],
        "coordinate, 1 sweep": lambda i: coordinate_ascent(i, starts=1, max_sweeps=1),
        "coordinate, 2 sweeps": lambda i: coordinate_ascent(i, starts=1, max_sweeps=2),
        "coordinate, to convergence": lambda i: coordinate_ascent(i, starts=1),
        "WMMSE": wmmse,
    }
    times: dict[str, list[float]] = {m: [] for m in methods}
    quality: dict[str, list[float]] = {m: [] for m in methods}
    names = list(methods)
    for k, inst in enumerate(instances):
        best = None
        for r in range(args.repeats):
            shift = (k * args.repeats + r) % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                design = methods[name](inst)
                times[name].append(time.perf_counter() - start)
                if r == 0:
                    u = float(inst.objective(np.asarray(design))[0])
                    quality[name].append(u)
                    best = u if best is None else max(best, u)
        for name in names:
            quality[name][-1] /= best
    base = statistics.median(times[names[0]])
    print(f"paper-{args.users}: {args.instances} held-out instances x {args.repeats} repeats, "
          f"torch threads 1")  # fmt: skip
    print("| method | median time | time / planner's | mean quality | worst |")
    print("|---|---:|---:|---:|---:|")
    for name in names:
        t = statistics.median(times[name])
        print(f"| {name} | {t * 1e3:.2f} ms | {t / base:.2f} | {np.mean(quality[name]):.5f} "
              f"| {np.min(quality[name]):.5f} |")  # fmt: skip


if __name__ == "__main__":
    main()
