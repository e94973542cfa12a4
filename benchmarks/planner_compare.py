"""Diffusion planners side by side on the paper's instances (one run, same instances).

Each ``--planner NAME=DIR[,candidates=K,steps=S,w=W]`` (the ``diffusion:`` controller spec)
plans on:

- ``paper-fig3`` from (0, 0) mW with noise seeds 0 .. ``--fig3-seeds`` - 1: how many end at
  the exact optimum (28, 31) (``twin.solvers.exhaustive``);
- the held-out instances of ``aign benchmark paper`` (``evaluation.paper.held_out``: seeds
  0 .. ``--seeds`` - 1, ``--instances`` each; noise seed = the instance's seed, as there):
  share of the best reference, mean over instances per seed then over seeds, and the
  planner's own seconds per plan (min and median).

Usage (the "before" model is the one committed before issue 4, 77a8d90)::

    mkdir -p /tmp/before && git show 77a8d90:models/paper/model.safetensors \
        > /tmp/before/model.safetensors && git show 77a8d90:models/paper/config.json \
        > /tmp/before/config.json
    .venv/bin/python benchmarks/planner_compare.py \
        --planner before=/tmp/before,candidates=16 --planner after=models/paper

Writes ``benchmarks/results/planner/compare.csv`` (tidy) and prints a markdown table.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from diffusion.planner import diffusion_controller  # noqa: E402
from evaluation.paper import SCENARIOS, held_out  # noqa: E402
from twin.api import snapshot_instance  # noqa: E402
from twin.solvers import best_reference, exhaustive  # noqa: E402

FIELDS = ("planner", "scenario", "seed", "instance", "candidates", "end_mw", "utility",
          "share_of_reference", "seconds")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--planner", action="append", required=True, metavar="NAME=DIR[,k=v]",
                        help="a planner (repeatable)")  # fmt: skip
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--instances", type=int, default=8)
    parser.add_argument("--fig3-seeds", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/planner/compare.csv"))
    args = parser.parse_args(argv)  # fmt: skip
    torch.set_num_threads(1)
    planners = {}
    for spec in args.planner:
        name, _, rest = spec.partition("=")
        planners[name] = diffusion_controller(rest).planner
    fig3 = snapshot_instance("paper-fig3")
    optimum = exhaustive(fig3)
    cases = [("paper-fig3", s, 0, fig3, float(fig3.objective(optimum)[0]))
             for s in range(args.fig3_seeds)]  # fmt: skip
    for scenario in SCENARIOS:
        for s in range(args.seeds):
            for k, inst in enumerate(held_out(scenario, s, args.instances)):
                ref = float(best_reference(inst).predicted["utility"])
                cases.append((scenario, s, k, inst, ref))
    rows = []
    started = time.perf_counter()
    for scenario, seed, k, inst, ref in cases:
        for name, planner in planners.items():  # interleaved: both see the same machine load
            r = planner.plan(inst, seed=seed, recover_actions=False)
            end = r.designs_mw[0]
            rows.append({"planner": name, "scenario": scenario, "seed": seed, "instance": k,
                         "candidates": len(r.utility),
                         "end_mw": " ".join(f"{x:g}" for x in end) if len(end) <= 2 else "",
                         "utility": float(r.utility[0]), "share_of_reference": r.utility[0] / ref,
                         "seconds": r.seconds})  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print("| planner | scenario | K | share of best reference (per seed) | ends at (28, 31) "
          "| time per plan (min / median) |\n|---|---|---|---|---|---|")  # fmt: skip
    for scenario in ("paper-fig3", *SCENARIOS):
        for name in planners:
            mine = [r for r in rows if r["planner"] == name and r["scenario"] == scenario]
            seeds = sorted({r["seed"] for r in mine})
            if scenario == "paper-fig3":
                hits = sum(r["end_mw"] == "28 31" for r in mine)
                share = f"{np.mean([r['share_of_reference'] for r in mine]):.6f}"
                ends = f"{hits}/{len(mine)}"
            else:
                per_seed = [np.mean([r["share_of_reference"] for r in mine if r["seed"] == s])
                            for s in seeds]  # fmt: skip
                share = f"{np.mean(per_seed):.4f} ({', '.join(f'{x:.4f}' for x in per_seed)})"
                ends = ""
            t = np.array([r["seconds"] for r in mine]) * 1000
            print(f"| {name} | {scenario} | {mine[0]['candidates']} | {share} | {ends} "
                  f"| {t.min():.1f} / {np.median(t):.1f} ms |")  # fmt: skip
    print(f"\n{len(rows)} plans in {time.perf_counter() - started:.0f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
