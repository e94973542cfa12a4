"""``aign validate | deploy | deployments | rollback``: designs reach the network only here.

Each handler wires
:class:`twin.rollout.deployment.Operations` to the terminal: a readable summary on stdout
(``--json``: the report, outcome or history as JSON on stdout, the summary on stderr;
``--out FILE`` also writes the JSON); notes about recovered operations on stderr, errors as
:class:`twin.core.errors.AignError` (printed by :func:`ui.cli.main`, exit 1).

Exit codes: 0 the command did what it was asked (validation passed, design kept or already
in force, rollback done); 1 refused or failed before changing anything (the error says why);
3 it ran but the design was not accepted (validation failed, deployment rolled back, or the
network refused or did not answer: the output says what is in force).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from twin.compute import EXECUTOR_HELP
from twin.core import AignError
from ui.cli.common import (
    EXIT_NOT_ACCEPTED,
    ProgressLines,
    note_recovered,
    print_result,
    progress_bar,
)


def _operations():
    from twin.rollout import Operations

    return Operations()


def _load(scenario_arg: str, design_path: str, index: int | None):
    from twin.core import DesignError, Problem
    from twin.radio import load_designs
    from twin.scenario import load_scenario, resolve_scenario_path

    scenario = load_scenario(scenario_arg)
    designs = load_designs(design_path)
    if index is None:
        if len(designs) > 1:
            raise DesignError(
                [
                    Problem(
                        design_path,
                        None,
                        "designs",
                        f"holds {len(designs)} designs; choose one with "
                        f"--index 0..{len(designs) - 1}",
                    )
                ]
            )
        index = 0
    if not 0 <= index < len(designs):
        raise DesignError(
            [
                Problem(
                    design_path, None, "designs", f"--index {index} is not in 0..{len(designs) - 1}"
                )
            ]
        )
    source = resolve_scenario_path(scenario_arg)
    return scenario, designs[index], str(source.resolve()) if source.exists() else scenario_arg


def _calibration(path: str | None, scenario: Any) -> Any:
    """The calibration file ``path`` (aign calibrate), checked against ``scenario``."""
    if not path:
        return None
    from twin.radio import Calibration, check_calibration

    calibration = Calibration.load(path)
    check_calibration(scenario, calibration, source=path)
    return calibration


def _timeout(value: float | None) -> float:
    from twin.rollout import DEFAULT_APPLY_TIMEOUT_S

    if value is None:
        return DEFAULT_APPLY_TIMEOUT_S
    if not value > 0:
        raise AignError(f"--timeout must be > 0 seconds, got {value:g}")
    return value


def _fmt(x: Any, digits: int = 6) -> str:
    return "n/a" if x is None else f"{x:.{digits}g}"


def _ci(block: dict[str, Any]) -> str:
    lo, hi = block.get("ci95") or (None, None)
    return f"{_fmt(block.get('mean'))}  95% CI [{_fmt(lo)}, {_fmt(hi)}]"


def _pct(block: dict[str, Any]) -> str:
    lo, hi = block.get("ci95") or (None, None)
    mean = block.get("mean")
    if mean is None:
        return "n/a"
    parts = [f"{100 * mean:.1f}%"]
    if lo is not None and hi is not None:
        parts.append(f"[{100 * lo:.1f}%, {100 * hi:.1f}%]")
    return " ".join(parts)


def _in_force_line(in_force: dict[str, Any] | None) -> str:
    if not in_force:
        return "in force: unknown"
    if in_force.get("error"):
        return (f"in force: unknown ({_clip(in_force['error'], 300)}); the log last recorded "
                f"design {in_force.get('design')}")  # fmt: skip
    digest = in_force.get("digest") or in_force.get("design")
    since = f", since {in_force['applied_at']}" if in_force.get("applied_at") else ""
    op = f", operation #{in_force['operation']}" if in_force.get("operation") else ""
    return f"in force: design {digest} ({_clip(in_force.get('source'))}{since}{op})"


def _clip(text: Any, limit: int = 200) -> str:
    """Text from the log or an element, cut for a terminal (older logs hold any length)."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def cmd_validate(args: argparse.Namespace) -> int:
    scenario, design, _ = _load(args.scenario, args.design, args.index)
    calibration = _calibration(args.calibration, scenario)
    ops = _operations()
    try:
        # a bar on a terminal, periodic lines elsewhere (each is a no-op where the other runs)
        bar, on_bar = progress_bar("validating", not args.quiet)
        with ProgressLines("aign validate", enabled=not args.quiet) as lines, (
            bar or contextlib.nullcontext()
        ):
            report = ops.validate(scenario, design, runs=args.runs, seed=args.seed,
                                  executor=args.executor, progress=on_bar or lines.fraction,
                                  calibration=calibration)  # fmt: skip
    finally:
        note_recovered(ops.recovered)
        ops.close()
    # stdout holds the summary, or with --json only the report (the summary goes to stderr)
    print_result(validation_summary(report, str(ops.log.path)), report, args.json, args.out)
    return 0 if report["verdict"]["passed"] else EXIT_NOT_ACCEPTED


