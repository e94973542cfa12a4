"""What operations report: the design in force, recoveries, how a change ended.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from twin.core.records import design_digest, finite
from twin.rollout.element import (
    ElementState,
)

FACTORY_SOURCE = "factory default (the scenario's initial powers)"


# --------------------------------------------------------------------------- in force
@dataclass(frozen=True)
class InForce:
    """What a network runs: the design's digest and powers, where it came from, since when."""

    scenario: str
    digest: str
    power_mw: tuple[float, ...]
    source: str
    operation: int | None
    applied_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "power_mw": list(self.power_mw)}

    def same_powers(self, power_mw: Any) -> bool:
        return power_mw is not None and tuple(float(p) for p in power_mw) == self.power_mw


def in_force_from(
    state: ElementState | None, scenario: str, factory: tuple[str, tuple[float, ...]] | None
) -> InForce | None:
    """What is in force: the element's state (its design named by the digest of the powers
    it really holds, not the digest it claims: an edited state names the right design), or
    the factory configuration."""
    if state is not None:
        digest = design_digest(state.scenario_digest, state.power_mw)
        return InForce(
            scenario, digest, state.power_mw, state.source, state.operation, state.applied_at
        )
    if factory is None:
        return None
    return InForce(scenario, factory[0], factory[1], FACTORY_SOURCE, None, None)


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Recovery:
    """An interrupted operation (or drift) found and recorded by :meth:`Operations.reconcile`."""

    scenario: str
    operation: int | None
    recorded: bool
    message: str
    in_force: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Outcome:
    """How a deployment or rollback ended and what the network has in force now.

    ``status``: ``kept`` (the design stays), ``rolled_back`` (the previous design was
    restored: automatically after a bad observation, or by ``aign rollback``), ``failed``
    (the network refused or did not answer; see ``message`` for what is in force), or
    ``unchanged`` (the design was already in force; nothing was done).
    """

    kind: str
    status: str
    scenario: str
    operation: int | None
    design: str | None
    message: str
    in_force: dict[str, Any]
    predicted: dict[str, Any] | None = None
    realized: dict[str, Any] | None = None
    recovered: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The network runs what the command asked for."""
        return self.status in ("kept", "unchanged") or (
            self.kind == "rollback" and self.status == "rolled_back"
        )

    def to_dict(self) -> dict[str, Any]:
        return finite(asdict(self))


def format_age(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{seconds / 86_400:.3g} days"
    if seconds >= 3_600:
        return f"{seconds / 3_600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"
