"""``aign simulate | instance | solve | evaluate | calibrate | sweep``: the twin and its solvers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from twin.compute import EXECUTOR_HELP
from twin.core import finite
from ui.cli.common import (
    OutputDir,
    ProgressLines,
    print_json,
    print_result,
    progress_bar,
)


def cmd_simulate(args: argparse.Namespace) -> int:
    from twin.api import simulate

    progress, update = progress_bar("simulating", not args.quiet)
    if progress is not None:
        with progress:
            result = simulate(args.scenario, controller=args.controller, seed=args.seed,
                              progress=update, calibration=args.calibration)  # fmt: skip
    else:
        result = simulate(args.scenario, controller=args.controller, seed=args.seed,
                          calibration=args.calibration)  # fmt: skip
    summary = finite(result.summary())
    if args.out:
        with OutputDir(args.out) as tmp:
            result.kpis.write_csv(tmp / "kpis.csv")
            result.kpis.write_powers_csv(tmp / "powers.csv")
            (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if args.json:
        print_json(summary)
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
    summary = (f"{instance.n_users} users x {instance.n_bs} BSs at t = "
               f"{instance.meta['time_s']:g} s (fingerprint {instance.fingerprint()})")
    where = f"wrote {args.out}: " if args.out else ""
    hint = "" if args.out or args.json else "; --out FILE writes it, --json prints it"
    print(where + summary + hint, file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print_json(instance.to_dict())
    return 0


def power_text(power_mw, shown: int = 8) -> str:
    """A design's powers for people: ``(28, 31) mW``, the first ``shown`` of a long one."""
    values = [f"{p:g}" for p in list(power_mw)[:shown]]
    more = f", ... ({len(power_mw)} users)" if len(power_mw) > shown else ""
    return f"({', '.join(values)}{more}) mW"


