"""Run the ``aign`` CLI in-process for a test: exit code, stdout and stderr."""

from __future__ import annotations

import json

from ui.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def not_json(text: str) -> bool:
    """``text`` is no JSON document (a summary for people)."""
    try:
        json.loads(text)
    except ValueError:
        return True
    return False
