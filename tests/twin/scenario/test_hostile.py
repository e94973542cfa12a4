"""Hostile scenarios: strict types, YAML tags, bounded lists, linear error reporting, and
scenarios that `check` used to accept but that crashed or hung the twin."""

from __future__ import annotations

import time

import pytest
import yaml

from twin.core.errors import ScenarioError, TooLargeError
from twin.scenario.loader import MAX_PROBLEMS, SCENARIO_DIR, parse_scenario
from twin.sim import Budget, check_budget, estimate_cost, simulate

DEFAULT = (SCENARIO_DIR / "default.yaml").read_text()


def with_(**changes) -> str:
    """The default scenario with top-level sections replaced (YAML text)."""
    data = yaml.safe_load(DEFAULT)
    for key, value in changes.items():
        node = data
        *parents, leaf = key.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return yaml.safe_dump(data)


def problems(text: str) -> str:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, "s.yaml")
    return str(err.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("seed: !!int 3.5", "'3.5' is not a valid int"),
        ("seed: !!float abc", "'abc' is not a valid float"),
        ("seed: !!bool maybe", "'maybe' is not a valid bool"),
        ("seed: !!binary aGVsbG8=", "the YAML tag !!binary is not supported"),
        ("seed: !!set {a: null}", "the YAML tag !!set is not supported"),
        ("seed: !!omap [a: 1]", "the YAML tag !!omap is not supported"),
        ("seed: 2020-13-45", "dates are not supported"),
        ("seed: " + "1" * 5000, "an integer of more than 30 digits"),
        ("seed: !custom 3", "the YAML tag !custom is not supported"),
    ],
)
def test_yaml_tags_and_bad_tagged_values_are_clean_errors_with_their_line(line, message):
    text = DEFAULT.replace("seed: 1\n", line + "\n")
    assert f"s.yaml:{DEFAULT.splitlines().index('seed: 1') + 1}: seed: {message}" in problems(text)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("duration_s", True, "duration_s: Input should be a valid number"),
        ("duration_s", "30", "duration_s: Input should be a valid number"),
        ("seed", 3.5, "seed: Input should be a valid integer"),
        ("users__count", True, "users.count: Input should be a valid integer"),
    ],
)
def test_booleans_and_text_are_not_numbers(key, value, message):
    assert message in problems(with_(**{key: value}))


def test_listed_users_beyond_the_limit_are_refused():
    rows = "".join(f"  - [{i % 1000}, 1]\n" for i in range(100_001))
    text = with_(users={"placement": "list", "positions_m": None}).replace(
        "  positions_m: null\n", "  positions_m:\n" + rows
    )
    assert "users.positions_m: List should have at most 100000 items" in problems(text)


def test_explicit_levels_are_bounded_like_the_step_form():
    text = with_(power={"levels_mw": list(range(20_000))})
    assert "List should have at most 10001 items" in problems(text)


def test_many_unknown_keys_are_reported_in_bounded_time_and_capped():
    text = DEFAULT + "\n".join(f"unknown_{i}: 1" for i in range(40_000)) + "\n"
    start = time.monotonic()
    message = problems(text)
    assert time.monotonic() - start < 20  # was 108 s: quadratic in the number of keys
    assert message.count("unknown field") == MAX_PROBLEMS
    assert f"and {40_000 - MAX_PROBLEMS} more problems" in message


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("channel__shadowing__decorrelation_m", 1e308, "less than or equal to 100000"),
        ("users__min_bs_distance_m", 1e9, "less than or equal to 1000000"),
        ("users__min_bs_distance_m", 5000.0, "not less than the area's diagonal"),
        ("area", {"width_m": 1e-300, "height_m": 1e-300}, "greater than or equal to 1"),
        ("sync__report_period_s", 1e-9, "greater than or equal to 0.001"),
        ("step_s", 1e-9, "greater than or equal to 0.001"),
        ("channel__path_loss", {"model": "log_distance", "ref_loss_db": -1e308},
         "greater than or equal to 0"),
        ("channel__noise__noise_mw", 1e-300, "greater than or equal to"),
    ],
)  # fmt: skip
def test_scenarios_that_crashed_or_hung_the_twin_are_refused_by_check(key, value, message):
    assert message in problems(with_(**{key: value}))


@pytest.mark.parametrize(
    ("changes", "numbers"),
    [
        ({"duration_s": 1e6, "step_s": 0.1}, "10,000,000 steps"),
        ({"base_stations": {"layout": "grid", "count": 10_000}, "users__count": 100_000},
         "100,000 users x 10,000 BSs = 1,000,000,000 links"),
    ],
)  # fmt: skip
def test_runs_this_machine_cannot_hold_are_refused_before_they_start(changes, numbers):
    scenario = parse_scenario(with_(**changes))
    start = time.monotonic()
    with pytest.raises(TooLargeError, match="cannot run here") as err:
        simulate(scenario)
    assert time.monotonic() - start < 2  # refused before the networks are built
    assert numbers in str(err.value) and "Nothing was started" in str(err.value)


def test_the_budget_counts_what_the_run_holds_and_does():
    scenario = parse_scenario(with_(duration_s=10.0, step_s=0.1, users__count=20))
    cost = estimate_cost(scenario)
    assert (cost.users, cost.base_stations, cost.networks) == (20, 3, 2)
    assert cost.steps == pytest.approx(100) and cost.reports == pytest.approx(100)
    tight = Budget(memory_bytes=cost.memory_bytes * 0.99)
    with pytest.raises(TooLargeError, match=r"of memory .* above the limit"):
        check_budget(scenario, budget=tight)
    check_budget(scenario, budget=Budget(memory_bytes=cost.memory_bytes * 1.01))
    with pytest.raises(TooLargeError, match=r"simulation events .* above the limit of 10"):
        check_budget(scenario, budget=Budget(memory_bytes=1e12, events=10))


@pytest.mark.parametrize("path", sorted(SCENARIO_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_fits_the_default_budget(path):
    check_budget(parse_scenario(path.read_text()), budget=Budget(memory_bytes=4 * 2**30))


def test_plain_exponent_numbers_are_numbers_and_quoted_ones_text():
    text = DEFAULT.replace("bandwidth_hz: 1.0e+6", "bandwidth_hz: 1.0e6")
    assert parse_scenario(text).channel.bandwidth_hz == 1e6
    assert "Input should be a valid number" in problems(
        DEFAULT.replace("bandwidth_hz: 1.0e+6", 'bandwidth_hz: "1.0e6"')
    )
