"""The ``aign`` command: JSON in and out, clear errors, non-zero exit on failure.

Each sub-command only wires the packages' public functions together; no maths lives here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from twin.compute.executors import EXECUTOR_HELP
from twin.core.errors import AignError
from twin.core.records import finite
from ui.cli_ops import add_ops_commands

Handler = Callable[[argparse.Namespace], int]


# --------------------------------------------------------------------------- helpers
def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, allow_nan=False, default=_json_default)
    sys.stdout.write("\n")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


class _OutputDir:
    """Write into a temporary sibling folder, then move the files into place on success.

    A failure midway leaves the destination as it was: no half-written output.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        return self._tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.path.mkdir(parents=True, exist_ok=True)
                for item in self._tmp.iterdir():
                    os.replace(item, self.path / item.name)
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)


def _progress_bar(label: str, enabled: bool):
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise."""
    if not enabled or not sys.stderr.isatty():
        return None, None
    from rich.progress import Progress

    progress = Progress(transient=True, console=None)
    task = progress.add_task(label, total=1.0)
    return progress, (lambda frac: progress.update(task, completed=frac))


# --------------------------------------------------------------------------- scenario
def cmd_scenario_check(args: argparse.Namespace) -> int:
    from twin.core.errors import ScenarioError
    from twin.scenario.loader import load_scenario

    failed = False
    for path in args.files:
        try:
            scenario = load_scenario(path)
        except ScenarioError as err:
            failed = True
            for problem in err.problems:
                print(problem)
        else:
            print(f"{path}: OK ({scenario.name}: {scenario.users.n} users, "
                  f"{scenario.base_stations.n} BSs)")  # fmt: skip
    return 1 if failed else 0


def cmd_scenario_schema(args: argparse.Namespace) -> int:
    from twin.scenario.loader import scenario_json_schema

    _print_json(scenario_json_schema())
    return 0


# --------------------------------------------------------------------------- twin
def cmd_simulate(args: argparse.Namespace) -> int:
    from twin.api import simulate

    progress, update = _progress_bar("simulating", not args.quiet)
    if progress is not None:
        with progress:
            result = simulate(args.scenario, controller=args.controller, seed=args.seed,
                              progress=update, calibration=args.calibration)  # fmt: skip
    else:
        result = simulate(args.scenario, controller=args.controller, seed=args.seed,
                          calibration=args.calibration)  # fmt: skip
    summary = finite(result.summary())
    if args.out:
        with _OutputDir(args.out) as tmp:
            result.kpis.write_csv(tmp / "kpis.csv")
            result.kpis.write_powers_csv(tmp / "powers.csv")
            (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if args.json:
        _print_json(summary)
    else:
        _print_summary(summary, args.out)
    return 0


def _print_summary(summary: dict[str, Any], out: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary['scenario']} — controller {summary['controller']}, "
                        f"seed {summary['seed']}")  # fmt: skip
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if key in ("scenario", "controller", "seed"):
            continue
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        table.add_row(key, text)
    console = Console()
    console.print(table)
    if out:
        console.print(f"wrote {out}/kpis.csv, {out}/powers.csv, {out}/summary.json")


def cmd_instance(args: argparse.Namespace) -> int:
    from twin.api import snapshot_instance

    instance = snapshot_instance(args.scenario, time_s=args.time, seed=args.seed)
    if args.out:
        instance.save(args.out)
        print(
            f"wrote {args.out}: {instance.n_users} users x {instance.n_bs} BSs at "
            f"t = {instance.meta['time_s']:g} s (fingerprint {instance.fingerprint()})"
        )
    else:
        _print_json(instance.to_dict())
    return 0


def cmd_solve(args: argparse.Namespace) -> int:
    from twin.radio.instance import ProblemInstance
    from twin.solvers import solve_spec

    instance = ProblemInstance.load(args.instance)
    design = solve_spec(instance, args.method)
    if args.out:
        design.save(args.out)
        print(f"wrote {args.out}: {args.method} utility {design.predicted['utility']:.6g}, "
              f"feasible {design.predicted['feasible']}")  # fmt: skip
    else:
        _print_json(finite(design.to_dict()))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from twin.api import evaluate_designs

    _print_json(finite(evaluate_designs(args.instance, args.design)))
    return 0


# --------------------------------------------------------------------------- stage 1
def _user_counts(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise AignError(f"--users must be comma-separated integers, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise AignError(f"--users must be positive, got {text!r}")
    return counts


def _quiet_learning_logs() -> None:
    """d3rlpy logs every step through structlog; keep warnings and errors only."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def cmd_train(args: argparse.Namespace) -> int:
    progress = not args.quiet and sys.stderr.isatty()
    if args.algo == "sac":
        from agents.sac import SACArgs, train_sac

        if not args.scenario:
            raise AignError("train sac needs --scenario")
        out = train_sac(
            SACArgs(
                scenario=args.scenario, out=args.out, users=_user_counts(args.users),
                max_users=args.max_users, steps=args.steps or 20_000, seed=args.seed,
                n_envs=args.n_envs, checkpoint_every=args.checkpoint_every, progress=progress,
            )
        )  # fmt: skip
        print(f"wrote {out}: use it as --controller sac:{out} or --policy sac:{out}")
    elif args.algo == "bcq":
        from agents.bcq import BCQArgs, train_bcq

        if not args.data or len(args.data) != 1:
            raise AignError("train bcq needs one --data DATASET")
        _quiet_learning_logs()
        out = train_bcq(
            BCQArgs(data=args.data[0], out=args.out, steps=args.steps or 10_000, seed=args.seed,
                    progress=progress)
        )  # fmt: skip
        print(f"wrote {out}: use it as --controller bcq:{out}")
    elif args.algo == "diffusion":
        from diffusion import TrainArgs, train_diffusion

        if not args.data:
            raise AignError("train diffusion needs --data DATASET (repeat it to combine)")
        report = train_diffusion(
            TrainArgs(data=args.data, out=args.out, denoiser=args.denoiser,
                      steps=args.steps or 4000, seed=args.seed, progress=progress)
        )  # fmt: skip
        print(
            f"wrote {report.path}: final loss {report.final_loss:.4g} in {report.seconds:.0f} s; "
            f"use it with aign plan --model {report.path} or --controller diffusion:{report.path}"
        )
    else:
        raise AignError(f"unknown algorithm {args.algo!r}")
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from agents.collect import CollectArgs, collect
    from agents.constraint_draw import parse_impose

    spec = CollectArgs(
        scenario=args.scenario, policy=args.policy, episodes=args.episodes, out=args.out,
        users=_user_counts(args.users), max_users=args.max_users, seed=args.seed,
        batch=args.batch, horizon=args.horizon, impose=parse_impose(args.impose),
    )  # fmt: skip
    if args.quiet or not sys.stderr.isatty():
        report = collect(spec, executor=args.executor)
    else:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"collecting {args.policy}", total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = collect(spec, progress=update, executor=args.executor)
    _print_json(report)
    return 0