def cmd_solve(args: argparse.Namespace) -> int:
    from twin.radio import ProblemInstance
    from twin.solvers import SOLVERS, solve_spec

    instance = ProblemInstance.load(args.instance)
    if args.method.strip().partition(":")[0].strip() in SOLVERS:
        design = solve_spec(instance, args.method)
    else:  # a controller from a plugin (sac, bcq, diffusion) proposes the design from 0 mW
        design = controller_design(instance, args.method)
    if args.out:
        design.save(args.out)
    predicted = design.predicted
    summary = (f"{args.method}: {power_text(design.power_mw)}, utility "
               f"{predicted['utility']:.6g}, total {predicted['total_power_mw']:.4g} mW, "
               + ("meets every constraint" if predicted["feasible"]
                  else "INFEASIBLE (breaks a constraint)"))  # fmt: skip
    where = f"wrote {args.out}: " if args.out else ""
    print(where + summary, file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print_json(finite(design.to_dict()))
    return 0


def controller_design(instance, spec: str):
    """The design a controller (``sac``, ``bcq:DIR``, ...) proposes for ``instance`` from
    every user at the lowest level."""
    import numpy as np

    from twin.controllers import Observation, make_controller
    from twin.radio import Design

    controller = make_controller(spec)
    controller.reset(instance)
    start = instance.snap_to_levels(np.zeros(instance.n_users))
    power = controller.decide(Observation(0.0, instance, start))
    return Design.for_instance(instance, power, source=spec.strip())


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Metrics of each design in the file: one line each on stdout; the full metrics JSON
    (per-user SINR and rate) with ``--json`` (the summary then goes to stderr) or ``--out``."""
    from twin.api import evaluate_designs
    from twin.core import write_json_atomic

    data = finite(evaluate_designs(args.instance, args.design))
    if args.out:
        write_json_atomic(args.out, data)
    lines = [f"wrote {args.out}" if args.out else None]
    lines += [evaluation_line(d) for d in data["designs"]]
    if not (args.out or args.json):
        lines.append("per-user SINR and rates: --json prints them, --out FILE writes them")
    print("\n".join(x for x in lines if x), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print_json(data)
    return 0


def evaluation_line(metrics: dict[str, Any]) -> str:
    """One evaluated design for people: utility, power, lowest rate, constraints."""
    rates = metrics.get("rate_bps") or []
    lowest = f", lowest user rate {min(rates) / 1e3:.4g} kb/s" if rates else ""
    match = {True: "", False: " (WARNING: made for another instance)", None: ""}
    return (f"{metrics['source']}: utility {metrics['utility']:.6g}, total "
            f"{metrics['total_power_mw']:.4g} mW{lowest}, "
            + ("meets every constraint" if metrics["feasible"]
               else "INFEASIBLE (breaks a constraint)")
            + match[metrics.get("instance_matches")])  # fmt: skip


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit the twin's path loss and shadowing map to the network's channel reports."""
    from twin.rollout import calibrate_from_network
    from twin.scenario import load_scenario

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


def cmd_sweep(args: argparse.Namespace) -> int:
    """Every combination of the parameters x every seed on the twin; tables and figures in
    ``--out``, one line per setting on stdout (``--json``: the report on stdout instead)."""
    from twin.compute import SweepSpec, parse_param, run_sweep, summarize
    from twin.scenario import load_scenario
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
        with ProgressLines("aign sweep", enabled=not args.quiet, unit="runs") as lines:
            report = run_sweep(spec, args.out, executor=args.executor, fmt=args.format,
                               progress=lines.update)  # fmt: skip
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
    # stdout holds the summary, or with --json only the report (the summary goes to stderr)
    print_result(sweep_summary(args.scenario, result, summary, report.params, swept),
                 result, args.json)  # fmt: skip
    if report.failures:
        print(f"aign sweep: {len(report.failures)} run(s) failed (see {args.out}/failures.json); "
              "run the same command again to retry them", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def sweep_summary(scenario: str, result: dict[str, Any], summary: list[dict[str, Any]],
                  params: list[str], swept: list[str]) -> str:  # fmt: skip
    """A sweep for people: what ran, one line per setting (its swept parameters and
    controller) with the mean KPIs over its seeds, and where the tables are."""
    done = result["cells"] - result["failed"]
    head = (f"sweep of {scenario}: {done} of {result['cells']} runs done ({result['ran']} ran "
            f"now, {result['already_done']} stored before, {result['failed']} failed) on "
            f"{result['executor']}")  # fmt: skip
    shown = swept or params  # parameters with one value are the same on every line
    settings: dict[tuple, dict[str, dict[str, Any]]] = {}
    for row in summary:
        key = tuple(row[p] for p in shown) + (row["controller"],)
        settings.setdefault(key, {})[row["kpi"]] = row
    lines = [head]
    for key, kpis in settings.items():
        name = " ".join(f"{p}={v}" for p, v in zip(shown, key[:-1], strict=True))
        lines.append(f"  {name} {key[-1]}: " + _setting_figures(kpis))
    out, files = result["out"], result["files"]
    lines.append(f"wrote {out}: " + ", ".join(files.values())
                 + " (one row per run in results, mean and 95% CI per setting in summary)")
    return "\n".join(lines)


def _setting_figures(kpis: dict[str, dict[str, Any]]) -> str:
    """A setting's mean utility (with its 95% CI over seeds), power, sum and 5th-pct rate."""

    def mean(kpi: str, digits: int = 4) -> str:
        value = kpis.get(kpi, {}).get("mean")
        return "n/a" if value is None else f"{value:.{digits}g}"

    def rate(kpi: str) -> str:
        value = kpis.get(kpi, {}).get("mean")
        if value is None:
            return "n/a"
        scale, unit = next((s, u) for s, u in ((1e6, "Mb/s"), (1e3, "kb/s"), (1.0, "b/s"))
                           if abs(value) >= s or s == 1.0)  # fmt: skip
        return f"{value / scale:.4g} {unit}"

    utility = kpis.get("mean_utility", {})
    lo, hi = utility.get("ci95_low"), utility.get("ci95_high")
    ci = f" [{lo:.4g}, {hi:.4g}]" if lo is not None and hi is not None else ""
    runs = utility.get("runs", 0)
    return (f"utility {mean('mean_utility', 5)}{ci}, power {mean('mean_total_power_mw')} mW, "
            f"sum rate {rate('mean_sum_rate_bps')}, 5th-pct rate {rate('mean_rate_bps_p5')} "
            f"({runs} seed{'s' if runs != 1 else ''})")  # fmt: skip


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this family's commands on ``aign``'s parser."""
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
    inst.add_argument("--out", metavar="FILE", help="write the instance JSON to FILE")
    inst.add_argument("--json", action="store_true",
                      help="print the instance JSON on stdout (the summary goes to stderr)")
    inst.set_defaults(func=cmd_instance)

    solve = sub.add_parser("solve", help="solve an instance with a reference method")
    solve.add_argument("instance", metavar="INSTANCE")
    solve.add_argument("--method", default="coordinate",
                       help="exhaustive, coordinate, wmmse, response, priced-response, fpc, max, "
                            "fixed:MW, random; parameters as name:key=value,...; or a trained "
                            "agent: sac, bcq "
                            "(the shipped ones), sac:DIR, bcq:DIR")  # fmt: skip
    solve.add_argument("--out", metavar="FILE", help="write the design JSON to FILE")
    solve.add_argument("--json", action="store_true",
                       help="print the design JSON on stdout (the summary goes to stderr)")
    solve.set_defaults(func=cmd_solve)

    ev = sub.add_parser("evaluate", help="metrics of a design on an instance")
    ev.add_argument("instance", metavar="INSTANCE")
    ev.add_argument("design", metavar="DESIGN")
    ev.add_argument("--out", metavar="FILE", help="write the metrics JSON to FILE")
    ev.add_argument("--json", action="store_true",
                    help="print the metrics JSON on stdout (the summary goes to stderr)")
    ev.set_defaults(func=cmd_evaluate)

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
    sw.add_argument("--json", action="store_true",
                    help="print the report JSON on stdout (the summary goes to stderr)")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(func=cmd_sweep)  # fmt: skip
