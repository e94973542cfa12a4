"""Stage 1 benchmark: how fast SAC trains and collection runs, and how close SAC and BCQ get
to the twin's reference designs on held-out instances.

**Throughput** (each pair timed back to back, ``repeats`` times, alternating which goes first;
the figure is the median of the per-repetition ratios, so machine noise hits both sides):

- SAC training env-steps/s: ``agents.sac.train_sac`` with ``n_envs=1`` against ``n_envs=4``
  on the same step budget, learning on (wall time of the whole call: environments, model,
  learning, saving). SB3 takes one gradient step per vector step, so ``n_envs=4`` also means
  a quarter of the gradient steps per environment step.
- Collection transitions/s: ``agents.collect.collect`` with ``batch=1`` against ``batch=16``,
  for the ``random``, the ``coordinate`` (expert) and a ``sac`` policy (the network of the
  SAC timed above: batching only pays where a policy's forward pass can be batched). Wall
  time of the whole call, sub-environment construction and shard writing included.

**Quality**, per scenario and seed: train SAC; collect a mixed dataset from the coordinate
expert, ``noisy:coordinate``, ``random`` and the trained SAC; train BCQ on it; then roll each
agent (``load_agent`` + ``rollout``, from the scenario's initial powers, 0 mW) on the
evaluation instances and divide its utility by the reference's:

- ``paper-fig3``: one fixed instance (explicit gains: it is also the training instance);
  reference = the exact optimum (exhaustive search, U = 24.0922).
- ``paper-20``: held-out instances. Training (SAC and collection) draws instances from the
  sampler's environment ``TRAIN_ENVIRONMENT_SEED`` (shadowing fields) with per-episode seeds
  below ``EVAL_SEED_BASE``; evaluation instances come from another environment
  (``--eval-environment-seed``: other shadowing fields) and their own generators
  ``default_rng([EVAL_SEED_BASE, k])`` (fresh user positions, LOS states, fading). Reference
  = the better of multi-start coordinate ascent (``--reference-starts``) and WMMSE.

The share of a seed is the mean over evaluation instances of agent utility / reference
utility; the table gives the mean over seeds and a 95% t-interval over the seeds.

    .venv/bin/python benchmarks/stage1.py                  # full run (~20 min on 2 cores)
    .venv/bin/python benchmarks/stage1.py --quick          # smoke mode (~1 min)
    .venv/bin/python benchmarks/stage1.py --help           # every budget
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bench_args import parse_dataclass_args
from scipy import stats

from agents.bcq import BCQArgs, train_bcq
from agents.collect import CollectArgs, collect
from agents.controllers import load_agent, rollout
from agents.dataset import TrajectoryDataset
from agents.mdp import MDPConfig, initial_power
from agents.sac import SACArgs, train_sac
from twin.core import TooLargeError
from twin.radio import InstanceSampler, ProblemInstance
from twin.scenario import load_scenario
from twin.solvers import (
    DEFAULT_MAX_EVALUATIONS,
    best_index,
    check_exhaustive_size,
    coordinate_ascent,
    exhaustive,
    max_power,
    wmmse,
)

TRAIN_ENVIRONMENT_SEED = 0  # the sampler environment SAC and collection learn in
EVAL_SEED_BASE = 1_000_003  # evaluation instance k uses default_rng([EVAL_SEED_BASE, k])
COLLECT_SEED_STRIDE = 100_000  # seed s collects episodes (s + 1) * stride + k
NOISY_EXPERT = "noisy:coordinate,sigma=0.3"
MIX = ("coordinate", NOISY_EXPERT, "random")  # plus the trained SAC


@dataclass
class Args:
    scenarios: str = "paper-fig3,paper-20"
    """comma-separated scenarios to train and evaluate on"""
    seeds: int = 3
    """independent seeds (SAC, collection, BCQ) per scenario: 0, 1, ..."""
    sac_steps: int = 5000
    """SAC environment steps of training (n_envs=1: one gradient step per env step)"""
    sac_learning_starts: int = 500
    """SAC steps of random actions before learning"""
    episodes_per_source: int = 250
    """episodes collected per behaviour policy (4 policies) into BCQ's dataset"""
    bcq_steps: int = 2000
    """BCQ gradient steps"""
    bcq_batch_size: int = 128
    """BCQ minibatch size"""
    bcq_action_samples: int = 10
    """BCQ candidate actions scored per decision"""
    eval_instances: int = 50
    """held-out instances per scenario (one for scenarios with explicit gains)"""
    eval_environment_seed: int = 10_000
    """sampler environment of the held-out instances (training uses 0)"""
    reference_starts: int = 4
    """starts of the coordinate-ascent reference"""
    throughput_sac_steps: int = 1000
    """SAC env steps per timed throughput run"""
    throughput_episodes: int = 256
    """episodes per timed collection run"""
    throughput_repeats: int = 2
    """timed repetitions of every single/vectorized pair"""
    out: str = "benchmarks/results/stage1.json"
    """JSON results; the markdown table goes next to it (.md)"""
    torch_threads: int = 1
    """torch intra-op threads (0: torch's default, one per core; see RESULTS.md on why 1)"""
    workdir: str | None = None
    """keep agents and datasets here (default: a temporary folder, deleted)"""
    quick: bool = False
    """smoke mode: 2 seeds, tiny budgets, a few evaluation instances (about a minute)"""


