"""What the app's callbacks call: the CLI's operations, wired for a browser session.

Everything here composes ``twin.api``, ``twin.solvers``, ``twin.rollout.deployment`` and the
planner; nothing computes a KPI of its own. Results are plain JSON-ready dicts so that they
can live in the page's per-session stores (the server keeps no state between requests).
Errors a user can cause are :class:`twin.core.errors.AignError`; the pages show their message.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from twin.core import AignError, ScenarioError, finite
from twin.radio import Design, ProblemInstance
from twin.scenario import (
    MAX_SCENARIO_BYTES,
    SCENARIO_DIR,
    Scenario,
    parse_scenario,
    shipped_scenarios,
)
from twin.solvers import best_reference

Progress = Callable[[float], None]

# Design generators offered by the Designs page: baselines always, diffusion when installed.
BASELINE_METHODS = ("coordinate", "wmmse", "response", "fpc", "max")
MAX_EXHAUSTIVE_EVALUATIONS = 200_000
MAX_RUNS_KEPT = 6  # what-if runs a session keeps for comparison
SCENARIO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# What one request may make the server do. Maps and previews (the scenario map, SINR maps,
# design generation) build the network at t = 0: at most MAP_MAX_LINKS user-BS links (10,000
# users x 100 BSs takes about a second and 250 MB) within MAP_BUDGET. What-if runs are
# background jobs within RUN_BUDGET (a few minutes of twin time at most).
MAP_MAX_LINKS = 2_000_000
MAP_BUDGET_BYTES = 2 * 2**30
RUN_BUDGET = {"memory_bytes": 4 * 2**30, "events": 500_000, "link_updates": 2e10}


def check_map_size(scenario: Scenario) -> None:
    """Refuse, before building anything, a network too large to preview in the app."""
    from twin.sim import Budget, check_budget

    links = scenario.users.n * scenario.base_stations.n
    if links > MAP_MAX_LINKS:
        raise AignError(
            f"too large to preview here: {scenario.users.n:,} users x "
            f"{scenario.base_stations.n:,} BSs = {links:,} links, above the app's limit of "
            f"{MAP_MAX_LINKS:,}; use `aign simulate` or `aign instance` on the command line"
        )
    check_budget(scenario, horizon_s=0.0, budget=Budget(memory_bytes=MAP_BUDGET_BYTES))


def check_run_size(scenario: Scenario) -> None:
    """Refuse, before it starts, a what-if run beyond what one app job may take."""
    from twin.sim import Budget, check_budget

    check_map_size(scenario)
    check_budget(scenario, budget=Budget(**RUN_BUDGET))


# --------------------------------------------------------------------------- scenarios
def user_scenario_dir(home: str | os.PathLike) -> Path:
    """Where "save as" writes scenarios: ``$AIGN_HOME/scenarios``."""
    return Path(home) / "scenarios"


def scenario_choices(home: str | os.PathLike) -> list[dict[str, str]]:
    """Dropdown options: shipped scenarios, then the ones saved from the app."""
    options = [{"label": name, "value": name} for name in shipped_scenarios()]
    saved = user_scenario_dir(home)
    if saved.is_dir():
        shipped = set(shipped_scenarios())
        for path in sorted(saved.glob("*.yaml")):
            if path.stem not in shipped:
                options.append({"label": f"{path.stem} (saved)", "value": path.stem})
    return options


def scenario_text(name: str, home: str | os.PathLike) -> str:
    """The YAML text of a shipped or saved scenario, by name."""
    if not isinstance(name, str) or not SCENARIO_NAME.match(name):
        raise AignError(f"unknown scenario {name!r}")
    for folder in (SCENARIO_DIR, user_scenario_dir(home)):
        path = folder / f"{name}.yaml"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise AignError(f"unknown scenario {name!r}; shipped: {', '.join(shipped_scenarios())}")


def check_scenario(text: str | None, source: str = "editor") -> tuple[Scenario | None, list[str]]:
    """``(scenario, [])`` when the YAML is valid, else ``(None, problems)``, one
    ``SOURCE:LINE: field.path: message`` per problem, as ``aign scenario check`` prints them."""
    from twin.api import scenario_problems

    try:
        scenario = parse_scenario(text or "", source=source)
    except ScenarioError as err:
        return None, [str(p) for p in err.problems]
    late = scenario_problems(scenario, text, source)  # e.g. an unknown controller
    return (None, [str(p) for p in late]) if late else (scenario, [])


def scenario_from_text(text: str | None, source: str = "scenario") -> Scenario:
    scenario, problems = check_scenario(text, source)
    if scenario is None:
        raise AignError("the scenario is invalid:\n" + "\n".join(problems))
    return scenario


MAX_DESIGN_BYTES = 2_000_000  # a design file (JSON) the Designs page reads


def decode_upload(
    contents: str | None,
    filename: str | None,
    kind: str = "YAML scenario",
    max_bytes: int = MAX_SCENARIO_BYTES,
) -> str:
    """Text of a ``dcc.Upload`` (a data URL); refuses binary files and files over
    ``max_bytes``, naming the ``kind`` of file expected."""
    if not contents:
        raise AignError("nothing was uploaded")
    if not isinstance(contents, str) or not isinstance(filename, str | None):
        raise AignError("the upload is not readable")
    if len(contents) > 2 * max_bytes + 1000:  # base64 is 4/3 of the bytes, plus the header
        raise AignError(f"{filename}: over {max_bytes} bytes; a {kind} is limited to "
                        f"{max_bytes} bytes")  # fmt: skip
    _, _, payload = contents.partition(",")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise AignError(f"{filename}: the upload is not readable") from None
    if len(raw) > max_bytes:
        raise AignError(f"{filename}: {len(raw)} bytes; a {kind} is limited to {max_bytes} bytes")
    if b"\x00" in raw:
        raise AignError(f"{filename}: a binary file, not a {kind}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AignError(f"{filename}: not a UTF-8 text file, not a {kind}") from None


def save_scenario(
    text: str, name: str, home: str | os.PathLike, loaded: str | None = None
) -> tuple[Path, str]:
    """Validate and write the scenario as ``$AIGN_HOME/scenarios/NAME.yaml``; ``(path, what
    happened)``: ``saved`` (a new file), ``unchanged`` (the file holds this text already) or
    ``updated`` (the session had loaded that saved file, ``loaded``, and changed it). A shipped
    scenario is never shadowed, and another saved file is never overwritten."""
    if not isinstance(name, str) or not SCENARIO_NAME.match(name):
        raise AignError(
            "a file name is 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    name = name.removesuffix(".yaml")
    if name in shipped_scenarios():
        raise AignError(f"{name!r} is a shipped scenario; choose another name")
    scenario_from_text(text, f"{name}.yaml")
    folder = user_scenario_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    try:
        with open(path, "x", encoding="utf-8") as fh:
            fh.write(text)
        return path, "saved"
    except FileExistsError:
        pass
    if path.read_text(encoding="utf-8") == text:
        return path, "unchanged"
    if loaded != name:
        raise AignError(f"a saved scenario {name!r} exists already: choose another name, or pick "
                        f"{name!r} in the list to change it")  # fmt: skip
    tmp = path.with_name(f".{name}.yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path, "updated"


# --------------------------------------------------------------------------- topology
# Networks kept by network_snapshot: the scenario page's map and the two SINR maps of one
# scenario share one build (about a second and 100-250 MB at 10000 users x 100 BSs).
SNAPSHOT_CACHE_SIZE = 2
_snapshots: dict[tuple[str, int], dict[str, Any]] = {}
_snapshots_lock = threading.Lock()


def network_snapshot(scenario: Scenario, seed: int | None = None) -> dict[str, Any]:
    """The network at t = 0 as the twin builds it: BS and user positions, average gains,
    association, and (for geometric channels) the network object for SINR maps.

    The last :data:`SNAPSHOT_CACHE_SIZE` networks are kept, keyed by the scenario's content
    and the seed: the same scenario gives the same network, so a repeated call is free.
    Callers must not change the network (maps only read it).
    """
    seed = scenario.seed if seed is None else int(seed)
    check_map_size(scenario)
    key = (scenario.model_dump_json(), seed)
    with _snapshots_lock:  # one build at a time: concurrent callbacks wait and share it
        snap = _snapshots.pop(key, None)
        if snap is None:
            snap = _build_snapshot(scenario, seed)
        _snapshots[key] = snap  # most recently used last
        while len(_snapshots) > SNAPSHOT_CACHE_SIZE:
            del _snapshots[next(iter(_snapshots))]
    return dict(snap)


def _build_snapshot(scenario: Scenario, seed: int) -> dict[str, Any]:
    from twin.core import stream
    from twin.radio import RadioNetwork

    # The same streams as twin.sim.twin.Twin uses for its own network.
    network = RadioNetwork(scenario, stream(scenario.seed, "layout"), stream(seed, "network"))
    user_positions = np.array(network.positions)
    user_positions.flags.writeable = False
    return {
        "network": network,
        "bs_positions": np.asarray(network.bs_positions),
        "user_positions": user_positions,
        "gains": np.asarray(network.large_scale_gain()),
        "assoc": np.asarray(network.association()),
    }


# Strong-interference edges the scenario page's graph keeps: the strongest ones. Without a
# cap a dense network has one per user and neighbouring site (10^4 and more).
MAX_INTERFERENCE_EDGES = 2000


def topology(
    scenario: Scenario,
    strong_interference_db: float = 10.0,
    max_interference_edges: int | None = MAX_INTERFERENCE_EDGES,
):
    """The networkx graph of the scenario's network at t = 0 (twin.radio.topology), keeping the
    ``max_interference_edges`` strongest interference edges (``None``: all)."""
    from twin.radio import network_graph

    snap = network_snapshot(scenario)
    return network_graph(
        snap["bs_positions"], snap["user_positions"], snap["gains"], snap["assoc"],
        strong_interference_db=strong_interference_db,
        max_interference_edges=max_interference_edges,
    )  # fmt: skip


# --------------------------------------------------------------------------- what-if
WHATIF_FIELDS = ("users", "speed_mps", "noise_figure_db", "price_per_mw", "shadowing_std_db",
                 "sync_error_db")  # fmt: skip


def apply_overrides(scenario: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    """The scenario with the what-if page's changes (``None`` keeps the scenario's value)."""
    data = scenario.model_dump(mode="json")
    changes = {k: v for k, v in overrides.items() if v is not None and v != ""}
    for key, value in changes.items():  # what a browser sends: numbers, or text of numbers
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number) or abs(number) > 1e12:
            raise AignError(f"the what-if setting {key} must be a number, got {str(value)[:40]!r}")
    if "users" in changes:
        users = data["users"]
        if users.get("placement") == "list" or data["channel"].get("mode") == "explicit":
            raise AignError(
                f"scenario {scenario.name!r} lists its users (or their gains): the user count "
                "cannot be changed here; edit the scenario instead"
            )
        count = float(changes["users"])
        if not count.is_integer():
            raise AignError(f"the what-if setting users must be a whole number, got {count:g}")
        users["count"] = int(count)
    if "speed_mps" in changes:
        data["users"]["speed_mps"] = float(changes["speed_mps"])
    if "noise_figure_db" in changes:
        data["channel"]["noise"]["figure_db"] = float(changes["noise_figure_db"])
    if "price_per_mw" in changes:
        data["objective"]["price_per_mw"] = float(changes["price_per_mw"])
    if "shadowing_std_db" in changes:
        data["channel"]["shadowing"]["std_db"] = float(changes["shadowing_std_db"])
    if "sync_error_db" in changes:
        data["sync"]["error_db"] = float(changes["sync_error_db"])
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        raise AignError(f"the what-if settings are invalid: {details}") from None


def run_whatif(
    scenario: Scenario,
    controller: str | None,
    seed: int | None = None,
    label: str | None = None,
    progress: Progress | None = None,
    short: str | None = None,
    base: Scenario | None = None,
) -> dict[str, Any]:
    """One twin run (``twin.api.simulate``) as a JSON-ready record for the comparison views.

    ``short`` names the run in legends, ``base`` is the session's scenario before the what-if
    changes (the run belongs to it). Per-user rates for the CDF are those of the twin's
    instance at the end of the run with the powers then in force
    (``twin.api.snapshot_instance`` + ``ProblemInstance.evaluate``).
    """
    from twin.api import simulate, snapshot_instance
    from twin.controllers import make_controller

    check_run_size(scenario)
    spec = controller or scenario.control.controller
    try:
        made = make_controller(spec)
    except (ValueError, TypeError, KeyError) as exc:
        raise AignError(f"controller {spec!r}: {exc}") from None
    result = simulate(scenario, controller=made, seed=seed, progress=progress)
    kpis = result.kpis
    rates: list[float] = []
    if kpis.power_mw:
        instance = snapshot_instance(scenario, scenario.duration_s, seed=result.seed)
        users = np.asarray(instance.meta["user_ids"], dtype=np.intp)
        if users.size:
            rates = instance.evaluate(kpis.power_mw[-1][users]).rate_bps.tolist()
    from ui.session import scenario_key

    return {
        "label": label or f"{scenario.name} / {result.controller} / seed {result.seed}",
        "short": short or result.controller,
        "scenario": scenario.name,
        "scenario_key": scenario_key(base or scenario),
        "summary": finite(result.summary()),
        "columns": {k: finite(list(v)) for k, v in kpis.columns.items()},
        "power_times_s": list(kpis.power_times_s),
        "power_mw": [p.tolist() for p in kpis.power_mw],
        "rates_bps": rates,
    }


def keep_run(runs: list[dict] | None, run: dict) -> list[dict]:
    """Append a run to the session's list, keeping the last :data:`MAX_RUNS_KEPT`."""
    return (list(runs or []) + [run])[-MAX_RUNS_KEPT:]


