"""``aign benchmark planner``: the diffusion planner against its sampling settings and at user
counts it was never trained on.

**Sweep.** For every DDIM step count in ``--steps`` (5, 10, 20, 50) and guidance weight in
``--weights`` (0, 1, 2, 4), everything else at the planner's defaults (candidates by size:
:func:`diffusion.planner.default_candidates`):

- ``paper-fig3``: plans from (0, 0) mW with noise seeds ``0 .. fig3_seeds - 1``; records
  where each ends, whether that is the exact optimum (28, 31)
  (:func:`twin.solvers.exhaustive` is the truth) and the share of the optimum's utility;
- ``paper-20/50/80``: the held-out instances of ``aign benchmark paper``
  (:func:`evaluation.paper.held_out`: seed ``s``, instance ``k``), planned with noise seed ``s``;
  share = utility / the instance's best reference (:func:`twin.solvers.best_reference`).

**Generalization.** For each user count in ``--users`` (20, 35, 50, 65, 80), instances drawn
as the paper scenarios draw theirs (:class:`twin.radio.sampling.InstanceSampler` in environment
``10000 + s``, instance ``k`` from ``default_rng([2000003, s, k])``). 20, 50 and 80 users are
the calibrated ``paper-N`` scenarios (so these rows are the Table I instances); for a count
between two of them the scenario is interpolated (:func:`interpolated_scenario`: the side of
the area linear in the user count between the neighbours', everything else as in the
paper scenarios). "trained on" says whether the count lies in the model's training range
(its envelope). The planner (defaults) and WMMSE are compared with the best reference.

Seconds are the planner's own wall time per plan (:attr:`diffusion.PlanResult.seconds`),
torch threads ``--threads`` (1).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation.paper import (
    EVAL_ENVIRONMENT_BASE,
    EVAL_SEED_BASE,
    FIG3_OPTIMUM,
    _log,
    held_out,
    machine,
    mean_ci95,
    model_label,
)
from twin.core import AignError

SWEEP_SCENARIOS = ("paper-fig3", "paper-20", "paper-50", "paper-80")
CALIBRATED = {20: "paper-20", 50: "paper-50", 80: "paper-80"}  # user count -> scenario
SWEEP_FIELDS = ("scenario", "steps", "guidance_weight", "seed", "instance", "candidates",
                "utility", "reference_utility", "share_of_reference", "seconds", "end_mw",
                "ends_at_optimum")  # fmt: skip
GENERALIZATION_FIELDS = ("users", "scenario", "trained", "method", "seed", "instance",
                         "utility", "share_of_reference", "seconds")  # fmt: skip


@dataclass
class PlannerBenchArgs:
    """What ``aign benchmark planner`` takes (``quick`` swaps in :data:`QUICK`)."""

    out: str = "benchmarks/results/planner"
    model: str | None = None  # diffusion model folder (default: the shipped models/paper)
    seeds: int = 3  # held-out seeds (noise seed s plans seed s's instances)
    instances: int = 8  # held-out instances per scenario and seed (as Table I quick)
    fig3_seeds: int = 10  # noise seeds on paper-fig3
    steps: tuple[int, ...] = (5, 10, 20, 50)  # DDIM steps swept
    weights: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)  # guidance weights swept
    scenarios: tuple[str, ...] = SWEEP_SCENARIOS  # swept scenarios
    users: tuple[int, ...] = (20, 35, 50, 65, 80)  # generalization user counts
    threads: int = 1  # torch threads
    quick: bool = False


QUICK = {"seeds": 1, "instances": 3, "fig3_seeds": 5}


def with_quick(args: PlannerBenchArgs, given: set[str]) -> PlannerBenchArgs:
    """``args`` with the quick budgets for every field not in ``given``."""
    if not args.quick:
        return args
    return dataclasses.replace(args, **{k: v for k, v in QUICK.items() if k not in given})


def check(args: PlannerBenchArgs) -> PlannerBenchArgs:
    for name in ("seeds", "instances", "fig3_seeds", "threads"):
        if getattr(args, name) < 1:
            raise AignError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not args.steps or min(args.steps) < 1:
        raise AignError(f"--steps must be positive integers, got {list(args.steps)}")
    if not args.weights or min(args.weights) < 0:
        raise AignError(f"--weights must be >= 0, got {list(args.weights)}")
    unknown = [s for s in args.scenarios if s not in SWEEP_SCENARIOS]
    if unknown:
        raise AignError(f"--scenarios: {unknown} not among {', '.join(SWEEP_SCENARIOS)}")
    low, high = min(CALIBRATED), max(CALIBRATED)
    outside = [n for n in args.users if not low <= n <= high]
    if outside:
        raise AignError(f"--users must lie in [{low}, {high}] (the paper's networks), got "
                        f"{outside}")  # fmt: skip
    return args


# --------------------------------------------------------------------------- instances
def interpolated_scenario(n_users: int):
    """The paper scenario for ``n_users``: ``paper-N`` itself for 20, 50 and 80; between two
    of them, the lower one's network with the side of the area interpolated linearly in the
    user count (the area is the one knob the paper scenarios calibrate), named
    ``paper-N-interpolated`` and seeded ``N``."""
    from twin.scenario import load_scenario

    if n_users in CALIBRATED:
        return load_scenario(CALIBRATED[n_users])
    counts = sorted(CALIBRATED)
    lo = max(c for c in counts if c < n_users)
    hi = min(c for c in counts if c > n_users)
    a, b = load_scenario(CALIBRATED[lo]), load_scenario(CALIBRATED[hi])
    f = (n_users - lo) / (hi - lo)
    side = {k: getattr(a.area, k) + f * (getattr(b.area, k) - getattr(a.area, k))
            for k in ("width_m", "height_m")}  # fmt: skip
    return a.model_copy(update={
        "name": f"paper-{n_users}-interpolated", "seed": n_users,
        "description": f"{n_users} users; area interpolated between {a.name} and {b.name}",
        "area": a.area.model_copy(update=side),
        "users": a.users.model_copy(update={"count": n_users}),
    })  # fmt: skip


def generalization_instances(n_users: int, seed: int, n: int) -> list:
    """Instances of :func:`interpolated_scenario` drawn as :func:`evaluation.paper.held_out`
    draws the paper's (identical to it for 20, 50 and 80 users)."""
    from twin.radio import InstanceSampler

    if n_users in CALIBRATED:
        return held_out(CALIBRATED[n_users], seed, n)
    sampler = InstanceSampler(interpolated_scenario(n_users), seed=EVAL_ENVIRONMENT_BASE + seed)
    return [sampler.sample(np.random.default_rng([EVAL_SEED_BASE, seed, k])) for k in range(n)]


