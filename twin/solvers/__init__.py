"""Exact references, solvers and baselines: pure functions ``ProblemInstance -> power_mw``.

Every solver returns one allowed level per user; designs are ranked by least total
constraint violation, then highest utility (:mod:`twin.solvers.ranking`)."""

from twin.solvers.baselines import fixed_power, fractional_power_control, max_power, random_power
from twin.solvers.coordinate import coordinate_ascent
from twin.solvers.exact import DEFAULT_MAX_EVALUATIONS, check_exhaustive_size, exhaustive
from twin.solvers.ranking import best_index, is_better
from twin.solvers.registry import (
    SOLVERS,
    best_reference,
    coordinate_affordable,
    coordinate_work,
    describe_params,
    parse_params,
    solve,
    solve_spec,
    validate_params,
)
from twin.solvers.response import (
    best_response_dynamics,
    draw_movers,
    priced_response_dynamics,
)
from twin.solvers.wmmse import wmmse

__all__ = [
    "DEFAULT_MAX_EVALUATIONS",
    "SOLVERS",
    "best_index",
    "best_reference",
    "best_response_dynamics",
    "check_exhaustive_size",
    "coordinate_affordable",
    "coordinate_ascent",
    "coordinate_work",
    "describe_params",
    "draw_movers",
    "exhaustive",
    "fixed_power",
    "fractional_power_control",
    "is_better",
    "max_power",
    "parse_params",
    "priced_response_dynamics",
    "random_power",
    "solve",
    "solve_spec",
    "validate_params",
    "wmmse",
]
