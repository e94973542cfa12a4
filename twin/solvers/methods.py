"""Exact references, solvers and baselines: pure functions ``ProblemInstance -> power_mw``.

Every solver returns one allowed level per user. Candidates are ranked lexicographically:
least total constraint violation first, then highest utility, both from
:meth:`ProblemInstance.objective` (the one place that computes them), so a feasible design
always beats an infeasible one whatever their utilities.

- :func:`exhaustive`: the exact optimum over all ``L**U`` level combinations (small instances).
- :func:`coordinate_ascent`: multi-start discrete coordinate ascent (any size; local optimum).
- :func:`wmmse`: price-aware weighted-MMSE on continuous powers, snapped to levels.
- :func:`fractional_power_control`: 3GPP open-loop fractional power control.
- :func:`max_power`, :func:`fixed_power`, :func:`random_power`: the trivial baselines.

:data:`SOLVERS` names them all; :func:`solve` runs one by name and wraps the result in a
:class:`Design`. :func:`validate_params` checks parameters (also given as text, as in
controller specs) and says what is allowed.
"""

from __future__ import annotations

import inspect
import math
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from twin.core.errors import AignError, TooLargeError
from twin.radio.instance import LEVEL_ATOL_MW, Design, ProblemInstance
from twin.radio.uplink import interference_mw, rate_bps, serving_gain

# Rows scored per batched call in exhaustive search: large enough to amortize numpy call
# overhead, small enough that the (rows, U) temporaries stay in the tens of MB.
EXHAUSTIVE_CHUNK_ROWS = 200_000
DEFAULT_MAX_EVALUATIONS = 2_000_000
# The parameter a method accepts without ``key=``: "fixed:10" means level_mw=10.
POSITIONAL_PARAM = {"fixed": "level_mw"}
# A move in coordinate ascent must improve utility by more than this (relative) amount, so
# that round-off can never make two equally good levels swap back and forth.
IMPROVEMENT_RTOL = 1e-12


# --------------------------------------------------------------------------- ranking
def best_index(utility: np.ndarray, violation: np.ndarray) -> int:
    """Index of the best candidate: least violation, then highest utility; ties go first."""
    least = violation == np.min(violation)
    return int(np.argmax(np.where(least, utility, -np.inf)))


def is_better(u_new: float, v_new: float, u_old: float, v_old: float) -> bool:
    """Whether ``(u_new, v_new)`` strictly beats ``(u_old, v_old)`` in the lexicographic order."""
    if v_new != v_old:
        return v_new < v_old
    return u_new > u_old + IMPROVEMENT_RTOL * max(1.0, abs(u_old))


# --------------------------------------------------------------------------- exact
def _approx(n: int) -> str:
    """A huge count in short scientific form (``float(n)`` overflows beyond ~1e308)."""
    if n < 10**300:
        return f"{float(n):.3g}"
    exponent = len(str(n)) - 1
    return f"{int(str(n)[:3]) / 100:.3g}e+{exponent}"


def check_exhaustive_size(instance: ProblemInstance, max_evaluations: int) -> int:
    """Number of combinations exhaustive search would score; refuse if above the limit."""
    n_levels, n_users = len(instance.levels_mw), instance.n_users
    combos = n_levels**n_users  # Python int: no overflow
    if combos > max_evaluations:
        raise TooLargeError(
            f"exhaustive search over {n_levels} levels for {n_users} users needs "
            f"{n_levels}^{n_users} = {_approx(combos)} evaluations, above the limit of "
            f"{max_evaluations:,}; use coordinate or wmmse (or raise max_evaluations)"
        )
    return combos


def exhaustive(
    instance: ProblemInstance, max_evaluations: int = DEFAULT_MAX_EVALUATIONS
) -> np.ndarray:
    """The exact optimum: score every level combination, in batched chunks.

    Combinations are enumerated in lexicographic order of level indices (user 0 slowest), and
    ties keep the first, so the result is deterministic.
    """
    combos = check_exhaustive_size(instance, max_evaluations)
    levels = instance.levels_mw
    shape = (len(levels),) * instance.n_users
    best_power, best_u, best_v = None, -np.inf, np.inf
    for start in range(0, combos, EXHAUSTIVE_CHUNK_ROWS):
        flat = np.arange(start, min(start + EXHAUSTIVE_CHUNK_ROWS, combos))
        power = levels[np.stack(np.unravel_index(flat, shape), axis=-1)]
        u, v = instance.objective(power)
        k = best_index(u, v)
        if best_power is None or (v[k], -u[k]) < (best_v, -best_u):
            best_power, best_u, best_v = power[k], float(u[k]), float(v[k])
    assert best_power is not None  # combos >= 1
    return best_power.copy()


