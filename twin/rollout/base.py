"""The state every operation shares: the data directory, the log, the element, the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from twin.core.errors import DeploymentError
from twin.core.records import design_digest
from twin.rollout.deploylog import DeploymentLog, LostLogError
from twin.rollout.element import (
    ElementFaults,
    ElementState,
    NetworkElement,
    element_path,
    read_element_state,
)
from twin.rollout.home import RESTORE_DOC, now_iso
from twin.rollout.observation import (
    Observer,
)
from twin.rollout.outcomes import InForce, Recovery, in_force_from
from twin.scenario.derive import initial_powers, scenario_digest
from twin.scenario.schema import Scenario


class OperationsBase:
    """What :class:`~twin.rollout.deployment.Operations` holds; each operation's mixin
    builds on it (reconcile < approval < deploy; history)."""

    home: Path
    log: DeploymentLog
    faults: ElementFaults
    clock: Callable[[], datetime]
    observer: Observer
    recovered: list[Recovery]

    # ------------------------------------------------------------------ state
    def element(self, scenario: Scenario) -> NetworkElement:
        return NetworkElement(self.home, scenario, self.faults)

    def element_state(self, name: str) -> ElementState | None:
        """The element's state for network ``name``, refused if another log configured it."""
        state = read_element_state(element_path(self.home, name))
        mine = self.log.log_id
        if state is not None and state.log_id and mine and state.log_id != mine:
            raise LostLogError(
                f"network {name!r} was configured by deployment log {state.log_id} (operation "
                f"#{state.operation}), but this data directory's log is {mine}: that "
                f"network's history is in another log. Restore that log (see {RESTORE_DOC}). "
                "Nothing was changed."
            )
        return state

    def in_force(self, scenario: Scenario) -> InForce:
        """What the network of ``scenario`` has in force (its element's memory)."""
        state = self.element_state(scenario.name)
        factory = initial_powers(scenario)
        found = in_force_from(
            state,
            scenario.name,
            (design_digest(scenario_digest(scenario), factory), tuple(factory.tolist())),
        )
        assert found is not None
        if len(found.power_mw) != scenario.users.n:
            raise DeploymentError(
                f"network {scenario.name!r} has design {found.digest} in force with "
                f"{len(found.power_mw)} powers, but the scenario now has {scenario.users.n} "
                "users (it changed after that deployment); designs are judged against the one "
                "in force, so use the scenario version it was deployed with, or give the "
                "changed network a new scenario name. Nothing was changed."
            )
        return found

    def _now(self) -> str:
        return now_iso(self.clock)
