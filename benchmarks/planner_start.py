"""Does the planner earn a place as a *start* for the best-response dynamics? (issue 13)

    nice .venv/bin/python benchmarks/planner_start.py [--cases paper-50,city-200x20,city-1000x20]

The Pareto run found the best-response dynamics (``twin.solvers.best_response_dynamics``,
``priced_response_dynamics``) ahead of every learned method. This measures the hybrid its
note proposes beside the classical one that competes with it, on the Pareto cases' held-out
instances (``evaluation.pareto.case_instances``): the planner's best of K = 1 or 4
candidates, then 4 steps of checked best responses, against 8 priced steps then the same 4
checked steps, and each alone. Quality = utility / the best design any method here found
(coordinate ascent to convergence included); time = median wall time per design,
in-process, the methods interleaved on each instance, the planner warmed up once.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from diffusion import default_model_dir, load_planner  # noqa: E402
from evaluation.pareto import CASES, case_instances  # noqa: E402
from twin.solvers import (  # noqa: E402
    best_response_dynamics,
    coordinate_ascent,
    priced_response_dynamics,
)


def methods(planner) -> dict:
    def plan(inst, k):
        return planner.plan(inst, candidates=k, recover_actions=False).designs_mw[0]

    return {
        "priced, 16 steps": lambda i: priced_response_dynamics(i),
        "checked, 16 steps": lambda i: best_response_dynamics(i),
        "planner K=1": lambda i: plan(i, 1),
        "planner K=1, then checked 4": lambda i: best_response_dynamics(i, 4, init=plan(i, 1)),
        "planner K=4, then checked 4": lambda i: best_response_dynamics(i, 4, init=plan(i, 4)),
        "priced 8, then checked 4": lambda i: best_response_dynamics(
            i, 4, init=priced_response_dynamics(i, 8)),
        "coordinate, to convergence": lambda i: coordinate_ascent(i, starts=1),
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="paper-50,city-200x20,city-1000x20")
    args = ap.parse_args()
    torch.set_num_threads(1)
    planner = load_planner(default_model_dir())
    table = methods(planner)
    print("| case | method | median time | quality mean | worst |")
    print("|---|---|---:|---:|---:|")
    for name in args.cases.split(","):
        case = CASES[name]
        instances = case_instances(case, min(20, case.max_instances or 20))
        planner.plan(instances[0], candidates=1, recover_actions=False)  # warm-up
        seconds = {m: [] for m in table}
        utility = {m: [] for m in table}
        for k, inst in enumerate(instances):
            order = list(table)[k % len(table):] + list(table)[:k % len(table)]  # rotated
            for m in order:
                start = time.perf_counter()
                p = table[m](inst)
                seconds[m].append(time.perf_counter() - start)
                utility[m].append(float(inst.objective(p)[0]))
        best = np.max(np.array(list(utility.values())), axis=0)
        for m in table:
            q = np.array(utility[m]) / best
            print(f"| {name} ({len(instances)}) | {m} | {1e3 * np.median(seconds[m]):.1f} ms | "
                  f"{q.mean():.4f} | {q.min():.4f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
