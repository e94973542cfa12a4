"""``aign plan``: designs for an instance, with their time and gap to the reference: by the
method the Pareto benchmark found best for the size and time budget (``auto``, the default),
or K candidates from the diffusion planner."""

from __future__ import annotations

import argparse
import sys

from twin.core import AignError, finite
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
    if args.generator == "auto":
        given = [flag for flag, on in (
            ("--candidates", args.candidates is not None), ("--steps", args.steps != 4),
            ("--guidance-weight", args.guidance_weight != 1.0), ("--compose", args.compose),
            ("--target-return", args.target_return is not None), ("--refine", args.refine != 0),
        ) if on]  # fmt: skip
        if given:
            raise AignError(f"{', '.join(given)}: for the diffusion planner; add --generator "
                            "diffusion (auto runs one method as the Pareto benchmark measured "
                            "it)")  # fmt: skip
        return _plan_auto(args, instance)
    if args.generator != "diffusion":
        raise AignError(f"unknown generator {args.generator!r} (auto or diffusion)")
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


def _plan_auto(args: argparse.Namespace, instance) -> int:
    """``--generator auto``: one design by the frontier method for this size and budget."""
    from evaluation.auto import auto_design
    from twin.core import write_json_atomic
    from twin.solvers import best_reference

    choice = auto_design(instance, args.time_budget, model=args.model)
    reference = best_reference(instance)
    ref_u, u = reference.predicted["utility"], choice.design.predicted["utility"]
    gap = (ref_u - u) / abs(ref_u) if ref_u else None
    design = choice.design.to_dict()
    design["predicted"]["gap_to_reference"] = gap
    data = {"generator": "auto", "time_budget_s": args.time_budget, "choice": choice.to_dict(),
            "designs": [design], "reference": reference.to_dict(),
            "instance": instance.fingerprint()}  # fmt: skip
    if args.out:
        write_json_atomic(args.out, finite(data))
    summary = plan_summary(choice.design.predicted, instance.constraints, reference.source,
                           ref_u, gap)  # fmt: skip
    slow_load = choice.load_seconds > 0.05
    loaded = f" (after {choice.load_seconds:.1f} s loading its weights)" if slow_load else ""
    print(
        f"{'wrote ' + args.out + ': ' if args.out else ''}auto chose {choice.method} "
        f"(the best within {args.time_budget:g} s at {choice.case}: median "
        f"{choice.measured_seconds * 1000:.1f} ms, mean quality {choice.measured_quality:.4f}); "
        f"design in {choice.seconds * 1000:.1f} ms{loaded}; {summary}",
        file=sys.stderr if args.json else sys.stdout,
    )
    if args.json:
        print_json(finite(data))
    return 0 if choice.design.predicted["feasible"] else EXIT_NOT_ACCEPTED


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this family's commands on ``aign``'s parser."""
    plan = sub.add_parser(
        "plan", help="designs for an instance: the best method for its size and a time budget "
                     "(auto), or the diffusion planner",
    )  # fmt: skip
    plan.add_argument("target", metavar="SCENARIO|INSTANCE", help="scenario, or instance JSON")
    plan.add_argument(
        "--model", metavar="DIR", help="aign train diffusion --out (default: models/paper)"
    )
    plan.add_argument("--generator", choices=["auto", "diffusion"], default="auto",
                      help="auto (default): the method the Pareto benchmark found best for "
                           "the size within --time-budget; diffusion: K planner candidates",
                      )  # fmt: skip
    plan.add_argument("--time-budget", type=float, default=1.0, metavar="S",
                      help="auto: seconds per design to choose within (1)")
    plan.add_argument("--candidates", type=int,
                      help="diffusion: K (default 16; fewer on very large networks)")
    plan.add_argument("--steps", type=int, default=4, help="diffusion: DDIM steps (4)")
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
