"""Per-episode constraint limits for data collection (``aign collect --impose``).

The diffusion planner learns what a constraint means from episodes that impose it, with a
limit that varies from episode to episode and a label saying whether the trajectory met it
(the Decision Diffuser's "conditions seen alone in training"). A fixed scenario-wide limit
would teach one value; a limit drawn without regard to the instance would mostly be slack
(never binding) or hopeless. So limits are drawn *relative to the instance's unconstrained
design* ``p*`` (multi-start coordinate ascent, the collection expert's own solver), the way
``benchmarks/composition.py`` sets its test limits:

- ``budget`` (``max_total_power_mw``): ``Y = f * sum(p*)``, ``f ~ U(budget_fraction)``
  (default 0.4-1.0): binding whenever ``f < 1``.
- ``min-rate`` (``min_rate_bps``): ``X`` starts at the ``q``-th percentile of the users'
  rates under ``p*``, ``q ~ U(rate_percentile)`` (default 5-30), and moves halfway towards
  their minimum ``r_min`` (``X <- r_min + (X - r_min) / 2``) until the expert (coordinate
  ascent on the instance with ``X`` imposed) meets it, at most ``max_halvings`` times (then
  the last ``X`` stays and the episode's label says whether it was met). A percentile of
  ``p*``'s rates is usually out of reach for every user at once (raising the weak users
  costs the others interference), hence the halving: the same rule sets the test limits.

Every draw comes from the episode's own generator, after the instance, so an episode's
instance is the same with and without ``--impose`` and its limits depend on its seed alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from twin.core import AignError
from twin.radio import ProblemInstance
from twin.solvers import coordinate_ascent

# Short names on the command line -> the constraint fields they set.
IMPOSE_NAMES = {"min-rate": "min_rate_bps", "budget": "max_total_power_mw"}
EXPERT_STARTS = 2  # coordinate-ascent starts for p* (as the collection expert uses)


def _range(text: str, what: str) -> tuple[float, float]:
    lo, sep, hi = text.partition("-")
    try:
        low, high = float(lo), float(hi if sep else lo)
    except ValueError:
        raise AignError(f"--impose {what}: expected LO-HI, e.g. 0.4-1.0, got {text!r}") from None
    if not (np.isfinite(low) and np.isfinite(high)) or low > high:
        raise AignError(f"--impose {what}: need finite LO <= HI, got {text!r}")
    return low, high


@dataclass(frozen=True)
class ConstraintDraw:
    """Which constraints to impose per episode, and the ranges their limits are drawn from."""

    min_rate: bool = False
    budget: bool = False
    budget_fraction: tuple[float, float] = (0.4, 1.0)  # Y / sum(p*)
    rate_percentile: tuple[float, float] = (5.0, 30.0)  # q of the rates under p*
    max_halvings: int = 10  # X moves halfway to r_min at most this often

    def __post_init__(self) -> None:
        lo, hi = self.budget_fraction
        if not 0.0 < lo <= hi:
            raise AignError(f"--impose budget: fractions must be > 0, got {lo:g}-{hi:g}")
        if self.max_halvings < 0:
            raise AignError(f"max_halvings must be >= 0, got {self.max_halvings}")
        lo, hi = self.rate_percentile
        if not 0.0 <= lo <= hi <= 100.0:
            raise AignError(f"--impose min-rate: percentiles must lie in 0-100, got {lo:g}-{hi:g}")

    @property
    def names(self) -> tuple[str, ...]:
        """The constraint fields this draw sets."""
        return tuple(f for k, f in IMPOSE_NAMES.items() if getattr(self, k.replace("-", "_")))

    def spec(self) -> str:
        """Canonical text (part of a collection's identity, so a rerun resumes it)."""
        parts = []
        if self.min_rate:
            lo, hi = self.rate_percentile
            parts.append(f"min-rate={lo:g}-{hi:g}")
        if self.budget:
            lo, hi = self.budget_fraction
            parts.append(f"budget={lo:g}-{hi:g}")
        return ",".join(parts)

    def apply(self, instance: ProblemInstance, rng: np.random.Generator) -> ProblemInstance:
        """``instance`` with the drawn limits (other constraints kept as they are)."""
        free = replace(instance.constraints, **dict.fromkeys(self.names))
        base = replace(instance, constraints=free)
        p_star = coordinate_ascent(base, starts=EXPERT_STARTS)
        metrics = base.evaluate(p_star)
        limits: dict[str, float] = {}
        # Always draw both numbers, in a fixed order: the generator advances the same way
        # whichever constraints are imposed.
        f = rng.uniform(*self.budget_fraction)
        q = rng.uniform(*self.rate_percentile)
        if self.budget:
            total = float(np.sum(p_star))
            # p* may switch everyone off (high price): then budget a fraction of one level.
            limits["max_total_power_mw"] = f * (total if total > 0 else instance.max_power_mw)
        if self.min_rate:
            rates = np.asarray(metrics.rate_bps, dtype=float)
            r_min = float(rates.min())
            x = float(np.percentile(rates, q))
            for _ in range(self.max_halvings):
                trial = replace(base, constraints=replace(free, **limits, min_rate_bps=x))
                if trial.evaluate(coordinate_ascent(trial, starts=EXPERT_STARTS)).feasible:
                    break
                x = r_min + (x - r_min) / 2.0
            limits["min_rate_bps"] = x
        return replace(instance, constraints=replace(free, **limits))


def parse_impose(specs: Sequence[str] | None) -> ConstraintDraw | None:
    """``--impose`` values (``min-rate[=LO-HI]``, ``budget[=LO-HI]``, repeatable or
    comma-separated) -> a :class:`ConstraintDraw` (None when nothing is imposed)."""
    items = [s.strip() for spec in specs or () for s in spec.split(",") if s.strip()]
    if not items:
        return None
    fields: dict = {}
    for item in items:
        name, eq, value = item.partition("=")
        name = name.strip()
        if name not in IMPOSE_NAMES:
            raise AignError(
                f"--impose: unknown constraint {name!r}; choose from {', '.join(IMPOSE_NAMES)} "
                f"(optionally =LO-HI: budget fraction of p*'s total power, or min-rate "
                f"percentile of p*'s rates)"
            )
        key = name.replace("-", "_")
        if key in fields:
            raise AignError(f"--impose: {name} given twice")
        fields[key] = True
        if eq:
            range_field = "budget_fraction" if key == "budget" else "rate_percentile"
            fields[range_field] = _range(value.strip(), name)
    return ConstraintDraw(**fields)
