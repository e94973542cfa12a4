"""Parameter sweeps on the twin: every combination x every seed, resumable, on any executor.

A sweep is a grid of scenario overrides (``--param users=20,50,80``), controllers and seeds.
Each *cell* (one combination, one controller, one seed) is a pure task: the twin run it
describes depends on nothing else, so any executor gives the same table, and a cell that is
stored is never run again. The output folder holds:

``sweep.json``      what was asked (format ``aign.sweep/1``); a rerun must ask the same
``cells/*.json``    one file per finished cell, written atomically as it arrives
``results.csv``     the tidy table: one row per cell (parameters, controller, seed, KPIs),
                    also ``results.parquet`` with ``--format parquet|both``
``summary.csv``     per combination and KPI: runs, mean, std and the 95% t-interval
``failures.json``   cells that failed on every attempt in the last run (rerun to retry)
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from twin.compute.executors import Executor, TaskFailure, make_executor
from twin.core.errors import AignError
from twin.core.files import read_json, write_json_atomic
from twin.core.records import canonical_json, finite, mean_ci
from twin.scenario.derive import scenario_digest
from twin.scenario.loader import parse_scalar
from twin.scenario.schema import Scenario

SWEEP_FORMAT = "aign.sweep/1"

# Short names for the knobs people sweep most; any other field is named by its dotted path
# in the scenario (``channel.noise.figure_db``). ``controller`` is not a scenario field.
PARAM_ALIASES: dict[str, str] = {
    "users": "users.count",
    "speed": "users.speed_mps",
    "noise_figure": "channel.noise.figure_db",
    "price": "objective.price_per_mw",
    "shadowing": "channel.shadowing.std_db",
    "sync_error": "sync.error_db",
    "duration": "duration_s",
}
CONTROLLER = "controller"
# KPIs the summary and the figures carry (columns of SimulationResult.summary()).
SUMMARY_KPIS = (
    "mean_utility",
    "mean_sum_rate_bps",
    "mean_total_power_mw",
    "mean_rate_bps_p5",
    "mean_sinr_db_p50",
    "mean_feasible",
    "utility_abs_error_mean",
)
FORMATS = ("csv", "parquet", "both")


# --------------------------------------------------------------------------- the grid
def parse_param(text: str) -> tuple[str, list[Any]]:
    """``NAME=V1,V2,...`` -> (name, values); each value is read as a YAML scalar."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name or not values.strip():
        raise AignError(f"--param {text!r}: expected NAME=V1,V2,... (e.g. users=20,50,80)")
    parsed = []
    for token in values.split(","):
        token = token.strip()
        if not token:
            raise AignError(f"--param {text!r}: empty value in the list")
        value = parse_scalar(token)
        if isinstance(value, dict | list):
            raise AignError(f"--param {text!r}: {token!r} is not a single value")
        parsed.append(value)
    if len(set(map(repr, parsed))) != len(parsed):
        raise AignError(f"--param {text!r}: a value is listed twice")
    return name, parsed


def _field_paths(data: Any, prefix: str = "") -> list[str]:
    if not isinstance(data, dict):
        return [prefix]
    out = []
    for key, value in data.items():
        out += _field_paths(value, f"{prefix}.{key}" if prefix else key)
    return out


