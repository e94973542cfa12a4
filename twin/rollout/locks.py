"""One process at a time changes a network: an exclusive, OS-released file lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from twin.core.errors import DeploymentError, DeploymentLogError

# --------------------------------------------------------------------------- operation lock
_HELD: dict[str, int] = {}  # lock files this process holds -> open descriptor


def _lock_path(home: Path, scenario: str) -> Path:
    return home / "locks" / f"{scenario}.lock"


def _try_lock(home: Path, scenario: str) -> int | None:
    """An exclusive lock on network ``scenario`` (released by the OS if we die), or None."""
    path = _lock_path(home, scenario)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DeploymentLogError(
            f"cannot open the lock file {path} ({exc.strerror}); the data directory must be "
            "writable. Nothing was changed."
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def lock_holder(home: Path, scenario: str) -> str:
    try:
        pid = _lock_path(home, scenario).read_text().strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid else "another process"


@contextmanager
def try_operation_lock(home: Path, scenario: str) -> Iterator[bool]:
    """Hold the right to change network ``scenario`` if no other process does: yields
    whether it is held (re-entrant within this process)."""
    key = str(_lock_path(home, scenario))
    if key in _HELD:
        yield True
        return
    fd = _try_lock(home, scenario)
    if fd is None:
        yield False
        return
    _HELD[key] = fd
    try:
        yield True
    finally:
        del _HELD[key]
        os.close(fd)


@contextmanager
def operation_lock(home: Path, scenario: str) -> Iterator[None]:
    """Hold the right to change network ``scenario``, or refuse: another command has it."""
    with try_operation_lock(home, scenario) as held:
        if not held:
            raise DeploymentError(
                f"another aign command ({lock_holder(home, scenario)}) is changing network "
                f"{scenario!r}; try again when it has finished. Nothing was changed."
            )
        yield
