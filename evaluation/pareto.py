"""``aign benchmark pareto``: quality against time per design, every method side by side.

**Cases** (:data:`CASES`): held-out instances of the paper networks (``paper-20/50/80``), of
the city district ``scale-1000x20`` at 200 and 1000 users and of ``scale-10000x100`` (the
fastest methods only), and three cases off the planner's training distribution: the 3-site
``default`` scenario and ``paper-50`` with the price halved and doubled. Instance ``k`` of a
case is drawn as :func:`evaluation.paper.held_out` draws Table I's: sampler environment
``10000`` (training used environment 0), ``default_rng([2000003, 0, k])``; so no instance
was ever seen in training.

**Methods** (:func:`default_methods`): a :class:`Method` is a name and a callable
``instance -> design`` (powers in mW, or a :class:`twin.radio.Design`); the list is
pluggable. One whose model is missing is reported as unavailable; one that raises
:class:`twin.core.AignError` or ``ValueError`` on an instance (the planner above 80 users)
is reported as refusing it; one beyond its ``max_users`` is not run (this benchmark's time
budget), and the table says which.

**Measurement.** On each instance every method runs once, back to back, in a rotated order
(instance ``k`` starts with method ``k mod M``), timed in-process with ``perf_counter``
around the callable; learned methods are warmed up once beforehand (untimed). Quality is the
utility divided by the best design any method found on that instance (least violation, then
highest utility). Per case and method: the median time, the mean, median and worst quality
(and which instance was worst). A method is on the **frontier** of its case when no other
method is both at least as fast (median time) and at least as good (mean quality), one of
them strictly. A learned method that some classical method beats on both counts is marked
as losing, naming the fastest such method.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation.paper import EVAL_ENVIRONMENT_BASE, EVAL_SEED_BASE, _log, machine, model_label
from twin.core import AignError

Designer = Callable[..., object]  # instance -> power_mw (np.ndarray) or a Design


@dataclass(frozen=True)
class Case:
    """Instances of one network: a shipped scenario, optionally with another user count or
    price; ``max_instances`` caps the count where each instance is slow."""

    name: str
    scenario: str
    users: int | None = None  # None: the scenario's own count
    price_factor: float = 1.0
    off_distribution: bool = False  # outside what the planner was trained on
    max_instances: int | None = None


CASES: dict[str, Case] = {c.name: c for c in (
    Case("paper-20", "paper-20"),
    Case("paper-50", "paper-50"),
    Case("paper-80", "paper-80"),
    Case("city-200x20", "scale-1000x20", users=200, max_instances=10),
    Case("city-1000x20", "scale-1000x20", max_instances=5),
    Case("city-10000x100", "scale-10000x100", max_instances=3),
    Case("default", "default", off_distribution=True),
    Case("paper-50-price-x0.5", "paper-50", price_factor=0.5, off_distribution=True),
    Case("paper-50-price-x2", "paper-50", price_factor=2.0, off_distribution=True),
)}  # fmt: skip


def case_instances(case: Case, n: int, seed: int = 0) -> list:
    """``n`` held-out instances of ``case`` (seed ``seed``; as :func:`evaluation.paper.held_out`
    draws them)."""
    from twin.radio import InstanceSampler
    from twin.scenario import load_scenario

    scenario = load_scenario(case.scenario)
    if case.price_factor != 1.0:
        price = scenario.objective.price_per_mw * case.price_factor
        scenario = scenario.model_copy(
            update={"objective": scenario.objective.model_copy(update={"price_per_mw": price})}
        )
    sampler = InstanceSampler(scenario, seed=EVAL_ENVIRONMENT_BASE + seed)
    rngs = [np.random.default_rng([EVAL_SEED_BASE, seed, k]) for k in range(n)]
    return [sampler.sample(rng, case.users) for rng in rngs]


@dataclass
class Method:
    """A way to produce a design: ``design(instance)`` returns powers in mW (or a Design).

    ``unavailable``: why it cannot run at all (no trained model), reported as such;
    ``max_users``: above this, this benchmark does not run it (too slow for its budget);
    ``spec``: how a caller runs it (a solver spec for :func:`twin.solvers.solve_spec`, or
    ``planner:candidates=K``), recorded in the frontier table."""

    name: str
    design: Designer | None
    learned: bool = False
    max_users: int | None = None
    unavailable: str | None = None
    spec: str | None = None


@dataclass
class ParetoArgs:
    """Budgets of ``aign benchmark pareto`` (``quick`` swaps in :data:`QUICK`)."""

    out: str = "benchmarks/results/pareto"
    cases: tuple[str, ...] = tuple(CASES)
    instances: int = 20  # per case (capped by each case's max_instances)
    candidates: tuple[int, ...] = (1, 4, 16, 64)  # planner K
    model: str | None = None  # diffusion model folder (default: the shipped models/paper)
    sac: str | None = None  # trained SAC agent folder (default: models/sac if present)
    bcq: str | None = None  # trained BCQ agent folder (default: models/bcq if present)
    plan_steps: int = 4  # DDIM steps (the planner's default)
    threads: int = 1  # torch threads
    quick: bool = False


QUICK = {"cases": ("paper-20", "default"), "instances": 2, "candidates": (1, 4)}


def with_quick(args: ParetoArgs, given: set[str]) -> ParetoArgs:
    """``args`` with the quick budgets for every field not in ``given``."""
    if not args.quick:
        return args
    return dataclasses.replace(args, **{k: v for k, v in QUICK.items() if k not in given})


def check(args: ParetoArgs) -> ParetoArgs:
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        raise AignError(f"unknown case {unknown[0]!r}; cases: {', '.join(CASES)}")
    if not args.cases:
        raise AignError("no cases to benchmark")
    for name in ("instances", "plan_steps", "threads"):
        if getattr(args, name) < 1:
            raise AignError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if any(k < 1 for k in args.candidates):
        raise AignError(f"--candidates must be integers >= 1, got {args.candidates}")
    return args


# --------------------------------------------------------------------------- methods
def classical_methods() -> list[Method]:
    """WMMSE, FPC, the best-response dynamics the per-user agents start from (checked and
    priced) and coordinate ascent at four budgets (the last two up to 1000 users)."""
    from twin.solvers import (
        best_response_dynamics,
        coordinate_ascent,
        fractional_power_control,
        priced_response_dynamics,
        wmmse,
    )

    return [
        Method("WMMSE", wmmse, spec="wmmse"),
        Method("FPC", fractional_power_control, spec="fpc"),
        Method("best responses, checked", best_response_dynamics, spec="response"),
        Method("best responses, priced", priced_response_dynamics, spec="priced-response"),
        Method("coordinate, 1 sweep", lambda i: coordinate_ascent(i, starts=1, max_sweeps=1),
               spec="coordinate:starts=1,max_sweeps=1"),
        Method("coordinate, 2 sweeps", lambda i: coordinate_ascent(i, starts=1, max_sweeps=2),
               spec="coordinate:starts=1,max_sweeps=2"),
        Method("coordinate, to convergence", lambda i: coordinate_ascent(i, starts=1),
               max_users=1000, spec="coordinate:starts=1"),
        Method("coordinate, 4 starts", lambda i: coordinate_ascent(i, starts=4), max_users=1000,
               spec="coordinate:starts=4"),
    ]  # fmt: skip


def planner_methods(args: ParetoArgs) -> list[Method]:
    """Today's diffusion planner (``diffusion.load_planner``) at each K in ``candidates``."""
    names = [f"planner K={k}" for k in args.candidates]
    try:
        from diffusion import default_model_dir, load_planner

        model = args.model or default_model_dir()
        planner = load_planner(model, steps=args.plan_steps, threads=args.threads)
    except (AignError, OSError, ValueError) as exc:
        return [Method(n, None, learned=True, unavailable=str(exc)) for n in names]

    def plan(k: int) -> Designer:  # the plan scores its candidates: its best is the design
        return lambda inst: planner.plan(inst, candidates=k, recover_actions=False).designs_mw[0]

    # 64 candidates of 10 000 users are 640 000 graph nodes per step: left to 1000 users.
    return [Method(n, plan(k), learned=True, spec=f"planner:candidates={k}",
                   max_users=1000 if k > 16 else None)
            for n, k in zip(names, args.candidates, strict=True)]  # fmt: skip


