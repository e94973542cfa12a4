"""Large networks: twin ticks/s, memory per 1000 users and the UI's maps at 1000 x 20 and
10000 x 100 (the shipped ``scale-1000x20`` and ``scale-10000x100`` scenarios).

For each scenario, in one process:

- **ticks**: twin ticks/s against the raw numpy fading + SINR loop of the same shapes
  (``twin_ticks.RawUpdate``), chunks timed back to back, interleaved, as in
  ``benchmarks/twin_ticks.py``. Two rows: ``mechanics`` is twin_ticks.py's own scenario at
  this size (static users, sync off, a fixed power decided once: the twin's bare tick);
  ``as shipped`` is the scenario itself (its mobility, the physical layer and its channel
  reports, its controller deciding every epoch), against the same raw loop.
- **memory**: tracemalloc (which sees numpy's buffers) of the shipped scenario with the user
  count scaled to 10%, 25%, 50% and 100%: bytes held after building the twin and 10 ticks,
  and the peak on the way; the slope of a least-squares line through them is the memory per
  1000 users. Also ``aign simulate``'s wall time and peak RSS for the whole scenario, in a
  child process.
- **ui**: the network snapshot (cold), ``ui.services.sinr_map`` at 40 and 120 grid points per
  side (warm: the snapshot is cached, as in the app), its tracemalloc peak, the same map by
  the direct per-probe loop (one ``twin.radio.uplink.sinr`` over users + probe per grid point, timed
  on 16 points, median of 3, and scaled: what the map cost before), the figure builders
  (``sinr_heatmap``, ``topology`` + ``network_map``) and how many points they draw.

Run ``python benchmarks/scale.py --help`` for the options; ``--quick`` is a smoke mode.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np
from bench_args import parse_dataclass_args
from twin_ticks import Args as TicksArgs
from twin_ticks import RawUpdate, _time_raw, _time_twin, bench_size, machine

from twin.controllers import make_controller
from twin.radio import doppler_hz, sinr
from twin.scenario import Scenario, load_scenario
from twin.sim import Twin

DEFAULT_SCENARIOS = "scale-1000x20,scale-10000x100"
MEMORY_FRACTIONS = (0.1, 0.25, 0.5, 1.0)


@dataclass
class Args:
    scenarios: str = DEFAULT_SCENARIOS
    """comma-separated shipped scenario names (or YAML paths)"""
    repeats: int = 5
    """timed repetitions per side (twin and raw alternate)"""
    chunk_s: float = 1.0
    """target wall time of one timed twin chunk, s"""
    memory: bool = True
    """measure memory (tracemalloc at several user counts, and aign simulate's peak RSS)"""
    ui: bool = True
    """measure the UI's SINR map and network map"""
    json: str | None = None
    """write the results to this JSON file"""
    quick: bool = False
    """smoke mode: the default scenario, 2 short repetitions, small grids"""


@dataclass
class TickRow:
    scenario: str
    variant: str
    users: int
    bs: int
    twin_ticks_per_s: float
    raw_ticks_per_s: float
    overhead: float
    """median of per-repetition (twin s/tick) / (raw s/tick)"""


@dataclass
class MemoryResult:
    scenario: str
    bs: int
    users: list[int]
    held_mb: list[float]
    peak_mb: list[float]
    held_mb_per_1000_users: float
    """least-squares slope of held MB against users, per 1000 users"""
    peak_mb_per_1000_users: float
    simulate_wall_s: float | None = None
    simulate_max_rss_mb: float | None = None


@dataclass
class UiResult:
    scenario: str
    users: int
    bs: int
    snapshot_s: float
    """cold build of the network the maps read (RadioNetwork at t = 0)"""
    sinr_map_s: dict[int, float] = field(default_factory=dict)
    """grid points per side -> seconds (warm snapshot)"""
    sinr_map_peak_mb: dict[int, float] = field(default_factory=dict)
    direct_loop_s: dict[int, float] = field(default_factory=dict)
    """grid -> estimated seconds of the per-probe loop (16 probes timed, scaled)"""
    heatmap_figure_s: float = 0.0
    heatmap_points: int = 0
    heatmap_json_kb: float = 0.0
    network_map_s: float = 0.0
    """topology graph (warm snapshot) and network_map figure"""
    network_map_points: int = 0
    network_map_json_kb: float = 0.0


# --------------------------------------------------------------------------- ticks
def _raw_for(twin: Twin, seed: int) -> RawUpdate:
    """The raw loop on the twin's ground-truth network: same gains, association, Doppler."""
    net = twin._truth_network
    step_s = twin.scenario.step_s
    return RawUpdate(
        large_scale=np.array(net.large_scale_gain()),
        assoc=np.array(net.association()),
        power_mw=np.full(net.n_users, float(twin.levels_mw.max())),
        noise_mw=net.noise_mw,
        doppler_hz=doppler_hz(net.speeds_mps, twin.scenario.channel.carrier_ghz),
        step_s=step_s,
        rng=np.random.default_rng(seed),
    )


def ticks_as_shipped(scenario: Scenario, args: Args) -> TickRow:
    twin = Twin(scenario, make_controller(scenario.control.controller))
    raw = _raw_for(twin, scenario.seed)
    step_s = scenario.step_s
    done = 0
    calibrate = 3
    per_tick = _time_twin(twin, done, calibrate, step_s) / calibrate
    done += calibrate
    _time_raw(raw, calibrate)
    n = max(2, int(args.chunk_s / per_tick))
    twin_s, raw_s = [], []
    gc.collect()
    for rep in range(args.repeats):
        if rep % 2 == 0:
            twin_s.append(_time_twin(twin, done, n, step_s) / n)
            raw_s.append(_time_raw(raw, n) / n)
        else:
            raw_s.append(_time_raw(raw, n) / n)
            twin_s.append(_time_twin(twin, done, n, step_s) / n)
        done += n
    return TickRow(
        scenario=scenario.name,
        variant="as shipped",
        users=scenario.users.n,
        bs=scenario.base_stations.n,
        twin_ticks_per_s=1.0 / statistics.median(twin_s),
        raw_ticks_per_s=1.0 / statistics.median(raw_s),
        overhead=statistics.median(t / r for t, r in zip(twin_s, raw_s, strict=True)),
    )


def ticks_mechanics(scenario: Scenario, args: Args) -> TickRow:
    ticks_args = TicksArgs(repeats=args.repeats, chunk_s=min(args.chunk_s, 0.4), memory=False)
    r = bench_size(scenario.users.n, scenario.base_stations.n, ticks_args)
    return TickRow(scenario.name, "mechanics", r.users, r.bs, r.twin_ticks_per_s,
                   r.raw_ticks_per_s, r.overhead)  # fmt: skip


# --------------------------------------------------------------------------- memory
def with_users(scenario: Scenario, n_users: int) -> Scenario:
    data = scenario.model_dump(mode="json")
    data["users"]["count"] = n_users
    return Scenario.model_validate(data)


def twin_memory(scenario: Scenario, ticks: int = 10) -> tuple[float, float]:
    """(bytes held after building the twin and ``ticks`` ticks, peak bytes on the way)."""
    gc.collect()
    tracemalloc.start()
    try:
        twin = Twin(scenario, make_controller(scenario.control.controller))
        twin.run(until_s=ticks * scenario.step_s)
        held, peak = tracemalloc.get_traced_memory()
        del twin
    finally:
        tracemalloc.stop()
    return float(held), float(peak)


def simulate_rss(name: str) -> tuple[float, float]:
    """(wall s, peak RSS MB) of the whole ``aign simulate`` of a scenario, in a child."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child of this
    # (large) process would report the parent's high-water mark.
    code = (
        "import re, sys, time\n"
        "from twin.api import simulate\n"
        "t = time.perf_counter(); simulate(sys.argv[1]); t = time.perf_counter() - t\n"
        "status = open('/proc/self/status').read()\n"
        "print(t, re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True,
                         check=True).stdout.split()  # fmt: skip
    return float(out[0]), float(out[1]) / 1024


def memory(scenario: Scenario, name: str, args: Args) -> MemoryResult:
    counts = sorted({max(1, round(f * scenario.users.n)) for f in MEMORY_FRACTIONS})
    held, peak = [], []
    for n in counts:
        h, p = twin_memory(with_users(scenario, n))
        held.append(h / 1e6)
        peak.append(p / 1e6)
    slope = np.polyfit(counts, held, 1)[0] * 1000 if len(counts) > 1 else float("nan")
    peak_slope = np.polyfit(counts, peak, 1)[0] * 1000 if len(counts) > 1 else float("nan")
    wall, rss = simulate_rss(name)
    return MemoryResult(scenario.name, scenario.base_stations.n, counts, held, peak,
                        float(slope), float(peak_slope), wall, rss)  # fmt: skip


# --------------------------------------------------------------------------- UI
def _figure_points(fig) -> int:
    return sum(len(t.x) for t in fig.data if getattr(t, "x", None) is not None)


def _direct_loop_s_per_probe(
    scenario: Scenario, snap: dict, probes: int = 16, repeats: int = 3
) -> float:
    """Seconds per grid point of the map's original algorithm: the probe appended to every
    user and one ``twin.radio.uplink.sinr`` over all of them (median of ``repeats`` timings of
    ``probes`` points)."""
    network = snap["network"]
    top = float(max(scenario.power.levels()))
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 1, (probes, 2)) * [scenario.area.width_m, scenario.area.height_m]
    gains = np.vstack([snap["gains"], np.zeros((1, snap["gains"].shape[1]))])
    assoc = np.append(snap["assoc"], 0)
    powers = np.full(gains.shape[0], top)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for g in network.large_scale_gain_at(points):
            gains[-1] = g
            assoc[-1] = int(np.argmax(g))
            sinr(gains, assoc, powers, network.noise_mw, scenario.reuse)
        times.append((time.perf_counter() - start) / probes)
    return statistics.median(times)


def ui(scenario: Scenario, grids: tuple[int, ...]) -> UiResult:
    from ui import figures, services

    services._snapshots.clear()  # a cold start
    start = time.perf_counter()
    snap = services.network_snapshot(scenario)
    result = UiResult(scenario.name, scenario.users.n, scenario.base_stations.n,
                      snapshot_s=time.perf_counter() - start)  # fmt: skip
    per_probe = _direct_loop_s_per_probe(scenario, snap)
    maps = {}
    for grid in grids:
        gc.collect()
        tracemalloc.start()
        start = time.perf_counter()
        maps[grid] = services.sinr_map(scenario, None, grid=grid)
        result.sinr_map_s[grid] = time.perf_counter() - start
        result.sinr_map_peak_mb[grid] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        result.direct_loop_s[grid] = per_probe * grid * grid
    m = maps[grids[0]]
    start = time.perf_counter()
    fig = figures.sinr_heatmap(m["x_m"], m["y_m"], m["sinr_db"], m["bs_positions"],
                               user_positions=m["user_positions"])  # fmt: skip
    result.heatmap_json_kb = len(fig.to_json()) / 1e3
    result.heatmap_figure_s = time.perf_counter() - start
    result.heatmap_points = _figure_points(fig)
    start = time.perf_counter()
    fig = figures.network_map(services.topology(scenario), scenario.area.width_m,
                              scenario.area.height_m)  # fmt: skip
    result.network_map_json_kb = len(fig.to_json()) / 1e3
    result.network_map_s = time.perf_counter() - start
    result.network_map_points = _figure_points(fig)
    return result


# --------------------------------------------------------------------------- report
def print_tables(ticks: list[TickRow], mems: list[MemoryResult], uis: list[UiResult]) -> None:
    print(f"{'scenario':>16} {'variant':>11} {'twin ticks/s':>13} {'raw ticks/s':>12} "
          f"{'overhead':>9}")  # fmt: skip
    for t in ticks:
        print(f"{t.scenario:>16} {t.variant:>11} {t.twin_ticks_per_s:>13.1f} "
              f"{t.raw_ticks_per_s:>12.1f} {t.overhead:>8.2f}x")  # fmt: skip
    for m in mems:
        print(f"\n{m.scenario}: users {m.users}")
        print(f"  held MB {[round(x, 1) for x in m.held_mb]}, peak MB "
              f"{[round(x, 1) for x in m.peak_mb]}")  # fmt: skip
        print(f"  slope: held {m.held_mb_per_1000_users:.2f} MB, peak "
              f"{m.peak_mb_per_1000_users:.2f} MB per 1000 users")  # fmt: skip
        print(f"  aign simulate (whole scenario): {m.simulate_wall_s:.1f} s, "
              f"peak RSS {m.simulate_max_rss_mb:.0f} MB")  # fmt: skip
    for u in uis:
        print(f"\n{u.scenario} UI: snapshot {u.snapshot_s:.2f} s (cold)")
        for grid, s in u.sinr_map_s.items():
            print(f"  sinr_map grid {grid}: {s:.3f} s, tracemalloc peak "
                  f"{u.sinr_map_peak_mb[grid]:.1f} MB; direct per-probe loop "
                  f"~{u.direct_loop_s[grid]:.1f} s ({u.direct_loop_s[grid] / s:.0f}x)")  # fmt: skip
        print(f"  sinr_heatmap: {u.heatmap_figure_s:.3f} s, {u.heatmap_points} points, "
              f"{u.heatmap_json_kb:.0f} kB JSON")  # fmt: skip
        print(f"  topology + network_map: {u.network_map_s:.3f} s, {u.network_map_points} "
              f"points, {u.network_map_json_kb:.0f} kB JSON")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> Args:
    args = parse_dataclass_args(Args, argv, __doc__.split("\n\n")[0])
    if args.quick:
        args.scenarios = "default"
        args.repeats = min(args.repeats, 2)
        args.chunk_s = min(args.chunk_s, 0.05)
    return args


def main(argv: list[str] | None = None) -> dict[str, list]:
    args = parse_args(argv)
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    grids = (10, 20) if args.quick else (40, 120)
    ticks: list[TickRow] = []
    mems: list[MemoryResult] = []
    uis: list[UiResult] = []
    for name in names:
        scenario = load_scenario(name)
        ticks.append(ticks_mechanics(scenario, args))
        ticks.append(ticks_as_shipped(scenario, args))
        if args.memory:
            mems.append(memory(scenario, name, args))
        if args.ui:
            uis.append(ui(scenario, grids))
        print(f"{name}: done", file=sys.stderr, flush=True)
    print_tables(ticks, mems, uis)
    results = {
        "ticks": [dataclasses.asdict(t) for t in ticks],
        "memory": [dataclasses.asdict(m) for m in mems],
        "ui": [dataclasses.asdict(u) for u in uis],
    }
    if args.json:
        payload = {
            "benchmark": "scale",
            "command": " ".join(
                ["python", "benchmarks/scale.py", *(sys.argv[1:] if argv is None else argv)]
            ),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "machine": machine(),
            "load_average": os.getloadavg(),
            "args": dataclasses.asdict(args),
            **results,
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