# --------------------------------------------------------------------------- SINR map
# Probe-to-BS links evaluated at once by sinr_map: bounds its temporaries (path loss and
# the shadowing lookup hold about 100 bytes per link) to a few tens of MB at any size.
SINR_MAP_CHUNK_LINKS = 1 << 18


def sinr_map(
    scenario: Scenario,
    power_mw: np.ndarray | None,
    grid: int = 40,
    chunk_links: int = SINR_MAP_CHUNK_LINKS,
) -> dict[str, Any]:
    """Uplink SINR (dB) of a probe user at each point of a grid over the area, transmitting at
    the top level while the scenario's users keep ``power_mw`` (default: the top level too).

    The probe's gains come from :meth:`twin.radio.network.RadioNetwork.large_scale_gain_at` (average
    gains, no fading), its serving BS is its strongest, and its SINR is
    :func:`twin.radio.uplink.probe_sinr` (what :func:`twin.radio.uplink.sinr` gives over the
    users plus the probe). The grid is evaluated ``chunk_links // B`` points at a time, so
    memory stays bounded whatever the grid and the network; time is ``O((U + grid^2) B)``.
    """
    from twin.radio import probe_sinr

    snap = network_snapshot(scenario)
    network = snap["network"]
    if network.explicit:
        raise AignError(
            f"scenario {scenario.name!r} gives its channel gains explicitly: there is no "
            "geometry to map SINR over"
        )
    n_users, n_bs = snap["gains"].shape
    levels = np.asarray(scenario.power.levels(), dtype=float)
    top = float(levels.max())
    power = np.full(n_users, top) if power_mw is None else np.asarray(power_mw, dtype=float)
    if power.shape != (n_users,):
        raise AignError(
            f"the design has {power.size} powers but scenario {scenario.name!r} has {n_users} users"
        )
    xs = np.linspace(0.0, scenario.area.width_m, grid)
    ys = np.linspace(0.0, scenario.area.height_m, grid)
    px, py = np.meshgrid(xs, ys)
    points = np.column_stack([px.ravel(), py.ravel()])
    per_chunk = max(1, int(chunk_links) // n_bs)
    out = np.empty(points.shape[0])
    for start in range(0, points.shape[0], per_chunk):
        part = slice(start, start + per_chunk)
        out[part] = probe_sinr(
            network.large_scale_gain_at(points[part]), top, snap["gains"], snap["assoc"],
            power, network.noise_mw, scenario.reuse,
        )  # fmt: skip
    with np.errstate(divide="ignore"):
        sinr_db = 10 * np.log10(out).reshape(px.shape)
    return {
        "x_m": xs,
        "y_m": ys,
        "sinr_db": sinr_db,
        "bs_positions": snap["bs_positions"],
        "user_positions": snap["user_positions"],
        "probe_mw": top,
    }


# --------------------------------------------------------------------------- designs
def diffusion_model_dir(home: str | os.PathLike) -> Path | None:
    """The diffusion planner's model, when the package is importable and a model exists:
    ``$AIGN_DIFFUSION_MODEL``, else ``$AIGN_HOME/models/diffusion``, else the shipped one."""
    if importlib.util.find_spec("diffusion.planner") is None:
        return None
    from diffusion import DEFAULT_MODEL_DIR

    for candidate in (
        os.environ.get("AIGN_DIFFUSION_MODEL"),
        Path(home) / "models" / "diffusion",
        DEFAULT_MODEL_DIR,
    ):
        if candidate and (Path(candidate) / "config.json").exists():
            return Path(candidate)
    return None


@dataclass(frozen=True)
class Generator:
    """A design generator of the Designs page: its label, whether it can run here, and what
    it makes, ``(candidates, warnings, notes)`` with a candidate ``(Design, trajectory or
    None)``; a note says what it did (not a problem). Each design's wall time is in its
    provenance (``seconds``)."""

    label: str
    available: Callable[[Path], bool]
    make: Callable[..., tuple[list[tuple[Design, Any]], list[str]]]


def baseline_designs(instance: ProblemInstance, k: int, progress: Progress) -> tuple[list, list]:
    """:data:`BASELINE_METHODS` and the best of ``k`` random draws (seeds ``0..k-1``)."""
    from twin.solvers import coordinate_affordable, solve
    from ui.session import rank_key

    warnings: list[str] = []
    methods = list(BASELINE_METHODS)
    if not coordinate_affordable(instance):
        methods.remove("coordinate")
        warnings.append(
            f"coordinate ascent is left out: {instance.n_users} users x {instance.n_bs} base "
            "stations is beyond its budget here (the reference is WMMSE)"
        )
    designs = []
    for n, method in enumerate(methods):
        designs.append(timed(lambda m=method: solve(instance, m)))
        progress((n + 1) / (len(methods) + 1))
    start = time.perf_counter()
    draws = [solve(instance, "random", seed=s) for s in range(k)]
    best = min(draws, key=rank_key)
    best.provenance["seconds"] = time.perf_counter() - start
    best.source = f"random (best of {k} draws)"
    progress(1.0)
    return [(d, None) for d in designs + [best]], warnings


def timed(make: Callable[[], Design]) -> Design:
    """``make()``'s design with its wall time in its provenance (``seconds``)."""
    start = time.perf_counter()
    design = make()
    design.provenance["seconds"] = time.perf_counter() - start
    return design


def plan_designs(
    instance: ProblemInstance, k: int, refine: int, model: Path
) -> tuple[list[tuple[Design, Any]], list[str]]:
    """The diffusion planner's ``k`` candidates (the best ``refine`` polished on the twin),
    each with its generated trajectory or ``None``. The one place the app reads the
    planner's result (``PlanResult``): the designs table and the Power page see only these
    ``(Design, trajectory)`` pairs, so a change of that class is fixed here alone."""
    from diffusion.planner import load_planner  # the planner, when installed

    plan = load_planner(model, candidates=int(k), refine=int(refine)).plan(instance)
    designs = list(plan.designs)
    for design in designs:  # K candidates come from one run: each took the run's time
        design.provenance.setdefault("seconds", float(plan.seconds))
    trajectories = getattr(plan, "trajectories_mw", None)
    paths = [None] * len(designs) if trajectories is None else list(np.asarray(trajectories))
    return list(zip(designs, paths, strict=True)), list(plan.warnings)


def _baselines(instance, k, refine, home, progress):
    return (*baseline_designs(instance, k, progress), [])


def _diffusion(instance, k, refine, home, progress):
    model = diffusion_model_dir(home)
    if model is None:
        raise AignError("the diffusion planner has no trained model here; use baselines")
    planned, warnings = plan_designs(instance, k, refine, model)
    progress(0.6)
    baselines, more = baseline_designs(instance, k, lambda f: progress(0.6 + 0.4 * f))
    return planned + baselines, warnings + more, []


def _auto(instance, k, refine, home, progress):
    """The Pareto frontier's method for this size within :data:`AUTO_BUDGET_S`, beside the
    baselines (``evaluation.auto``: what ``aign plan`` runs by default). Its design is
    named ``auto (METHOD)`` in the table."""
    from evaluation.auto import auto_design

    choice = auto_design(instance, AUTO_BUDGET_S, model=diffusion_model_dir(home))
    choice.design.source = f"auto ({choice.method})"
    note = (f"auto chose {choice.method} (the best within {AUTO_BUDGET_S:g} s at "
            f"{choice.case} in the Pareto benchmark); it took {choice.seconds * 1e3:.1f} ms")
    progress(0.5)
    baselines, more = baseline_designs(instance, k, lambda f: progress(0.5 + 0.5 * f))
    return [(choice.design, None), *baselines], more, [note]


AUTO_BUDGET_S = 1.0  # seconds per design the Designs page's auto generator chooses within

# The Designs page's generators, in the order of its dropdown; the first available one is
# the default (auto, as for aign plan). Another generator is one more line here.
GENERATORS: dict[str, Generator] = {
    "auto": Generator("auto: the best method for the size within 1 s + baselines",
                      lambda home: True, _auto),
    "diffusion": Generator("diffusion planner + baselines",
                           lambda home: diffusion_model_dir(home) is not None, _diffusion),
    "baselines": Generator("baselines: coordinate, WMMSE, best responses, FPC, max, random",
                           lambda home: True, _baselines),
}  # fmt: skip


def generators(home: str | os.PathLike) -> list[dict[str, str]]:
    """Dropdown options: the generators that can run here."""
    return [{"label": g.label, "value": name} for name, g in GENERATORS.items()
            if g.available(Path(home))]  # fmt: skip


def generate_designs(
    scenario: Scenario,
    k: int,
    generator: str,
    home: str | os.PathLike,
    progress: Progress | None = None,
    refine: int = 0,
) -> dict[str, Any]:
    """Candidate designs for the scenario's instance at t = 0, as the session's designs
    store (:func:`ui.session.design_set`: the reference first, then the distinct candidates
    ranked best first, the best one selected)."""
    from twin.api import snapshot_instance
    from ui.session import design_set

    if not 1 <= int(k) <= 64:
        raise AignError(f"K must be between 1 and 64, got {k}")
    if not 0 <= int(refine) <= int(k):
        raise AignError(f"refine must be between 0 and K = {k}, got {refine}")
    if generator not in GENERATORS:
        raise AignError(f"unknown generator {generator!r}; choose one of {', '.join(GENERATORS)}")
    report = progress or (lambda _f: None)
    check_map_size(scenario)
    instance = snapshot_instance(scenario, 0.0)
    report(0.1)
    reference = timed(lambda: best_reference(instance, MAX_EXHAUSTIVE_EVALUATIONS))
    report(0.3)
    candidates, warnings, notes = GENERATORS[generator].make(
        instance, int(k), int(refine), Path(home), lambda f: report(0.3 + 0.7 * f)
    )
    return design_set(scenario, instance.to_dict(), reference, candidates, warnings, generator,
                      notes)  # fmt: skip


def design_from_json(data: Any, source: str = "design") -> Design:
    from twin.core import DesignError

    try:
        return Design.from_dict(data, source=source)
    except DesignError as err:
        raise AignError(str(err)) from None


def check_design_for(scenario: Scenario, design: Design) -> None:
    """Refuse a design made for another scenario (by name), before the twin checks its size."""
    made_for = design.provenance.get("scenario")
    if made_for is not None and made_for != scenario.name:
        raise AignError(
            f"this design was made for scenario {made_for!r}, but the current scenario is "
            f"{scenario.name!r}; generate designs for this scenario or switch back"
        )


def planned_path(instance: ProblemInstance, design: Design, initial_mw: float = 0.0) -> np.ndarray:
    """States ``(H+1, U)`` the MDP's own step walks from the initial powers to ``design``
    (used when the generator gave no trajectory, e.g. the baselines)."""
    from agents.mdp import MDPConfig, action_towards, initial_power, next_power

    config = MDPConfig(max_users=instance.n_users)
    state = initial_power(instance, initial_mw)
    target = np.asarray(design.power_mw, dtype=float)
    path = [state]
    for _ in range(int(np.ceil(1 / config.max_step_fraction)) + 1):
        state = next_power(instance, state, action_towards(instance, state, target, config), config)
        path.append(state)
        if np.array_equal(state, target):
            break
    return np.asarray(path)


def utility_grid(instance: ProblemInstance) -> dict[str, Any]:
    """Utility over the power plane of a two-user instance (``ProblemInstance.objective``)."""
    if instance.n_users != 2:
        raise AignError(
            f"utility contours need a two-user instance; this one has {instance.n_users} users"
        )
    levels = np.asarray(instance.levels_mw, dtype=float)
    p1, p2 = np.meshgrid(levels, levels, indexing="xy")  # rows: p2, columns: p1
    utility, _ = instance.objective(np.stack([p1, p2], axis=-1))
    return {"p1_mw": levels, "p2_mw": levels, "utility": np.asarray(utility)}


# --------------------------------------------------------------------------- operations
def validate(
    scenario: Scenario,
    design: Design,
    home: str | os.PathLike,
    runs: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """``aign validate``: Monte-Carlo validation on the twin, recorded in the log."""
    from twin.rollout import Operations

    check_design_for(scenario, design)
    with Operations(home) as ops:
        return ops.validate(scenario, design, runs=runs, progress=progress)


def deploy(scenario: Scenario, design: Design, home: str | os.PathLike) -> dict[str, Any]:
    """``aign deploy``: deploy a validated design, observe it, keep it or roll it back."""
    from twin.rollout import Operations

    check_design_for(scenario, design)
    with Operations(home) as ops:
        return ops.deploy(scenario, design).to_dict()


def history(home: str | os.PathLike, scenario: str | None = None) -> dict[str, Any]:
    """``aign deployments``: the deployment history and what is in force."""
    from twin.rollout import Operations

    with Operations(home) as ops:
        data = ops.history(scenario)
    data["log"] = "$AIGN_HOME/deployments.db"  # the page never shows the server's paths
    return data