def agent_method(kind: str, path: str | None) -> Method:
    """A trained SAC or BCQ agent rolled out from zero power (``models/KIND`` by default)."""
    name = kind.upper()
    if path is None:
        default = Path("models") / kind
        if not default.exists():
            return Method(name, None, learned=True, unavailable=(
                f"no trained {name} agent (pass --{kind} DIR: the --out of aign train {kind})"))
        path = str(default)
    try:
        from agents.controllers import load_agent, rollout
        from agents.mdp import initial_power

        agent = load_agent(kind, path)
    except (AignError, OSError, ValueError) as exc:
        return Method(name, None, learned=True, unavailable=f"{path}: {exc}")
    return Method(name, lambda inst: rollout(agent, inst, initial_power(inst)), learned=True,
                  spec=f"{kind}:{path}")


def default_methods(args: ParetoArgs) -> list[Method]:
    return [*planner_methods(args), agent_method("sac", args.sac), agent_method("bcq", args.bcq),
            *classical_methods()]  # fmt: skip


# --------------------------------------------------------------------------- measurement
def _run(method: Method, instance) -> tuple[str, str, np.ndarray | None, float | None]:
    """``(status, note, power_mw, seconds)`` of one method on one instance."""
    if method.unavailable is not None or method.design is None:
        return "unavailable", method.unavailable or "no callable", None, None
    if method.max_users is not None and instance.n_users > method.max_users:
        return "not run", f"above {method.max_users} users (this benchmark's budget)", None, None
    start = time.perf_counter()
    try:
        design = method.design(instance)
    except (AignError, ValueError) as exc:
        return "refuses", str(exc), None, None
    seconds = time.perf_counter() - start
    power = np.asarray(getattr(design, "power_mw", design), dtype=float)
    return "ok", "", power, seconds


