"""``aign scenario check | schema``: scenario files checked, the JSON Schema for editors."""

from __future__ import annotations

import argparse

from ui.cli.common import (
    print_json,
)


def cmd_scenario_check(args: argparse.Namespace) -> int:
    from twin.api import scenario_problems
    from twin.core import ScenarioError, TooLargeError, read_text_bounded
    from twin.scenario import MAX_SCENARIO_BYTES, load_scenario, resolve_scenario_path
    from twin.sim import check_budget

    failed = False
    for path in args.files:
        try:
            scenario = load_scenario(path)
            check_budget(scenario)  # valid, but would simulate refuse it here?
        except ScenarioError as err:
            failed = True
            for problem in err.problems:
                print(problem)
        except TooLargeError as err:
            failed = True
            print(f"{path}: {err}")
        else:
            late = scenario_problems(scenario, source=path)
            if late:  # located in the file only when there is something to say
                text = read_text_bounded(resolve_scenario_path(path), MAX_SCENARIO_BYTES,
                                         ScenarioError, what="scenario")  # fmt: skip
                failed = True
                for problem in scenario_problems(scenario, text, path):
                    print(problem)
                continue
            print(f"{path}: OK ({scenario.name}: {scenario.users.n} users, "
                  f"{scenario.base_stations.n} BSs)")  # fmt: skip
    return 1 if failed else 0


def cmd_scenario_schema(args: argparse.Namespace) -> int:
    from twin.scenario import scenario_json_schema

    print_json(scenario_json_schema())
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this family's commands on ``aign``'s parser."""
    scenario = sub.add_parser("scenario", help="check scenario files or print their JSON Schema")
    ssub = scenario.add_subparsers(dest="scenario_command", required=True, metavar="ACTION")
    check = ssub.add_parser("check", help="validate scenario YAML files")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=cmd_scenario_check)
    schema = ssub.add_parser("schema", help="print the scenario JSON Schema")
    schema.set_defaults(func=cmd_scenario_schema)
