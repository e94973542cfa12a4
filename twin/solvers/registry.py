"""Solvers by name: parameters checked (also given as text), one call, a :class:`Design`.

:data:`SOLVERS` names them all; :func:`solve` runs one by name and wraps the result in a
:class:`Design`; :func:`best_reference` is the best design the twin can compute, to
measure gaps against.
"""

from __future__ import annotations

import inspect
import math
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from twin.core.errors import AignError, TooLargeError
from twin.radio.instance import Design, ProblemInstance
from twin.solvers.baselines import (
    fixed_power,
    fractional_power_control,
    level_index,
    max_power,
    random_power,
)
from twin.solvers.coordinate import FULL_SCORING_MAX_CELLS, coordinate_ascent
from twin.solvers.exact import DEFAULT_MAX_EVALUATIONS, check_exhaustive_size, exhaustive
from twin.solvers.ranking import best_index
from twin.solvers.response import best_response_dynamics, priced_response_dynamics
from twin.solvers.wmmse import wmmse

# The parameter a method accepts without ``key=``: "fixed:10" means level_mw=10.
POSITIONAL_PARAM = {"fixed": "level_mw"}


Solver = Callable[..., np.ndarray]

SOLVERS: dict[str, Solver] = {
    "exhaustive": exhaustive,
    "coordinate": coordinate_ascent,
    "wmmse": wmmse,
    "response": best_response_dynamics,
    "priced-response": priced_response_dynamics,
    "fpc": fractional_power_control,
    "max": max_power,
    "fixed": fixed_power,
    "random": random_power,
}

# What each parameter may be, by name (names mean the same thing in every solver).
PARAM_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "max_evaluations": (lambda x: x >= 1, "an integer >= 1"),
    "starts": (lambda x: x >= 1, "an integer >= 1"),
    "seed": (lambda x: x >= 0, "an integer >= 0"),
    "max_sweeps": (lambda x: x >= 1, "an integer >= 1"),
    "time_budget_s": (lambda x: x >= 0, "a number of seconds >= 0"),
    "iters": (lambda x: x >= 1, "an integer >= 1"),
    "tol": (lambda x: x > 0, "a number > 0"),
    "p0_dbm": (lambda x: True, "a number, in dBm"),
    "alpha": (lambda x: 0 <= x <= 1, "a number in [0, 1]"),
    "level_mw": (lambda x: x >= 0, "a power in mW that is one of the instance's levels"),
    "init": (lambda x: True, "a power vector in mW, one per user"),
    "steps": (lambda x: 1 <= x <= 1000, "an integer in [1, 1000]"),
    "move_prob": (lambda x: 0 < x <= 1, "a probability in (0, 1]"),
}


def solver_params(method: str) -> dict[str, inspect.Parameter]:
    """The parameters a solver takes besides the instance, with their resolved types.

    Keyword-only parameters are hooks for code and tests (an injected clock), not settings:
    they are left out here, so specs and :func:`solve` cannot set them."""
    fn = _solver(method)
    hints = typing.get_type_hints(fn)
    params = [
        p for p in list(inspect.signature(fn).parameters.values())[1:]
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.KEYWORD_ONLY)
    ]  # fmt: skip
    return {p.name: p.replace(annotation=hints.get(p.name, Any)) for p in params}


def describe_params(method: str, only: Iterable[str] | None = None) -> str:
    """``name (what is allowed)`` for each parameter of ``method`` (or those in ``only``)."""
    names = [n for n in solver_params(method) if only is None or n in only]
    if not names:
        return "none"
    return "; ".join(f"{name} ({PARAM_RULES[name][1]})" for name in names)