def measure_case(case: Case, methods: Sequence[Method], n: int) -> list[dict]:
    """Tidy rows, one per instance and method, every method on an instance back to back."""
    from twin.solvers import best_index

    rows = []
    for k, instance in enumerate(case_instances(case, n)):
        shift = k % len(methods)
        runs = {m.name: _run(m, instance) for m in [*methods[shift:], *methods[:shift]]}
        done = {name: r for name, r in runs.items() if r[0] == "ok"}
        utility, violation = {}, {}
        for name, r in done.items():
            u, v = instance.objective(r[2])
            utility[name], violation[name] = float(u), float(v)
        names = list(done)
        best_u = None
        if names:
            b = best_index(np.array([utility[x] for x in names]),
                           np.array([violation[x] for x in names]))  # fmt: skip
            best_u = utility[names[b]]
        for m in methods:
            status, note, _, seconds = runs[m.name]
            u = utility.get(m.name)
            ratio = u / best_u if u is not None and best_u and best_u > 0 else None
            rows.append({"case": case.name, "users": instance.n_users, "bs": instance.n_bs,
                         "levels": len(instance.levels_mw), "instance": k,
                         "method": m.name, "learned": m.learned,
                         "status": status, "seconds": seconds, "utility": u,
                         "violation": violation.get(m.name), "quality": ratio,
                         "note": note})  # fmt: skip
    return rows


def summarize(rows: list[dict], methods: Sequence[Method]) -> list[dict]:
    """Per case and method: status, median time, mean/median/worst quality, the frontier and,
    for learned methods, whether a classical method is both faster and better."""
    out = []
    for case in dict.fromkeys(r["case"] for r in rows):
        entries = []
        for m in methods:
            mine = [r for r in rows if r["case"] == case and r["method"] == m.name]
            ok = [r for r in mine if r["status"] == "ok" and r["quality"] is not None]
            entry = {"case": case, "method": m.name, "learned": m.learned, "spec": m.spec,
                     "instances": len(ok), "status": "ok" if ok else mine[0]["status"],
                     "note": "" if ok else mine[0]["note"]}  # fmt: skip
            if ok:
                quality = np.array([r["quality"] for r in ok])
                worst = ok[int(np.argmin(quality))]
                entry.update(seconds=float(np.median([r["seconds"] for r in ok])),
                             quality_mean=float(quality.mean()),
                             quality_median=float(np.median(quality)),
                             quality_worst=float(quality.min()),
                             worst_instance=worst["instance"])  # fmt: skip
            entries.append(entry)
        mark_frontier(entries)
        out += entries
    return out


def _dominates(a: dict, b: dict) -> bool:
    """``a`` is at least as fast and at least as good as ``b``, and strictly one of them."""
    faster, better = a["seconds"] <= b["seconds"], a["quality_mean"] >= b["quality_mean"]
    strict = a["seconds"] < b["seconds"] or a["quality_mean"] > b["quality_mean"]
    return faster and better and strict


def mark_frontier(entries: list[dict]) -> None:
    """Set ``frontier`` and ``dominated_by`` (the fastest method that dominates) on each
    measured entry, and a ``verdict`` on the learned ones."""
    measured = [e for e in entries if "seconds" in e]
    for e in measured:
        rivals = sorted((x for x in measured if x is not e and _dominates(x, e)),
                        key=lambda x: x["seconds"])  # fmt: skip
        e["frontier"] = not rivals
        e["dominated_by"] = rivals[0]["method"] if rivals else None
        if e["learned"]:
            classical = [x for x in rivals if not x["learned"]]
            e["verdict"] = (f"loses: {classical[0]['method']} is faster and better" if classical
                            else "on the frontier" if not rivals
                            else f"dominated by {rivals[0]['method']}")  # fmt: skip
    for e in entries:
        if "seconds" not in e and e["learned"]:
            e["verdict"] = {"refuses": "refuses this size", "unavailable": "unavailable",
                            "not run": "not run"}.get(e["status"], e["status"])  # fmt: skip