# --------------------------------------------------------------------------- measurements
def sweep(planner, args: PlannerBenchArgs) -> list[dict]:
    """Tidy rows: one per (scenario, steps, weight, seed, instance)."""
    from twin.api import snapshot_instance
    from twin.solvers import best_reference

    rows = []
    for scenario in args.scenarios:
        clock = time.perf_counter()
        if scenario == "paper-fig3":
            inst = snapshot_instance(scenario)
            cases = [(s, 0, inst, float(best_reference(inst).predicted["utility"]))
                     for s in range(args.fig3_seeds)]  # fmt: skip
        else:
            cases = [(s, k, inst, float(best_reference(inst).predicted["utility"]))
                     for s in range(args.seeds)
                     for k, inst in enumerate(held_out(scenario, s, args.instances))]  # fmt: skip
        for steps in args.steps:
            for w in args.weights:
                for seed, k, inst, ref in cases:
                    r = planner.plan(inst, seed=seed, steps=steps, guidance_weight=w,
                                     recover_actions=False)  # fmt: skip
                    end = [int(round(x)) for x in r.designs_mw[0]]
                    rows.append({
                        "scenario": scenario, "steps": steps, "guidance_weight": w,
                        "seed": seed, "instance": k, "candidates": len(r.utility),
                        "utility": float(r.utility[0]), "reference_utility": ref,
                        "share_of_reference": float(r.utility[0]) / ref, "seconds": r.seconds,
                        "end_mw": " ".join(map(str, end)) if scenario == "paper-fig3" else "",
                        "ends_at_optimum": (tuple(end) == FIG3_OPTIMUM
                                            if scenario == "paper-fig3" else ""),
                    })  # fmt: skip
        _log(f"  {scenario}: {len(cases)} case(s) x {len(args.steps) * len(args.weights)} "
             f"settings ({time.perf_counter() - clock:.0f} s)")  # fmt: skip
    return rows