def validate_params(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalize solver parameters; text values (from specs) are converted.

    Raises :class:`AignError` naming the parameter and what is allowed.
    """
    allowed = solver_params(method)
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name not in allowed:
            raise AignError(
                f"{method}: unknown parameter {name!r}; allowed: {describe_params(method)}"
            )
        kind = _number_kind(allowed[name].annotation)
        if kind is not None and not (value is None and allowed[name].default is None):
            value = _number(method, name, value, kind)
        ok, what = PARAM_RULES[name]
        if value is not None and not ok(value):
            raise AignError(f"{method}: {name} must be {what}, got {value!r}")
        out[name] = value
    missing = [
        n for n, p in allowed.items() if p.default is inspect.Parameter.empty and n not in out
    ]
    if missing:
        raise AignError(f"{method}: missing parameter {missing[0]} ({PARAM_RULES[missing[0]][1]})")
    return out


def _number_kind(annotation: Any) -> type | None:
    """``int`` or ``float`` for a numeric parameter (``float | None`` too), else None."""
    if annotation in (int, float):
        return annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if len(args) == 1 and args[0] in (int, float) else None


def _number(method: str, name: str, value: Any, kind: type) -> int | float:
    what = PARAM_RULES[name][1]
    try:
        if isinstance(value, bool):
            raise ValueError
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            number: int | float = int(value) if not isinstance(value, str) else int(value, 10)
        else:
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
    except (TypeError, ValueError):
        raise AignError(f"{method}: {name} must be {what}, got {value!r}") from None
    return number


def check_solvable(instance: ProblemInstance, method: str, params: Mapping[str, Any]) -> None:
    """Refuse early, before any work, what a solver would refuse on this instance."""
    if method == "exhaustive":
        check_exhaustive_size(instance, params.get("max_evaluations", DEFAULT_MAX_EVALUATIONS))
    elif method == "fixed":
        level_index(instance, params["level_mw"])


def parse_params(method: str, args: str) -> dict[str, Any]:
    """``"starts=8,seed=2"`` -> ``{"starts": "8", "seed": "2"}`` (values checked later)."""
    settable = [name for name, p in solver_params(method).items() if _number_kind(p.annotation)]
    params: dict[str, Any] = {}
    items = [item.strip() for item in args.split(",")] if args.strip() else []
    for position, item in enumerate(items):
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq:
            if position == 0 and method in POSITIONAL_PARAM:
                key, value = POSITIONAL_PARAM[method], item
            else:
                raise AignError(
                    f"{method!r}: {item!r} is not key=value; "
                    f"parameters: {describe_params(method, settable)}"
                )
        if key not in settable:
            raise AignError(
                f"{method!r}: unknown parameter {key!r}; "
                f"parameters: {describe_params(method, settable)}"
            )
        if key in params:
            raise AignError(f"{method!r}: parameter {key!r} given twice")
        params[key] = value
    return params


def solve_spec(instance: ProblemInstance, spec: str) -> Design:
    """Solve with a method given as text, e.g. ``"coordinate:starts=8"`` or ``"fixed:10"``."""
    method, _, args = spec.strip().partition(":")
    method = method.strip()
    _solver(method)  # unknown method: say which exist before parsing parameters
    return solve(instance, method, **parse_params(method, args))


def solve(instance: ProblemInstance, method: str, **params: Any) -> Design:
    """Run solver ``method`` on ``instance`` and return its design with predicted KPIs."""
    params = validate_params(method, params)
    power = SOLVERS[method](instance, **params)
    recorded = {k: np.asarray(v).tolist() if k == "init" else v for k, v in params.items()}
    return Design.for_instance(instance, power, source=method, params=recorded)


def _solver(method: str) -> Solver:
    try:
        return SOLVERS[method]
    except KeyError:
        raise AignError(f"unknown method {method!r}; choose one of {', '.join(SOLVERS)}") from None


# --------------------------------------------------------------------------- reference
# What multi-start coordinate ascent costs, in (level, user) cells scored: a sweep moves each
# of the U users once; a move scores L levels over all U users when L x U is small
# (coordinate.FULL_SCORING_MAX_CELLS), else the few levels the bound leaves (about
# BOUNDED_LEVELS_SCORED), plus a fixed per-move cost of about MOVE_OVERHEAD_CELLS cells
# (numpy call overhead). Measured (benchmarks/RESULTS.md, "Classical solvers"): 8 starts to
# convergence take about 0.35 s at 80 users x 9 BSs x 41 levels, 3.6 s at 200 x 20 x 201
# and 39 s at 1000 x 20 x 201 on this 2-core machine, so references and the app skip it
# beyond COORDINATE_MAX_WORK (work 2.8e7 at 200 x 20, 1.9e8 at 1000 x 20).
BOUNDED_LEVELS_SCORED = 8
MOVE_OVERHEAD_CELLS = 16_000
COORDINATE_MAX_WORK = 5e7
REFERENCE_STARTS = 8


def coordinate_work(instance: ProblemInstance, starts: int = REFERENCE_STARTS) -> float:
    """Cells multi-start coordinate ascent scores per sweep (see :data:`COORDINATE_MAX_WORK`)."""
    n_users, n_levels = instance.n_users, len(instance.levels_mw)
    full = bool(instance.constraints.active()) or n_levels * n_users <= FULL_SCORING_MAX_CELLS
    scored = n_levels if full else min(n_levels, BOUNDED_LEVELS_SCORED)
    return float(starts) * n_users * (n_users * scored + MOVE_OVERHEAD_CELLS)


def coordinate_affordable(instance: ProblemInstance, starts: int = REFERENCE_STARTS) -> bool:
    """Whether multi-start coordinate ascent fits :data:`COORDINATE_MAX_WORK` (one sweep)."""
    return coordinate_work(instance, starts) <= COORDINATE_MAX_WORK


def best_reference(instance: ProblemInstance, max_evaluations: int = 200_000) -> Design:
    """The best design the twin can compute for ``instance``, to measure gaps against.

    The exact optimum when enumeration needs at most ``max_evaluations`` evaluations;
    otherwise the better (least violation, then highest utility) of multi-start coordinate
    ascent and WMMSE, or WMMSE alone where coordinate ascent is beyond
    :data:`COORDINATE_MAX_WORK` (large networks).
    """
    try:
        check_exhaustive_size(instance, max_evaluations)
    except TooLargeError:
        candidates = [solve(instance, "wmmse")]
        if coordinate_affordable(instance, REFERENCE_STARTS):
            candidates.insert(0, solve(instance, "coordinate", starts=REFERENCE_STARTS))
        utility, violation = instance.objective(np.stack([d.power_mw for d in candidates]))
        return candidates[best_index(utility, violation)]
    return solve(instance, "exhaustive", max_evaluations=max_evaluations)
