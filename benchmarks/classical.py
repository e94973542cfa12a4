"""Classical solvers before and after issue 13: coordinate ascent with incremental
interference (and the bound over levels) and the lean WMMSE, against the versions they
replaced (``tests/twin/solvers/previous.py``: a full objective per coordinate move).

For each size (held-out instances of ``evaluation.pareto.CASES``: paper-20/50/80, the city
district at 200 and 1000 users) and each setting (coordinate ascent: 1 sweep, 2 sweeps, to
convergence, 4 starts; WMMSE), old and new run on the same instance back to back, the side
that goes first alternating, timed in-process with ``perf_counter``; the speedup is the median
of the per-pair ratios old / new. Every pair's designs are compared (``same``). Where the old
version would take minutes (``--old-max-s``), only the new one is timed.

Run ``python benchmarks/classical.py --help`` for the options; ``--quick`` is a smoke mode.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bench_args import parse_dataclass_args

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the reference in tests/

from evaluation.pareto import CASES, case_instances  # noqa: E402
from tests.twin.solvers import previous  # noqa: E402
from twin.solvers import coordinate_ascent, wmmse  # noqa: E402


@dataclass
class Args:
    cases: str = "paper-20,paper-50,paper-80,city-200x20,city-1000x20"
    """comma-separated cases of evaluation.pareto.CASES"""
    instances: int = 5
    """held-out instances per case (capped: 2 at 200 users, 1 at 1000)"""
    repeats: int = 3
    """timed old/new pairs per instance (1 above 80 users)"""
    settings: str = ""
    """semicolon-separated settings to time (default: all but "coordinate, 8 starts")"""
    old_max_s: float = 60.0
    """skip the old version where its estimated time (OLD_S_PER_CELL x users^2 x levels x
    BSs x the setting's sweeps) exceeds this many seconds"""
    json: str | None = None
    """write the results to this JSON file"""
    quick: bool = False
    """smoke mode: paper-20 and default, one instance, one repeat"""


# The old version's cost per (user, user, level, BS) cell of a sweep: 23 s for one sweep at
# 1000 x 20 x 201 levels, measured on this machine.
OLD_S_PER_CELL = 5.7e-9
CAPS = {"city-200x20": 2, "city-1000x20": 1}  # instances at most, where each is slow
SETTINGS = {
    "coordinate, 1 sweep": ({"starts": 1, "max_sweeps": 1}, 1),
    "coordinate, 2 sweeps": ({"starts": 1, "max_sweeps": 2}, 2),
    "coordinate, to convergence": ({"starts": 1}, 10),
    "coordinate, 4 starts": ({"starts": 4}, 60),
    "coordinate, 8 starts": ({"starts": 8}, 120),  # what best_reference runs
    "WMMSE": (None, 0),
}  # setting -> (coordinate_ascent keywords, or None for WMMSE; sweeps the old one pays)


def _timed(fn, *a, **kw):
    start = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - start


def measure(args: Args) -> list[dict]:
    rows = []
    for name in [c.strip() for c in args.cases.split(",") if c.strip()]:
        case = CASES[name]
        n = min(args.instances, CAPS.get(name, args.instances))
        instances = case_instances(case, n)
        chosen = [x.strip() for x in args.settings.split(";") if x.strip()]
        for setting in chosen or [x for x in SETTINGS if x != "coordinate, 8 starts"]:
            kw, sweeps = SETTINGS[setting]
            new_fn = (lambda i: wmmse(i)) if kw is None else (  # noqa: E731
                lambda i, kw=kw: coordinate_ascent(i, **kw))
            old_fn = (lambda i: previous.wmmse(i)) if kw is None else (  # noqa: E731
                lambda i, kw=kw: previous.coordinate_ascent(i, **kw))
            ratios, t_new, t_old, same = [], [], [], []
            for k, inst in enumerate(instances):
                cells = inst.n_users**2 * len(inst.levels_mw) * inst.n_bs * sweeps
                run_old = OLD_S_PER_CELL * cells <= args.old_max_s
                repeats = args.repeats if inst.n_users <= 80 else 1
                for r in range(repeats):
                    if not run_old:
                        _, s = _timed(new_fn, inst)
                        t_new.append(s)
                        continue
                    if (k + r) % 2:
                        a, so = _timed(old_fn, inst)
                        b, sn = _timed(new_fn, inst)
                    else:
                        b, sn = _timed(new_fn, inst)
                        a, so = _timed(old_fn, inst)
                    t_old.append(so)
                    t_new.append(sn)
                    ratios.append(so / sn)
                    same.append(bool(np.array_equal(a, b)))
            row = {"case": name, "users": instances[0].n_users, "bs": instances[0].n_bs,
                   "levels": len(instances[0].levels_mw), "setting": setting,
                   "instances": n, "pairs": len(ratios),
                   "new_s": statistics.median(t_new),
                   "old_s": statistics.median(t_old) if t_old else None,
                   "speedup": statistics.median(ratios) if ratios else None,
                   "same_designs": f"{sum(same)}/{len(same)}"}  # fmt: skip
            rows.append(row)
            print(_line(row), file=sys.stderr, flush=True)
    return rows


def _s(x: float | None) -> str:
    if x is None:
        return "not run"
    return f"{x * 1e3:.2f} ms" if x < 1 else f"{x:.2f} s"


def _line(r: dict) -> str:
    speed = "" if r["speedup"] is None else f"**{r['speedup']:.1f}x**"
    return (f"| {r['users']} x {r['bs']} ({r['levels']} levels) | {r['setting']} | "
            f"{_s(r['old_s'])} | {_s(r['new_s'])} | {speed} | {r['same_designs']} |")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> Args:
    args = parse_dataclass_args(Args, argv, __doc__.split("\n\n")[0])
    if args.quick:
        args.instances, args.repeats = 1, 1
        if args.cases == Args.cases:
            args.cases = "paper-20,default"
    return args


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    rows = measure(args)
    print("| size | setting | old | new | speedup (median of pairs) | same designs |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(_line(r))
    if args.json:
        from evaluation.paper import machine

        payload = {
            "benchmark": "classical",
            "command": " ".join(
                ["python", "benchmarks/classical.py", *(sys.argv[1:] if argv is None else argv)]
            ),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "machine": machine(1),
            "load_average": os.getloadavg(),
            "args": dataclasses.asdict(args),
            "rows": rows,
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
    return rows


if __name__ == "__main__":
    main()
