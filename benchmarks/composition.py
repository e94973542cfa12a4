"""Constraint composition (issue 4): a per-user minimum rate and a total power budget, imposed
alone and together, on the held-out instances of ``aign benchmark paper``.

For each scenario, seed ``s`` and instance ``k`` (``evaluation.paper.held_out(scenario, s, k)``,
the Table I instances; noise seed = ``s``, as there), the limits are derived from the
unconstrained best reference ``p*`` (:func:`twin.solvers.best_reference`):

- **budget** ``Y = power_fraction x sum(p*)`` (default 0.8): binding by construction, the
  unconstrained optimum spends more;
- **minimum rate** ``X``: starts at the ``rate_percentile``-th percentile (default 10) of the
  rates under ``p*`` and moves halfway towards their minimum ``r_min`` (``X <- r_min + (X -
  r_min) / 2``) until the best reference of the instance with *both* constraints satisfies
  both (at most ``max_halvings`` times; if it never does, the last ``X`` is kept and the
  reference's satisfaction rate shows it). ``X`` stays above ``r_min``, so it is binding
  whenever the percentile is above the minimum: at least one user of ``p*`` falls short
  (``binding_rate`` in the JSON; users the optimum switches off have rate 0).

The shipped model (or ``--model``) then plans with its default settings (K by size, 5 DDIM
steps, w = 1) under five settings, side by side on the same instance: ``none`` (no
constraint), ``min-rate`` (X only), ``budget`` (Y only), ``both`` (X and Y, guided jointly)
and ``both+compose`` (X and Y, ``compose=True``: guidance summed over the goal groups).

Per setting, over seeds x instances (mean and 95% t-interval, ``evaluation.paper.mean_ci95``):

- how often the planner's best design satisfies X, Y and both (always measured against both
  limits, whatever was imposed: ``none`` says how often an unconstrained plan meets them
  by chance);
- its utility as a share of the best reference *under the setting's own constraints* (which
  ranks by violation, then utility);
- the same satisfaction rates for that reference design;
- the share of the K candidates that meet the setting's own constraints (the ranking puts
  them first, :func:`diffusion.planner._rank`; if none does, no ranking can help);
- the planner's seconds per plan.

Run ``python benchmarks/composition.py --help`` for the options; ``--quick`` is a smoke mode
(paper-20, one seed, two instances).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from bench_args import parse_dataclass_args

from diffusion import default_model_dir, load_planner
from evaluation.paper import held_out, machine, mean_ci95, model_label
from twin.radio import Constraints, ProblemInstance
from twin.solvers import best_reference

# name -> (impose the minimum rate, impose the budget, compose)
SETTINGS = {
    "none": (False, False, False),
    "min-rate": (True, False, False),
    "budget": (False, True, False),
    "both": (True, True, False),
    "both+compose": (True, True, True),
}
# The planner's warning when no candidate is feasible (counted by feasible_candidates).
NONE_FEASIBLE = "no candidate satisfies the constraints"
METRICS = ("planner_rate_ok", "planner_budget_ok", "planner_both_ok", "share_of_reference",
           "reference_rate_ok", "reference_budget_ok", "reference_both_ok",
           "feasible_candidates", "seconds")  # fmt: skip


@dataclass
class Args:
    scenarios: str = "paper-20,paper-50"
    """comma-separated scenarios (held-out instances of ``aign benchmark paper``)"""
    seeds: int = 3
    """seeds 0 .. seeds-1 (instance sampler environment and the planner's noise seed)"""
    instances: int = 8
    """held-out instances per seed"""
    power_fraction: float = 0.8
    """budget Y = this fraction of the unconstrained best reference's total power"""
    rate_percentile: float = 10.0
    """minimum rate X starts at this percentile of the unconstrained reference's rates"""
    max_halvings: int = 10
    """move X halfway to the lowest reference rate at most this many times, until the
    reference satisfies X and Y together"""
    model: str = ""
    """model folder (default: the shipped model, diffusion.default_model_dir())"""
    guidance_weight: float = 1.0
    """the planner's guidance weight w (1: its default)"""
    refine: int = 0
    """polish the best R candidates by coordinate ascent on the twin (0: the planner alone)"""
    json: str | None = None
    """write the results (per-plan rows, summary, table) to this JSON file"""
    quick: bool = False
    """smoke mode: paper-20, one seed, two instances"""


def with_constraints(instance: ProblemInstance, x: float | None, y: float | None):
    return dataclasses.replace(
        instance, constraints=Constraints(min_rate_bps=x, max_total_power_mw=y)
    )


def limits(instance: ProblemInstance, args: Args) -> dict:
    """X and Y for one instance (the rule in the module docstring) and their references."""
    base = with_constraints(instance, None, None)
    ref = best_reference(base)
    metrics = base.evaluate(ref.power_mw)
    y = args.power_fraction * metrics.total_power_mw
    r_min = float(np.min(metrics.rate_bps))
    x = float(np.percentile(metrics.rate_bps, args.rate_percentile))
    for _ in range(args.max_halvings + 1):
        both = with_constraints(instance, x, y)
        ref_both = best_reference(both)
        if both.evaluate(ref_both.power_mw).feasible:
            break
        x = r_min + (x - r_min) / 2
    return {
        "x": x,
        "y": y,
        "binding_rate": bool(np.any(metrics.rate_bps < x)),
        "binding_budget": bool(metrics.total_power_mw > y),
        "references": {
            (False, False): ref,
            (True, False): best_reference(with_constraints(instance, x, None)),
            (False, True): best_reference(with_constraints(instance, None, y)),
            (True, True): ref_both,
        },
    }


def satisfied(instance: ProblemInstance, power_mw: np.ndarray, x: float, y: float) -> dict:
    """Whether ``power_mw`` meets X, Y and both (the twin's own check)."""
    v = with_constraints(instance, x, y).evaluate(power_mw).violations
    rate_ok, budget_ok = v["min_rate_bps"] == 0.0, v["max_total_power_mw"] == 0.0
    return {"rate_ok": rate_ok, "budget_ok": budget_ok, "both_ok": rate_ok and budget_ok}


def run(args: Args) -> tuple[list[dict], list[str]]:
    """Every plan's row, and the distinct planner warnings seen."""
    planner = load_planner(args.model or default_model_dir(), threads=1)
    rows, warnings = [], []
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for scenario in names:
        for seed in range(args.seeds):
            for k, instance in enumerate(held_out(scenario, seed, args.instances)):
                lim = limits(instance, args)
                x, y = lim["x"], lim["y"]
                for setting, (use_x, use_y, compose) in SETTINGS.items():
                    inst = with_constraints(instance, x if use_x else None, y if use_y else None)
                    result = planner.plan(inst, seed=seed, compose=compose,
                                          guidance_weight=args.guidance_weight,
                                          refine=args.refine,
                                          recover_actions=False)  # fmt: skip
                    new = [w for w in result.warnings if not w.startswith(NONE_FEASIBLE)]
                    warnings += [w for w in new if w not in warnings]
                    best = result.designs_mw[0]
                    ref = lim["references"][use_x, use_y].power_mw
                    mine, theirs = satisfied(inst, best, x, y), satisfied(inst, ref, x, y)
                    ref_utility = inst.evaluate(ref).utility
                    rows.append({
                        "scenario": scenario, "seed": seed, "instance": k, "setting": setting,
                        "min_rate_bps": x, "max_total_power_mw": y,
                        "binding_rate": lim["binding_rate"],
                        "binding_budget": lim["binding_budget"],
                        "candidates": len(result.utility),
                        "planner_utility": float(result.utility[0]),
                        "reference_utility": float(ref_utility),
                        "share_of_reference": float(result.utility[0] / ref_utility),
                        "feasible_candidates": float(np.mean(result.violation == 0.0)),
                        **{f"planner_{key}": ok for key, ok in mine.items()},
                        **{f"reference_{key}": ok for key, ok in theirs.items()},
                        "seconds": result.seconds,
                    })  # fmt: skip
                print(f"{scenario} seed {seed} instance {k}: X = {x:.4g} bit/s, Y = {y:.4g} mW",
                      file=sys.stderr, flush=True)  # fmt: skip
    return rows, warnings


def summarize(rows: list[dict]) -> list[dict]:
    """Mean and 95% half-width of every metric per scenario and setting."""
    out = []
    for scenario in dict.fromkeys(r["scenario"] for r in rows):
        for setting in SETTINGS:
            mine = [r for r in rows if r["scenario"] == scenario and r["setting"] == setting]
            entry = {
                "scenario": scenario,
                "setting": setting,
                "n": len(mine),
                "candidates": mine[0]["candidates"],
                "binding_rate": float(np.mean([r["binding_rate"] for r in mine])),
                "binding_budget": float(np.mean([r["binding_budget"] for r in mine])),
            }
            for metric in METRICS:
                mean, half = mean_ci95(float(r[metric]) for r in mine)
                entry[metric] = mean
                entry[f"{metric}_ci95"] = half
            entry["seconds_median"] = float(np.median([r["seconds"] for r in mine]))
            out.append(entry)
    return out


def _pm(entry: dict, metric: str, digits: int) -> str:
    half = entry[f"{metric}_ci95"]
    text = f"{entry[metric]:.{digits}f}"
    return text if half is None else f"{text} ± {half:.{digits}f}"


def markdown(summary: list[dict]) -> str:
    lines = [
        "| scenario | setting | planner meets X | meets Y | meets both | share of reference "
        "| reference meets X | meets Y | meets both | feasible candidates "
        "| ms per plan (median) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in summary:
        lines.append(
            f"| {e['scenario']} (K = {e['candidates']}, n = {e['n']}) | {e['setting']} "
            f"| {_pm(e, 'planner_rate_ok', 2)} | {_pm(e, 'planner_budget_ok', 2)} "
            f"| {_pm(e, 'planner_both_ok', 2)} | {_pm(e, 'share_of_reference', 4)} "
            f"| {_pm(e, 'reference_rate_ok', 2)} | {_pm(e, 'reference_budget_ok', 2)} "
            f"| {_pm(e, 'reference_both_ok', 2)} | {_pm(e, 'feasible_candidates', 3)} "
            f"| {1000 * e['seconds_median']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse_dataclass_args(Args, argv, __doc__.split("\n\n")[0])
    if args.quick:
        args = dataclasses.replace(args, scenarios="paper-20", seeds=1, instances=2)
    torch.set_num_threads(1)
    started = time.perf_counter()
    rows, warnings = run(args)
    summary = summarize(rows)
    table = markdown(summary)
    print(table)
    for w in warnings:
        print(f"planner warning: {w}")
    results = {
        "benchmark": "composition",
        "command": " ".join(
            ["python", "benchmarks/composition.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(threads=1),
        "load_average": os.getloadavg(),
        "model": model_label(args.model or default_model_dir()),
        "args": dataclasses.asdict(args),
        "wall_s": time.perf_counter() - started,
        "warnings": warnings,
        "summary": summary,
        "table": table,
        "rows": rows,
    }
    print(f"\n{len(rows)} plans in {results['wall_s']:.0f} s", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
