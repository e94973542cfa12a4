"""``aign ui``: the browser app."""

from __future__ import annotations

import argparse


def cmd_ui(args: argparse.Namespace) -> int:
    from ui.app import check_host, serve

    check_host(args.host, args.allow_remote)  # before anything is built

    serve(args.scenario, host=args.host, port=args.port, allow_remote=args.allow_remote,
          access_log=args.access_log)  # fmt: skip
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this family's commands on ``aign``'s parser."""
    ui = sub.add_parser("ui", help="open the browser app (Dash) on http://127.0.0.1:8050")
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ui.add_argument("--allow-remote", action="store_true",
                    help="allow a --host other than loopback (the app has no login)")
    ui.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    ui.add_argument("--scenario", default="default", help="scenario shown first (default)")
    ui.add_argument("--access-log", "--verbose", dest="access_log", action="store_true",
                    help="log every request on stderr (default: errors only)")  # fmt: skip
    ui.set_defaults(func=cmd_ui)
