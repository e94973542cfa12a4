"""The planner's fixed cost at scale, beside the fastest classical method that reaches 0.99.

    nice .venv/bin/python benchmarks/planner_floor.py [--repeats 7]

Issue 13 asks, at 1000 x 20 and 10 000 x 100, for >= 0.99 of the best classical design in
<= 1/10 of the time of the fastest classical method reaching 0.99. Whatever the network
does, a plan first lays out the interference graph and runs the encoder once, and every
DDIM step after the first needs the radio state of the estimate. This times those parts
alone (a plan that sampled nothing would still cost them), in-process and interleaved with
the priced best-response dynamics (16 steps, the fastest classical method reaching 0.99 in
the Pareto run), on the Pareto cases' held-out instances. The median of each is reported
with its ratio to the dynamics' time: if the floor alone exceeds a tenth of the dynamics,
the target is out of reach for this planner design at any quality.
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

from diffusion import load_planner  # noqa: E402
from diffusion.graph import design_graph, radio_features  # noqa: E402
from evaluation.pareto import CASES, case_instances  # noqa: E402
from twin.solvers import priced_response_dynamics  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "paper"))
    parser.add_argument("--cases", default="city-200x20,city-1000x20,city-10000x100")
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    planner = load_planner(args.model, recover_actions=False)
    model = planner.model
    print("| case | priced dynamics, 16 steps | graph layout | encoder | radio state, 1 candidate "
          "| floor (layout + encoder) / dynamics | planner K=1, whole plan / dynamics |")
    print("|---|---|---|---|---|---|---|")
    for name in args.cases.split(","):
        case = CASES[name]
        times: dict[str, list[float]] = {k: [] for k in
                                         ("dyn", "graph", "encode", "radio", "plan")}  # fmt: skip
        for inst in case_instances(case, min(args.instances, case.max_instances or 99)):
            planner.plan(inst, candidates=1)  # warm-up
            for _ in range(args.repeats):
                t = time.perf_counter()
                priced_response_dynamics(inst)
                times["dyn"].append(time.perf_counter() - t)
                t = time.perf_counter()
                graph = design_graph(inst, model.neighbours)
                times["graph"].append(time.perf_counter() - t)
                t = time.perf_counter()
                with torch.no_grad():
                    model.denoiser.encode(graph.static, graph.neighbours, graph.edges,
                                          graph.valid, sparse=True)  # fmt: skip
                times["encode"].append(time.perf_counter() - t)
                p = np.full((1, inst.n_users), float(inst.levels_mw[-1]) / 2)
                t = time.perf_counter()
                radio_features(graph, p)
                times["radio"].append(time.perf_counter() - t)
                t = time.perf_counter()
                planner.plan(inst, candidates=1)
                times["plan"].append(time.perf_counter() - t)
        med = {k: float(np.median(v)) * 1e3 for k, v in times.items()}
        floor = med["graph"] + med["encode"]
        print(f"| {name} | {med['dyn']:.2f} ms | {med['graph']:.2f} ms | {med['encode']:.2f} ms "
              f"| {med['radio']:.2f} ms | {floor / med['dyn']:.2f} | "
              f"{med['plan'] / med['dyn']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
