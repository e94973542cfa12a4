"""Stage 1 per-user: SAC and BCQ against the best reference on held-out instances, per seed.

The protocol and recipe of ``aign benchmark paper --formulations per-user`` (its held-out
instances, :func:`evaluation.paper.train_user_agents` for the agents, rolled from 0 mW with
``agents.controllers.rollout``, share = utility / ``twin.solvers.best_reference``'s), without
the planner and the other methods, so that three seeds fit in a short session; the
references are cached in ``WORKDIR/references.json`` and the agents reused from ``WORKDIR``
(the layout of ``aign benchmark paper --workdir``).

    nice .venv/bin/python benchmarks/stage1_peruser.py --workdir .agents-bench --seeds 0,1,2
    # an ablation: SAC only, the recipe's settings changed (agents.sac.SACArgs fields)
    nice .venv/bin/python benchmarks/stage1_peruser.py --workdir .s1-dev --seeds 0 \\
        --instances 10 --sac gamma=0.5 --sac action=level --name sac-level-gamma-0.5

Writes ``WORKDIR/stage1-<name>.json``: per seed and row, the mean and worst share of each
agent and of the classical dynamics the agents' actions are relative to (``response``: the
checked best response, the default anchor; ``priced-response``: the priced one), and the
training times.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path

import numpy as np
import torch

from agents.controllers import load_agent, rollout
from agents.sac import SACArgs, train_sac
from evaluation.paper import (
    AGENT_MIX,
    AGENT_NOISE_JITTER_DB,
    AGENT_PRICE_JITTER,
    AGENT_SAC_STEPS,
    TRAIN_ENVIRONMENT_SEED,
    PaperArgs,
    held_out,
    train_user_agents,
)
from twin.scenario.loader import parse_scalar
from twin.solvers import best_reference, solve

ROWS = ("paper-20", "paper-50", "paper-80", "paper-80@200")


def instances(row: str, seed: int, n: int) -> list:
    scenario, _, users = row.partition("@")
    return held_out(scenario, seed, n, int(users) if users else None)


def references(work: Path, seed: int, n: int) -> dict[str, list[float]]:
    """Best-reference utilities of seed ``seed``'s held-out instances, cached."""
    path = work / "references.json"
    cache = json.loads(path.read_text()) if path.exists() else {}
    for row in ROWS:
        key = f"{row}|{seed}"
        if len(cache.get(key, [])) < n:
            cache[key] = [float(i.objective(best_reference(i).power_mw)[0])
                          for i in instances(row, seed, n)]  # fmt: skip
            work.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(cache))
    return {row: cache[f"{row}|{seed}"][:n] for row in ROWS}


def shares(design, seed: int, refs: dict[str, list[float]]) -> dict[str, dict]:
    """Mean and worst share of the reference of ``design(instance) -> power_mw`` per row."""
    out = {}
    for row in ROWS:
        s = [float(inst.objective(design(inst))[0]) / ref
             for inst, ref in zip(instances(row, seed, len(refs[row])), refs[row],
                                  strict=True)]  # fmt: skip
        out[row] = {"mean": float(np.mean(s)), "worst": float(np.min(s))}
    return out


def rolled(agent):
    """An agent's design: its own rollout from 0 mW."""
    return lambda inst: rollout(agent, inst, np.zeros(inst.n_users))


def solved(method: str):
    """A classical method's design; the agents' anchors alone (``a = 0`` every step, the
    rollout's movers) are ``response`` (checked) and ``priced-response``."""
    return lambda inst: solve(inst, method).power_mw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", default=".agents-bench")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--instances", type=int, default=30, help="held-out instances per row")
    ap.add_argument("--sac", action="append", default=[], metavar="FIELD=VALUE",
                    help="train only SAC, with this SACArgs field changed (VALUE read as a "
                         "scenario file reads a scalar: 0.5, level, true; repeatable)")
    ap.add_argument("--name", default="recipe", help="names the result file (and ablations)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    work = Path(args.workdir)
    overrides = {k: parse_scalar(v) for k, _, v in (s.partition("=") for s in args.sac)}
    result: dict = {"instances": args.instances, "sac_overrides": overrides, "seeds": {}}
    for seed in (int(s) for s in args.seeds.split(",")):
        refs = references(work, seed, args.instances)
        clock = time.perf_counter()
        if overrides:
            with contextlib.redirect_stdout(io.StringIO()):
                recipe = {"scenario": AGENT_MIX, "steps": AGENT_SAC_STEPS,
                          "price_jitter": AGENT_PRICE_JITTER,
                          "noise_jitter_db": AGENT_NOISE_JITTER_DB}  # fmt: skip
                sac = train_sac(SACArgs(**{**recipe, **overrides}, seed=seed, checkpoint_every=0,
                                        out=str(work / "ablations" / args.name / f"seed-{seed}"),
                                        environment_seed=TRAIN_ENVIRONMENT_SEED))  # fmt: skip
            dirs, times = {"sac": sac}, {"sac_train_s": time.perf_counter() - clock}
        else:
            sac, bcq, times = train_user_agents(seed, PaperArgs(), work)
            dirs = {"sac": sac, "bcq": bcq}
        times["stage1_s"] = time.perf_counter() - clock  # 0-ish when reused from WORKDIR
        seed_result = {"times": times}
        for kind, folder in dirs.items():
            seed_result[kind] = shares(rolled(load_agent(kind, folder)), seed, refs)
            for row, r in seed_result[kind].items():
                print(f"seed {seed} {kind} {row:14s} mean {r['mean']:.4f} worst {r['worst']:.4f}",
                      flush=True)  # fmt: skip
        for method in ("response", "priced-response"):  # the floors the agents start from
            seed_result[method] = shares(solved(method), seed, refs)
            for row, r in seed_result[method].items():
                print(f"seed {seed} {method} {row:14s} mean {r['mean']:.4f} "
                      f"worst {r['worst']:.4f}", flush=True)  # fmt: skip
        result["seeds"][seed] = seed_result
        (work / f"stage1-{args.name}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