def cmd_dataset_info(args: argparse.Namespace) -> int:
    from agents.dataset import TrajectoryDataset

    _print_json(finite(TrajectoryDataset.load(args.dataset).info()))
    return 0


# --------------------------------------------------------------------------- calibration
def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the twin's path loss and shadowing map to the network's channel reports."""
    from twin.rollout.calibrate import calibrate_from_network
    from twin.scenario.loader import load_scenario

    scenario = load_scenario(args.scenario)
    calibration = calibrate_from_network(scenario, args.reports, seed=args.seed,
                                         start_s=args.start)  # fmt: skip
    calibration.save(args.out)
    pl = calibration.path_loss
    sh = calibration.shadowing
    print(
        f"wrote {args.out}: {calibration.reports} reports, {calibration.bins} observations; "
        f"path loss {pl.intercept_db:.1f} dB + 10 x {pl.exponent:.2f} (+-{pl.exponent_stderr:.2f})"
        f" log10(d / 1 m); shadowing std {0.0 if sh is None else sh.prior_std_db:.1f} dB "
        f"(calibration {calibration.digest()}; use it with --calibration {args.out})"
    )
    if scenario.sync.physical_seed is None:
        print(
            "aign calibrate: note: sync.physical_seed is null, so every seed of the physical "
            "layer draws its own shadowing: only the path-loss fit carries over between them",
            file=sys.stderr,
        )
    return 0


# --------------------------------------------------------------------------- sweep
def cmd_sweep(args: argparse.Namespace) -> int:
    """Every combination of the parameters x every seed on the twin; tables and figures."""
    from twin.compute.sweep import SweepSpec, parse_param, run_sweep, summarize
    from twin.scenario.loader import load_scenario
    from ui.figures import sweep_figure

    spec = SweepSpec(
        load_scenario(args.scenario), [parse_param(p) for p in args.param],
        controllers=args.controller or [], seeds=args.seeds, seed=args.seed,
    )  # fmt: skip
    cells = spec.cells()  # validates every combination before anything runs
    seeds = f"{spec.seeds} seed" + ("s" if spec.seeds != 1 else "")
    print(f"sweep: {len(cells)} runs ({len(cells) // spec.seeds} settings x {seeds}) "
          f"on {args.executor}", file=sys.stderr)  # fmt: skip
    if args.quiet or not sys.stderr.isatty():
        report = run_sweep(spec, args.out, executor=args.executor, fmt=args.format)
    else:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("sweeping", total=None)
            report = run_sweep(
                spec, args.out, executor=args.executor, fmt=args.format,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
    summary = summarize(report.rows, report.params)
    html = Path(args.out) / "figures.html"
    swept = [p for p, values in spec.params if len(values) > 1]  # one value: a setting
    figures = [sweep_figure(summary, p, report.params) for p in swept] or [
        sweep_figure(summary, None, report.params)
    ]
    tmp = html.with_name(".figures.html.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("<html><head><meta charset='utf-8'><title>aign sweep</title></head><body>\n")
        for k, fig in enumerate(figures):  # plotly.js inline once: the page works offline
            fh.write(fig.to_html(full_html=False, include_plotlyjs=k == 0))
        fh.write("</body></html>\n")
    os.replace(tmp, html)
    result = report.to_dict()
    result["files"]["figures"] = "figures.html"
    _print_json(result)
    if report.failures:
        print(f"aign sweep: {len(report.failures)} run(s) failed (see {args.out}/failures.json); "
              "run the same command again to retry them", file=sys.stderr)  # fmt: skip
        return 1
    return 0


# --------------------------------------------------------------------------- ui
def cmd_ui(args: argparse.Namespace) -> int:
    from ui.app import serve

    serve(args.scenario, host=args.host, port=args.port)
    return 0


# --------------------------------------------------------------------------- stage 2
def cmd_plan(args: argparse.Namespace) -> int:
    """K candidate designs from the diffusion planner, scored on the twin, with the gap to
    the best reference the twin can compute."""
    from dataclasses import replace

    from diffusion import default_model_dir, load_planner
    from twin.core.files import write_json_atomic
    from twin.radio.instance import ProblemInstance
    from twin.radio.uplink import Constraints
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
    print(
        f"{'wrote ' + args.out + ': ' if args.out else ''}{len(data['designs'])} candidates in "
        f"{result.seconds * 1000:.0f} ms; best utility {best.predicted['utility']:.6g} "
        f"(feasible {best.predicted['feasible']}), reference {reference.source} {ref_u:.6g}, "
        f"gap {data['designs'][0]['predicted']['gap_to_reference']:.3%}",
        file=sys.stderr if not args.out else sys.stdout,
    )
    for warning in result.warnings:
        print(f"aign plan: warning: {warning}", file=sys.stderr)
    if not args.out:
        _print_json(finite(data))
    return 0


# --------------------------------------------------------------------------- benchmark
def cmd_benchmark(args: argparse.Namespace) -> int:
    """Reproduce the paper's Fig. 3 and Table I on this machine (see ui/benchmark.py)."""
    from ui.benchmark import QUICK, PaperArgs, run_paper, with_quick

    if args.suite == "planner":
        return cmd_benchmark_planner(args)
    if args.suite != "paper":
        raise AignError(f"unknown benchmark {args.suite!r} (known: paper, planner)")
    scenarios = tuple(s.strip() for s in (args.scenarios or "").split(",") if s.strip())
    names = ("seeds", "instances", "sac_steps", "episodes_per_source", "bcq_steps")
    values = {k: getattr(args, k) for k in names}
    given = {k for k, v in values.items() if v is not None}
    bench = PaperArgs(out=args.out or PaperArgs.out, model=args.model, quick=args.quick,
                      **{k: values[k] for k in given})  # fmt: skip
    if scenarios:
        bench.scenarios = scenarios
    bench = with_quick(bench, given | ({"sac_learning_starts"} if "sac_steps" in given else set()))
    flags = ["--quick"] if args.quick else []
    flags += [f"--{k.replace('_', '-')} {values[k]}" for k in sorted(given)]
    flags += [f"--{k} {getattr(args, k)}" for k in ("model", "scenarios") if getattr(args, k)]
    result = run_paper(bench, command=" ".join(["aign benchmark paper", *flags]))
    print((Path(bench.out) / "table.md").read_text(encoding="utf-8"), end="")
    print(f"wrote {bench.out}/table.csv, table.md, figure.html, fig3.json, summary.json "
          f"in {result['total_wall_s']:.0f} s" + (" (quick budgets: " + ", ".join(
              f"{k}={getattr(bench, k)}" for k in QUICK) + ")" if bench.quick else ""))  # fmt: skip
    return 0


