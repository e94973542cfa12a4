"""Twin ticks per second against the raw numpy cost of the same fading + SINR update.

For each size (users x BSs) this builds one scenario (static users with nonzero speed, so
fading evolves; Rayleigh fading; 3GPP UMa; sync off, so the twin simulates the network
itself; a fixed-power controller that decides once) and times, in the same process and
interleaved repetition by repetition:

- **twin**: ``Twin.run`` over a chunk of ticks. One tick is the SimPy channel event (fading
  advance) plus the record event (gains, SINR, rate, utility, constraints, SINR and rate
  percentiles, one KPI row appended).
- **raw**: the least a vectorized numpy loop does for the same shapes and the same fading
  model: the sum-of-sinusoids update of every link (``M`` complex64 phasors per link, each
  multiplied by its preallocated rotor, summed into a preallocated buffer; no periodic
  renormalization), ``g = |sum|^2 / M x large-scale gain``, and ``SINR`` of every user at
  its serving BS. No rates, utility, percentiles, records or event scheduling.

The figure of merit is ``overhead = twin seconds per tick / raw seconds per tick`` (the
median of the per-repetition ratios; each ratio compares two chunks timed back to back, so
machine noise hits both). Goal: at most 1.5 at 1000 x 20 and above.

Run ``python benchmarks/twin_ticks.py --help`` for the options; ``--quick`` is a smoke mode.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np
from bench_args import parse_dataclass_args

from twin.controllers import make_controller
from twin.core import stream
from twin.radio import RadioNetwork, doppler_hz, sinr
from twin.radio.fading import DEFAULT_SINUSOIDS
from twin.scenario import Scenario
from twin.sim import Twin

DEFAULT_SIZES = "80x4,1000x20,10000x100"
AREA_PER_BS_M2 = 500.0 * 500.0  # UMa-like density: a 500 m site grid


@dataclass
class Args:
    sizes: str = DEFAULT_SIZES
    """comma-separated USERSxBSS sizes, e.g. 80x4,1000x20"""
    repeats: int = 7
    """timed repetitions per side (twin and raw alternate)"""
    chunk_s: float = 0.4
    """target wall time of one timed chunk, s (the tick count is calibrated to it)"""
    step_s: float = 0.001
    """twin step (one tick), s of simulated time"""
    speed_mps: tuple[float, float] = (0.5, 3.0)
    """user speed range: sets each user's Doppler, so fading evolves (users stay put)"""
    mobility: str = "static"
    """static (the default: large-scale gains computed once) or random_waypoint (users walk,
    so path loss, LOS, shadowing and association are recomputed every tick; the raw side
    stays fading + SINR only)"""
    power_mw: float = 10.0
    """every user's fixed transmit power, mW"""
    seed: int = 0
    """scenario seed (the raw loop draws from its own generator of this seed)"""
    memory: bool = True
    """measure the twin's memory (tracemalloc) while building it and running a few ticks"""
    json: str | None = None
    """write the results to this JSON file"""
    quick: bool = False
    """smoke mode: the first size only, 2 short repetitions, no memory measurement"""


@dataclass
class SizeResult:
    users: int
    bs: int
    ticks_per_chunk: int
    twin_ticks_per_s: float
    """median over repetitions"""
    raw_ticks_per_s: float
    """median over repetitions"""
    overhead: float
    """median over repetitions of (twin s/tick) / (raw s/tick): the figure of merit"""
    overhead_best: float
    """(best twin s/tick) / (best raw s/tick)"""
    build_s: float
    """wall time of ``Twin(...)``: layout, shadowing fields, first channel"""
    twin_mb: float | None = None
    """memory the twin holds after building and 10 ticks (tracemalloc), MB"""
    twin_peak_mb: float | None = None
    """tracemalloc peak while building the twin and running 10 ticks, MB"""
    kpi_bytes_per_tick: float | None = None
    """memory the KPI log grows by per tick (tracemalloc), bytes"""

    @property
    def mb_per_1000_users(self) -> float | None:
        return None if self.twin_mb is None else self.twin_mb / self.users * 1000


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        users, _, bs = part.strip().lower().partition("x")
        if not users.isdigit() or not bs.isdigit():
            raise SystemExit(f"bad size {part!r}: expected USERSxBSS, e.g. 1000x20")
        sizes.append((int(users), int(bs)))
    return sizes


def bench_scenario(n_users: int, n_bs: int, args: Args) -> Scenario:
    """Users (static unless ``args.mobility`` says otherwise), Rayleigh fading, UMa, no sync,
    a fixed power decided once."""
    side_m = math.sqrt(AREA_PER_BS_M2 * n_bs)
    duration_s = 1000.0  # never reached: the benchmark runs the twin chunk by chunk
    return Scenario.model_validate(
        {
            "name": f"bench-{n_users}x{n_bs}",
            "seed": args.seed,
            "duration_s": duration_s,
            "step_s": args.step_s,
            "area": {"width_m": side_m, "height_m": side_m},
            "base_stations": {"layout": "hexagonal", "count": n_bs},
            "users": {
                "count": n_users,
                "mobility": args.mobility,
                "speed_mps": list(args.speed_mps),
            },
            "channel": {"path_loss": {"model": "uma"}, "fading": {"model": "rayleigh"}},
            "power": {"initial_mw": args.power_mw},
            "sync": {"enabled": False},
            "control": {"epoch_s": duration_s, "controller": f"fixed:{args.power_mw:g}"},
        }
    )


