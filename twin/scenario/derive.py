"""What the other layers derive from a scenario: its identity, factory powers, unsynced twin."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from twin.core.records import canonical_json
from twin.scenario.schema import Scenario


def scenario_digest(scenario: Scenario) -> str:
    """Hash of what the network is: every field but ``description`` and ``gates``.

    Gates are compared on their own (a validation is current only under the gates it was
    judged by), so that tightening a gate does not rename every design. An unset
    ``sync.physical_channel`` is left out, so scenarios from before it keep their digests.
    """
    exclude: dict[str, Any] = {"description": True, "gates": True}
    if scenario.sync.physical_channel is None:
        exclude["sync"] = {"physical_channel"}
    content = scenario.model_dump(mode="json", exclude=exclude)
    return hashlib.sha256(canonical_json(content)).hexdigest()[:16]


def initial_powers(scenario: Scenario) -> np.ndarray:
    """The configuration a network runs before any design: ``power.initial_mw`` for all."""
    return np.full(scenario.users.n, scenario.power.initial_mw)


def unsynced(scenario: Scenario) -> Scenario:
    """The scenario with the twin simulating the network itself (no physical layer)."""
    return scenario.model_copy(update={"sync": scenario.sync.model_copy(update={"enabled": False})})