# --------------------------------------------------------------------------- local search
def _ascend(instance: ProblemInstance, idx: np.ndarray, max_sweeps: int) -> np.ndarray:
    """Discrete coordinate ascent from level indices ``idx`` until a sweep changes nothing.

    Invariant: every row of ``candidates`` equals the current powers except column ``i``,
    which holds all levels, so one batched objective call scores every level of user ``i``.
    """
    levels = instance.levels_mw
    idx = idx.copy()
    candidates = np.tile(levels[idx], (len(levels), 1))
    for _ in range(max_sweeps):
        changed = False
        for i in range(instance.n_users):
            candidates[:, i] = levels
            u, v = instance.objective(candidates)
            best, now = best_index(u, v), int(idx[i])
            if best != now and is_better(u[best], v[best], u[now], v[now]):
                idx[i] = best
                changed = True
            candidates[:, i] = levels[idx[i]]
        if not changed:
            break
    return idx


def coordinate_ascent(
    instance: ProblemInstance,
    starts: int = 4,
    seed: int = 0,
    init: np.ndarray | None = None,
    max_sweeps: int = 100,
) -> np.ndarray:
    """Multi-start discrete coordinate ascent: each user in turn moves to its best level.

    Starts, in order: ``init`` (snapped to the nearest levels: it is only a starting point) or
    the lowest level, the highest level, then random level vectors from ``seed``. Each start
    climbs until a full sweep changes nothing (or ``max_sweeps``); the best end point wins,
    ties to the earlier start. Every end point is a local optimum: no single user can improve.
    """
    levels = instance.levels_mw
    n_levels, n_users = len(levels), instance.n_users
    if init is None:
        first = np.zeros(n_users, dtype=np.intp)
    else:
        init = np.asarray(init, dtype=float)
        if init.shape != (n_users,) or not np.all(np.isfinite(init)):
            raise AignError(
                f"coordinate ascent: init must be {n_users} finite powers in mW (one per "
                f"user), got shape {init.shape}"
            )
        first = np.searchsorted(levels, instance.snap_to_levels(init) - LEVEL_ATOL_MW)
    rng = np.random.default_rng(seed)
    start_idx = [first, np.full(n_users, n_levels - 1, dtype=np.intp)]
    start_idx += list(rng.integers(0, n_levels, size=(max(starts - 2, 0), n_users)))
    ends = np.stack([_ascend(instance, s, max_sweeps) for s in start_idx[:starts]])
    u, v = instance.objective(levels[ends])
    return levels[ends[best_index(u, v)]]