class RawUpdate:
    """The bare vectorized fading + SINR update, with preallocated buffers.

    Fading as the twin's (:mod:`twin.radio.fading`): ``M`` phasors per link turning at
    ``2 pi f_d cos(alpha_m)`` with stratified angles; drawn here from its own generator."""

    def __init__(
        self,
        large_scale: np.ndarray,
        assoc: np.ndarray,
        power_mw: np.ndarray,
        noise_mw: float,
        doppler_hz: np.ndarray,
        step_s: float,
        rng: np.random.Generator,
        sinusoids: int = DEFAULT_SINUSOIDS,
    ):
        n_users, n_bs = large_scale.shape
        self.large_scale = large_scale
        self.assoc = assoc
        self.serving = np.arange(n_users) * n_bs + assoc  # flat index of g[i, b(i)]
        self.power_mw = power_mw
        self.noise_mw = noise_mw
        shape = (sinusoids, n_users, n_bs)
        phase = rng.uniform(-np.pi, np.pi, shape)
        self.z = np.exp(1j * phase).astype(np.complex64)
        theta = rng.uniform(-np.pi, np.pi, (n_users, n_bs))
        alpha = (theta[None] + 2 * np.pi * np.arange(sinusoids)[:, None, None]) / sinusoids
        turn = 2 * np.pi * step_s * doppler_hz[None, :, None] * np.cos(alpha)
        self.rotor = np.exp(1j * turn).astype(np.complex64)
        self.acc = np.empty((n_users, n_bs), dtype=np.complex64)
        self.scale2 = 1.0 / sinusoids
        self.g = np.empty((n_users, n_bs))
        self.scratch = np.empty((n_users, n_bs))

    def tick(self) -> np.ndarray:
        # Sum of sinusoids: every phasor turns by its Doppler, then h = sum / sqrt(M).
        np.multiply(self.z, self.rotor, out=self.z)
        np.sum(self.z, axis=0, out=self.acc)
        # g = |h|^2 x large-scale gain
        g = self.g
        np.multiply(self.acc.real, self.acc.real, out=g)
        np.multiply(self.acc.imag, self.acc.imag, out=self.scratch)
        g += self.scratch
        g *= self.scale2
        g *= self.large_scale
        return self.sinr(g)

    def sinr(self, g: np.ndarray) -> np.ndarray:
        """``SINR_i = g[i, b(i)] p_i / (noise + sum_{k != i} g[k, b(i)] p_k)``."""
        received = self.power_mw @ g
        signal = self.power_mw * g.ravel()[self.serving]
        interference = np.maximum(received[self.assoc] - signal, 0.0)
        return signal / (self.noise_mw + interference)


def _time_twin(twin: Twin, ticks_done: int, n: int, step_s: float) -> float:
    start = time.perf_counter()
    twin.run(until_s=(ticks_done + n) * step_s)
    return time.perf_counter() - start


def _time_raw(raw: RawUpdate, n: int) -> float:
    tick = raw.tick
    start = time.perf_counter()
    for _ in range(n):
        tick()
    return time.perf_counter() - start


def _memory(
    scenario: Scenario, args: Args, ticks: int = 10, log_ticks: int = 200
) -> tuple[float, float, float]:
    """(bytes held after building the twin and ``ticks`` ticks, peak bytes on the way, KPI
    log bytes per tick over ``log_ticks`` more), all from tracemalloc (numpy reports its
    buffers to it)."""
    gc.collect()
    tracemalloc.start()
    try:
        twin = Twin(scenario, make_controller(scenario.control.controller))
        twin.run(until_s=ticks * args.step_s)
        held, peak = tracemalloc.get_traced_memory()
        twin.run(until_s=(ticks + log_ticks) * args.step_s)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return float(held), float(peak), (after - held) / log_ticks