def generalization(planner, args: PlannerBenchArgs) -> list[dict]:
    """Tidy rows: planner (defaults), WMMSE and the best reference per instance."""
    from twin.solvers import best_reference, solve

    lo, hi = planner.model.envelope.users  # user counts the model was trained across
    rows = []
    for n_users in args.users:
        name = interpolated_scenario(n_users).name
        for seed in range(args.seeds):
            for k, inst in enumerate(generalization_instances(n_users, seed, args.instances)):
                ref = float(best_reference(inst).predicted["utility"])
                plan = planner.plan(inst, seed=seed, recover_actions=False)
                clock = time.perf_counter()
                wmmse = solve(inst, "wmmse")
                wmmse_s = time.perf_counter() - clock
                for method, u, s in (
                    ("diffusion", float(plan.utility[0]), plan.seconds),
                    ("wmmse", float(inst.objective(wmmse.power_mw)[0]), wmmse_s),
                    ("reference", ref, float("nan")),
                ):
                    rows.append({"users": n_users, "scenario": name,
                                 "trained": lo <= n_users <= hi, "method": method, "seed": seed,
                                 "instance": k, "utility": u, "share_of_reference": u / ref,
                                 "seconds": s})  # fmt: skip
        _log(f"  {n_users} users ({name}) done")
    return rows


# --------------------------------------------------------------------------- summaries
def summarize_sweep(rows: list[dict]) -> list[dict]:
    """Per scenario x steps x weight: mean share (per-seed means, then mean and 95% CI over
    seeds; fig3: over noise seeds), median seconds and, on fig3, how many seeds end at the
    optimum."""
    out = []
    keys = list(dict.fromkeys((r["scenario"], r["steps"], r["guidance_weight"]) for r in rows))
    for scenario, steps, w in keys:
        mine = [r for r in rows if (r["scenario"], r["steps"], r["guidance_weight"])
                == (scenario, steps, w)]  # fmt: skip
        seeds = sorted({r["seed"] for r in mine})
        per_seed = [np.mean([r["share_of_reference"] for r in mine if r["seed"] == s])
                    for s in seeds]  # fmt: skip
        share, ci = mean_ci95(per_seed)
        entry = {"scenario": scenario, "steps": steps, "guidance_weight": w,
                 "candidates": mine[0]["candidates"], "cases": len(mine), "share": share,
                 "share_ci95": ci, "min_share": float(min(r["share_of_reference"] for r in mine)),
                 "median_seconds": float(np.median([r["seconds"] for r in mine]))}  # fmt: skip
        if scenario == "paper-fig3":
            entry["ends_at_optimum"] = sum(bool(r["ends_at_optimum"]) for r in mine)
        out.append(entry)
    return out