def resolve_path(scenario: Scenario, name: str) -> str:
    """The scenario field a parameter name stands for (an alias or a dotted path)."""
    path = PARAM_ALIASES.get(name, name)
    paths = _field_paths(scenario.model_dump(mode="json"))
    if path not in paths:
        close = difflib.get_close_matches(path, paths + list(PARAM_ALIASES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise AignError(
            f"--param {name}: the scenario has no field {path!r}{hint} (short names: "
            f"{', '.join(PARAM_ALIASES)}, controller; or a dotted path like "
            f"channel.noise.figure_db)"
        )
    return path


def override(scenario: Scenario, values: Mapping[str, Any], shown: str | None = None) -> Scenario:
    """``scenario`` with dotted-path fields set; the result is validated like a file is.

    ``shown`` names the change in an error (default: the paths and values).
    """
    data = scenario.model_dump(mode="json")
    for path, value in values.items():
        node = data
        *parents, leaf = path.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        shown = shown or ", ".join(f"{k}={v}" for k, v in values.items())
        raise AignError(f"sweep combination {shown} is not a valid scenario: {details}") from None


@dataclass(frozen=True)
class Cell:
    """One twin run of the sweep: a combination of parameters, a controller and a seed."""

    key: str
    params: tuple[tuple[str, Any], ...]  # (parameter name as given, value), in --param order
    controller: str
    seed: int
    scenario: Scenario


@dataclass
class SweepSpec:
    """What ``aign sweep`` takes (see the module docstring)."""

    scenario: Scenario
    params: list[tuple[str, list[Any]]] = field(default_factory=list)
    controllers: list[str] = field(default_factory=list)  # default: the scenario's
    seeds: int = 1
    seed: int | None = None  # first seed (default: the scenario's)

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise AignError(f"--seeds must be at least 1, got {self.seeds}")
        names = [n for n, _ in self.params]
        if len(set(names)) != len(names):
            raise AignError("a --param name is given twice; list all its values in one --param")
        if CONTROLLER in names:
            raise AignError("sweep controllers with --controller (repeat it), not --param")
        if self.seed is not None and self.seed < 0:
            raise AignError(f"--seed must be >= 0, got {self.seed}")

    @property
    def first_seed(self) -> int:
        return self.scenario.seed if self.seed is None else int(self.seed)

    @property
    def controller_list(self) -> list[str]:
        return list(self.controllers) or [self.scenario.control.controller]

    def manifest(self) -> dict[str, Any]:
        return {
            "format": SWEEP_FORMAT,
            "scenario": {"name": self.scenario.name, "digest": scenario_digest(self.scenario)},
            "params": [[name, values] for name, values in self.params],
            "controllers": self.controller_list,
            "seeds": [self.first_seed + k for k in range(self.seeds)],
        }

    def cells(self) -> list[Cell]:
        """Every cell, in a fixed order: combinations, then controllers, then seeds.

        Every combination is validated here, before anything runs.
        """
        paths = [resolve_path(self.scenario, name) for name, _ in self.params]
        combos = list(product(*(values for _, values in self.params)))
        base_digest = scenario_digest(self.scenario)
        out = []
        for combo in combos:
            params = tuple(zip((n for n, _ in self.params), combo, strict=True))
            shown = ", ".join(f"{n}={v}" for n, v in params)
            scenario = override(self.scenario, dict(zip(paths, combo, strict=True)), shown)
            for controller in self.controller_list:
                for k in range(self.seeds):
                    seed = self.first_seed + k
                    ident = canonical_json([base_digest, list(map(list, params)), controller, seed])
                    key = hashlib.sha256(ident).hexdigest()[:20]
                    out.append(Cell(key, params, controller, seed, scenario))
        return out


def run_cell(cell: Cell) -> dict[str, Any]:
    """One twin run -> one tidy row (an executor's task)."""
    from twin.sim.run import simulate

    result = simulate(cell.scenario, controller=cell.controller, seed=cell.seed)
    summary = result.summary()
    row: dict[str, Any] = dict(cell.params)
    row.update({"controller": result.controller, "seed": cell.seed, "cell": cell.key})
    for name, value in summary.items():
        if name in ("scenario", "controller", "seed"):
            continue
        row[name] = value
    return row


# --------------------------------------------------------------------------- running
@dataclass
class SweepReport:
    """What a sweep (or a resumed one) did, and where its tables are."""

    out: Path
    cells: int
    already_done: int
    ran: int
    failures: list[dict[str, Any]]
    executor: str
    files: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)  # every finished cell, in order
    params: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": os.fspath(self.out),
            "cells": self.cells,
            "already_done": self.already_done,
            "ran": self.ran,
            "failed": len(self.failures),
            "executor": self.executor,
            "files": self.files,
            **({"failures": self.failures} if self.failures else {}),
        }


def _check_manifest(out: Path, manifest: dict[str, Any]) -> None:
    path = out / "sweep.json"
    if not path.exists():
        if out.exists() and any(out.iterdir()):
            raise AignError(f"{out} is not empty and holds no sweep; choose a new --out")
        write_json_atomic(path, manifest)
        return
    stored = read_json(path, AignError, what="sweep manifest")
    if not isinstance(stored, dict) or stored.get("format") != SWEEP_FORMAT:
        raise AignError(f"{path}: format {stored.get('format')!r}, expected {SWEEP_FORMAT!r}")
    differ = [k for k in manifest if stored.get(k) != manifest[k]]
    if differ:
        raise AignError(
            f"{out} holds a different sweep (its {', '.join(differ)} differ); rerun the same "
            "command to resume it, or choose a new --out"
        )


