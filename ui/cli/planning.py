"""``aign plan``: candidate designs from the diffusion planner, with the gap to the reference."""

from __future__ import annotations

import argparse
import sys

from twin.core import finite
from ui.cli.common import (
    EXIT_NOT_ACCEPTED,
    print_json,
)


def cmd_plan(args: argparse.Namespace) -> int:
    """K candidate designs from the diffusion planner, scored on the twin, with the gap to
    the best reference the twin can compute. Prints a summary; the designs JSON goes to
    ``--out`` and/or, with ``--json``, stdout. Exit 3 when no candidate meets the
    constraints."""
    from dataclasses import replace

    from diffusion import default_model_dir, load_planner
    from twin.core import write_json_atomic
    from twin.radio import Constraints, ProblemInstance
    from twin.solvers import best_reference

    if args.target.endswith(".json"):
        instance = ProblemInstance.load(args.target)
    else:
        from twin.api import snapshot_instance

        instance = snapshot_instance(args.target, time_s=0.0, seed=args.seed)
    if args.min_rate is not None or args.max_total_power is not None:
        c = instance.constraints
        instance = replace(
            instance,
            constraints=Constraints(
                min_rate_bps=c.min_rate_bps if args.min_rate is None else args.min_rate,
                max_total_power_mw=c.max_total_power_mw
                if args.max_total_power is None
                else args.max_total_power,
                max_interference_mw=c.max_interference_mw,
            ),
        )
    settings = {"candidates": args.candidates, "steps": args.steps, "seed": args.plan_seed,
                "guidance_weight": args.guidance_weight, "compose": args.compose,
                "refine": args.refine}  # fmt: skip
    if args.target_return is not None:
        settings["target_return"] = args.target_return
    model = args.model or default_model_dir()
    result = load_planner(model, **settings).plan(instance)
    reference = best_reference(instance)
    ref_u = reference.predicted["utility"]
    data = result.to_dict()
    for design in data["designs"]:
        u = design["predicted"]["utility"]
        design["predicted"]["gap_to_reference"] = (ref_u - u) / abs(ref_u) if ref_u else None
    data["reference"] = reference.to_dict()
    data["instance"] = instance.fingerprint()
    if args.out:
        write_json_atomic(args.out, finite(data))
    best = result.best
    summary = plan_summary(best.predicted, instance.constraints, reference.source, ref_u,
                           data["designs"][0]["predicted"]["gap_to_reference"])  # fmt: skip
    head = f"{'wrote ' + args.out + ': ' if args.out else ''}{len(data['designs'])} candidates " \
           f"in {result.seconds * 1000:.0f} ms; "
    # stdout holds the summary, or with --json only the JSON (the summary goes to stderr)
    print(head + summary, file=sys.stderr if args.json else sys.stdout)
    for warning in result.warnings:
        print(f"aign plan: warning: {warning}", file=sys.stderr)
    if args.json:
        print_json(finite(data))
    return 0 if best.predicted["feasible"] else EXIT_NOT_ACCEPTED


def plan_summary(predicted: dict, constraints, reference: str, ref_u: float,
                 gap: float | None) -> str:  # fmt: skip
    """One line on the best candidate: its utility against the reference, and when it breaks
    a constraint, by how much (it is then no design to deploy)."""
    gap_text = f"{gap:.3%}" if gap is not None else "n/a (the reference utility is 0)"
    text = (f"best utility {predicted['utility']:.6g}, reference {reference} {ref_u:.6g}, "
            f"gap {gap_text}")
    if predicted["feasible"]:
        return text + "; it meets every constraint"
    missed = []
    floor = constraints.min_rate_bps
    if floor is not None and predicted["min_rate_bps"] < floor:
        missed.append(f"its lowest user rate is {predicted['min_rate_bps'] / 1e3:.3g} kb/s, "
                      f"under the minimum {floor / 1e3:.3g} kb/s")
    budget = constraints.max_total_power_mw
    if budget is not None and predicted["total_power_mw"] > budget:
        missed.append(f"it spends {predicted['total_power_mw']:.4g} mW, over the budget "
                      f"{budget:.4g} mW")
    return (text + "; INFEASIBLE: no candidate meets the constraints ("
            + ("; ".join(missed) or "an interference cap is exceeded")
            + "); try --refine 4, or relax the constraints")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this family's commands on ``aign``'s parser."""
    plan = sub.add_parser("plan", help="candidate designs from the diffusion planner")
    plan.add_argument("target", metavar="SCENARIO|INSTANCE", help="scenario, or instance JSON")
    plan.add_argument(
        "--model", metavar="DIR", help="aign train diffusion --out (default: models/paper)"
    )
    plan.add_argument("--candidates", type=int, help="K (default: 1280 / users, at least 16)")
    plan.add_argument("--steps", type=int, default=5, help="DDIM steps (5)")
    plan.add_argument("--guidance-weight", type=float, default=1.0, help="w (1.0)")
    plan.add_argument("--target-return", type=float, help="normalized return to ask for (1.0)")
    plan.add_argument("--min-rate", type=float, metavar="BPS", help="impose a per-user min rate")
    plan.add_argument("--max-total-power", type=float, metavar="MW", help="impose a budget")
    plan.add_argument("--compose", action="store_true", help="compose constraint guidance")
    plan.add_argument("--refine", type=int, default=0, metavar="R",
                      help="polish the best R candidates by coordinate ascent on the twin "
                           "(each marked refined; 0: none)")  # fmt: skip
    plan.add_argument("--seed", type=int, help="scenario seed for the snapshot")
    plan.add_argument("--plan-seed", type=int, default=0, help="seed of the sampling noise")
    plan.add_argument("--out", metavar="FILE", help="write the designs JSON to FILE")
    plan.add_argument("--json", action="store_true",
                      help="print the designs JSON on stdout (the summary goes to stderr)")
    plan.set_defaults(func=cmd_plan)