def validation_summary(report: dict[str, Any], log_path: str = "") -> str:
    """A validation report for people."""
    verdict = "PASSED" if report["verdict"]["passed"] else "FAILED"
    seeds = report["seeds"]
    lines = [
        f"validation of design {report['design']['digest']} ({report['design']['source']}) "
        f"on {report['scenario']['name']}: {verdict}",
        f"  runs: {report['runs']} (seeds {seeds[0]}..{seeds[-1]}, {report['window_s']:g} s "
        f"each, executor {report['executor']})",
        f"  mean utility:         {_ci(report['utility'])}",
        f"  baseline utility:     {_ci(report['baseline_utility'])}  "
        f"(design {report['baseline']['digest']}, {report['baseline']['source']})",
        f"  improvement (paired): {_ci(report['improvement'])}",
        f"  5th-pct user rate:    {_ci(report['rate_p5_bps'])} bit/s",
        f"  all constraints hold: {_pct(report['feasible'])}",
    ]
    for name, block in report["constraints"].items():
        lines.append(f"  {name} holds: {_pct(block)}")
    lines.append("  gates:")
    for check in report["verdict"]["checks"]:
        lines.append(f"    {'ok  ' if check['passed'] else 'FAIL'} {check['message']}")
    calibration = report.get("calibration")
    if calibration:
        pl = calibration["path_loss"]
        lines.append(
            f"  twin calibrated from {calibration['reports']} channel reports "
            f"(calibration {calibration['digest']}: path-loss exponent {pl['exponent']:.3g})"
        )
    where = f", recorded in {log_path}" if log_path else ""
    lines.append(f"  created {report['created_at']}, signed{where}")
    return "\n".join(lines)


def _read_report(path: str) -> dict[str, Any]:
    from twin.core import DeploymentError, JsonLimits, read_json

    data = read_json(path, DeploymentError, JsonLimits(max_bytes=64_000_000),
                     what="validation report")  # fmt: skip
    if not isinstance(data, dict):
        raise DeploymentError(f"{path}: a validation report is a JSON object")
    return data


def cmd_deploy(args: argparse.Namespace) -> int:
    scenario, design, source = _load(args.scenario, args.design, args.index)
    report = _read_report(args.report) if args.report else None
    ops = _operations()
    try:
        outcome = ops.deploy(
            scenario,
            design,
            report=report,
            apply_timeout_s=_timeout(args.timeout),
            scenario_source=source,
        )
    finally:
        note_recovered(ops.recovered)
        ops.close()
    data = outcome.to_dict()
    data.pop("recovered")  # said on stderr already
    print_result(outcome_summary(data, str(ops.log.path)), data, args.json, args.out)
    return 0 if outcome.ok else EXIT_NOT_ACCEPTED


