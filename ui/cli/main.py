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
    parser.epilog = "every command:\n" + "\n".join(f"  {line}" for line in command_lines(parser))
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def command_lines(parser: argparse.ArgumentParser, prefix: str = "aign") -> list[str]:
    """``aign NAME [SUB]`` for every command, sub-commands and choices of the first
    positional included (``aign train sac|bcq|diffusion``), from the parser itself."""
    lines = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                lines += command_lines(child, f"{prefix} {name}")
    if lines:
        return lines
    first = next((a for a in parser._actions if not a.option_strings
                  and a.dest != "help"), None)  # fmt: skip
    if first is not None and first.choices:
        return [f"{prefix} {'|'.join(map(str, first.choices))}"]
    return [prefix]


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
    except Exception as exc:  # the last resort: a bug, never a traceback on the terminal
        where = log_internal_error(f"aign {' '.join(map(str, argv or sys.argv[1:]))}", exc)
        print(f"aign {args.command}: internal error ({type(exc).__name__}); this is a bug in "
              f"aign, not in your input. Details for the operator: {where}",
              file=sys.stderr)  # fmt: skip
        return INTERNAL_ERROR


INTERNAL_ERROR = 70  # EX_SOFTWARE (sysexits.h)
ERROR_LOG = "errors.log"


def log_internal_error(context: str, exc: BaseException) -> str:
    """Append the traceback to ``$AIGN_HOME/logs/errors.log`` (else the temporary folder) and
    say where it went."""
    import logging
    import os
    import tempfile
    from pathlib import Path

    home = Path(os.environ.get("AIGN_HOME") or "~/.aign").expanduser()
    for folder in (home / "logs", Path(tempfile.gettempdir())):
        path = folder / (ERROR_LOG if folder.name == "logs" else "aign-errors.log")
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            handler = logging.FileHandler(path, encoding="utf-8")
        except OSError:
            continue
        logger = logging.getLogger("aign.internal")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            logger.error("%s failed", context, exc_info=exc)
        finally:
            logger.removeHandler(handler)
            handler.close()
        return str(path)
    return "nowhere (no writable log folder)"