# --------------------------------------------------------------------------- the table
def frontier_table(result: dict) -> dict:
    """Each case's size and frontier, fastest first (quality rises along it): what a
    generator that picks a method for an instance's size and a time budget needs
    (:func:`choose_method`). Written as ``frontier.json``."""
    cases = []
    for name, info in result["cases"].items():
        front = sorted((s for s in result["summary"] if s["case"] == name and s.get("frontier")),
                       key=lambda s: s["seconds"])  # fmt: skip
        keys = ("method", "spec", "learned", "seconds", "quality_mean", "quality_worst")
        cases.append({"case": name, **info, "frontier": [{k: s[k] for k in keys} for s in front]})
    return {"benchmark": "pareto frontier", "command": result["command"],
            "date": result["date"], "cpu": result["machine"]["cpu"], "cases": cases}  # fmt: skip


def choose_method(table: dict, n_users: int, time_budget_s: float) -> dict:
    """The frontier entry to run for an instance of ``n_users`` within ``time_budget_s``:
    at the measured in-distribution case nearest in size (log of the user count; ties to the
    larger), the best (slowest) frontier method whose median time fits the budget, or the
    fastest when none does. Times are those measured on the machine that wrote ``table``."""
    measured = [c for c in table["cases"] if not c["off_distribution"] and c["frontier"]]
    if not measured:
        raise AignError("the frontier table has no measured case to choose from")
    if n_users < 1 or not time_budget_s >= 0:
        raise AignError(f"need n_users >= 1 and time_budget_s >= 0, got {n_users}, "
                        f"{time_budget_s}")  # fmt: skip
    case = min(measured, key=lambda c: (abs(math.log(c["users"] / n_users)), -c["users"]))
    fits = [e for e in case["frontier"] if e["seconds"] <= time_budget_s]
    return {**(fits[-1] if fits else case["frontier"][0]), "case": case["case"]}


# --------------------------------------------------------------------------- outputs
CSV_FIELDS = ("case", "users", "bs", "levels", "instance", "method", "learned", "status", "seconds",
              "utility", "violation", "quality", "note")  # fmt: skip


def _seconds(s: float) -> str:
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.2f} s"


def markdown(result: dict) -> str:
    a = result["args"]
    lines = [
        "# Quality against time per design (Pareto)", "",
        f"Command: `{result['command']}`; {result['date']}; {result['machine']['cpu']} "
        f"({result['machine']['nproc']} cores, torch threads {a['threads']}); total wall time "
        f"{result['total_wall_s']:.0f} s. Quality = utility / the best design any method found "
        "on that instance; time = median wall time per design, in-process, methods "
        "interleaved on each instance. **F** = on the frontier of its case (no method both "
        "faster and better).", "",
    ]  # fmt: skip
    for case in dict.fromkeys(s["case"] for s in result["summary"]):
        spec = CASES[case]
        entries = [s for s in result["summary"] if s["case"] == case]
        size = next((f"{r['users']} users x {r['bs']} BSs" for r in result["rows"]
                     if r["case"] == case), "")  # fmt: skip
        lines += [f"## {case} ({size}; {max(e['instances'] for e in entries)} held-out "
                  f"instances{'; off the training distribution' if spec.off_distribution else ''})",
                  "", "| method | time per design | quality mean | median | worst (instance) "
                  "| frontier | learned method's verdict |", "|---|---:|---:|---:|---:|:---:|---|"]
        for e in sorted(entries, key=lambda e: e.get("seconds", math.inf)):
            verdict = e.get("verdict", "")
            if "seconds" not in e:
                lines.append(f"| {e['method']} | {e['status']}: {e['note']} | | | | | {verdict} |")
                continue
            lines.append(
                f"| {e['method']} | {_seconds(e['seconds'])} | {e['quality_mean']:.4f} "
                f"| {e['quality_median']:.4f} | {e['quality_worst']:.4f} ({e['worst_instance']}) "
                f"| {'**F**' if e['frontier'] else ''} | {verdict} |"
            )  # fmt: skip
        lines.append("")
    return "\n".join(lines)


