"""Fading per tick: the sum-of-sinusoids model against the first-order Gauss-Markov one.

For each size (users x BSs) this builds, in one process, the fading of every link both ways
(same users: speeds drawn in ``--speed-mps``, 3.5 GHz, so each user has its own Doppler)
and times one tick of each, interleaved repetition by repetition:

- **old**: :class:`GaussMarkovFading`, the twin's fading before issue 14 (commit 03cf79d,
  ``twin/radio/channel.py``, kept verbatim below): ``h <- rho h + sqrt(1 - rho^2) w`` with
  ``w ~ CN(0, 1)`` drawn each step, then ``|h|^2``.
- **new**: :class:`twin.radio.FadingProcess` with ``--sinusoids`` phasors per link (the
  twin's default first): rotate every phasor, then ``|sum|^2``.

A tick is what :meth:`twin.radio.RadioNetwork.advance` then ``gains()`` ask of the fading:
``step(dt)`` then ``power()``. The figure of merit is ``ratio = new s/tick / old s/tick``
(the median of the per-repetition ratios; each compares two chunks timed back to back,
the side that goes first alternating). Goal (issue 14): at most 1.2. Memory: tracemalloc
of each process after building it and 10 ticks, in bytes per link.

Run ``python benchmarks/fading_ticks.py --help`` for the options; ``--quick`` is a smoke mode.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np
from bench_args import parse_dataclass_args
from twin_ticks import machine, parse_sizes

from twin.radio import FadingProcess, doppler_hz, jakes_correlation

DEFAULT_SIZES = "80x4,1000x20,10000x100"
CARRIER_GHZ = 3.5


@dataclass
class Args:
    sizes: str = DEFAULT_SIZES
    """comma-separated USERSxBSS sizes, e.g. 80x4,1000x20"""
    sinusoids: str = "9,13,17"
    """comma-separated phasor counts of the new model to time (the first is the reference)"""
    repeats: int = 9
    """timed repetitions per side (old and new alternate)"""
    chunk_s: float = 0.3
    """target wall time of one timed chunk of the old model, s"""
    step_s: float = 0.001
    """one tick, s"""
    speed_mps: tuple[float, float] = (0.5, 3.0)
    """user speed range: sets each user's Doppler"""
    seed: int = 0
    """seed of both processes"""
    memory: bool = True
    """measure bytes per link (tracemalloc)"""
    json: str | None = None
    """write the results to this JSON file"""
    quick: bool = False
    """smoke mode: the first size only, 2 short repetitions, no memory measurement"""


@dataclass
class SizeResult:
    users: int
    bs: int
    ticks_per_chunk: int
    old_us_per_tick: float
    """median over repetitions"""
    new_us_per_tick: dict[int, float] = field(default_factory=dict)
    """sinusoids -> median over repetitions"""
    ratio: dict[int, float] = field(default_factory=dict)
    """sinusoids -> median over repetitions of (new s/tick) / (old s/tick): the figure of merit"""
    old_bytes_per_link: float | None = None
    new_bytes_per_link: dict[int, float] = field(default_factory=dict)