def summarize_generalization(rows: list[dict]) -> list[dict]:
    out = []
    for n_users in dict.fromkeys(r["users"] for r in rows):
        for method in ("diffusion", "wmmse"):
            mine = [r for r in rows if r["users"] == n_users and r["method"] == method]
            seeds = sorted({r["seed"] for r in mine})
            per_seed = [np.mean([r["share_of_reference"] for r in mine if r["seed"] == s])
                        for s in seeds]  # fmt: skip
            share, ci = mean_ci95(per_seed)
            ref = [r["utility"] for r in rows if r["users"] == n_users
                   and r["method"] == "reference"]  # fmt: skip
            seconds = float(np.median([r["seconds"] for r in mine]))
            worst = float(min(r["share_of_reference"] for r in mine))
            out.append({"users": n_users, "scenario": mine[0]["scenario"],
                        "trained": mine[0]["trained"], "method": method, "instances": len(mine),
                        "share": share, "share_ci95": ci, "min_share": worst,
                        "reference_utility": float(np.mean(ref)),
                        "median_seconds": seconds})  # fmt: skip
    return out


def _pm(mean: float, half: float | None, digits: int = 4) -> str:
    return f"{mean:.{digits}f}" if half is None else f"{mean:.{digits}f} ± {half:.{digits}f}"


