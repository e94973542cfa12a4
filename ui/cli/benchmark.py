"""``aign benchmark paper | planner``: the paper's figures reproduced on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from twin.core import AignError


def cmd_benchmark(args: argparse.Namespace) -> int:
    """Reproduce the paper's Fig. 3 and Table I on this machine (see evaluation/paper.py)."""
    from evaluation.paper import QUICK, PaperArgs, run_paper, with_quick

    if args.suite == "planner":
        return cmd_benchmark_planner(args)
    if args.suite == "pareto":
        return cmd_benchmark_pareto(args)
    if args.suite != "paper":
        raise AignError(f"unknown benchmark {args.suite!r} (known: paper, planner, pareto)")
    scenarios = tuple(s.strip() for s in (args.scenarios or "").split(",") if s.strip())
    names = ("seeds", "instances", "sac_steps", "episodes_per_source", "bcq_steps",
             "user_sac_steps", "user_episodes", "user_bcq_steps", "large_users")  # fmt: skip
    values = {k: getattr(args, k) for k in names}
    given = {k for k, v in values.items() if v is not None}
    bench = PaperArgs(out=args.out or PaperArgs.out, model=args.model, quick=args.quick,
                      workdir=args.workdir, **{k: values[k] for k in given})  # fmt: skip
    if scenarios:
        bench.scenarios = scenarios
    if args.formulations:
        bench.formulations = tuple(f.strip() for f in args.formulations.split(",") if f.strip())
    bench = with_quick(bench, given | ({"sac_learning_starts"} if "sac_steps" in given else set()))
    flags = ["--quick"] if args.quick else []
    flags += [f"--{k.replace('_', '-')} {values[k]}" for k in sorted(given)]
    flags += [f"--{k} {getattr(args, k)}" for k in ("model", "scenarios", "formulations")
              if getattr(args, k)]  # fmt: skip
    result = run_paper(bench, command=" ".join(["aign benchmark paper", *flags]))
    print((Path(bench.out) / "table.md").read_text(encoding="utf-8"), end="")
    print(f"wrote {bench.out}/table.csv, table.md, figure.html, fig3.json, summary.json "
          f"in {result['total_wall_s']:.0f} s" + (" (quick budgets: " + ", ".join(
              f"{k}={getattr(bench, k)}" for k in QUICK) + ")" if bench.quick else ""))  # fmt: skip
    return 0


def cmd_benchmark_planner(args: argparse.Namespace) -> int:
    """The planner against DDIM steps and guidance weight, and at unseen user counts."""
    from evaluation import planner as bp

    lists = {"scenarios": str, "steps": int, "weights": float, "users": int}
    parsed = {}
    for key, kind in lists.items():
        raw = getattr(args, key)
        if raw:
            try:
                parsed[key] = tuple(kind(x) for x in raw.split(",") if x.strip())
            except ValueError:
                raise AignError(f"--{key}: comma-separated numbers, got {raw!r}") from None
    counts = {k: getattr(args, k) for k in ("seeds", "instances", "fig3_seeds")}
    given = {k for k, v in counts.items() if v is not None}
    bench = bp.PlannerBenchArgs(out=args.out or bp.PlannerBenchArgs.out, model=args.model,
                                quick=args.quick, **{k: counts[k] for k in given},
                                **parsed)  # fmt: skip
    bench = bp.with_quick(bench, given)
    flags = ["--quick"] if args.quick else []
    flags += [f"--{k.replace('_', '-')} {counts[k]}" for k in sorted(given)]
    flags += [f"--{k} {getattr(args, k)}" for k in ("model", *lists) if getattr(args, k)]
    result = bp.run_planner_bench(bench, command=" ".join(["aign benchmark planner", *flags]))
    print((Path(bench.out) / "planner.md").read_text(encoding="utf-8"), end="")
    print(f"wrote {bench.out}/sweep.csv, generalization.csv, planner.md, figure.html, "
          f"summary.json in {result['total_wall_s']:.0f} s")  # fmt: skip
    return 0