class GaussMarkovFading:
    """The twin's fading before issue 14 (commit 03cf79d), kept to time against: a
    first-order Gauss-Markov recursion per link, Rayleigh only here (what the benchmark uses).
    Lag-one correlation ``rho = J0(2 pi f_d dt)``, lag ``k``: ``rho^k``."""

    def __init__(self, rng: np.random.Generator, n_users: int, n_bs: int):
        self.rng = rng
        self.shape = (n_users, n_bs)
        self._scatter_std = 1.0
        self._h = np.empty(self.shape, dtype=np.complex128)
        self._h_view = self._h.view(np.float64)  # (U, 2B): re, im interleaved
        rng.standard_normal(out=self._h_view)
        self._h_view *= self._scatter_std / math.sqrt(2.0)
        self._noise = np.empty(self.shape, dtype=np.complex128)
        self._noise_view = self._noise.view(np.float64)
        self._factors: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def step(self, rho: np.ndarray) -> None:
        rho_col, innovation_col = self._step_factors(rho)
        noise = self._noise_view
        self.rng.standard_normal(out=noise)
        noise *= innovation_col
        self._h_view *= rho_col
        self._h_view += noise

    def _step_factors(self, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._factors is not None and self._factors[0] is rho:
            return self._factors[1], self._factors[2]
        rho_u = np.broadcast_to(np.asarray(rho, dtype=float), (self.shape[0],))
        innovation = np.sqrt(np.maximum(1.0 - rho_u * rho_u, 0.0)) * (
            self._scatter_std / math.sqrt(2)
        )
        rho_col, innovation_col = rho_u[:, None], innovation[:, None]
        if isinstance(rho, np.ndarray) and not rho.flags.writeable:
            self._factors = (rho, rho_col, innovation_col)
        return rho_col, innovation_col

    def power(self) -> np.ndarray:
        h = self._h
        out = np.multiply(h.real, h.real)
        out += h.imag * h.imag
        return out


def _old(n_users: int, n_bs: int, doppler: np.ndarray, args: Args):
    fading = GaussMarkovFading(np.random.default_rng(args.seed), n_users, n_bs)
    rho = jakes_correlation(doppler, args.step_s)
    rho.flags.writeable = False  # as RadioNetwork handed it over: factors kept across steps

    def tick() -> np.ndarray:
        fading.step(rho)
        return fading.power()

    return fading, tick


def _new(n_users: int, n_bs: int, doppler: np.ndarray, sinusoids: int, args: Args):
    fading = FadingProcess(
        np.random.default_rng(args.seed), n_users, n_bs, "rayleigh",
        doppler_hz=doppler, sinusoids=sinusoids,
    )  # fmt: skip
    step_s = args.step_s

    def tick() -> np.ndarray:
        fading.step(step_s)
        return fading.power()

    return fading, tick


def _time(tick, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        tick()
    return (time.perf_counter() - start) / n


def _bytes_per_link(build, n_links: int) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        kept, tick = build()
        for _ in range(10):
            tick()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del kept
    return held / n_links


def bench_size(n_users: int, n_bs: int, args: Args, counts: list[int]) -> SizeResult:
    speeds = np.random.default_rng(args.seed).uniform(*args.speed_mps, n_users)
    doppler = doppler_hz(speeds, CARRIER_GHZ)
    _, old_tick = _old(n_users, n_bs, doppler, args)
    new_ticks = {m: _new(n_users, n_bs, doppler, m, args)[1] for m in counts}
    warm = 5
    per_tick = _time(old_tick, warm)
    for tick in new_ticks.values():
        _time(tick, warm)
    n = max(3, int(args.chunk_s / per_tick))

    old_s: list[float] = []
    new_s: dict[int, list[float]] = {m: [] for m in counts}
    ratios: dict[int, list[float]] = {m: [] for m in counts}
    gc.collect()
    for rep in range(args.repeats):
        for m, tick in new_ticks.items():
            # Alternate which side goes first, so slow drifts of the machine cancel out.
            if rep % 2 == 0:
                o = _time(old_tick, n)
                s = _time(tick, n)
            else:
                s = _time(tick, n)
                o = _time(old_tick, n)
            old_s.append(o)
            new_s[m].append(s)
            ratios[m].append(s / o)
    result = SizeResult(
        users=n_users,
        bs=n_bs,
        ticks_per_chunk=n,
        old_us_per_tick=statistics.median(old_s) * 1e6,
        new_us_per_tick={m: statistics.median(v) * 1e6 for m, v in new_s.items()},
        ratio={m: statistics.median(v) for m, v in ratios.items()},
    )
    if args.memory:
        links = n_users * n_bs
        result.old_bytes_per_link = _bytes_per_link(
            lambda: _old(n_users, n_bs, doppler, args), links
        )
        for m in counts:
            result.new_bytes_per_link[m] = _bytes_per_link(
                lambda m=m: _new(n_users, n_bs, doppler, m, args), links
            )
    return result


def table(results: list[SizeResult], counts: list[int]) -> str:
    head = f"{'size':>10} {'old us/tick':>12} " + " ".join(
        f"{f'M={m} us':>10} {'ratio':>6}" for m in counts
    )
    head += f" {'old B/link':>10} " + " ".join(f"{f'M={m} B/link':>11}" for m in counts)
    rows = [head, "-" * len(head)]
    for r in results:
        row = f"{f'{r.users}x{r.bs}':>10} {r.old_us_per_tick:>12.0f} " + " ".join(
            f"{r.new_us_per_tick[m]:>10.0f} {r.ratio[m]:>5.2f}x" for m in counts
        )
        old_b = "-" if r.old_bytes_per_link is None else f"{r.old_bytes_per_link:.0f}"
        row += f" {old_b:>10} " + " ".join(
            f"{r.new_bytes_per_link.get(m, float('nan')):>11.0f}" for m in counts
        )
        rows.append(row)
    return "\n".join(rows)


def parse_args(argv: list[str] | None = None) -> Args:
    special = {"speed_mps": {"type": float, "nargs": 2, "metavar": ("MIN", "MAX")}}
    args = parse_dataclass_args(Args, argv, __doc__.split("\n\n")[0], special)
    args.speed_mps = tuple(args.speed_mps)
    if args.quick:
        args.sizes = args.sizes.split(",")[0]
        args.sinusoids = args.sinusoids.split(",")[0]
        args.repeats = min(args.repeats, 2)
        args.chunk_s = min(args.chunk_s, 0.02)
        args.memory = False
    return args


def main(argv: list[str] | None = None) -> list[SizeResult]:
    args = parse_args(argv)
    counts = [int(m) for m in args.sinusoids.split(",")]
    results = []
    for n_users, n_bs in parse_sizes(args.sizes):
        results.append(bench_size(n_users, n_bs, args, counts))
        print(table(results[-1:], counts).splitlines()[-1] if results[1:] else table(
            results, counts), flush=True)  # fmt: skip
    if args.json:
        payload = {
            "benchmark": "fading_ticks",
            "command": " ".join(
                ["python", "benchmarks/fading_ticks.py", *(sys.argv[1:] if argv is None else argv)]
            ),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "machine": machine(),
            "args": dataclasses.asdict(args),
            "results": [dataclasses.asdict(r) for r in results],
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
