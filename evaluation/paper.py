"""``aign benchmark paper``: the paper's Fig. 3 and Table I, reproduced on this machine.

**Fig. 3.** The diffusion planner (default settings: candidates by size, 640 for two users
(:func:`diffusion.planner.default_candidates`), 4 DDIM steps, w = 1,
noise seed 0) plans on ``paper-fig3`` from (0, 0) mW; ``fig3.json`` holds the best
candidate's trajectory, whether it ends at the exact optimum (28, 31) and, for context, where
the planner ends over noise seeds 0-9.

**Table I.** For ``paper-20``, ``paper-50`` and ``paper-80`` and every seed ``s``:

- *held-out instances*: ``InstanceSampler(scenario, seed=EVAL_ENVIRONMENT_BASE + s)`` (other
  shadowing fields than training's environment 0), instance ``k`` drawn from
  ``default_rng([EVAL_SEED_BASE, s, k])`` (fresh positions, LOS states, fading). The shipped
  model was trained on environment 0 with episode seeds 20+k, 50+k, 80+k (``make model``);
  SAC and BCQ below train on environment 0 too. No evaluation instance is a training one.
- *references*: :func:`twin.solvers.best_reference` (the better of ``coordinate:starts=8``
  and WMMSE at these sizes), plus max power and WMMSE alone;
- *diffusion*: the planner (``--model``, default the shipped ``models/paper``), noise seed s;
- *SAC*, *BCQ* (per-user, the default formulation): trained once per seed, as ``make agents``
  trains the shipped agents (:func:`train_user_agents`: SAC on the mix ``AGENT_MIX`` of the
  three networks and two others, prices and noise jittered, then BCQ on per-user episodes
  of coordinate, ``noisy:coordinate``, random and that SAC), and evaluated on every row,
  including ``large_users`` users in the ``large_scenario`` layout, a size no agent was
  trained on;
- *SAC (joint)*, *BCQ (joint)* (the paper-faithful ablation): trained for this seed on the
  scenario alone (environment 0), BCQ on joint episodes of the same four sources; they
  cannot act beyond the ``max_users`` they were padded to, so not on the large row.

Each design's utility is divided by its instance's best reference (``share_of_reference``);
a seed's figure is the mean over its instances, and the table gives the mean over seeds with
a 95% t-interval over seeds, and the worst instance over every seed. ``seconds_per_design``
is the wall time to produce one design (planning, solving or the agent's rollout; training
is reported apart, per seed).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.core import AignError

SCENARIOS = ("paper-20", "paper-50", "paper-80")
PAPER_BEST = {"paper-20": 254.0, "paper-50": 489.0, "paper-80": 633.0}  # Table I, best reward
FIG3_OPTIMUM = (28, 31)
TRAIN_ENVIRONMENT_SEED = 0
EVAL_ENVIRONMENT_BASE = 10_000  # seed s evaluates in sampler environment 10000 + s
EVAL_SEED_BASE = 2_000_003  # instance k of seed s: default_rng([EVAL_SEED_BASE, s, k])
COLLECT_SEED_STRIDE = 100_000  # seed s collects episodes (s + 1) * stride + k
NOISY_EXPERT = "noisy:coordinate,sigma=0.3"
MIX = ("coordinate", NOISY_EXPERT, "random")  # plus the seed's SAC
# Per-user SAC's stage 1, as the Makefile's `agents` target runs it: the three paper networks
# and, so that the agent meets prices, noise and layouts it will act on, the 3-site default,
# a 150-user draw of the 1000 x 20 district, each instance's price x [1/2.5, 2.5] and noise
# +-1.5 dB (trained on the paper networks alone, it switched 72% of a city's users off).
AGENT_MIX = "paper-20*4,paper-50*2,paper-80,default*2,scale-1000x20@150"
AGENT_PRICE_JITTER = 2.5
AGENT_NOISE_JITTER_DB = 1.5
AGENT_SAC_STEPS = 80_000
# BCQ's data beyond the paper networks: (scenario, user counts, share of --user-episodes),
# price and noise jittered as SAC's; the 150-user city episodes are a third as many, so
# that their users do not outnumber the paper networks'. Without them BCQ reached 0.52-0.77
# of the best design in the city district.
BCQ_FAMILY = (("default", None, 1.0), ("scale-1000x20", [150], 1 / 3))
METHODS = ("reference", "max power", "wmmse", "response", "diffusion", "sac", "bcq",
           "sac (joint)", "bcq (joint)")  # fmt: skip
FORMULATIONS = ("per-user", "joint")
CSV_FIELDS = ("scenario", "method", "seed", "instance", "utility", "share_of_reference",
              "seconds_per_design")  # fmt: skip


@dataclass
class PaperArgs:
    """Budgets of ``aign benchmark paper`` (``quick`` swaps in :data:`QUICK`)."""

    out: str = "benchmarks/results/paper"
    model: str | None = None  # diffusion model folder (default: the shipped models/paper)
    scenarios: tuple[str, ...] = SCENARIOS
    seeds: int = 3
    instances: int = 30  # held-out instances per scenario and seed
    formulations: tuple[str, ...] = FORMULATIONS
    user_sac_steps: int | None = None  # per-user SAC user transitions (None: SAC's default)
    user_episodes: int = 48  # per-user BCQ data: episodes per scenario and behaviour policy
    user_bcq_steps: int = 3_000  # per-user BCQ gradient steps (make agents')
    large_users: int = 200  # the row at a size never trained on (0: none)
    large_scenario: str = "paper-80"  # whose layout the large row samples
    sac_steps: int = 5000  # joint SAC env steps
    sac_learning_starts: int = 500
    episodes_per_source: int = 100  # joint BCQ data: per behaviour policy (4)
    bcq_steps: int = 2000
    bcq_batch_size: int = 128
    bcq_action_samples: int = 10
    candidates: int | None = None  # planner candidates (None: by size, the planner's default)
    plan_steps: int = 4  # DDIM steps (the planner's default)
    threads: int = 1  # torch threads
    workdir: str | None = None  # keep agents and datasets here (default: temporary)
    quick: bool = False


# What --quick changes (an explicitly given --seeds etc. still wins: see with_quick).
QUICK = {"seeds": 2, "instances": 8, "sac_steps": 1000, "sac_learning_starts": 200,
         "episodes_per_source": 16, "bcq_steps": 300, "user_sac_steps": 20_000,
         "user_episodes": 8, "user_bcq_steps": 500}  # fmt: skip


def with_quick(args: PaperArgs, given: set[str]) -> PaperArgs:
    """``args`` with the quick budgets for every field not in ``given``."""
    if not args.quick:
        return args
    return dataclasses.replace(args, **{k: v for k, v in QUICK.items() if k not in given})


def check(args: PaperArgs) -> PaperArgs:
    for name in ("seeds", "instances", "sac_steps", "episodes_per_source", "bcq_steps",
                 "candidates", "plan_steps", "threads", "user_sac_steps", "user_episodes",
                 "user_bcq_steps"):  # fmt: skip
        if name in ("candidates", "user_sac_steps") and getattr(args, name) is None:
            continue
        if getattr(args, name) < 1:
            raise AignError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.sac_learning_starts >= args.sac_steps:
        args = dataclasses.replace(args, sac_learning_starts=max(1, args.sac_steps // 4))
    if not args.scenarios:
        raise AignError("no scenarios to benchmark")
    unknown = set(args.formulations) - set(FORMULATIONS)
    if unknown or not args.formulations:
        raise AignError(f"--formulations: choose from {', '.join(FORMULATIONS)}, got "
                        f"{', '.join(args.formulations) or 'none'}")  # fmt: skip
    if args.large_users < 0:
        raise AignError(f"--large-users must be >= 0, got {args.large_users}")
    return args


# --------------------------------------------------------------------------- statistics
def mean_ci95(values) -> tuple[float, float | None]:
    """Mean and the half-width of a 95% t-interval (None for a single value)."""
    from scipy import stats

    x = np.asarray(list(values), dtype=float)
    if len(x) < 2:
        return float(x.mean()), None
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return float(x.mean()), half


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _timed(fn, *a, **kw):
    start = time.perf_counter()
    value = fn(*a, **kw)
    return value, time.perf_counter() - start


# --------------------------------------------------------------------------- fig. 3
def fig3(planner) -> dict:
    """The planner's trajectory on paper-fig3 from (0, 0) with its default settings."""
    from twin.api import snapshot_instance
    from twin.solvers import best_reference

    instance = snapshot_instance("paper-fig3")
    start = np.zeros(instance.n_users)
    result = planner.plan(instance, start_mw=start, seed=0)
    trajectory = result.trajectories_mw[0]
    end = tuple(int(round(x)) for x in trajectory[-1])
    optimum = best_reference(instance)
    ends = []  # issue 13's check: K = 16, 20 noise seeds
    for seed in range(20):
        r = planner.plan(instance, start_mw=start, seed=seed, candidates=16,
                         recover_actions=False)  # fmt: skip
        ends.append([int(round(x)) for x in r.designs_mw[0]])
    return {
        "scenario": "paper-fig3",
        "settings": {
            "candidates": len(result.utility),
            "steps": planner.settings.steps,
            "guidance_weight": planner.settings.guidance_weight,
            "seed": 0,
        },  # fmt: skip
        "start_mw": trajectory[0].tolist(),
        "trajectory_mw": trajectory.tolist(),
        "end_mw": list(end),
        "expected_end_mw": list(FIG3_OPTIMUM),
        "ends_at_optimum": end == FIG3_OPTIMUM,
        "utility": float(result.utility[0]),
        "optimum_mw": [int(round(x)) for x in optimum.power_mw],
        "optimum_utility": float(optimum.predicted["utility"]),
        "share_of_optimum": float(result.utility[0] / optimum.predicted["utility"]),
        "seconds": result.seconds,
        "ends_over_seeds_0_19_k16": ends,
        "seeds_ending_at_optimum": sum(tuple(e) == FIG3_OPTIMUM for e in ends),
    }


