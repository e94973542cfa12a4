"""The planner trained on stage 1's SAC data against the planner trained on expert data.

    nice .venv/bin/python benchmarks/planner_data_source.py \
        --model expert=models/paper --model sac=.model-data-sac/model [--agent sac=models/sac]

Held-out instances of the Pareto cases (``evaluation.pareto.case_instances``: never used in
training), the same instances and noise seeds for every model; each planner at its defaults
with ``--candidates`` K (16) and no refinement. Quality = utility / the instance's best
reference (``twin.solvers.best_reference``: multi-start coordinate ascent or WMMSE, whichever
is better), as in Table I. ``--agent`` also rolls a stage-1 agent from 0 mW (the data's
source) on the same instances. Reported per case: each method's mean, worst instance and the
ratio of its mean to the first model's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from diffusion import load_planner  # noqa: E402
from evaluation.pareto import CASES, case_instances  # noqa: E402
from twin.solvers import best_reference  # noqa: E402

DEFAULT_CASES = (
    "paper-20,paper-50,paper-80,default,paper-50-price-x0.5,paper-50-price-x2,city-200x20"
)


def named(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, _, path = pair.partition("=")
        if not path:
            raise SystemExit(f"expected NAME=PATH, got {pair!r}")
        out[name] = path
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, metavar="NAME=DIR")
    parser.add_argument("--agent", action="append", default=[], metavar="NAME=DIR")
    parser.add_argument("--cases", default=DEFAULT_CASES)
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--out", default=None, help="also write the rows as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    planners = {n: load_planner(p, candidates=args.candidates, recover_actions=False)
                for n, p in named(args.model).items()}  # fmt: skip
    methods = {f"planner[{n}] K={args.candidates}": (lambda inst, p=p: p.plan(inst).designs_mw[0])
               for n, p in planners.items()}  # fmt: skip
    if args.agent:
        from agents.controllers import load_agent, rollout
        from agents.mdp import initial_power

        for n, path in named(args.agent).items():
            agent = load_agent(n.split("-")[0], path)
            methods[f"agent[{n}]"] = lambda inst, a=agent: rollout(a, inst, initial_power(inst))
    started = time.time()
    rows = []
    for case_name in args.cases.split(","):
        case = CASES[case_name]
        n = min(args.instances, case.max_instances or args.instances)
        shares: dict[str, list[float]] = {m: [] for m in methods}
        for inst in case_instances(case, n):
            ref = float(inst.objective(best_reference(inst).power_mw)[0])
            for m, design in methods.items():
                shares[m].append(float(inst.objective(np.asarray(design(inst)))[0]) / ref)
        first = float(np.mean(next(iter(shares.values()))))
        for m, s in shares.items():
            rows.append({"case": case_name, "method": m, "instances": n,
                         "mean": float(np.mean(s)), "worst": float(np.min(s)),
                         "worst_instance": int(np.argmin(s)),
                         "mean_over_first": float(np.mean(s)) / first})  # fmt: skip
        print(f"{case_name}: done at {time.time() - started:.0f} s", file=sys.stderr)
    print("| case | method | mean | worst (instance) | mean / first model's |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} ({r['instances']}) | {r['method']} | {r['mean']:.4f} | "
              f"{r['worst']:.4f} ({r['worst_instance']}) | {r['mean_over_first']:.4f} |")
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
