"""``aign scenario check | schema``: scenario files checked, the JSON Schema for editors."""

from __future__ import annotations

import argparse

from ui.cli.common import (
    print_json,
)


def cmd_scenario_check(args: argparse.Namespace) -> int:
    from twin.core import ScenarioError, TooLargeError
    from twin.scenario import load_scenario
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
