"""Scenarios: the schema (what a YAML file may say), the one loader, what derives from them."""

from twin.scenario.derive import initial_powers, scenario_digest, unsynced
from twin.scenario.loader import (
    MAX_SCENARIO_BYTES,
    SCENARIO_DIR,
    ScenarioLike,
    as_scenario,
    field_line,
    load_scenario,
    parse_scenario,
    resolve_scenario_path,
    scenario_json_schema,
    shipped_scenarios,
)
from twin.scenario.schema import (
    MAX_USERS,
    Area,
    BaseStations,
    Channel,
    Gates,
    Scenario,
    Sync,
    Users,
)

__all__ = [
    "Area",
    "BaseStations",
    "Channel",
    "Gates",
    "MAX_SCENARIO_BYTES",
    "MAX_USERS",
    "SCENARIO_DIR",
    "Scenario",
    "ScenarioLike",
    "Sync",
    "Users",
    "as_scenario",
    "field_line",
    "initial_powers",
    "load_scenario",
    "parse_scenario",
    "resolve_scenario_path",
    "scenario_digest",
    "scenario_json_schema",
    "shipped_scenarios",
    "unsynced",
]