# --------------------------------------------------------------------------- WMMSE
def wmmse(instance: ProblemInstance, iters: int = 200, tol: float = 1e-6) -> np.ndarray:
    r"""Price-aware WMMSE on continuous powers, then snapped to levels (keeping users on).

    Problem: maximize ``sum_i ln(1 + R_i) - price * sum_i p_i`` with
    ``R_i = c ln(1 + SINR_i)``, ``c = bandwidth / ln 2``, ``p_i`` in ``[p_min, p_max]``.

    Weighted-MSE form (Shi et al., IEEE TSP 2011, for scalar uplink channels). Write
    ``v_i = sqrt(p_i)``, ``G[k, i] = g[k, b(i)]``, ``M[k, i]`` = 1 if ``k == i`` or ``k``
    interferes at ``i``'s BS (``shared``: every ``k``; ``orthogonal_in_cell``: ``k`` served
    by another BS). With a scalar receiver ``u_i`` the MSE of user ``i`` is::

        e_i = u_i^2 D_i - 2 u_i sqrt(G_ii) v_i + 1,   D_i = sum_k M_ki G_ki v_k^2 + noise

    minimized by the MMSE receiver ``u_i = sqrt(G_ii) v_i / D_i``, giving
    ``e_i = 1 / (1 + SINR_i)``, i.e. ``R_i = -c ln e_i``. The utility per user is then
    ``f(e_i) = ln(1 - c ln e_i)``, and ``-f`` has derivative ``alpha_i / e_i`` with::

        alpha_i = c / (1 + R_i)          (d ln(1+R) / d ln(1+SINR))
        w_i     = 1 / e_i = 1 + SINR_i   (MSE weight)

    Linearizing ``-f`` at the current point gives the weighted-MSE problem
    ``min sum_i alpha_i w_i e_i + price sum_i v_i^2``, which is separable and convex in each
    ``v_j`` for fixed ``u``, ``w``, ``alpha``; setting its derivative to zero and projecting::

        v_j = alpha_j w_j u_j sqrt(G_jj) / (sum_i M_ji alpha_i w_i u_i^2 G_ji + price)
        v_j <- clip(v_j, sqrt(p_min), sqrt(p_max))

    The iteration ``(alpha, u, w) -> v`` repeats from full power until ``v`` moves by less
    than ``tol * sqrt(p_max)``. Its fixed points are KKT points of the continuous problem.
    The weighted-MSE step is a true minorize-maximize step where ``-f`` is concave in ``e``,
    which holds for ``SINR_i`` above about ``e - 1`` (at any realistic bandwidth); below that
    it is the usual fixed-point heuristic. Hard constraints are not imposed: the design's
    predicted KPIs say whether it is feasible. Deterministic.
    """
    levels = instance.levels_mw
    gains, assoc = instance.gains, instance.assoc
    c = instance.bandwidth_hz / math.log(2.0)
    onehot = np.zeros_like(gains)  # onehot[i, b] = 1 if b serves i: keeps every step O(U B)
    onehot[np.arange(instance.n_users), assoc] = 1.0
    g_serv = serving_gain(gains, assoc)
    sqrt_gii = np.sqrt(g_serv)
    v_min, v_max = math.sqrt(levels[0]), math.sqrt(levels[-1])
    v = np.full(instance.n_users, v_max)
    for _ in range(iters):
        power = v**2
        interference = interference_mw(gains, assoc, power, instance.reuse)
        s = power * g_serv / (instance.noise_mw + interference)
        alpha = c / (1.0 + rate_bps(s, instance.bandwidth_hz))
        u = sqrt_gii * v / (power * g_serv + interference + instance.noise_mw)  # D_i
        aw = alpha * (1.0 + s)  # alpha_i * w_i
        numerator = aw * u * sqrt_gii
        # sum_i M_ji aw_i u_i^2 g[j, b(i)], grouped by the BS b(i): (U, B) @ (B,)
        weight = aw * u**2
        per_bs = weight @ onehot  # sum of aw u^2 over the users each BS serves
        denominator = gains @ per_bs
        if instance.reuse == "orthogonal_in_cell":
            # drop j's own cell, then add back j itself (M_jj = 1)
            denominator = denominator - g_serv * per_bs[assoc] + weight * g_serv
        denominator = denominator + instance.price
        # A user at zero power with price 0 gives 0/0: it stays at the lowest power.
        with np.errstate(invalid="ignore", divide="ignore"):
            v_new = np.where(denominator > 0, numerator / denominator, v_min)
        v_new = np.clip(v_new, v_min, v_max)
        step = float(np.max(np.abs(v_new - v)))
        v = v_new
        if step <= tol * max(v_max, 1e-300):
            break
    return _snap_keeping_on(instance, v**2)


def _snap_keeping_on(instance: ProblemInstance, power_mw: np.ndarray) -> np.ndarray:
    """Nearest level, except that a user WMMSE keeps on is never switched off.

    Snapping a small positive power to 0 removes that user's whole ``ln(1 + R)`` term (about
    10 per user at 1 MHz), which made nearest-level WMMSE worse than max power on large
    shared-band instances; the lowest positive level keeps the user on.
    """
    snapped = instance.snap_to_levels(power_mw)
    positive = instance.levels_mw[instance.levels_mw > 0]
    if positive.size:
        snapped = np.where((power_mw > 0) & (snapped == 0), positive[0], snapped)
    return snapped


