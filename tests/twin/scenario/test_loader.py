"""The scenario loader: shipped files load; each mistake is reported as FILE:LINE: path: message."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.core.errors import Problem, ScenarioError
from twin.scenario.loader import (
    MAX_SCENARIO_BYTES,
    SCENARIO_DIR,
    load_scenario,
    parse_scenario,
    resolve_scenario_path,
    scenario_json_schema,
)
from twin.scenario.schema import Scenario

SHIPPED = sorted(SCENARIO_DIR.glob("*.yaml"))

# A small valid scenario; the tests append or replace lines and expect exact line numbers.
TINY_LINES = [
    "name: tiny",                                # 1
    "area: {width_m: 100, height_m: 100}",       # 2
    "base_stations:",                            # 3
    "  layout: list",                            # 4
    "  positions_m: [[50, 50]]",                 # 5
    "users:",                                    # 6
    "  placement: list",                         # 7
    "  positions_m:",                            # 8
    "    - [10, 10]",                            # 9
    "    - [90, 90]",                            # 10
]  # fmt: skip


def tiny(*extra: str, replace: dict[int, str] | None = None) -> str:
    """TINY with 1-based lines replaced and ``extra`` lines appended (from line 11 on)."""
    lines = list(TINY_LINES)
    for number, text in (replace or {}).items():
        lines[number - 1] = text
    return "\n".join([*lines, *extra]) + "\n"


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, source="s.yaml")
    return err.value.problems


def only_problem(text: str) -> Problem:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def test_tiny_scenario_is_valid():
    scenario = parse_scenario(tiny())
    assert (scenario.users.n, scenario.base_stations.n) == (2, 1)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_loads(path):
    assert isinstance(load_scenario(path), Scenario)


# ------------------------------------------------------------------ located field errors
def test_misspelled_field_is_located_and_the_right_name_suggested():
    problem = only_problem(tiny("  pasue_s: 2"))
    assert (problem.line, problem.path) == (11, "users.pasue_s")
    assert "did you mean 'pause_s'?" in problem.message


def test_problem_reads_file_line_path_message():
    problem = only_problem(tiny("  pasue_s: 2"))
    assert str(problem).startswith("s.yaml:11: users.pasue_s: unknown field")


@pytest.mark.parametrize("name", ["float", "list[int]", "x[:"])
def test_unknown_field_named_like_a_type_keeps_its_name(name):
    problem = only_problem(tiny(f"  '{name}': 2"))
    assert (problem.line, problem.path) == (11, f"users.{name}")
    assert problem.message.startswith("unknown field")


def test_wrong_enum_value_lists_the_allowed_values():
    problem = only_problem(tiny("channel:", "  fading: {model: raleigh}"))
    assert (problem.line, problem.path) == (12, "channel.fading.model")
    assert all(f"'{v}'" in problem.message for v in ("none", "rayleigh", "rician"))


def test_out_of_range_number_names_the_bound():
    problem = only_problem(tiny("sync:", "  enabled: true", "  drop_prob: 1.5"))
    assert (problem.line, problem.path) == (13, "sync.drop_prob")
    assert "less than 1" in problem.message


def test_non_finite_number_is_refused():
    problem = only_problem(tiny("channel:", "  shadowing: {decorrelation_m: .inf}"))
    assert (problem.line, problem.path) == (12, "channel.shadowing.decorrelation_m")
    assert "finite" in problem.message


def test_missing_required_field_is_reported_at_the_document_start():
    text = "\n".join(["# a comment", *TINY_LINES[:2], *TINY_LINES[5:]]) + "\n"
    problem = only_problem(text)
    assert (problem.line, problem.path, problem.message) == (2, "base_stations", "is required")


def test_missing_field_in_a_section_is_reported_at_the_section_key():
    problem = only_problem(tiny("  activity: {mean_active_s: 5}"))
    where = (problem.line, problem.path, problem.message)
    assert where == (11, "users.activity.mean_idle_s", "is required")


def test_user_outside_the_area_points_at_its_list_entry():
    problem = only_problem(tiny(replace={10: "    - [90, 190]"}))
    assert (problem.line, problem.path) == (10, "users.positions_m.1")
    assert "outside the area [0, 100] x [0, 100] m" in problem.message


def test_explicit_gains_with_a_row_too_many_point_at_gains():
    problem = only_problem(tiny(
        "channel:",                      # 11
        "  mode: explicit",              # 12
        "  gains:",                      # 13
        "    - [1.0e-12]",
        "    - [2.0e-12]",
        "    - [3.0e-12]",
    ))  # fmt: skip
    assert (problem.line, problem.path) == (13, "channel.gains")
    assert problem.message == "is 3 x 1 but the scenario has 2 users x 1 BSs"


def test_explicit_gains_with_ragged_rows_name_the_row():
    problem = only_problem(tiny("channel:", "  mode: explicit", "  gains: [[1.0e-12], [1, 2]]"))
    assert (problem.line, problem.path) == (11, "channel")
    assert problem.message == "gains row 1 has 2 entries, row 0 has 1"


# ------------------------------------------------------------------ YAML-level errors
def test_invalid_yaml_reports_the_line_of_the_syntax_error():
    problem = only_problem(tiny(replace={4: "  layout: list: oops"}))
    assert (problem.line, problem.path) == (4, "")
    assert problem.message.startswith("invalid YAML: ")


def test_control_character_reports_its_line():
    problem = only_problem(tiny(replace={7: "  placement: li\x07st"}))
    assert problem.line == 7
    assert "#x0007" in problem.message


def test_duplicate_key_is_an_error_at_the_second_occurrence():
    problem = only_problem(tiny("  placement: uniform"))
    assert (problem.line, problem.path, problem.message) == (11, "users.placement", "duplicate key")


@pytest.mark.parametrize("key", ["~", "3", "true", "2020-01-01"])
def test_non_text_field_name_is_an_error_at_its_line(key):
    problem = only_problem(tiny(f"{key}: 1"))
    assert (problem.line, problem.path) == (11, key)
    assert "field names must be text" in problem.message


def test_yaml_aliases_are_refused_at_the_alias():
    problem = only_problem(tiny(
        replace={2: "area: &square {width_m: 100, height_m: 100}"}
    ) + "extra: *square\n")  # fmt: skip
    assert problem.line == 11
    assert "aliases" in problem.message


def test_merge_keys_are_refused():
    problem = only_problem(tiny("<<: {seed: 3}"))
    assert (problem.line, problem.path) == (11, "<<")
    assert "field names must be text" in problem.message


def test_deep_nesting_is_refused_before_it_exhausts_the_stack():
    problem = only_problem("name: x\nseed: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert problem.line == 2
    assert "nest" in problem.message


@pytest.mark.parametrize(
    ("text", "line", "kind"),
    [("- a\n- b\n", 1, "got a list"), ("just text\n", 1, "got a str"), ("42\n", 1, "got a int"),
     ("", None, "got empty"), ("# only a comment\n", None, "got empty")],
    ids=["list", "string", "number", "empty", "comment-only"],
)  # fmt: skip
def test_document_that_is_not_a_mapping_is_refused(text, line, kind):
    problem = only_problem(text)
    assert (problem.line, problem.path) == (line, "")
    assert problem.message == f"a scenario must be a mapping of fields, {kind}"


def test_python_tags_are_not_constructed():
    problem = only_problem(tiny("description: !!python/object/apply:os.getcwd []"))
    assert problem.line == 11
    assert "!!python/object/apply:os.getcwd is not supported" in problem.message


# ------------------------------------------------------------------ files
@pytest.mark.parametrize(
    ("content", "message"),
    [(b"name: caf\xe9\n", "not a UTF-8 text file"),
     (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a UTF-8 text file"),
     (b"name: x\x00\x00\n", "not a text file (contains NUL bytes)")],
    ids=["latin-1", "png", "nul-bytes"],
)  # fmt: skip
def test_binary_file_is_refused(tmp_path, content, message):
    path = tmp_path / "binary.yaml"
    path.write_bytes(content)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    where = [(p.source, p.line, p.message) for p in err.value.problems]
    assert where == [(str(path), None, message)]


def test_file_over_the_size_limit_is_refused_without_parsing(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"#" * (MAX_SCENARIO_BYTES + 1))
    with pytest.raises(ScenarioError, match=f"limited to {MAX_SCENARIO_BYTES} bytes"):
        load_scenario(path)


def test_text_over_the_size_limit_is_refused():
    with pytest.raises(ScenarioError, match="too large"):
        parse_scenario("#" * (MAX_SCENARIO_BYTES + 1))


def test_missing_file_lists_the_shipped_scenarios(tmp_path):
    with pytest.raises(ScenarioError) as err:
        load_scenario(tmp_path / "nope.yaml")
    message = err.value.problems[0].message
    assert message.startswith("cannot read file: No such file or directory")
    assert all(p.stem in message for p in SHIPPED)


def test_unknown_scenario_name_lists_the_shipped_scenarios():
    with pytest.raises(ScenarioError, match="shipped scenarios: .*paper-fig3"):
        load_scenario("no-such-scenario")


def test_shipped_scenario_is_found_by_name():
    assert resolve_scenario_path("default") == SCENARIO_DIR / "default.yaml"
    assert load_scenario("default").name == "default"


def test_source_in_problems_is_the_path_as_given(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(tiny("  pasue_s: 2"))
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(path))
    assert str(err.value).startswith(f"{path}:11: users.pasue_s: ")


# ------------------------------------------------------------------ JSON Schema
@pytest.fixture(scope="module")
def schema_validator() -> jsonschema.Draft202012Validator:
    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_json_schema_accepts_every_shipped_scenario(schema_validator, path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [e.message for e in schema_validator.iter_errors(data)] == []


def test_json_schema_rejects_a_misspelled_field(schema_validator):
    data = yaml.safe_load(tiny("  pasue_s: 2"))
    errors = list(schema_validator.iter_errors(data))
    assert [list(e.absolute_path) for e in errors] == [["users"]]
    assert "pasue_s" in errors[0].message


# ------------------------------------------------------------------ properties
YAML_FRAGMENTS = st.sampled_from(
    ["name", "users", "count", "base_stations", "channel", "gains", "positions_m", ":", ": ",
     "- ", "[", "]", "{", "}", ",", "&a ", "*a", "!!python/object:os.system", "!!binary",
     "<<", "~", "1.0e+6", "-3", ".nan", ".inf", "'", '"', "|", ">", "#", "? ", "---", "...",
     "\t", "  ", "\n", "\r\n", "\x85", "\u2028", "\ufeff", "\x00", "\udcff", "é", "%YAML 1.1"]
)  # fmt: skip
ANY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=200),  # surrogates included
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.lists(YAML_FRAGMENTS, max_size=60).map("".join),
)


@settings(max_examples=150, deadline=None)
@given(ANY_TEXT)
def test_any_text_gives_a_scenario_or_scenario_errors_with_messages(text):
    try:
        result = parse_scenario(text)
    except ScenarioError as err:
        assert err.problems
        assert all(p.message for p in err.problems)
    else:
        assert isinstance(result, Scenario)


LEAF_VALUES = st.one_of(
    st.none(), st.booleans(), st.text(max_size=12), st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([-1, -0.5, 0, 1e300, 2**63]),
)  # fmt: skip
ANY_VALUE = st.recursive(
    LEAF_VALUES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)

# pydantic puts union members ("float", "tuple[float, float]") into error paths; a field named
# like one must still be reported by its own name.
FIELD_NAMES = st.one_of(
    st.text(min_size=1, max_size=10),
    st.sampled_from(["float", "int", "list", "tuple[float, float]", "x[", "pasue_s", "count"]),
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key/index path in a YAML-shaped tree, parents before children."""
    children = node.items() if isinstance(node, dict) else enumerate(node)
    out = []
    for key, value in children:
        out.append((*prefix, key))
        if isinstance(value, (dict, list)):
            out.extend(_paths(value, (*prefix, key)))
    return out


def _mutate(data: dict, draw: Any) -> dict:
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3), label="mutations")):
        path = draw(st.sampled_from(_paths(data)), label="path")
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        kind = draw(st.sampled_from(["delete", "replace", "add_field"]), label="kind")
        if kind == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif kind == "add_field" and isinstance(parent, dict):
            parent[draw(FIELD_NAMES, label="new field")] = 1
        else:
            parent[path[-1]] = draw(ANY_VALUE, label="value")
        if not _paths(data):
            break
    return data


SHIPPED_DATA = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in SHIPPED}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(SHIPPED_DATA)), st.data())
def test_mutated_scenario_problems_name_a_field_and_a_line_in_the_file(base, data):
    mutated = _mutate(SHIPPED_DATA[base], data.draw)
    text = yaml.safe_dump(mutated, sort_keys=False)
    n_lines = len(text.splitlines())
    try:
        parse_scenario(text)
    except ScenarioError as err:
        for problem in err.problems:
            assert problem.message
            assert problem.path, problem  # the document is a mapping: every problem is a field's
            assert problem.line is not None and 1 <= problem.line <= n_lines, (problem, text)
