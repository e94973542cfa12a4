"""Twin fidelity before and after calibration, as a function of the number of channel reports.

On a mismatched scenario (``scenarios/mismatch.yaml``: the twin assumes 3GPP UMa, the real
network follows log-distance n = 3.9 with its own 8 dB shadowing field) this measures, in one
run and side by side, what ``aign validate`` predicts against what ``aign deploy``'s
observation realizes on the physical layer, for several designs:

- **SINR RMSE (dB)**: RMS over users of predicted (the validation's per-user mean SINR) minus
  realized (mean over the fresh channel reports after the switch) SINR;
- **utility error**: ``|predicted - realized| / realized`` mean utility.

"before" is the scenario's model; "after N" is the twin calibrated from N channel reports
(``twin.rollout.calibrate_from_network``) collected from ``--start`` seconds on, i.e.
*after* the observation window (other fading; for moving users, other places), over
``--seeds`` collection seeds. ``--mobility random_waypoint`` makes the users walk.

Run ``python benchmarks/calibration.py --help``; ``--quick`` is a smoke mode.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from bench_args import parse_dataclass_args

from twin.radio import Design
from twin.rollout import calibrate_from_network, observe, validate_design
from twin.rollout.observation import sinr_rmse_db
from twin.scenario import load_scenario


@dataclass
class Args:
    scenario: str = "mismatch"
    """scenario name or YAML file (a mismatched one: sync.physical_channel set)"""
    reports: str = "1,5,20,100"
    """comma-separated numbers of channel reports to calibrate from"""
    powers_mw: str = "1,10,40"
    """comma-separated fixed powers (mW, every user) of the designs validated and observed"""
    seeds: int = 3
    """collection seeds per report count (mean and spread over them)"""
    runs: int = 20
    """Monte-Carlo runs of each validation"""
    start: float = 20.0
    """collect reports measured after this time, s (after the observation window)"""
    mobility: str = "scenario"
    """scenario (as the file says), static or random_waypoint"""
    out: str = "benchmarks/results/calibration.json"
    """where the JSON result goes"""
    quick: bool = False
    """smoke mode: 2 report counts, 1 seed, 4 runs"""


def errors(scenario, calibration, designs, realized, runs) -> tuple[float, float]:
    """Mean over designs of the SINR RMSE (dB) and of the relative utility error."""
    sinr, util = [], []
    n = scenario.users.n
    for design, real in zip(designs, realized, strict=True):
        report = validate_design(
            scenario, design, np.zeros(n), runs=runs, executor="local:1", calibration=calibration
        )
        sinr.append(sinr_rmse_db(report["sinr_db_mean"], real.sinr_db_mean))
        u = real.utility["mean"]
        util.append(abs(report["utility"]["mean"] - u) / abs(u))
    return float(np.mean(sinr)), float(np.mean(util))


def spread(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def main(argv: list[str] | None = None) -> int:
    args = parse_dataclass_args(Args, argv, __doc__.split("\n\n")[0])
    if args.quick:
        args.reports, args.seeds, args.runs = "1,20", 1, 4
    scenario = load_scenario(args.scenario)
    if args.mobility != "scenario":
        users = scenario.users.model_copy(update={"mobility": args.mobility})
        scenario = scenario.model_copy(update={"users": users})
    n = scenario.users.n
    powers = [float(p) for p in args.powers_mw.split(",")]
    designs = [Design(np.full(n, p), f"fixed:{p:g}") for p in powers]
    realized = [observe(scenario, np.zeros(n), d.power_mw, seed=1000 + k)
                for k, d in enumerate(designs)]  # fmt: skip

    t0 = time.perf_counter()
    rows = [{"reports": 0, **dict(zip(("sinr_rmse_db", "utility_rel_error"),
                                      errors(scenario, None, designs, realized, args.runs),
                                      strict=True))}]  # fmt: skip
    for count in (int(c) for c in args.reports.split(",")):
        sinr, util, exponent, stderr, fit_s = [], [], [], [], []
        for seed in range(args.seeds):
            t = time.perf_counter()
            cal = calibrate_from_network(scenario, count, seed=seed, start_s=args.start)
            fit_s.append(time.perf_counter() - t)
            exponent.append(cal.path_loss.exponent)
            stderr.append(cal.path_loss.exponent_stderr)
            s, u = errors(scenario, cal, designs, realized, args.runs)
            sinr.append(s)
            util.append(u)
        rows.append({
            "reports": count,
            "sinr_rmse_db": spread(sinr)[0], "sinr_rmse_db_std": spread(sinr)[1],
            "utility_rel_error": spread(util)[0], "utility_rel_error_std": spread(util)[1],
            "exponent": spread(exponent)[0], "exponent_std": spread(exponent)[1],
            "exponent_stderr": spread(stderr)[0],
            "calibrate_s": spread(fit_s)[0],
        })  # fmt: skip
        print(f"{count} reports done", file=sys.stderr)
    truth = scenario.sync.physical_channel
    result = {
        "args": asdict(args),
        "command": "python benchmarks/calibration.py " + " ".join(argv or sys.argv[1:]),
        "scenario": scenario.name,
        "mobility": scenario.users.mobility,
        "true_exponent": None if truth is None or truth.path_loss is None
        else truth.path_loss.exponent,
        "rows": rows,
        "wall_s": time.perf_counter() - t0,
        "python": platform.python_version(),
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")

    print(f"| reports | SINR RMSE (dB) | utility error | fitted exponent (true "
          f"{result['true_exponent']}) | calibrate (s) |")  # fmt: skip
    print("|---|---|---|---|---|")
    for r in rows:
        if r["reports"] == 0:
            print(f"| none (the scenario's model) | {r['sinr_rmse_db']:.2f} | "
                  f"{100 * r['utility_rel_error']:.2f}% | - | - |")  # fmt: skip
            continue
        print(
            f"| {r['reports']} | {r['sinr_rmse_db']:.2f} ± {r['sinr_rmse_db_std']:.2f} | "
            f"{100 * r['utility_rel_error']:.2f}% ± {100 * r['utility_rel_error_std']:.2f} | "
            f"{r['exponent']:.2f} (stderr {r['exponent_stderr']:.2f}) | {r['calibrate_s']:.2f} |"
        )
    print(f"wrote {args.out} in {result['wall_s']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
