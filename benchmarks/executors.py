"""Speedup from 1 to 2 workers for collection and sweeps, per executor, side by side.

For each workload the same tasks run on ``local:1`` (in this process, the baseline), then on
each executor with 2 workers (``local:2`` processes, and ``ray`` with 2 CPUs when Ray is
installed), repeated and interleaved; every run's output is checked to be identical to the
baseline's (the executor must not change results). The figure is the ratio of wall times,
median over repeats; the ideal is 2.0x on this 2-core machine. Wall time includes starting
the workers (process spawn, Ray start for the first ray run), as a user of the command sees.

The first workload, **raw limit**, is the machine's own ceiling: equal, independent
pure-Python loops with no data and no I/O, on the same executors. A speedup of the real
workloads can be read against it (on a machine whose two vCPUs do not run two processes at
full speed, the ceiling itself is below 2x).

Workloads:

- **collect**: ``aign collect`` of ``--episodes`` coordinate-expert episodes on paper-20, in
  batches of ``--batch`` (one task per batch).
- **sweep**: ``aign sweep`` of the default scenario over users x price (one task per cell
  and seed), ``--sweep-duration`` seconds of twin time per cell.

Run ``python benchmarks/executors.py --help`` for the options; ``--quick`` is a smoke mode.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bench_args import parse_dataclass_args

from agents.collect import CollectArgs, collect
from agents.dataset import FIELDS, TrajectoryDataset
from twin.compute import SweepSpec, make_executor, override, run_sweep
from twin.scenario import load_scenario


@dataclass
class Args:
    episodes: int = 512
    """collection: episodes (coordinate expert on paper-20)"""
    batch: int = 16
    """collection: episodes per batch (one task each)"""
    sweep_users: str = "10,20,40,80"
    """sweep: user counts"""
    sweep_prices: str = "0.01,0.02"
    """sweep: prices per mW"""
    sweep_seeds: int = 3
    """sweep: seeds per combination"""
    sweep_duration: float = 60.0
    """sweep: twin seconds per run"""
    repeats: int = 3
    """timed runs per executor (interleaved)"""
    executors: str = "local:2,ray"
    """executors to compare against local:1 (ray is skipped when not installed)"""
    spin: int = 3_000_000
    """raw limit: loop iterations per task"""
    spin_tasks: int = 16
    """raw limit: tasks"""
    json: str | None = None
    """write the results as JSON here"""
    quick: bool = False
    """smoke mode: tiny workloads, one repeat"""


def _collect(args: Args, executor, out: Path) -> TrajectoryDataset:
    spec = CollectArgs("paper-20", "coordinate", episodes=args.episodes, batch=args.batch,
                       out=str(out), seed=0)  # fmt: skip
    collect(spec, executor=executor)
    return TrajectoryDataset.load(out)


def _same_dataset(a: TrajectoryDataset, b: TrajectoryDataset) -> bool:
    # NaN marks a constraint not imposed; equal_nan only where floats may hold it
    return all(np.array_equal(a[name], b[name], equal_nan=name == "constraint_limits")
               for name in FIELDS)  # fmt: skip


def _sweep_spec(args: Args) -> SweepSpec:
    scenario = override(load_scenario("default"), {"duration_s": args.sweep_duration})
    users = [int(u) for u in args.sweep_users.split(",")]
    prices = [float(p) for p in args.sweep_prices.split(",")]
    return SweepSpec(scenario, [("users", users), ("price", prices)], controllers=["fpc"],
                     seeds=args.sweep_seeds)  # fmt: skip


def _sweep(args: Args, executor, out: Path) -> bytes:
    run_sweep(_sweep_spec(args), out, executor=executor)
    return (out / "results.csv").read_bytes()


def spin(n: int) -> int:
    """Pure CPU work with no memory traffic: what a machine's cores can do in parallel."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def _limit(args: Args, executor, out: Path) -> list[int]:
    """The raw parallel limit: the same number of equal, independent CPU-bound tasks."""
    return executor.map(spin, [args.spin] * args.spin_tasks)


def main(argv: list[str] | None = None) -> dict:
    args = parse_dataclass_args(Args, argv, __doc__.split("\n\n")[0])
    if args.quick:
        args = dataclasses.replace(args, episodes=8, batch=2, sweep_users="4,6",
                                   sweep_prices="0.01", sweep_seeds=2, sweep_duration=1.0,
                                   spin=100_000, spin_tasks=4, repeats=1)  # fmt: skip
    names = [e.strip() for e in args.executors.split(",") if e.strip()]
    if "ray" in names:
        try:
            import ray  # noqa: F401
        except ImportError:
            print("ray is not installed: skipping the ray executor", file=sys.stderr)
            names.remove("ray")
    executors = {"local:1": make_executor("local:1")}
    for name in names:
        executors[name] = make_executor("ray" if name == "ray" else name)
    workloads = {
        "raw limit": (_limit, list.__eq__, f"{args.spin_tasks} pure-Python loops"),
        "collect": (
            _collect,
            _same_dataset,
            f"{args.episodes} episodes in batches of {args.batch}",
        ),
        "sweep": (_sweep, bytes.__eq__, f"{len(_sweep_spec(args).cells())} cells"),
    }
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                     "args": dataclasses.asdict(args), "workloads": {}}  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="aign-bench-exec-"))
    try:
        for wname, (run, same, what) in workloads.items():
            times: dict[str, list[float]] = {e: [] for e in executors}
            reference = None
            identical = {e: True for e in executors}
            for rep in range(args.repeats):
                for ename, ex in executors.items():
                    out = tmp / f"{wname}-{ename.replace(':', '_')}-{rep}"
                    t0 = time.perf_counter()
                    output = run(args, ex, out)
                    times[ename].append(time.perf_counter() - t0)
                    if reference is None:
                        reference = output
                    else:
                        identical[ename] &= bool(same(reference, output))
                    shutil.rmtree(out, ignore_errors=True)
            base = statistics.median(times["local:1"])
            rows = {}
            for ename in executors:
                med = statistics.median(times[ename])
                rows[ename] = {"median_s": med, "all_s": times[ename], "speedup": base / med,
                               "identical_to_local_1": identical[ename]}  # fmt: skip
            results["workloads"][wname] = {"what": what, "executors": rows}
    finally:
        for ex in executors.values():
            ex.close()
        shutil.rmtree(tmp, ignore_errors=True)

    print("| workload | executor | median wall (s) | speedup vs local:1 | identical output |")
    print("|---|---|---:|---:|---|")
    for wname, w in results["workloads"].items():
        for ename, r in w["executors"].items():
            print(
                f"| {wname} ({w['what']}) | {ename} | {r['median_s']:.2f} | "
                f"{r['speedup']:.2f}x | {'yes' if r['identical_to_local_1'] else 'NO'} |"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
