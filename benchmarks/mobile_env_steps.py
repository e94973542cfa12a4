"""mobile-env environment steps per second, for the side-by-side comparison with the twin.

mobile-env (https://github.com/stefanbschneider/mobile-env) is not a dependency of aign:
run this script with the interpreter of a separate virtual environment that has it, e.g.

    python3 -m venv /tmp/menv && /tmp/menv/bin/pip install mobile-env
    /tmp/menv/bin/python benchmarks/mobile_env_steps.py --users 80 --bs 4

It builds mobile-env's core environment (``MComCore``: Okumura-Hata channel, resource-fair
scheduler, random-waypoint movement, the central handler) with a custom cell layout of
``--bs`` base stations on a grid and ``--users`` users, which its API allows directly (its
small/medium/large presets are 5, 15 and 30 users on 3, 7 and 13 BSs). Actions are drawn
up front from the seeded action space, so the timed loop is ``env.step`` alone. Episodes
are long enough never to end inside a timed chunk; the environment is reset between
repetitions outside the timing.

``compare_mobile_env.sh`` runs this and ``twin_ticks.py`` back to back and prints the ratio.
"""

from __future__ import annotations

import json
import math
import platform
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
from bench_args import parse_dataclass_args


@dataclass
class Args:
    users: int = 80
    """number of user equipments"""
    bs: int = 4
    """number of base stations, placed at the centres of a near-square grid of cells"""
    area_m: float = 200.0
    """side of the square area, m (mobile-env's default is 200 m)"""
    steps: int = 200
    """timed env steps per repetition"""
    repeats: int = 5
    """timed repetitions; the median is reported"""
    seed: int = 0
    """environment and action seed"""
    json: str | None = None
    """write the result to this JSON file"""
    quick: bool = False
    """smoke mode: 20 steps, 2 repetitions"""


def grid_positions(n: int, side_m: float) -> list[tuple[float, float]]:
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    cell_x, cell_y = side_m / cols, side_m / rows
    return [((k % cols + 0.5) * cell_x, (k // cols + 0.5) * cell_y) for k in range(n)]


def build_env(args: Args, episode_steps: int):
    from mobile_env.core.base import MComCore
    from mobile_env.core.entities import BaseStation, UserEquipment
    from mobile_env.core.util import deep_dict_merge
    from mobile_env.handlers.central import MComCentralHandler

    config = deep_dict_merge(
        MComCore.default_config(),
        {
            "width": args.area_m,
            "height": args.area_m,
            "EP_MAX_TIME": episode_steps,
            "seed": args.seed,
            "handler": MComCentralHandler,
            "arrival_params": {"ep_time": episode_steps},
            "movement_params": {"width": args.area_m, "height": args.area_m},
        },
    )
    stations = [
        BaseStation(bs_id, pos, **config["bs"])
        for bs_id, pos in enumerate(grid_positions(args.bs, args.area_m))
    ]
    users = [UserEquipment(ue_id, **config["ue"]) for ue_id in range(args.users)]
    return MComCore(stations, users, config)


def measure(args: Args) -> dict[str, object]:
    import mobile_env

    episode_steps = args.steps + 10
    env = build_env(args, episode_steps)
    env.action_space.seed(args.seed)
    actions = [env.action_space.sample() for _ in range(args.steps + 5)]
    per_step = []
    for _ in range(args.repeats):
        env.reset(seed=args.seed)
        for a in actions[:5]:  # warm-up
            env.step(a)
        start = time.perf_counter()
        for a in actions[5:]:
            _, _, terminated, truncated, _ = env.step(a)
        per_step.append((time.perf_counter() - start) / args.steps)
        if terminated or truncated:
            raise RuntimeError("episode ended inside a timed chunk; raise EP_MAX_TIME")
    return {
        "benchmark": "mobile_env_steps",
        "mobile_env_version": getattr(mobile_env, "__version__", _version("mobile-env")),
        "users": args.users,
        "bs": args.bs,
        "steps_per_repeat": args.steps,
        "steps_per_s": 1.0 / statistics.median(per_step),
        "steps_per_s_best": 1.0 / min(per_step),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def parse_args(argv: list[str] | None = None) -> Args:
    args = parse_dataclass_args(Args, argv, __doc__.split("\n\n")[0])
    if args.quick:
        args.steps, args.repeats = min(args.steps, 20), min(args.repeats, 2)
    return args


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = parse_args(argv)
    try:
        result = measure(args)
    except ImportError as exc:
        sys.exit(f"mobile-env is not importable here ({exc}); see this script's docstring")
    print(
        f"mobile-env {result['mobile_env_version']}: {args.users} users x {args.bs} BSs: "
        f"{result['steps_per_s']:.1f} steps/s (median of {args.repeats} x {args.steps} steps; "
        f"best {result['steps_per_s_best']:.1f})",
        flush=True,
    )
    if args.json:
        result["command"] = " ".join(
            ["python", "benchmarks/mobile_env_steps.py", *(sys.argv[1:] if argv is None else argv)]
        )
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