# --------------------------------------------------------------------------- table I
def held_out(scenario_name: str, seed: int, n: int, n_users: int | None = None) -> list:
    from twin.radio import InstanceSampler
    from twin.scenario import load_scenario

    sampler = InstanceSampler(load_scenario(scenario_name), seed=EVAL_ENVIRONMENT_BASE + seed)
    return [sampler.sample(np.random.default_rng([EVAL_SEED_BASE, seed, k]), n_users)
            for k in range(n)]  # fmt: skip


def large_row(args: PaperArgs) -> str | None:
    """The name of the row at a size no agent trained on (``paper-80@200``), if any."""
    return f"{args.large_scenario}@{args.large_users}" if args.large_users else None


def row_instances(row: str, seed: int, args: PaperArgs) -> list:
    scenario, _, users = row.partition("@")
    return held_out(scenario, seed, args.instances, int(users) if users else None)


def _quiet():
    """SB3 and d3rlpy chatter on stdout; d3rlpy also logs every step through structlog."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    return contextlib.redirect_stdout(io.StringIO())


def train_user_agents(seed: int, args: PaperArgs, work: Path) -> tuple[Path, Path, dict]:
    """Per-user SAC and BCQ for one seed, as ``make agents`` builds the shipped ones: its
    recipe with this seed (seed 0 is ``make agents`` itself; seed ``s`` collects episode ``k``
    of network ``paper-N`` with seed ``s * COLLECT_SEED_STRIDE + N + k``)."""
    from agents.bcq import BCQArgs, train_bcq
    from agents.collect import CollectArgs, collect
    from agents.sac import SACArgs, train_sac

    folder = work / "per-user" / f"seed-{seed}"
    with _quiet():
        sac_dir, sac_s = _timed(_reuse_or(train_sac), SACArgs(
            scenario=AGENT_MIX, out=str(folder / "sac"), seed=seed,
            steps=args.user_sac_steps or AGENT_SAC_STEPS, price_jitter=AGENT_PRICE_JITTER,
            noise_jitter_db=AGENT_NOISE_JITTER_DB, checkpoint_every=0,
            environment_seed=TRAIN_ENVIRONMENT_SEED, threads=args.threads))  # fmt: skip
        data = folder / "data"
        clock = time.perf_counter()
        for scenario in SCENARIOS:
            n = int(scenario.removeprefix("paper-"))
            for policy in (*MIX, f"sac:{sac_dir}"):
                collect(CollectArgs(scenario, policy, args.user_episodes, str(data),
                                    seed=seed * COLLECT_SEED_STRIDE + n,
                                    environment_seed=TRAIN_ENVIRONMENT_SEED,
                                    formulation="per-user"))  # fmt: skip
        family = []  # the networks beyond the paper's, in datasets of their own (other headers)
        for scenario, users, share in BCQ_FAMILY:
            family.append(folder / f"data-{scenario}")
            for policy in (*MIX, f"sac:{sac_dir}"):
                collect(CollectArgs(scenario, policy, max(2, int(args.user_episodes * share)),
                                    str(family[-1]), users=users,
                                    seed=seed * COLLECT_SEED_STRIDE + 1000 + len(family),
                                    environment_seed=TRAIN_ENVIRONMENT_SEED,
                                    price_jitter=AGENT_PRICE_JITTER,
                                    noise_jitter_db=AGENT_NOISE_JITTER_DB,
                                    formulation="per-user"))  # fmt: skip
        collect_s = time.perf_counter() - clock
        bcq_dir, bcq_s = _timed(train_bcq, BCQArgs(
            data=[str(data), *map(str, family)], out=str(folder / "bcq"),
            steps=args.user_bcq_steps, seed=seed, threads=args.threads))  # fmt: skip
    return sac_dir, bcq_dir, {"scenario": "per-user (all rows)", "seed": seed,
                              "sac_train_s": sac_s, "collect_s": collect_s,
                              "bcq_train_s": bcq_s}  # fmt: skip


def _reuse_or(train):
    """``train``, unless ``--workdir`` already holds the finished agent (then reused: a rerun
    resumes where an interrupted one stopped; collections resume by themselves)."""

    def run(args):
        if (Path(args.out) / "agent.json").exists():
            return Path(args.out)
        return train(args)

    return run


def train_agents(scenario: str, seed: int, args: PaperArgs, work: Path) -> tuple[Path, Path, dict]:
    """Joint SAC on the scenario, then joint BCQ on a mixed dataset (the ablation)."""
    from agents.bcq import BCQArgs, train_bcq
    from agents.collect import CollectArgs, collect
    from agents.sac import SACArgs, train_sac

    folder = work / scenario / f"seed-{seed}"
    with _quiet():
        sac_dir, sac_s = _timed(train_sac, SACArgs(
            scenario=scenario, out=str(folder / "sac"), formulation="joint",
            steps=args.sac_steps, seed=seed,
            learning_starts=args.sac_learning_starts, checkpoint_every=0,
            environment_seed=TRAIN_ENVIRONMENT_SEED, threads=args.threads))  # fmt: skip
        data = folder / "data"
        clock = time.perf_counter()
        for policy in (*MIX, f"sac:{sac_dir}"):
            collect(CollectArgs(scenario, policy, args.episodes_per_source, str(data),
                                seed=(seed + 1) * COLLECT_SEED_STRIDE,
                                environment_seed=TRAIN_ENVIRONMENT_SEED))  # fmt: skip
        collect_s = time.perf_counter() - clock
        bcq_dir, bcq_s = _timed(train_bcq, BCQArgs(
            data=str(data), out=str(folder / "bcq"), steps=args.bcq_steps, seed=seed,
            steps_per_epoch=min(1000, args.bcq_steps), batch_size=args.bcq_batch_size,
            n_action_samples=args.bcq_action_samples, threads=args.threads))  # fmt: skip
    return sac_dir, bcq_dir, {"sac_train_s": sac_s, "collect_s": collect_s, "bcq_train_s": bcq_s}


def run_seed(row: str, seed: int, planner, args: PaperArgs, work: Path,
             user_agents: dict) -> tuple[list, dict | None]:
    """Tidy rows of every method on this seed's held-out instances of ``row`` (a scenario,
    or ``SCENARIO@USERS``), and the joint agents' training times."""
    from agents.controllers import load_agent, rollout
    from agents.mdp import initial_power
    from twin.scenario import load_scenario
    from twin.solvers import best_reference, solve

    scenario, _, large = row.partition("@")
    initial_mw = load_scenario(scenario).power.initial_mw
    instances = row_instances(row, seed, args)
    agents, train = dict(user_agents), None
    if "joint" in args.formulations and not large:
        sac_dir, bcq_dir, train = train_agents(scenario, seed, args, work)
        agents.update({"sac (joint)": load_agent("sac", sac_dir),
                       "bcq (joint)": load_agent("bcq", bcq_dir)})  # fmt: skip
    rows = []
    for k, inst in enumerate(instances):
        designs: dict[str, tuple[np.ndarray, float]] = {}
        ref, s = _timed(best_reference, inst)
        designs["reference"] = (ref.power_mw, s)
        # "response": the per-user agents' anchor alone, the floor their correction starts from
        for method, spec in (("max power", "max"), ("wmmse", "wmmse"), ("response", "response")):
            d, s = _timed(solve, inst, spec)
            designs[method] = (d.power_mw, s)
        plan, s = _timed(planner.plan, inst, seed=seed, recover_actions=False)  # any size
        designs["diffusion"] = (plan.best.power_mw, s)
        start = initial_power(inst, initial_mw)
        for kind, agent in agents.items():
            p, s = _timed(rollout, agent, inst, start)
            designs[kind] = (p, s)
        ref_u = float(inst.objective(designs["reference"][0])[0])
        for method in (m for m in METHODS if m in designs):
            power, seconds = designs[method]
            u = float(inst.objective(power)[0])
            rows.append({"scenario": row, "method": method, "seed": seed, "instance": k,
                         "utility": u, "share_of_reference": u / ref_u,
                         "seconds_per_design": seconds})  # fmt: skip
    return rows, train