def cmd_benchmark_pareto(args: argparse.Namespace) -> int:
    """Quality against time per design for every method (see evaluation/pareto.py)."""
    from evaluation import pareto

    parsed: dict = {}
    for key, kind in (("cases", str), ("candidates", int)):
        raw = getattr(args, key)
        if raw:
            try:
                parsed[key] = tuple(kind(x.strip()) for x in raw.split(",") if x.strip())
            except ValueError:
                raise AignError(f"--{key}: comma-separated integers, got {raw!r}") from None
    if args.instances is not None:
        parsed["instances"] = args.instances
    bench = pareto.ParetoArgs(out=args.out or pareto.ParetoArgs.out, model=args.model,
                              sac=args.sac, bcq=args.bcq, quick=args.quick, **parsed)  # fmt: skip
    bench = pareto.with_quick(bench, set(parsed))
    flags = ["--quick"] if args.quick else []
    flags += [f"--{k} {getattr(args, k)}" for k in ("cases", "candidates", "instances", "model",
                                                     "sac", "bcq") if getattr(args, k)]  # fmt: skip
    result = pareto.run_pareto(bench, command=" ".join(["aign benchmark pareto", *flags]))
    print((Path(bench.out) / "pareto.md").read_text(encoding="utf-8"), end="")
    print(f"wrote {bench.out}/pareto.csv, pareto.md, pareto.html, summary.json "
          f"in {result['total_wall_s']:.0f} s")  # fmt: skip
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this family's commands on ``aign``'s parser."""
    bench = sub.add_parser("benchmark", help="reproduce the paper's Fig. 3 and Table I, and "
                                             "compare every method's quality and time")  # fmt: skip
    bench.add_argument("suite", choices=["paper", "planner", "pareto"],
                       help="paper: Fig. 3 and Table I; planner: DDIM steps x guidance "
                            "weight, and unseen user counts; pareto: quality against time "
                            "per design for every method")  # fmt: skip
    bench.add_argument("--quick", action="store_true", help="small budgets (< 10 min)")
    bench.add_argument("--seeds", type=int, help="seeds (3; quick 2)")
    bench.add_argument("--out", metavar="DIR",
                       help="output folder (benchmarks/results/SUITE)")  # fmt: skip
    bench.add_argument("--model", metavar="DIR", help="diffusion model (default: models/paper)")
    bench.add_argument("--scenarios", help="comma-separated (paper-20,paper-50,paper-80)")
    bench.add_argument("--instances", type=int,
                       help="held-out instances per seed (30; quick 8); pareto: per case "
                            "(20; 10, 5, 3 at 200, 1000, 10000 users; quick 2)")  # fmt: skip
    bench.add_argument("--sac-steps", type=int, help="joint SAC env steps (5000; quick 1000)")
    bench.add_argument(
        "--episodes-per-source", type=int,
        help="joint BCQ data: episodes per policy (100; quick 16)"
    )
    bench.add_argument("--bcq-steps", type=int, help="joint BCQ gradient steps (2000; quick 300)")
    bench.add_argument("--formulations", help="per-user,joint (both, the default)")
    bench.add_argument("--workdir", metavar="DIR",
                       help="paper: keep the trained agents and datasets here (default: a "
                            "temporary folder)")  # fmt: skip
    bench.add_argument("--user-sac-steps", type=int,
                       help="per-user SAC user transitions (SAC's default; quick 20000)")
    bench.add_argument("--user-episodes", type=int,
                       help="per-user BCQ data: episodes per network and policy (48; quick 8)")
    bench.add_argument("--user-bcq-steps", type=int,
                       help="per-user BCQ gradient steps (3000; quick 500)")
    bench.add_argument("--large-users", type=int,
                       help="users of the row no agent trained on, in paper-80's layout "
                            "(200; 0: none)")  # fmt: skip
    bench.add_argument("--steps", help="planner: DDIM steps to sweep (5,10,20,50)")
    bench.add_argument("--weights", help="planner: guidance weights to sweep (0,1,2,4)")
    bench.add_argument("--users", help="planner: user counts (20,35,50,65,80)")
    bench.add_argument("--fig3-seeds", type=int, help="planner: noise seeds on fig3 (10)")
    bench.add_argument("--cases", help="pareto: comma-separated cases (all; quick "
                                       "paper-20,default)")  # fmt: skip
    bench.add_argument("--candidates", help="pareto: planner K values (1,4,16,64; quick 1,4)")
    bench.add_argument("--sac", metavar="DIR", help="pareto: trained SAC agent (models/sac)")
    bench.add_argument("--bcq", metavar="DIR", help="pareto: trained BCQ agent (models/bcq)")
    bench.set_defaults(func=cmd_benchmark)