# What --quick changes; flags given explicitly still win.
QUICK = {
    "seeds": 2,
    "sac_steps": 150,
    "sac_learning_starts": 50,
    "episodes_per_source": 16,
    "bcq_steps": 20,
    "eval_instances": 4,
    "throughput_sac_steps": 120,
    "throughput_episodes": 32,
    "throughput_repeats": 1,
}


def parse_args(argv: list[str] | None = None) -> Args:
    args = parse_dataclass_args(Args, argv, __doc__.split("\n\n")[0])
    if args.quick:
        given = {a.split("=")[0] for a in (sys.argv[1:] if argv is None else argv)}
        for name, value in QUICK.items():
            if "--" + name.replace("_", "-") not in given:
                setattr(args, name, value)
    return args


# --------------------------------------------------------------------------- throughput
def _timed(fn, *a, **kw) -> float:
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # d3rlpy/SB3 chatter
        fn(*a, **kw)
    return time.perf_counter() - start


def _pairs(single, vectorized, repeats: int) -> tuple[list[float], list[float]]:
    """Wall times of ``repeats`` (single, vectorized) pairs, alternating which runs first."""
    single_s, vec_s = [], []
    for rep in range(repeats):
        if rep % 2 == 0:
            single_s.append(single())
            vec_s.append(vectorized())
        else:
            vec_s.append(vectorized())
            single_s.append(single())
    return single_s, vec_s


def _rate_row(work: int, single_s: list[float], vec_s: list[float]) -> dict:
    return {
        "single_per_s": work / statistics.median(single_s),
        "vectorized_per_s": work / statistics.median(vec_s),
        "ratio": statistics.median(s / v for s, v in zip(single_s, vec_s, strict=True)),
        "single_s": single_s,
        "vectorized_s": vec_s,
    }