def bench_size(n_users: int, n_bs: int, args: Args) -> SizeResult:
    scenario = bench_scenario(n_users, n_bs, args)
    start = time.perf_counter()
    twin = Twin(scenario, make_controller(scenario.control.controller))
    build_s = time.perf_counter() - start
    # The raw side gets its own copy of the same network (same layout and world seeds), so
    # the same large-scale gains, association and Doppler.
    net = RadioNetwork(scenario, stream(scenario.seed, "layout"), stream(scenario.seed, "network"))
    power_mw = np.full(n_users, args.power_mw)
    raw = RawUpdate(
        large_scale=net.large_scale_gain(),
        assoc=net.association(),
        power_mw=power_mw,
        noise_mw=net.noise_mw,
        doppler_hz=doppler_hz(net.speeds_mps, scenario.channel.carrier_ghz),
        step_s=args.step_s,
        rng=np.random.default_rng(args.seed),
    )
    # Same maths on both sides: the raw SINR of the twin's current gains is the twin's.
    gains, assoc, _, _ = twin.estimate()
    expected = sinr(gains, assoc, power_mw, twin.noise_mw)
    if not (np.array_equal(assoc, raw.assoc) and np.allclose(raw.sinr(gains), expected)):
        raise RuntimeError("the raw update does not compute the twin's SINR")

    # Warm up both, then size the chunk so one twin chunk takes about chunk_s.
    done = 0
    calibrate = 20
    elapsed = _time_twin(twin, done, calibrate, args.step_s)
    done += calibrate
    _time_raw(raw, calibrate)
    per_tick = elapsed / calibrate
    n = max(5, int(args.chunk_s / per_tick))

    twin_s, raw_s = [], []
    gc.collect()
    for rep in range(args.repeats):
        # Alternate which side goes first, so slow drifts of the machine cancel out.
        if rep % 2 == 0:
            twin_s.append(_time_twin(twin, done, n, args.step_s) / n)
            raw_s.append(_time_raw(raw, n) / n)
        else:
            raw_s.append(_time_raw(raw, n) / n)
            twin_s.append(_time_twin(twin, done, n, args.step_s) / n)
        done += n
    expected_records = done  # one KPI row per tick, at 0, step, ..., (done - 1) step
    if len(twin.kpis) != expected_records:
        raise RuntimeError(f"twin recorded {len(twin.kpis)} ticks, expected {expected_records}")

    result = SizeResult(
        users=n_users,
        bs=n_bs,
        ticks_per_chunk=n,
        twin_ticks_per_s=1.0 / statistics.median(twin_s),
        raw_ticks_per_s=1.0 / statistics.median(raw_s),
        overhead=statistics.median(t / r for t, r in zip(twin_s, raw_s, strict=True)),
        overhead_best=min(twin_s) / min(raw_s),
        build_s=build_s,
    )
    del twin, raw
    if args.memory:
        held, peak, per_tick = _memory(scenario, args)
        result.twin_mb, result.twin_peak_mb, result.kpi_bytes_per_tick = (
            held / 1e6,
            peak / 1e6,
            per_tick,
        )
    return result


def machine() -> dict[str, object]:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


TABLE_HEAD = (
    f"{'size':>10} {'twin ticks/s':>13} {'raw ticks/s':>12} {'overhead':>9} {'(best)':>7} "
    f"{'build s':>8} {'twin MB':>8} {'peak MB':>8} {'MB/1k users':>12} {'KPI B/tick':>11}"
)


def table_row(r: SizeResult) -> str:
    def fmt(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    return (
        f"{f'{r.users}x{r.bs}':>10} {r.twin_ticks_per_s:>13.0f} {r.raw_ticks_per_s:>12.0f} "
        f"{r.overhead:>8.2f}x {r.overhead_best:>6.2f}x {r.build_s:>8.2f} "
        f"{fmt(r.twin_mb, '.1f'):>8} {fmt(r.twin_peak_mb, '.1f'):>8} "
        f"{fmt(r.mb_per_1000_users, '.2f'):>12} {fmt(r.kpi_bytes_per_tick, '.0f'):>11}"
    )


def parse_args(argv: list[str] | None = None) -> Args:
    special = {
        "mobility": {"choices": ("static", "random_waypoint")},
        "speed_mps": {"type": float, "nargs": 2, "metavar": ("MIN", "MAX")},
    }
    args = parse_dataclass_args(Args, argv, __doc__.split("\n\n")[0], special)
    args.speed_mps = tuple(args.speed_mps)
    if args.quick:
        args.sizes = args.sizes.split(",")[0]
        args.repeats = min(args.repeats, 2)
        args.chunk_s = min(args.chunk_s, 0.02)
        args.memory = False
    return args


def main(argv: list[str] | None = None) -> list[SizeResult]:
    args = parse_args(argv)
    results = []
    print(TABLE_HEAD, "-" * len(TABLE_HEAD), sep="\n", flush=True)
    for n_users, n_bs in parse_sizes(args.sizes):
        results.append(bench_size(n_users, n_bs, args))
        print(table_row(results[-1]), flush=True)
    if args.json:
        payload = {
            "benchmark": "twin_ticks",
            "command": " ".join(
                ["python", "benchmarks/twin_ticks.py", *(sys.argv[1:] if argv is None else argv)]
            ),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "machine": machine(),
            "args": dataclasses.asdict(args),
            "results": [
                {**dataclasses.asdict(r), "mb_per_1000_users": r.mb_per_1000_users} for r in results
            ],
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
