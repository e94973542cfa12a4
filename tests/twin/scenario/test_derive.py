"""The scenario digest across the decorrelation default's change (issue 14)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from twin.core.records import canonical_json
from twin.scenario.derive import scenario_digest
from twin.scenario.loader import load_scenario
from twin.scenario.schema import Scenario

SCENARIOS = sorted((Path(__file__).parents[3] / "scenarios").glob("*.yaml"))


def make(channel: dict, sync: dict | None = None) -> Scenario:
    spec = {"name": "d", "base_stations": {"layout": "grid", "count": 2}, "users": {"count": 3},
            "channel": channel}  # fmt: skip
    if sync is not None:
        spec["sync"] = sync
    return Scenario.model_validate(spec)


def old_digest(scenario: Scenario) -> str:
    """The digest as it was computed when an unset decorrelation_m was stored as 50."""
    exclude: dict = {"description": True, "gates": True}
    if scenario.sync.physical_channel is None:
        exclude["sync"] = {"physical_channel"}
    data = scenario.model_dump(mode="json", exclude=exclude)
    if data["channel"]["shadowing"]["decorrelation_m"] is None:
        data["channel"]["shadowing"]["decorrelation_m"] = 50.0
    physical = (data["sync"].get("physical_channel") or {}).get("shadowing")
    if physical and physical["decorrelation_m"] is None:
        physical["decorrelation_m"] = 50.0
    return hashlib.sha256(canonical_json(data)).hexdigest()[:16]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenarios_keep_their_digests(path):
    # Each sets decorrelation_m, uses explicit gains, or a log-distance law: its meaning is
    # unchanged, so is its identity (designs, validations and deployments stay current).
    scenario = load_scenario(path)
    assert scenario_digest(scenario) == old_digest(scenario)


def test_an_unset_distance_hashes_as_50_m_where_it_still_means_50_m():
    log = {"path_loss": {"model": "log_distance"}}
    unset, fifty = make(log), make({**log, "shadowing": {"decorrelation_m": 50}})
    assert scenario_digest(unset) == scenario_digest(fifty) == old_digest(unset)
    explicit = {"mode": "explicit", "gains": [[1e-12, 1e-13]] * 3}
    assert scenario_digest(make(explicit)) == old_digest(make(explicit))


def test_an_unset_distance_under_3gpp_models_is_a_new_network():
    for model in ("uma", "umi"):
        unset = make({"path_loss": {"model": model}})
        fifty = make({"path_loss": {"model": model}, "shadowing": {"decorrelation_m": 50}})
        assert scenario_digest(unset) != scenario_digest(fifty)
        assert scenario_digest(fifty) == old_digest(fifty)
    # The physical layer reading channel.shadowing under UMa changes it too.
    truth = {"physical_channel": {"path_loss": {"model": "uma"}}}
    log = {"path_loss": {"model": "log_distance"}}
    assert scenario_digest(make(log, truth)) != old_digest(make(log, truth))
    own = {"physical_channel": {"path_loss": {"model": "log_distance"}, "shadowing": {}}}
    assert scenario_digest(make(log, own)) == old_digest(make(log, own))