def outcome_summary(data: dict[str, Any], log_path: str = "") -> str:
    """A deployment or rollback outcome for people: the design, how the gate judged it
    (kept, rolled back, failed, unchanged) and why, the prediction it was deployed under and
    what the network realized, what is in force now, and the log entry (operation number)."""
    what = "deployment" if data["kind"] == "deploy" else "rollback"
    op = f" #{data['operation']}" if data.get("operation") else ""
    lines = [
        f"{what}{op} of design {data['design']} on {data['scenario']}: "
        f"{data['status'].replace('_', ' ').upper()}",
        f"  {data['message']}",
    ]
    predicted, realized = data.get("predicted"), data.get("realized")
    if predicted:
        lo, hi = predicted.get("utility_ci95") or (None, None)
        under = (f", validation {predicted['validation']}" if predicted.get("validation")
                 else "")  # fmt: skip
        lines.append(f"  predicted utility {_fmt(predicted['utility'])} (95% CI [{_fmt(lo)}, "
                     f"{_fmt(hi)}]{under})")  # fmt: skip
    if realized:
        lines.append(
            f"  realized utility {_fmt(realized['utility']['mean'])} from "
            f"{realized['fresh_reports']} fresh channel reports ({realized['reports_dropped']} "
            f"dropped, {realized['stale_reports']} measured before the switch, "
            f"{realized['reports_in_flight']} still in flight)"
        )
    lines.append(f"  {_in_force_line(data['in_force'])}")
    if data.get("operation"):
        where = f" in {log_path}" if log_path else ""
        lines.append(f"  recorded as operation #{data['operation']}{where} (aign deployments)")
    return "\n".join(lines)


def cmd_deployments(args: argparse.Namespace) -> int:
    from twin.core import DeploymentLogError
    from twin.rollout import LostLogError, Operations

    try:
        ops = Operations()
    except LostLogError:
        raise
    except DeploymentLogError as err:
        # listing needs no write (read-only or full filesystem, a locked log): read what is
        # committed (WAL readers are never blocked)
        print(f"aign: note: {err} Listing it read-only.", file=sys.stderr)
        ops = Operations(read_only=True)
    try:
        data = ops.history(args.scenario, validations=args.all, limit=args.limit, full=args.full)
    finally:
        note_recovered(ops.recovered)
        ops.close()
    print_result(history_summary(data), data, args.json, args.out)
    return 0


def history_summary(data: dict[str, Any]) -> str:
    """The deployment history for people: one block per network, one line per operation."""
    lines = [f"deployment log {data['log']}"]
    for name, network in data["networks"].items():
        fid = network["fidelity"]
        lines.append(f"network {name}: {_in_force_line(network['in_force'])}")
        if fid["deployments_observed"]:
            lines.append(
                f"  twin fidelity over {fid['deployments_observed']} observed deployments: "
                f"mean |utility error| {_fmt(fid['utility_abs_error_mean'], 4)}, "
                f"SINR RMSE {_fmt(fid['sinr_rmse_db_mean'], 3)} dB"
            )
            groups = fid.get("by_calibration") or {}
            for key, group in groups.items() if len(groups) > 1 else ():
                twin = "uncalibrated twin" if key == "none" else f"calibration {key}"
                lines.append(
                    f"    {twin}: {group['deployments_observed']} deployments, mean |utility "
                    f"error| {_fmt(group['utility_abs_error_mean'], 4)}, SINR RMSE "
                    f"{_fmt(group['sinr_rmse_db_mean'], 3)} dB"
                )
    if not data["operations"]:
        lines.append("no operations recorded")
    width = max((len(op["scenario"]) for op in data["operations"]), default=0)
    for op in data["operations"]:
        extra = ""
        if "realized_utility" in op:
            extra = (
                f" predicted {_fmt(op['predicted_utility'], 5)}, realized "
                f"{_fmt(op['realized_utility'], 5)};"
            )
        lines.append(
            f"#{op['operation']:<4} {op['started_at']}  {op['scenario']:<{width}}  {op['kind']:<9} "
            f"{op['status']:<11} design {op['design']};{extra} {_clip(op['detail'], 500)}"
        )
    return "\n".join(lines)