def markdown(result: dict) -> str:
    a = result["args"]
    lines = [
        "# Diffusion planner: sampling settings and generalization",
        "",
        f"Command: `{result['command']}`; {result['date']}; {result['machine']['cpu']} "
        f"({result['machine']['nproc']} cores, torch threads {a['threads']}); model "
        f"`{result['model']}`; total wall time {result['total_wall_s']:.0f} s.",
        "",
        f"**Sweep** (candidates by size, everything else at the defaults; paper-N: "
        f"{a['seeds']} seed(s) x {a['instances']} held-out instances, share of the best "
        f"reference, mean ± 95% t-interval over seeds; paper-fig3: {a['fig3_seeds']} noise "
        f"seeds, share of the exact optimum and how many end at (28, 31)).",
        "",
        "| scenario | K | DDIM steps | w | share of best reference | worst | ends at (28, 31) "
        "| median time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in result["sweep"]:
        hits = f"{s['ends_at_optimum']}/{s['cases']}" if "ends_at_optimum" in s else ""
        digits = 5 if s["scenario"] == "paper-fig3" else 4  # fig3's near misses: 0.99998
        lines.append(
            f"| {s['scenario']} | {s['candidates']} | {s['steps']} | {s['guidance_weight']:g} "
            f"| {_pm(s['share'], s['share_ci95'], digits)} | {s['min_share']:.{digits}f} | {hits} "
            f"| {s['median_seconds'] * 1000:.1f} ms |"
        )
    lines += [
        "",
        f"**Generalization** (planner defaults; {a['seeds']} seed(s) x {a['instances']} "
        f"instances per user count; the model was trained on "
        f"{result['trained_users'][0]}-{result['trained_users'][1]} users).",
        "",
        "| users | scenario | trained on | method | share of best reference | worst "
        "| best reference utility | median time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for g in result["generalization"]:
        lines.append(
            f"| {g['users']} | {g['scenario']} | {'yes' if g['trained'] else '**no**'} "
            f"| {'diffusion planner' if g['method'] == 'diffusion' else 'WMMSE'} "
            f"| {_pm(g['share'], g['share_ci95'])} | {g['min_share']:.4f} "
            f"| {g['reference_utility']:.1f} | {g['median_seconds'] * 1000:.1f} ms |"
        )
    return "\n".join(lines) + "\n"


def figure_html(result: dict, path: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    sweep_rows = result["sweep"]
    scenarios = list(dict.fromkeys(s["scenario"] for s in sweep_rows))
    weights = list(dict.fromkeys(s["guidance_weight"] for s in sweep_rows))
    titles = [f"{sc}: share of {'optimum' if sc == 'paper-fig3' else 'best reference'}"
              for sc in scenarios] + ["time per plan (paper-80)", "generalization"]  # fmt: skip
    cols = 3
    n_rows = -(-len(titles) // cols)
    fig = make_subplots(rows=n_rows, cols=cols, subplot_titles=titles)
    colors = ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3"]
    for i, sc in enumerate(scenarios):
        row, col = i // cols + 1, i % cols + 1
        for j, w in enumerate(weights):
            mine = [s for s in sweep_rows if s["scenario"] == sc and s["guidance_weight"] == w]
            fig.add_trace(go.Scatter(
                x=[s["steps"] for s in mine], y=[s["share"] for s in mine],
                error_y={"type": "data", "array": [s["share_ci95"] or 0 for s in mine]},
                mode="lines+markers", name=f"w = {w:g}", legendgroup=f"w{w:g}",
                showlegend=i == 0, line={"color": colors[j % len(colors)]},
                hovertemplate="%{x} steps: %{y:.4f}",
            ), row=row, col=col)  # fmt: skip
        fig.update_xaxes(type="log", title_text="DDIM steps", row=row, col=col)
    i = len(scenarios)
    timing = "paper-80" if "paper-80" in scenarios else scenarios[-1]
    for j, w in enumerate(weights):
        mine = [s for s in sweep_rows if s["scenario"] == timing and s["guidance_weight"] == w]
        fig.add_trace(go.Scatter(
            x=[s["steps"] for s in mine], y=[s["median_seconds"] * 1000 for s in mine],
            mode="lines+markers", name=f"w = {w:g}", legendgroup=f"w{w:g}", showlegend=False,
            line={"color": colors[j % len(colors)]},
        ), row=i // cols + 1, col=i % cols + 1)  # fmt: skip
    fig.update_xaxes(type="log", title_text="DDIM steps", row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(title_text="ms", row=i // cols + 1, col=i % cols + 1)
    i += 1
    gen = result["generalization"]
    for method, color in (("diffusion", "#636efa"), ("wmmse", "#7f7f7f")):
        mine = [g for g in gen if g["method"] == method]
        fig.add_trace(go.Bar(
            x=[f"{g['users']}{'' if g['trained'] else ' (unseen)'}" for g in mine],
            y=[g["share"] for g in mine],
            error_y={"type": "data", "array": [g["share_ci95"] or 0 for g in mine]},
            name="diffusion planner" if method == "diffusion" else "WMMSE",
            marker={"color": color},
        ), row=i // cols + 1, col=i % cols + 1)  # fmt: skip
    fig.update_layout(title=f"aign benchmark planner ({result['date']})", barmode="group",
                      height=380 * n_rows)  # fmt: skip
    fig.write_html(path, include_plotlyjs=True)


def _write_csv(path: Path, fields: tuple[str, ...], rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def run_planner_bench(args: PlannerBenchArgs, command: str = "aign benchmark planner") -> dict:
    """Run both parts; write sweep.csv, generalization.csv, planner.md, figure.html and
    summary.json into ``args.out``; returns the summary."""
    import torch

    from diffusion import default_model_dir, load_planner

    args = check(args)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = model_label(args.model or default_model_dir())
    planner = load_planner(model, threads=args.threads)
    _log("sweep (DDIM steps x guidance weight) ...")
    sweep_rows = sweep(planner, args)
    _log("generalization ...")
    gen_rows = generalization(planner, args)
    result = {
        "benchmark": "planner",
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(args.threads),
        "model": model,
        "trained_users": list(planner.model.envelope.users),
        "args": dataclasses.asdict(args),
        "sweep": summarize_sweep(sweep_rows),
        "generalization": summarize_generalization(gen_rows),
    }
    result["total_wall_s"] = time.perf_counter() - started
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "sweep.csv", SWEEP_FIELDS, sweep_rows)
    _write_csv(out / "generalization.csv", GENERALIZATION_FIELDS, gen_rows)
    (out / "planner.md").write_text(markdown(result), encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    figure_html(result, out / "figure.html")
    return result