# --------------------------------------------------------------------------- baselines
def fractional_power_control(
    instance: ProblemInstance, p0_dbm: float = -90.0, alpha: float = 0.8
) -> np.ndarray:
    """3GPP open-loop fractional power control (TS 38.213 PUSCH, one resource block).

    ``P_i = min(P_max, P0 + alpha * PL_i)`` dBm with ``PL_i = -10 log10 g[i, b(i)]`` dB:
    ``alpha = 1`` fully compensates path loss, ``alpha < 1`` lets cell-edge users receive
    less, trading their rate for less interference. Snapped to the nearest levels.
    """
    path_loss_db = -10.0 * np.log10(serving_gain(instance.gains, instance.assoc))
    power_mw = 10.0 ** ((p0_dbm + alpha * path_loss_db) / 10.0)
    return instance.snap_to_levels(np.minimum(power_mw, instance.max_power_mw))


def max_power(instance: ProblemInstance) -> np.ndarray:
    """Everyone at the highest level: the interference-blind baseline."""
    return np.full(instance.n_users, instance.max_power_mw)


def level_index(instance: ProblemInstance, level_mw: float) -> int:
    """Index of ``level_mw`` among the instance's levels; refuse a power that is not one."""
    k = int(np.argmin(np.abs(instance.levels_mw - level_mw)))
    if abs(instance.levels_mw[k] - level_mw) > LEVEL_ATOL_MW:
        levels = ", ".join(f"{x:g}" for x in instance.levels_mw[:8])
        more = ", ..." if len(instance.levels_mw) > 8 else ""
        raise AignError(
            f"fixed power {level_mw:g} mW is not an allowed level; levels are {levels}{more} "
            f"(up to {instance.max_power_mw:g} mW)"
        )
    return k


def fixed_power(instance: ProblemInstance, level_mw: float) -> np.ndarray:
    """Everyone at one given level (which must be an allowed level)."""
    return np.full(instance.n_users, instance.levels_mw[level_index(instance, level_mw)])


def random_power(instance: ProblemInstance, seed: int = 0) -> np.ndarray:
    """Independent uniformly random levels, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    return instance.levels_mw[rng.integers(0, len(instance.levels_mw), instance.n_users)]


# --------------------------------------------------------------------------- registry
Solver = Callable[..., np.ndarray]

SOLVERS: dict[str, Solver] = {
    "exhaustive": exhaustive,
    "coordinate": coordinate_ascent,
    "wmmse": wmmse,
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
    "iters": (lambda x: x >= 1, "an integer >= 1"),
    "tol": (lambda x: x > 0, "a number > 0"),
    "p0_dbm": (lambda x: True, "a number, in dBm"),
    "alpha": (lambda x: 0 <= x <= 1, "a number in [0, 1]"),
    "level_mw": (lambda x: x >= 0, "a power in mW that is one of the instance's levels"),
    "init": (lambda x: True, "a power vector in mW, one per user"),
}


def solver_params(method: str) -> dict[str, inspect.Parameter]:
    """The parameters a solver takes besides the instance, with their resolved types."""
    fn = _solver(method)
    hints = typing.get_type_hints(fn)
    params = [
        p for p in list(inspect.signature(fn).parameters.values())[1:]
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
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
        kind = allowed[name].annotation
        if kind in (int, float):
            value = _number(method, name, value, kind)
        ok, what = PARAM_RULES[name]
        if not ok(value):
            raise AignError(f"{method}: {name} must be {what}, got {value!r}")
        out[name] = value
    missing = [
        n for n, p in allowed.items() if p.default is inspect.Parameter.empty and n not in out
    ]
    if missing:
        raise AignError(f"{method}: missing parameter {missing[0]} ({PARAM_RULES[missing[0]][1]})")
    return out


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
    settable = [name for name, p in solver_params(method).items() if p.annotation in (int, float)]
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
# Coordinate ascent re-evaluates the whole objective for each user and level: about
# users^2 x BSs x levels operations per sweep and start. 1000 users x 20 BSs took minutes
# (217 s for 4 starts, measured), so references and the app skip it beyond this budget.
COORDINATE_MAX_WORK = 2e8
REFERENCE_STARTS = 8


def coordinate_affordable(instance: ProblemInstance, starts: int = REFERENCE_STARTS) -> bool:
    """Whether multi-start coordinate ascent fits :data:`COORDINATE_MAX_WORK` (one sweep)."""
    work = instance.n_users**2 * instance.n_bs * len(instance.levels_mw) * starts
    return work <= COORDINATE_MAX_WORK


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