def cmd_rollback(args: argparse.Namespace) -> int:
    from twin.scenario import load_scenario, resolve_scenario_path

    ops = _operations()
    try:
        scenario_arg = args.scenario
        if scenario_arg is None:
            networks = ops.networks()
            if len(networks) != 1:
                known = ", ".join(sorted(networks)) or "none"
                raise AignError(
                    "say which network to roll back: aign rollback SCENARIO "
                    f"(networks with deployments: {known})"
                )
            name, source = next(iter(networks.items()))
            scenario_arg = source if source and Path(source).exists() else name
        scenario = load_scenario(scenario_arg)
        path = resolve_scenario_path(scenario_arg)
        outcome = ops.rollback(
            scenario,
            apply_timeout_s=_timeout(args.timeout),
            scenario_source=str(path.resolve()) if path.exists() else scenario_arg,
        )
    finally:
        note_recovered(ops.recovered)
        ops.close()
    data = outcome.to_dict()
    data.pop("recovered")
    print_result(outcome_summary(data, str(ops.log.path)), data, args.json, args.out)
    return 0 if outcome.ok else EXIT_NOT_ACCEPTED


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``validate``, ``deploy``, ``deployments`` and ``rollback``."""
    timeout_help = "seconds the network element may take to answer (default 10)"

    val = sub.add_parser(
        "validate", help="Monte-Carlo validation of a design on the twin, judged by the gates"
    )
    val.add_argument("scenario", metavar="SCENARIO", help="YAML file or shipped scenario name")
    val.add_argument("design", metavar="DESIGN", help="design JSON")
    val.add_argument("--runs", type=int, help="seeds to run (default: the scenario's gates.runs)")
    val.add_argument(
        "--seed", type=int, help="first seed; run r uses seed + r (default: the scenario's)"
    )
    val.add_argument("--executor", default="local", help=EXECUTOR_HELP)
    val.add_argument("--index", type=int, help="which design of a file holding several")
    val.add_argument(
        "--calibration",
        metavar="FILE",
        help="predict on the twin recalibrated from channel reports (aign calibrate --out)",
    )
    _add_output_flags(val, "report")
    val.add_argument("--quiet", action="store_true", help="no progress bar")
    val.set_defaults(func=cmd_validate)

    dep = sub.add_parser(
        "deploy", help="deploy a validated design, observe it, keep it or roll it back"
    )
    dep.add_argument("scenario", metavar="SCENARIO", help="YAML file or shipped scenario name")
    dep.add_argument("design", metavar="DESIGN", help="design JSON")
    dep.add_argument("--index", type=int, help="which design of a file holding several")
    dep.add_argument(
        "--report",
        metavar="FILE",
        help="deploy under this validation report "
        "(default: the design's latest recorded validation)",
    )
    dep.add_argument("--timeout", type=float, help=timeout_help)
    _add_output_flags(dep, "outcome")
    dep.set_defaults(func=cmd_deploy)

    hist = sub.add_parser("deployments", help="the deployment history and what is in force")
    hist.add_argument("--scenario", metavar="NAME", help="only this network (scenario name)")
    hist.add_argument("--all", action="store_true", help="include validations")
    hist.add_argument("--limit", type=int, help="only the last N operations")
    hist.add_argument("--full", action="store_true",
                      help="every row's data (designs, reports) in the JSON")
    _add_output_flags(hist, "history")
    hist.set_defaults(func=cmd_deployments)

    rb = sub.add_parser("rollback", help="restore the design in force before the current one")
    rb.add_argument(
        "scenario",
        metavar="SCENARIO",
        nargs="?",
        help="YAML file or shipped scenario name (default: the only network with deployments)",
    )
    rb.add_argument("--timeout", type=float, help=timeout_help)
    _add_output_flags(rb, "outcome")
    rb.set_defaults(func=cmd_rollback)


def _add_output_flags(parser: argparse.ArgumentParser, what: str) -> None:
    """``--out FILE``, ``--json`` and ``--summary`` (the default, accepted for older scripts)."""
    parser.add_argument("--out", metavar="FILE", help=f"also write the {what} JSON to FILE")
    parser.add_argument("--json", action="store_true",
                        help=f"print the {what} JSON on stdout (the summary goes to stderr)")
    parser.add_argument("--summary", action="store_true",
                        help="the readable summary (the default; kept for older scripts)")