def sac_throughput(scenario: str, args: Args, work: Path) -> tuple[dict, Path]:
    """SAC env-steps/s with 1 and 4 environments; also returns one trained agent's folder
    (its policy network times the ``sac`` collection below)."""
    steps = args.throughput_sac_steps
    starts = min(100, steps // 4)
    folders: list[Path] = []

    def run(n_envs: int, steps: int = steps, starts: int = starts) -> float:
        folders.append(Path(tempfile.mkdtemp(dir=work)))
        return _timed(train_sac, SACArgs(scenario=scenario, out=str(folders[-1]), steps=steps,
                                         formulation="joint", n_envs=n_envs,
                                         learning_starts=starts,
                                         checkpoint_every=0))  # fmt: skip

    # Warm-up: torch and SB3 first-use costs stay out of the pairs.
    run(1, steps=min(64, steps), starts=min(32, starts))
    single_s, vec_s = _pairs(lambda: run(1), lambda: run(4), args.throughput_repeats)
    row = {"scenario": scenario, "env_steps": steps, "learning_starts": starts,
           "n_envs": [1, 4], "gradient_steps_per_env_step": [1.0, 0.25],
           **_rate_row(steps, single_s, vec_s)}  # fmt: skip
    return row, folders[-1]


def collection_throughput(scenario: str, policy: str, args: Args, work: Path) -> dict:
    episodes = args.throughput_episodes

    def run(batch: int) -> float:
        out = tempfile.mkdtemp(dir=work)
        return _timed(collect, CollectArgs(scenario, policy, episodes, out, batch=batch))

    single_s, vec_s = _pairs(lambda: run(1), lambda: run(16), args.throughput_repeats)
    transitions = episodes * MDPConfig.horizon  # joint episodes (CollectArgs' formulation)
    return {"scenario": scenario, "policy": policy.partition(":")[0], "episodes": episodes,
            "transitions": transitions, "batch": [1, 16],
            **_rate_row(transitions, single_s, vec_s)}  # fmt: skip


def throughput(scenarios: list[str], args: Args, work: Path) -> dict:
    sac, collection = [], []
    for scenario in scenarios:
        row, agent = sac_throughput(scenario, args, work)
        sac.append(row)
        for policy in ("random", "coordinate", f"sac:{agent}"):
            collection.append(collection_throughput(scenario, policy, args, work))
    return {"sac": sac, "collection": collection}


# --------------------------------------------------------------------------- quality
@dataclass
class EvalSet:
    """Evaluation instances of one scenario with their reference utilities."""

    scenario: str
    instances: list[ProblemInstance]
    reference: list[float]
    """reference utility per instance"""
    reference_mw: list[np.ndarray]
    """reference design per instance"""
    reference_method: str
    initial_mw: float
    held_out: str


def reference_design(inst: ProblemInstance, starts: int) -> tuple[np.ndarray, str]:
    """The exact optimum where exhaustive search is affordable, else the better of
    coordinate ascent and WMMSE (the twin's best-known references at scale)."""
    try:
        check_exhaustive_size(inst, DEFAULT_MAX_EVALUATIONS)
        return exhaustive(inst), "exhaustive"
    except TooLargeError:
        pass
    powers = np.stack([coordinate_ascent(inst, starts=starts), wmmse(inst)])
    u, v = inst.objective(powers)
    return powers[best_index(u, v)], f"best of coordinate:starts={starts} and wmmse"


def eval_set(scenario_name: str, args: Args) -> EvalSet:
    scenario = load_scenario(scenario_name)
    sampler = InstanceSampler(scenario, args.eval_environment_seed)
    fixed = sampler.network.explicit or scenario.users.placement == "list"
    n = 1 if fixed else args.eval_instances
    instances = [sampler.sample(np.random.default_rng([EVAL_SEED_BASE, k])) for k in range(n)]
    refs = [reference_design(inst, args.reference_starts) for inst in instances]
    held_out = (
        "the scenario's single fixed instance (explicit gains), also the training instance"
        if fixed
        else f"sampler environment {args.eval_environment_seed} (training: "
        f"{TRAIN_ENVIRONMENT_SEED}), instance k from default_rng([{EVAL_SEED_BASE}, k])"
    )
    designs = [p for p, _ in refs]
    utility = [float(inst.objective(p)[0]) for inst, p in zip(instances, designs, strict=True)]
    methods = ", ".join(sorted({m for _, m in refs}))
    return EvalSet(scenario_name, instances, utility, designs, methods,
                   scenario.power.initial_mw, held_out)  # fmt: skip


def shares(powers: list[np.ndarray], ev: EvalSet) -> np.ndarray:
    """Utility of each design over its instance's reference utility."""
    utility = [float(inst.objective(p)[0]) for inst, p in zip(ev.instances, powers, strict=True)]
    return np.asarray(utility) / np.asarray(ev.reference)


def evaluate_agent(kind: str, folder: Path, ev: EvalSet) -> dict:
    """``{kind}_share`` (mean over instances), the per-instance shares and, on a single
    instance, the design itself (a flat optimum can hide a design far from the exact one)."""
    agent = load_agent(kind, folder)
    designs = [rollout(agent, inst, initial_power(inst, ev.initial_mw)) for inst in ev.instances]
    per_instance = shares(designs, ev)
    row = {f"{kind}_share": float(per_instance.mean())}
    row[f"{kind}_instance_shares"] = [round(float(x), 6) for x in per_instance]
    if len(designs) == 1:
        row[f"{kind}_design_mw"] = designs[0].tolist()
    return row


def run_seed(ev: EvalSet, seed: int, args: Args, work: Path) -> dict:
    """Train SAC, collect the mixed dataset, train BCQ, and score both on ``ev``."""
    folder = work / ev.scenario / f"seed-{seed}"
    clock = time.perf_counter()
    sac_dir = train_sac(SACArgs(scenario=ev.scenario, out=str(folder / "sac"),
                                formulation="joint", steps=args.sac_steps, seed=seed,
                                learning_starts=args.sac_learning_starts, checkpoint_every=0,
                                environment_seed=TRAIN_ENVIRONMENT_SEED))  # fmt: skip
    sac_s, clock = time.perf_counter() - clock, time.perf_counter()
    data = folder / "data"
    for policy in (*MIX, f"sac:{sac_dir}"):
        collect(CollectArgs(ev.scenario, policy, args.episodes_per_source, str(data),
                            seed=(seed + 1) * COLLECT_SEED_STRIDE,
                            environment_seed=TRAIN_ENVIRONMENT_SEED))  # fmt: skip
    collect_s, clock = time.perf_counter() - clock, time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # d3rlpy logs every epoch to stdout
        bcq_dir = train_bcq(BCQArgs(data=str(data), out=str(folder / "bcq"),
                                    steps=args.bcq_steps, seed=seed,
                                    batch_size=args.bcq_batch_size,
                                    n_action_samples=args.bcq_action_samples))  # fmt: skip
    bcq_s = time.perf_counter() - clock
    dataset = TrajectoryDataset.load(data)
    final, source = dataset["final_utility"], dataset["source"]
    return {
        "seed": seed,
        **evaluate_agent("sac", sac_dir, ev),
        **evaluate_agent("bcq", bcq_dir, ev),
        "sac_train_s": sac_s,
        "collect_s": collect_s,
        "bcq_train_s": bcq_s,
        "dataset_episodes": dataset.n_episodes,
        "dataset_transitions": dataset.n_episodes * dataset.horizon,
        "dataset_mean_final_utility": {
            str(s): float(final[source == s].mean()) for s in np.unique(source)
        },
    }


def mean_ci95(values: list[float]) -> dict:
    """Mean and 95% t-interval over seeds (None where one seed gives no spread)."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return {"mean": mean, "ci95": None, "half_width": None}
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return {"mean": mean, "ci95": [mean - half, mean + half], "half_width": half}


def quality(scenario: str, args: Args, work: Path) -> dict:
    ev = eval_set(scenario, args)
    baselines = {name: float(shares([solve(i) for i in ev.instances], ev).mean())
                 for name, solve in (("max power", max_power), ("wmmse", wmmse))}  # fmt: skip
    per_seed = []
    for seed in range(args.seeds):
        per_seed.append(run_seed(ev, seed, args, work))
        row = per_seed[-1]
        wall = row["sac_train_s"] + row["collect_s"] + row["bcq_train_s"]
        print(
            f"  {scenario} seed {seed}: SAC {row['sac_share']:.3f}, "
            f"BCQ {row['bcq_share']:.3f} ({wall:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    return {
        "scenario": scenario,
        "eval_instances": len(ev.instances),
        "held_out": ev.held_out,
        "reference": ev.reference_method,
        "mean_reference_utility": float(np.mean(ev.reference)),
        "reference_design_mw": ev.reference_mw[0].tolist() if len(ev.instances) == 1 else None,
        "budget": {
            "sac_env_steps": args.sac_steps,
            "sac_learning_starts": args.sac_learning_starts,
            "dataset_sources": [*MIX, "sac:<this seed's agent>"],
            "dataset_episodes": per_seed[0]["dataset_episodes"],
            "dataset_transitions": per_seed[0]["dataset_transitions"],
            "bcq_gradient_steps": args.bcq_steps,
            "bcq_batch_size": args.bcq_batch_size,
            "bcq_action_samples": args.bcq_action_samples,
        },
        "baseline_share": baselines,
        "sac": mean_ci95([r["sac_share"] for r in per_seed]),
        "bcq": mean_ci95([r["bcq_share"] for r in per_seed]),
        "wall_s_per_seed": statistics.mean(
            r["sac_train_s"] + r["collect_s"] + r["bcq_train_s"] for r in per_seed
        ),
        "seeds": per_seed,
    }


# --------------------------------------------------------------------------- report
def machine() -> dict[str, object]:
    import torch

    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as fh:
        cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    return {"cpu": cpu, "nproc": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "platform": platform.platform()}  # fmt: skip


def _share(d: dict) -> str:
    if d["half_width"] is None:
        return f"{d['mean']:.4f}"
    return f"{d['mean']:.4f} ± {d['half_width']:.4f}"


def markdown(result: dict) -> str:
    lines = [
        "| throughput | scenario | single | vectorized | vectorized / single |",
        "|---|---|---|---|---|",
    ]
    rows = [("SAC env-steps/s (n_envs 1 vs 4)", r) for r in result["throughput"]["sac"]]
    rows += [
        (f"collection transitions/s, {r['policy']} (batch 1 vs 16)", r)
        for r in result["throughput"]["collection"]
    ]
    for what, r in rows:
        lines.append(
            f"| {what} | {r['scenario']} | {r['single_per_s']:.0f} "
            f"| {r['vectorized_per_s']:.0f} | {r['ratio']:.2f}x |"
        )
    lines += [
        "",
        "| scenario | eval instances | reference | SAC share | BCQ share | max power | WMMSE "
        "| SAC steps | dataset (episodes / transitions) | BCQ steps | wall s / seed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for q in result["quality"]:
        b = q["budget"]
        lines.append(
            f"| {q['scenario']} | {q['eval_instances']} | {q['reference']} | {_share(q['sac'])} "
            f"| {_share(q['bcq'])} | {q['baseline_share']['max power']:.4f} "
            f"| {q['baseline_share']['wmmse']:.4f} | {b['sac_env_steps']} "
            f"| {b['dataset_episodes']} / {b['dataset_transitions']} | {b['bcq_gradient_steps']} "
            f"| {q['wall_s_per_seed']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.torch_threads > 0:
        import torch

        torch.set_num_threads(args.torch_threads)
    started = time.perf_counter()
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    with contextlib.ExitStack() as stack:
        if args.workdir:
            work = Path(args.workdir)
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stage1-")))
        print("throughput ...", file=sys.stderr, flush=True)
        speed = throughput(scenarios, args, work)
        print("quality ...", file=sys.stderr, flush=True)
        results = [quality(s, args, work) for s in scenarios]
    result = {
        "benchmark": "stage1",
        "command": " ".join(
            ["python", "benchmarks/stage1.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        "args": dataclasses.asdict(args),
        "total_wall_s": time.perf_counter() - started,
        "throughput": speed,
        "quality": results,
    }
    table = markdown(result)
    print(table, flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    out.with_suffix(".md").write_text(table + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
