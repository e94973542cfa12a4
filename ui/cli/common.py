"""What every command family shares: JSON out, atomic output folders, progress, notes."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from twin.core import AignError

# Exit code of a command that ran but whose design was not accepted (validation failed,
# deployment rolled back, network refused): the output says what is in force.
EXIT_NOT_ACCEPTED = 3


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, allow_nan=False, default=_json_default)
    sys.stdout.write("\n")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


class OutputDir:
    """Write into a temporary sibling folder, then move the files into place on success.

    A failure midway leaves the destination as it was: no half-written output.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=self.path.parent))
        return self._tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.path.mkdir(parents=True, exist_ok=True)
                for item in self._tmp.iterdir():
                    os.replace(item, self.path / item.name)
        finally:
            shutil.rmtree(self._tmp, ignore_errors=True)


def progress_bar(label: str, enabled: bool):
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise."""
    if not enabled or not sys.stderr.isatty():
        return None, None
    from rich.progress import Progress

    progress = Progress(transient=True, console=None)
    task = progress.add_task(label, total=1.0)
    return progress, (lambda frac: progress.update(task, completed=frac))


def user_counts(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise AignError(f"--users must be comma-separated integers, got {text!r}") from None
    if not counts or min(counts) < 1:
        raise AignError(f"--users must be positive, got {text!r}")
    return counts


def quiet_learning_logs() -> None:
    """d3rlpy logs every step through structlog; keep warnings and errors only."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def note_recovered(recovered: list) -> None:
    """Say on stderr what reconciliation found (each command runs it first)."""
    for item in recovered:
        data = item if isinstance(item, dict) else item.to_dict()
        tag = "recovered" if data["recorded"] else "note"
        print(f"aign: {tag}: {data['message']}", file=sys.stderr)