def cmd_benchmark_planner(args: argparse.Namespace) -> int:
    """The planner against DDIM steps and guidance weight, and at unseen user counts."""
    from ui import benchmark_planner as bp

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


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aign",
        description="AI-generated network design on a digital twin of an uplink network.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scenario = sub.add_parser("scenario", help="check scenario files or print their JSON Schema")
    ssub = scenario.add_subparsers(dest="scenario_command", required=True, metavar="ACTION")
    check = ssub.add_parser("check", help="validate scenario YAML files")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=cmd_scenario_check)
    schema = ssub.add_parser("schema", help="print the scenario JSON Schema")
    schema.set_defaults(func=cmd_scenario_schema)

    sim = sub.add_parser("simulate", help="run the twin for the scenario's duration")
    sim.add_argument("scenario", metavar="SCENARIO", help="YAML file or shipped scenario name")
    sim.add_argument("--controller", help="controller spec (default: the scenario's)")
    sim.add_argument("--seed", type=int, help="seed (default: the scenario's)")
    sim.add_argument("--out", metavar="DIR", help="write kpis.csv, powers.csv, summary.json")
    sim.add_argument("--json", action="store_true", help="print the summary as JSON")
    sim.add_argument("--quiet", action="store_true", help="no progress bar")
    sim.add_argument(
        "--calibration", metavar="FILE", help="the twin's channel from aign calibrate (sync off)"
    )
    sim.set_defaults(func=cmd_simulate)

    inst = sub.add_parser("instance", help="snapshot a problem instance from the twin")
    inst.add_argument("scenario", metavar="SCENARIO")
    inst.add_argument("--time", type=float, default=0.0, help="snapshot time, s (default 0)")
    inst.add_argument("--seed", type=int)
    inst.add_argument("--out", metavar="FILE", help="instance JSON (default: stdout)")
    inst.set_defaults(func=cmd_instance)

    solve = sub.add_parser("solve", help="solve an instance with a reference method")
    solve.add_argument("instance", metavar="INSTANCE")
    solve.add_argument("--method", default="coordinate",
                       help="exhaustive, coordinate, wmmse, fpc, max, fixed:MW, random; "
                            "parameters as name:key=value,...")  # fmt: skip
    solve.add_argument("--out", metavar="FILE", help="design JSON (default: stdout)")
    solve.set_defaults(func=cmd_solve)

    ev = sub.add_parser("evaluate", help="metrics of a design on an instance (JSON)")
    ev.add_argument("instance", metavar="INSTANCE")
    ev.add_argument("design", metavar="DESIGN")
    ev.set_defaults(func=cmd_evaluate)

    train = sub.add_parser("train", help="train an agent: sac (online) or bcq (offline)")
    train.add_argument("algo", choices=["sac", "bcq", "diffusion"])
    train.add_argument("--scenario", help="sac: scenario whose instances are explored")
    train.add_argument("--users", help="sac: user counts to draw, e.g. 20,50,80")
    train.add_argument("--max-users", type=int, help="sac: pad observations to this many users")
    train.add_argument(
        "--data", metavar="DATASET", action="append",
        help="bcq, diffusion: dataset folder (diffusion: repeat to combine datasets)",
    )  # fmt: skip
    train.add_argument(
        "--steps", type=int,
        help="sac: env steps (20000); bcq: grad steps (10000); diffusion: grad steps (4000)",
    )  # fmt: skip
    train.add_argument(
        "--denoiser", choices=["transformer", "unet"], default="transformer",
        help="diffusion: users-as-tokens transformer (default) or the paper's temporal U-Net",
    )  # fmt: skip
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--n-envs", type=int, default=1, help="sac: parallel environments")
    train.add_argument("--checkpoint-every", type=int, default=5000, help="sac: steps")
    train.add_argument("--out", required=True, metavar="DIR")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=cmd_train)

    col = sub.add_parser("collect", help="collect labeled trajectories into a dataset")
    col.add_argument("--scenario", required=True)
    col.add_argument(
        "--policy",
        required=True,
        help="random, coordinate, sac:DIR, bcq:DIR or noisy:BASE,sigma=S[,epsilon=E]",
    )
    col.add_argument("--episodes", type=int, required=True, help="episodes for this policy")
    col.add_argument("--users", help="user counts to draw, e.g. 20,50,80")
    col.add_argument("--max-users", type=int, help="pad to this many users")
    col.add_argument("--seed", type=int, default=0, help="episode k uses seed + k")
    col.add_argument("--batch", type=int, default=16, help="episodes per vector-env batch/shard")
    col.add_argument("--executor", default="local", help=EXECUTOR_HELP)
    col.add_argument("--horizon", type=int, default=8, help="steps per episode")
    col.add_argument(
        "--impose", action="append", metavar="NAME[=LO-HI]",
        help="impose a constraint on every episode with a limit drawn per episode relative to "
             "its unconstrained design p*: min-rate (a rate between the worst user's and the "
             "LO-HI percentile of p*'s rates, default 5-30) or budget (LO-HI of p*'s total "
             "power, default 0.4-1.0); repeatable",
    )  # fmt: skip
    col.add_argument("--out", required=True, metavar="DATASET")
    col.add_argument("--quiet", action="store_true")
    col.set_defaults(func=cmd_collect)

    ds = sub.add_parser("dataset", help="inspect a trajectory dataset")
    dsub = ds.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")
    info = dsub.add_parser("info", help="size, quality, coverage and label distributions")
    info.add_argument("dataset", metavar="DATASET")
    info.set_defaults(func=cmd_dataset_info)

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
    plan.add_argument("--out", metavar="FILE", help="designs JSON (default: stdout)")
    plan.set_defaults(func=cmd_plan)

    bench = sub.add_parser("benchmark", help="reproduce the paper's Fig. 3 and Table I")
    bench.add_argument("suite", choices=["paper", "planner"],
                       help="paper: Fig. 3 and Table I; planner: DDIM steps x guidance "
                            "weight, and unseen user counts")  # fmt: skip
    bench.add_argument("--quick", action="store_true", help="small budgets (< 10 min)")
    bench.add_argument("--seeds", type=int, help="seeds (3; quick 2)")
    bench.add_argument("--out", metavar="DIR",
                       help="output folder (benchmarks/results/SUITE)")  # fmt: skip
    bench.add_argument("--model", metavar="DIR", help="diffusion model (default: models/paper)")
    bench.add_argument("--scenarios", help="comma-separated (paper-20,paper-50,paper-80)")
    bench.add_argument("--instances", type=int, help="held-out instances per seed (30; quick 8)")
    bench.add_argument("--sac-steps", type=int, help="SAC env steps (5000; quick 1000)")
    bench.add_argument(
        "--episodes-per-source", type=int, help="BCQ data: episodes per policy (100; quick 16)"
    )
    bench.add_argument("--bcq-steps", type=int, help="BCQ gradient steps (2000; quick 300)")
    bench.add_argument("--steps", help="planner: DDIM steps to sweep (5,10,20,50)")
    bench.add_argument("--weights", help="planner: guidance weights to sweep (0,1,2,4)")
    bench.add_argument("--users", help="planner: user counts (20,35,50,65,80)")
    bench.add_argument("--fig3-seeds", type=int, help="planner: noise seeds on fig3 (10)")
    bench.set_defaults(func=cmd_benchmark)

    add_ops_commands(sub)  # validate, deploy, deployments, rollback

    cal = sub.add_parser(
        "calibrate", help="fit the twin's path loss and shadowing map to channel reports"
    )
    cal.add_argument("scenario", metavar="SCENARIO", help="YAML file or shipped scenario name")
    cal.add_argument("--reports", type=int, default=20, help="channel reports to fit (20)")
    cal.add_argument("--seed", type=int, help="seed of the run that collects them")
    cal.add_argument("--start", type=float, default=0.0, metavar="S",
                     help="collect reports measured after S seconds (default 0)")  # fmt: skip
    cal.add_argument("--out", required=True, metavar="FILE", help="calibration JSON")
    cal.set_defaults(func=cmd_calibrate)

    sw = sub.add_parser("sweep", help="run every parameter combination x seeds on the twin")
    sw.add_argument("scenario", metavar="SCENARIO", help="YAML file or shipped scenario name")
    sw.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=V1,V2,...",
        help="a swept parameter (repeat): users, speed, noise_figure, price, "
        "shadowing, sync_error, duration, or any dotted scenario field",
    )
    sw.add_argument(
        "--controller",
        action="append",
        metavar="SPEC",
        help="controller(s) to compare (repeat; default: the scenario's)",
    )
    sw.add_argument("--seeds", type=int, default=1, help="seeds per combination (default 1)")
    sw.add_argument("--seed", type=int, help="first seed (default: the scenario's)")
    sw.add_argument("--executor", default="local", help=EXECUTOR_HELP)
    sw.add_argument(
        "--format",
        default="csv",
        choices=["csv", "parquet", "both"],
        help="table format (default csv)",
    )
    sw.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder; rerunning the same command resumes it",
    )
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(func=cmd_sweep)  # fmt: skip

    ui = sub.add_parser("ui", help="open the browser app (Dash) on http://127.0.0.1:8050")
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    ui.add_argument("--scenario", default="default", help="scenario shown first (default)")
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.func
    try:
        return handler(args)
    except AignError as err:
        print(f"aign {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