def summarize(rows: list[dict]) -> list[dict]:
    """Per scenario x method: mean and 95% CI over seeds of the per-seed mean utility and
    share, and the mean seconds per design."""
    out = []
    scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
    for scenario in scenarios:
        for method in METHODS:
            mine = [r for r in rows if r["scenario"] == scenario and r["method"] == method]
            if not mine:
                continue
            seeds = sorted({r["seed"] for r in mine})
            per_seed = {
                key: [np.mean([r[key] for r in mine if r["seed"] == s]) for s in seeds]
                for key in ("utility", "share_of_reference")
            }
            u, u_ci = mean_ci95(per_seed["utility"])
            sh, sh_ci = mean_ci95(per_seed["share_of_reference"])
            out.append({"scenario": scenario, "method": method, "seeds": len(seeds),
                        "instances": len(mine), "utility": u, "utility_ci95": u_ci,
                        "share": sh, "share_ci95": sh_ci,
                        "worst_share": float(min(r["share_of_reference"] for r in mine)),
                        "seconds_per_design": float(np.mean([r["seconds_per_design"]
                                                             for r in mine]))})  # fmt: skip
    return out


# --------------------------------------------------------------------------- outputs
LABELS = {"reference": "best reference", "max power": "max power", "wmmse": "WMMSE",
          "response": "best responses (checked)",
          "diffusion": "diffusion planner", "sac": "SAC", "bcq": "BCQ",
          "sac (joint)": "SAC (joint)", "bcq (joint)": "BCQ (joint)"}  # fmt: skip


