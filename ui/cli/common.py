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


def print_result(summary: str, data: Any, json_out: bool = False, out: str | None = None) -> None:
    """What a command prints when it is done: the ``summary`` for people on stdout, or with
    ``json_out`` the ``data`` as JSON on stdout and the summary on stderr; ``out`` also gets
    the JSON, written atomically (the summary then starts with ``wrote FILE``)."""
    if out:
        from twin.core import write_json_atomic

        write_json_atomic(out, data)
        summary = f"wrote {out}\n{summary}"
    print(summary, file=sys.stderr if json_out else sys.stdout)
    if json_out:
        print_json(data)


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


# How often a long job prints a line when stderr is not a terminal (a log file, CI, nohup);
# the environment variable lets a caller (or a test) choose.
PROGRESS_EVERY_S = 60.0


def format_duration(seconds: float) -> str:
    """``45 s``, ``3 min 20 s``, ``1 h 5 min``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _rate(per_s: float) -> str:
    """``4,560``, ``23.3``, ``0.052``: a rate for a log line."""
    return f"{per_s:,.0f}" if per_s >= 100 else f"{per_s:.3g}"


class ProgressLines:
    """Progress for a long job whose stderr is not a terminal: one line every ``every_s``
    seconds and one when it ends, so a log shows the job is alive. A line says what runs,
    how far when known (``done/total`` in ``unit``, the rate and the time left at that
    rate, as tqdm's bar shows them on a terminal), the time so far and the job's latest
    note (a loss, a return). A no-op when stderr is a terminal (a progress bar shows there)
    or when ``enabled`` is false (``--quiet``)."""

    def __init__(self, what: str, enabled: bool = True, every_s: float | None = None,
                 unit: str = "steps"):  # fmt: skip
        self.what, self.unit = what, unit
        env = os.environ.get("AIGN_PROGRESS_EVERY_S")
        self.every_s = float(every_s or (env and float(env)) or PROGRESS_EVERY_S)
        self.active = enabled and not sys.stderr.isatty()
        self.done: float | None = None
        self.total: float | None = None
        self.note = ""
        self._first: tuple[float, float] | None = None  # (time, done) of the first count

    def update(self, done: float, total: float | None = None, note: str = "") -> None:
        """Record how far the job got (a step count of ``total``, or a fraction)."""
        import time

        self.done, self.total, self.note = done, total, note
        if self._first is None and total and done > 0:
            self._first = (time.monotonic(), done)

    def rate(self) -> float | None:
        """Units per second since the first count (the start-up before it, loading data or
        building environments, is not the job's pace), ``None`` before there is one."""
        import time

        if self._first is None or self.done is None:
            return None
        t0, done0 = self._first
        seconds = time.monotonic() - t0
        if self.done > done0 and seconds > 0:
            return (self.done - done0) / seconds
        return None

    def fraction(self, frac: float) -> None:
        self.update(frac, None)

    def line(self, elapsed_s: float) -> str:
        where = ""
        if self.done is not None and self.total:
            share = f"{self.done / self.total:.0%}"
            where = f"{int(self.done)}/{int(self.total)} {self.unit} ({share}), "
            rate = self.rate()
            if rate:
                left = max(self.total - self.done, 0) / rate
                where += f"{_rate(rate)} {self.unit}/s, ETA {format_duration(left)}, "
        elif self.done is not None:
            where = f"{self.done:.0%}, "
        note = f", {self.note}" if self.note else ""
        return f"{self.what}: {where}{format_duration(elapsed_s)} so far{note}"

    def __enter__(self) -> ProgressLines:
        import threading
        import time

        self._start = time.monotonic()
        self._stop = threading.Event()
        if self.active:
            print(f"{self.what}: started (a line every {format_duration(self.every_s)})",
                  file=sys.stderr, flush=True)  # fmt: skip

            def beat() -> None:
                while not self._stop.wait(self.every_s):
                    print(self.line(time.monotonic() - self._start), file=sys.stderr,
                          flush=True)  # fmt: skip

            self._thread = threading.Thread(target=beat, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        import time

        if not self.active:
            return
        self._stop.set()
        self._thread.join()
        how = "finished" if exc_type is None else "stopped"
        elapsed = time.monotonic() - self._start
        last = ""  # where it got: the count, the mean rate, the last note
        if self.done is not None and self.total:
            last = f": {int(self.done)}/{int(self.total)} {self.unit}"
            rate = self.rate()
            last += f", {_rate(rate)} {self.unit}/s" if rate else ""
            last += f", {self.note}" if self.note else ""
        print(f"{self.what}: {how} after {format_duration(elapsed)}{last}", file=sys.stderr,
              flush=True)  # fmt: skip


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
