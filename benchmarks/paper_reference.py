"""Best reference utility of the paper-20/50/80 scenarios, against the paper's Table I.

For each scenario, the problem instance the twin sees at t = 0 (``snapshot_instance``) is
solved by every reference the twin has that scales (multi-start coordinate ascent, WMMSE, and
coordinate ascent started from WMMSE's design); the best utility is the scenario's reference.
It is measured at the scenario's own seed and at a few other seeds (``--seed`` changes the
world's randomness: shadowing, LOS states and fading; the layout stays the scenario's).

    .venv/bin/python benchmarks/paper_reference.py                 # table, seeds 1-5
    .venv/bin/python benchmarks/paper_reference.py --seeds 1-10 --json
    .venv/bin/python benchmarks/paper_reference.py --area-m 800   # all three on one area

The numbers and how the geometry was chosen are in docs/paper-scenarios.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from twin.api import as_scenario, snapshot_instance
from twin.radio import ProblemInstance, interference_mw
from twin.scenario import Area
from twin.solvers import best_index, coordinate_ascent, wmmse

# Table I of the paper: the best utility for 20, 50 and 80 users.
TABLE_I = {"paper-20": 254.0, "paper-50": 489.0, "paper-80": 633.0}


@dataclass
class Reference:
    """The best design the references find on one instance, and what it looks like."""

    utility: float
    method: str
    median_sinr_db: float
    share_at_max_power: float  # fraction of users at the highest level
    share_off: float  # fraction of users at 0 mW
    median_inr_db: float  # interference over noise at the serving BS, median over users


def best_reference(instance: ProblemInstance, starts: int = 4) -> Reference:
    """The best of coordinate ascent (``starts`` starts), WMMSE, and ascent from WMMSE."""
    from_wmmse = wmmse(instance)
    candidates = {
        f"coordinate:starts={starts}": coordinate_ascent(instance, starts=starts),
        "wmmse": from_wmmse,
        "coordinate from wmmse": coordinate_ascent(instance, starts=1, init=from_wmmse),
    }
    names = list(candidates)
    powers = np.stack([candidates[name] for name in names])
    utility, violation = instance.objective(powers)
    k = best_index(utility, violation)
    power = powers[k]
    metrics = instance.evaluate(power)
    on = power > 0
    inr = interference_mw(instance.gains, instance.assoc, power, instance.reuse) / instance.noise_mw
    with np.errstate(divide="ignore"):
        sinr_db = 10 * np.log10(metrics.sinr[on]) if on.any() else np.array([-np.inf])
    return Reference(
        utility=float(utility[k]),
        method=names[k],
        median_sinr_db=float(np.median(sinr_db)),
        share_at_max_power=float(np.mean(power == instance.max_power_mw)),
        share_off=float(np.mean(~on)),
        median_inr_db=float(np.median(10 * np.log10(np.maximum(inr, 1e-30)))),
    )


def parse_seeds(text: str) -> list[int]:
    """``"1-5"`` or ``"1,2,7"`` -> a list of seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        seeds += list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
    return seeds


def measure(name: str, seeds: list[int], starts: int, area_m: float | None = None) -> dict:
    """Reference at the scenario's own seed and at ``seeds``, with Table I's target.

    ``area_m``: replace the scenario's area by an ``area_m`` x ``area_m`` square (the knob
    the calibration turned); user positions scale with it.
    """
    scenario = as_scenario(name)
    if area_m is not None:
        scenario = scenario.model_copy(update={"area": Area(width_m=area_m, height_m=area_m)})
    own = best_reference(snapshot_instance(scenario), starts)
    others = [best_reference(snapshot_instance(scenario, seed=s), starts) for s in seeds]
    u = np.array([r.utility for r in others])
    target = TABLE_I.get(scenario.name)
    return {
        "scenario": scenario.name,
        "users": scenario.users.n,
        "base_stations": scenario.base_stations.n,
        "area_m": [scenario.area.width_m, scenario.area.height_m],
        "table_i": target,
        "own_seed": scenario.seed,
        "own": asdict(own),
        "seeds": seeds,
        "per_seed": [r.utility for r in others],
        "mean": float(u.mean()),
        "std": float(u.std(ddof=1)) if u.size > 1 else 0.0,
        "min": float(u.min()),
        "max": float(u.max()),
        "own_error": None if target is None else own.utility / target - 1.0,
        "mean_error": None if target is None else float(u.mean()) / target - 1.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", default=list(TABLE_I), help="names or files")
    parser.add_argument("--seeds", default="1-5", help="other seeds, e.g. 1-5 or 1,4,9")
    parser.add_argument("--starts", type=int, default=4, help="coordinate-ascent starts")
    parser.add_argument("--area-m", type=float, help="override: a square area of this side, m")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    rows = []
    for name in args.scenarios:
        started = time.perf_counter()
        row = measure(name, seeds, args.starts, args.area_m)
        row["seconds"] = time.perf_counter() - started
        rows.append(row)
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    print(
        f"{'scenario':<10} {'users':>5} {'area m':>6} {'Table I':>8} {'own seed':>16} "
        f"{'seeds ' + args.seeds + ' mean +- sd [min, max]':>36}  own-seed optimum"
    )
    for r in rows:
        own = r["own"]
        target = "-" if r["table_i"] is None else f"{r['table_i']:.0f}"
        err = "" if r["own_error"] is None else f" ({100 * r['own_error']:+.1f}%)"
        spread = f"{r['mean']:.1f} +- {r['std']:.1f} [{r['min']:.1f}, {r['max']:.1f}]"
        mean_err = "" if r["mean_error"] is None else f" ({100 * r['mean_error']:+.1f}%)"
        print(
            f"{r['scenario']:<10} {r['users']:>5} {r['area_m'][0]:>6.0f} {target:>8} "
            f"{own['utility']:>8.1f}{err:>8} {spread + mean_err:>36}  "
            f"{own['method']}; median SINR {own['median_sinr_db']:.1f} dB, "
            f"median INR {own['median_inr_db']:.1f} dB, "
            f"{100 * own['share_at_max_power']:.0f}% at max, {100 * own['share_off']:.0f}% off"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