def _stored_row(path: Path, key: str) -> dict[str, Any] | None:
    """A finished cell's row, or None if the file is missing or unreadable (then rerun)."""
    try:
        row = read_json(path, AignError, what="sweep row")
    except AignError:
        return None
    return row if isinstance(row, dict) and row.get("cell") == key else None


def run_sweep(
    spec: SweepSpec,
    out: str | os.PathLike,
    executor: str | Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
    fmt: str = "csv",
) -> SweepReport:
    """Run the cells not yet in ``out`` on ``executor``; write the tables from every cell."""
    if fmt not in FORMATS:
        raise AignError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt != "csv":
        _require_pyarrow()
    cells = spec.cells()
    out = Path(out)
    runner = make_executor(executor)  # a bad name is refused before the folder is touched
    try:
        _check_manifest(out, spec.manifest())
    except BaseException:
        if runner is not executor:
            runner.close()
        raise
    cell_dir = out / "cells"
    rows: dict[str, dict[str, Any]] = {}
    for cell in cells:
        row = _stored_row(cell_dir / f"{cell.key}.json", cell.key)
        if row is not None:
            rows[cell.key] = row
    todo = [c for c in cells if c.key not in rows]
    already = len(rows)
    failures: list[dict[str, Any]] = []
    try:
        for done, (index, result) in enumerate(runner.run(run_cell, todo), start=1):
            cell = todo[index]
            if isinstance(result, TaskFailure):
                failures.append(
                    {"cell": cell.key, "params": dict(cell.params), "controller": cell.controller,
                     "seed": cell.seed, "error": result.error, "attempts": result.attempts}
                )  # fmt: skip
            else:
                write_json_atomic(cell_dir / f"{cell.key}.json", finite(result))
                rows[cell.key] = result
            if progress is not None:
                progress(done, len(todo))
    finally:
        if runner is not executor:
            runner.close()
    if failures:
        write_json_atomic(out / "failures.json", failures)
    else:
        (out / "failures.json").unlink(missing_ok=True)
    ordered = [rows[c.key] for c in cells if c.key in rows]
    files = write_tables(out, ordered, [n for n, _ in spec.params], fmt)
    return SweepReport(out, len(cells), already, len(todo) - len(failures), failures,
                       runner.name, files, ordered, [n for n, _ in spec.params])  # fmt: skip


# --------------------------------------------------------------------------- tables
def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return list(names)


def summarize(
    rows: Sequence[Mapping[str, Any]], params: Sequence[str], kpis: Iterable[str] = SUMMARY_KPIS
) -> list[dict[str, Any]]:
    """Per combination (parameters + controller) and KPI: runs, mean, std, 95% interval."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        key = tuple(row.get(p) for p in params) + (row.get("controller"),)
        groups.setdefault(key, []).append(row)
    out = []
    for key, members in groups.items():
        for kpi in kpis:
            values = [r[kpi] for r in members if isinstance(r.get(kpi), int | float)]
            stats = mean_ci(values)
            out.append(
                {**dict(zip(params, key[:-1], strict=True)), "controller": key[-1], "kpi": kpi,
                 "runs": stats["n"], "mean": stats["mean"], "std": stats["std"],
                 "ci95_low": stats["ci95"][0], "ci95_high": stats["ci95"][1]}
            )  # fmt: skip
    return out


def _write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=_columns(rows), restval="")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    os.replace(tmp, path)


def _require_pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise AignError('Parquet output needs pyarrow: pip install "aign[parquet]"') from None
    return pyarrow


def _write_parquet(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    pa = _require_pyarrow()
    columns = _columns(rows)
    table = pa.table({c: [r.get(c) for r in rows] for c in columns})
    tmp = path.with_name(f".{path.name}.tmp")
    pa.parquet.write_table(table, tmp)
    os.replace(tmp, path)


def write_tables(
    out: Path, rows: Sequence[Mapping[str, Any]], params: Sequence[str], fmt: str = "csv"
) -> dict[str, str]:
    """results (one row per cell) and summary (per combination and KPI) as CSV/Parquet."""
    files = {}
    summary = summarize(rows, params)
    if fmt in ("csv", "both"):
        _write_csv(out / "results.csv", rows)
        _write_csv(out / "summary.csv", summary)
        files.update(results_csv="results.csv", summary_csv="summary.csv")
    if fmt in ("parquet", "both"):
        _write_parquet(out / "results.parquet", rows)
        _write_parquet(out / "summary.parquet", summary)
        files.update(results_parquet="results.parquet", summary_parquet="summary.parquet")
    return files