def figure_html(result: dict, path: Path) -> None:
    """Quality against time, log time axis, one subplot per case, one marker per method;
    the frontier drawn as a step line."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    cases = list(dict.fromkeys(s["case"] for s in result["summary"]))
    cols = min(3, len(cases))
    rows = math.ceil(len(cases) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=cases)
    methods = list(dict.fromkeys(s["method"] for s in result["summary"]))
    palette = qualitative.Dark24
    for n, case in enumerate(cases):
        row, col = n // cols + 1, n % cols + 1
        entries = [s for s in result["summary"] if s["case"] == case and "seconds" in s]
        front = sorted((e for e in entries if e["frontier"]), key=lambda e: e["seconds"])
        fig.add_trace(go.Scatter(x=[e["seconds"] for e in front],
                                 y=[e["quality_mean"] for e in front], mode="lines",
                                 line={"shape": "hv", "color": "lightgray"},
                                 showlegend=False, hoverinfo="skip"), row=row, col=col)  # fmt: skip
        for e in entries:
            k = methods.index(e["method"])
            fig.add_trace(go.Scatter(
                x=[e["seconds"]], y=[e["quality_mean"]], mode="markers", name=e["method"],
                legendgroup=e["method"], showlegend=n == 0 or e["method"] not in {
                    s["method"] for s in result["summary"] if s["case"] in cases[:n]},
                marker={"color": palette[k % len(palette)], "size": 11,
                        "symbol": "diamond" if e["learned"] else "circle",
                        "line": {"width": 2 if e["frontier"] else 0, "color": "black"}},
                hovertemplate=(f"{e['method']}<br>{_seconds(e['seconds'])} per design<br>"
                               f"quality mean {e['quality_mean']:.4f}, worst "
                               f"{e['quality_worst']:.4f}<extra>{case}</extra>"),
            ), row=row, col=col)  # fmt: skip
        fig.update_xaxes(type="log", title_text="seconds per design", row=row, col=col)
        fig.update_yaxes(title_text="utility / best found", row=row, col=col)
    fig.update_layout(title=f"aign benchmark pareto ({result['date']}); diamonds: learned; "
                            "black ring: on the frontier", height=380 * rows)  # fmt: skip
    fig.write_html(path, include_plotlyjs=True)


def run_pareto(
    args: ParetoArgs,
    command: str = "aign benchmark pareto",
    methods: Sequence[Method] | None = None,
) -> dict:
    """Run the benchmark; write pareto.csv (one row per instance and method), pareto.md,
    pareto.html, frontier.json (:func:`frontier_table`) and summary.json (everything but the
    rows) into ``args.out``; return the
    result, rows included (``methods``: the list to compare, default :func:`default_methods`)."""
    import torch

    args = check(args)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    methods = list(default_methods(args) if methods is None else methods)
    warm = case_instances(CASES[args.cases[0]], 1)[0]
    for m in methods:
        if m.learned:
            _run(m, warm)  # first calls pay for torch's set-up: not part of a design's time
    rows: list[dict] = []
    cases: dict[str, dict] = {}
    for name in args.cases:
        case, clock = CASES[name], time.perf_counter()
        n = min(args.instances, case.max_instances or args.instances)
        mine = measure_case(case, methods, n)
        cases[name] = {"users": mine[0]["users"], "bs": mine[0]["bs"],
                       "levels": mine[0]["levels"], "instances": n,
                       "off_distribution": case.off_distribution}  # fmt: skip
        rows += mine
        _log(f"  {name}: {n} instances ({time.perf_counter() - clock:.0f} s)")
    model = args.model
    if model is None:
        from diffusion import DEFAULT_MODEL_DIR

        model = str(DEFAULT_MODEL_DIR)
    result = {
        "benchmark": "pareto",
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(args.threads),
        "model": model_label(model),
        "args": {**dataclasses.asdict(args), "cases": list(args.cases),
                 "candidates": list(args.candidates)},  # fmt: skip
        "held_out": (f"instance k: InstanceSampler(case scenario, seed={EVAL_ENVIRONMENT_BASE})"
                     f".sample(default_rng([{EVAL_SEED_BASE}, 0, k])); training used "
                     "environment 0"),  # fmt: skip
        "methods": [{"name": m.name, "learned": m.learned, "max_users": m.max_users,
                     "unavailable": m.unavailable} for m in methods],  # fmt: skip
        "cases": cases,
        "summary": summarize(rows, methods),
        "rows": rows,
    }
    result["total_wall_s"] = time.perf_counter() - started
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "pareto.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    (out / "pareto.md").write_text(markdown(result), encoding="utf-8")
    (out / "frontier.json").write_text(json.dumps(frontier_table(result), indent=2) + "\n",
                                       encoding="utf-8")  # fmt: skip
    summary = {k: v for k, v in result.items() if k != "rows"}  # the rows are the CSV
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    figure_html(result, out / "pareto.html")
    return result


