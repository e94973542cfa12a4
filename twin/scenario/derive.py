"""What the other layers derive from a scenario: its identity, factory powers, unsynced twin."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from twin.core.records import canonical_json
from twin.scenario.schema import Scenario

# Before the spec's per-model defaults, an unset shadowing.decorrelation_m meant this.
LEGACY_DECORRELATION_M = 50.0


def scenario_digest(scenario: Scenario) -> str:
    """Hash of what the network is: every field but ``description`` and ``gates``.

    Gates are compared on their own (a validation is current only under the gates it was
    judged by), so that tightening a gate does not rename every design. An unset
    ``sync.physical_channel`` is left out, so scenarios from before it keep their digests.
    An unset ``decorrelation_m`` hashes as the 50 m it meant before TR 38.901's per-model
    defaults wherever it still means that (explicit gains, or a log-distance model), so
    those scenarios keep their digests too; under UMa / UMi it now means other distances,
    and the digest says so.
    """
    exclude: dict[str, Any] = {"description": True, "gates": True}
    if scenario.sync.physical_channel is None:
        exclude["sync"] = {"physical_channel"}
    content = scenario.model_dump(mode="json", exclude=exclude)
    _legacy_decorrelation(scenario, content)
    return hashlib.sha256(canonical_json(content)).hexdigest()[:16]


def _legacy_decorrelation(scenario: Scenario, content: dict[str, Any]) -> None:
    """Write 50 m into ``content`` for each unset ``decorrelation_m`` whose meaning did not
    change: every path-loss model that reads it is log-distance (or the gains are explicit)."""
    channel = scenario.channel
    truth = scenario.sync.physical_channel
    twin_model = channel.path_loss.model
    truth_model = truth.path_loss.model if truth and truth.path_loss else twin_model
    explicit = channel.mode == "explicit"
    if channel.shadowing.decorrelation_m is None:
        readers = {twin_model}
        if truth is None or truth.shadowing is None:
            readers.add(truth_model)  # the physical layer reads channel.shadowing too
        if explicit or readers == {"log_distance"}:
            content["channel"]["shadowing"]["decorrelation_m"] = LEGACY_DECORRELATION_M
    own = truth.shadowing if truth else None  # the physical layer's own shadowing section
    if own is not None and own.decorrelation_m is None and truth_model == "log_distance":
        physical = content["sync"]["physical_channel"]["shadowing"]
        physical["decorrelation_m"] = LEGACY_DECORRELATION_M


def initial_powers(scenario: Scenario) -> np.ndarray:
    """The configuration a network runs before any design: ``power.initial_mw`` for all."""
    return np.full(scenario.users.n, scenario.power.initial_mw)


def unsynced(scenario: Scenario) -> Scenario:
    """The scenario with the twin simulating the network itself (no physical layer)."""
    return scenario.model_copy(update={"sync": scenario.sync.model_copy(update={"enabled": False})})
