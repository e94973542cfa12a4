"""The ``aign`` command: JSON in and out, clear errors, non-zero exit on failure.

One module per command family (``ui/cli/*.py``), each registering its commands; this module
builds the parser from them and runs one command. No maths lives in the CLI.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from twin.core import AignError
from ui.cli import benchmark, learning, operations, planning, scenario, serve, simulation

Handler = Callable[[argparse.Namespace], int]
FAMILIES = (scenario, simulation, learning, planning, benchmark, operations, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aign",
        description="AI-generated network design on a digital twin of an uplink network.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for family in FAMILIES:
        family.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.func
    try:
        return handler(args)
    except AignError as err:
        print(f"aign {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