def _pm(mean: float, half: float | None, digits: int) -> str:
    return f"{mean:.{digits}f}" if half is None else f"{mean:.{digits}f} ± {half:.{digits}f}"


def _seconds(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def markdown(result: dict) -> str:
    a, f3 = result["args"], result["fig3"]
    lines = [
        "# Paper comparison (Fig. 3, Table I)",
        "",
        f"Command: `{result['command']}`; {result['date']}; {result['machine']['cpu']} "
        f"({result['machine']['nproc']} cores, torch threads {a['threads']}); total wall time "
        f"{result['total_wall_s']:.0f} s.",
        "",
        f"**Fig. 3** (`paper-fig3`, planner K = {f3['settings']['candidates']}, "
        f"{f3['settings']['steps']} DDIM steps, noise seed 0): trajectory from "
        f"({', '.join(f'{x:g}' for x in f3['start_mw'])}) ends at "
        f"({', '.join(str(x) for x in f3['end_mw'])}) mW, utility {f3['utility']:.4f} "
        f"({f3['share_of_optimum']:.5f} of the exact optimum {tuple(f3['optimum_mw'])}, "
        f"U = {f3['optimum_utility']:.4f}); ends at (28, 31): "
        f"**{'yes' if f3['ends_at_optimum'] else 'no'}** "
        f"({f3['seeds_ending_at_optimum']}/20 noise seeds end there at K = 16).",
        "",
        f"**Table I** (held-out instances: {a['instances']} per scenario and seed, "
        f"{a['seeds']} seed(s); mean over seeds ± 95% t-interval over seeds"
        f"{'; one seed gives no interval' if a['seeds'] < 2 else ''}). "
        f"Budgets: per-user SAC {a['user_sac_steps'] or AGENT_SAC_STEPS} user transitions on "
        f"{AGENT_MIX} (price x [1/{AGENT_PRICE_JITTER:g}, {AGENT_PRICE_JITTER:g}], noise "
        f"+-{AGENT_NOISE_JITTER_DB:g} dB), per-user BCQ {a['user_bcq_steps']} gradient steps on "
        f"{a['user_episodes']} episodes per network of coordinate, noisy coordinate, random "
        f"and SAC (once per seed, for every row); joint SAC {a['sac_steps']} env steps, joint "
        f"BCQ {a['bcq_steps']} gradient steps on {4 * a['episodes_per_source']} episodes (per "
        f"network and seed); planner K = {a['candidates'] or 'by size (16 at 80 users)'}, "
        f"{a['plan_steps']} DDIM steps, model `{result['model']}`. A row `N@U` is network N "
        f"with U users, a size no agent was trained on (the joint agents, padded to at most "
        f"80 users, cannot act there). `best responses (checked)` is the per-user agents' "
        f"anchor alone (solver `response`): the floor their learned correction starts from.",
        "",
        "| users | method | best reward (utility) | share of best reference | worst instance "
        "| time per design | paper (Table I) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in result["summary"]:
        users = s["scenario"].removeprefix("paper-")
        paper = PAPER_BEST.get(s["scenario"]) if s["method"] == "reference" else None
        lines.append(
            f"| {users} | {LABELS[s['method']]} | {_pm(s['utility'], s['utility_ci95'], 1)} "
            f"| {_pm(s['share'], s['share_ci95'], 4)} | {s['worst_share']:.4f} "
            f"| {_seconds(s['seconds_per_design'])} "
            f"| {'' if paper is None else f'{paper:g} (best)'} |"
        )
    lines += ["", "| agents | seed | SAC training | collection (4 sources) | BCQ training |",
              "|---|---|---|---|---|"]  # fmt: skip
    for t in result["training"]:
        lines.append(
            f"| {t['scenario'].removeprefix('paper-')} | {t['seed']} | {t['sac_train_s']:.0f} s "
            f"| {t['collect_s']:.0f} s | {t['bcq_train_s']:.0f} s |"
        )
    return "\n".join(lines) + "\n"


def figure_html(result: dict, path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, column_widths=[0.65, 0.35],
                        subplot_titles=("Table I: share of the best reference (95% CI)",
                                        "Fig. 3: planner trajectory on paper-fig3"))  # fmt: skip
    summary = result["summary"]
    scenarios = list(dict.fromkeys(s["scenario"] for s in summary))
    for method in METHODS:
        mine = {s["scenario"]: s for s in summary if s["method"] == method}
        if not mine:
            continue
        have = [sc for sc in scenarios if sc in mine]
        fig.add_trace(go.Bar(
            name=LABELS[method], x=[sc.removeprefix("paper-") + " users" for sc in have],
            y=[mine[sc]["share"] for sc in have],
            error_y={"type": "data", "array": [mine[sc]["share_ci95"] or 0 for sc in have]},
            customdata=[[mine[sc]["utility"], mine[sc]["seconds_per_design"]] for sc in have],
            hovertemplate="%{x}: share %{y:.4f}<br>utility %{customdata[0]:.1f}"
                          "<br>%{customdata[1]:.4f} s/design",
        ), row=1, col=1)  # fmt: skip
    f3 = result["fig3"]
    traj = np.asarray(f3["trajectory_mw"])
    fig.add_trace(go.Scatter(x=traj[:, 0], y=traj[:, 1], mode="lines+markers+text",
                             text=[str(t) for t in range(len(traj))], textposition="top left",
                             name="planner trajectory"), row=1, col=2)  # fmt: skip
    fig.add_trace(go.Scatter(x=[FIG3_OPTIMUM[0]], y=[FIG3_OPTIMUM[1]], mode="markers",
                             marker={"symbol": "star", "size": 14}, name="optimum (28, 31)"),
                  row=1, col=2)  # fmt: skip
    fig.update_yaxes(title_text="utility / best reference", row=1, col=1)
    fig.update_xaxes(title_text="user 1 power (mW)", row=1, col=2)
    fig.update_yaxes(title_text="user 2 power (mW)", row=1, col=2)
    fig.update_layout(barmode="group", title=f"aign benchmark paper ({result['date']})",
                      height=520)  # fmt: skip
    fig.write_html(path, include_plotlyjs=True)


def machine(threads: int) -> dict:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as fh:
        cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    return {"cpu": cpu, "nproc": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "torch_threads": threads}  # fmt: skip


def model_label(model: str | os.PathLike) -> str:
    """The model folder as the report names it: repo-relative where it can be."""
    label = str(model)
    with contextlib.suppress(ValueError):
        label = str(Path(label).resolve().relative_to(Path.cwd()))
    return label


def run_paper(args: PaperArgs, command: str = "aign benchmark paper") -> dict:
    """Run the benchmark and write table.csv, table.md, figure.html, fig3.json and
    summary.json into ``args.out``; returns the summary."""
    import torch

    from diffusion import default_model_dir, load_planner

    args = check(args)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = model_label(args.model or default_model_dir())
    planner = load_planner(model, candidates=args.candidates, steps=args.plan_steps,
                           threads=args.threads)  # fmt: skip
    _log("fig. 3 ...")
    f3 = fig3(planner)
    _log(f"  paper-fig3: ends at {tuple(f3['end_mw'])} (optimum {FIG3_OPTIMUM})")
    rows, training = [], []
    with contextlib.ExitStack() as stack:
        if args.workdir:
            work = Path(args.workdir)
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aign-paper-")))
        rows_to_run = [*args.scenarios, *filter(None, [large_row(args)])]
        for seed in range(args.seeds):
            user_agents = {}
            if "per-user" in args.formulations:
                from agents.controllers import load_agent

                clock = time.perf_counter()
                sac_dir, bcq_dir, train = train_user_agents(seed, args, work)
                training.append(train)
                user_agents = {"sac": load_agent("sac", sac_dir), "bcq": load_agent("bcq", bcq_dir)}
                _log(f"  per-user agents, seed {seed}: {time.perf_counter() - clock:.0f} s")
            for row in rows_to_run:
                clock = time.perf_counter()
                seed_rows, train = run_seed(row, seed, planner, args, work, user_agents)
                rows += seed_rows
                if train is not None:
                    training.append({"scenario": row, "seed": seed, **train})
                ran = list(dict.fromkeys(r["method"] for r in seed_rows))
                shares = {m: np.mean([r["share_of_reference"] for r in seed_rows
                                      if r["method"] == m]) for m in ran}  # fmt: skip
                _log(f"  {row} seed {seed}: " + ", ".join(
                    f"{LABELS[m]} {shares[m]:.4f}" for m in ran[1:])
                    + f" ({time.perf_counter() - clock:.0f} s)")  # fmt: skip
    result = {
        "benchmark": "paper",
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(args.threads),
        "model": model,
        "args": {**dataclasses.asdict(args), "scenarios": list(args.scenarios),
                 "formulations": list(args.formulations)},
        "held_out": (
            f"instance k of seed s: InstanceSampler(scenario, seed={EVAL_ENVIRONMENT_BASE} + s)"
            f".sample(default_rng([{EVAL_SEED_BASE}, s, k])); training (SAC, BCQ data, the "
            f"shipped model) uses environment {TRAIN_ENVIRONMENT_SEED}"
        ),
        "fig3": f3,
        "summary": summarize(rows),
        "training": training,
    }
    result["total_wall_s"] = time.perf_counter() - started
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "table.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    (out / "table.md").write_text(markdown(result), encoding="utf-8")
    (out / "fig3.json").write_text(json.dumps(f3, indent=2) + "\n", encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    figure_html(result, out / "figure.html")
    return result
