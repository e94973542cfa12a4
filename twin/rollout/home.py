"""The data directory (``$AIGN_HOME``) and the key that signs validation reports.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from twin.core.errors import AignError, DeploymentLogError
from twin.core.records import canonical_json

HOME_ENV = "AIGN_HOME"
DB_TIMEOUT_ENV = "AIGN_DB_TIMEOUT_S"
DEFAULT_HOME = "~/.aign"
DB_NAME = "deployments.db"


def aign_home(home: str | os.PathLike | None = None) -> Path:
    """The data directory: ``home``, else ``$AIGN_HOME``, else ``~/.aign`` (created 0700)."""
    path = Path(home or os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DeploymentLogError(f"cannot create the data directory {path}: {exc}") from None
    return path


def now_iso(clock: Callable[[], datetime]) -> str:
    return clock().isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------- signatures
def signing_key(home: Path) -> bytes:
    """The data directory's secret, created once (0600); it signs validation reports."""
    path = home / "key"
    if not path.exists():
        # Written whole to a temporary file, then linked into place: a concurrent reader
        # never sees a partial key, and of two creators the first one wins.
        tmp = home / f".key.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
            with suppress(FileExistsError):
                os.link(tmp, path)
        except OSError as exc:
            raise DeploymentLogError(
                f"cannot create the signing key {path} ({exc.strerror}); the data directory "
                "must be writable. Nothing was changed."
            ) from None
        finally:
            tmp.unlink(missing_ok=True)
    try:
        key = path.read_text().strip()
    except OSError as exc:
        raise DeploymentLogError(f"cannot read the signing key {path}: {exc}") from None
    if len(key) != 64:
        raise DeploymentLogError(f"the signing key {path} is damaged; remove it to make a new one")
    return bytes.fromhex(key)


def report_digest(report: dict[str, Any]) -> str:
    """Identity of a validation report (everything but its signature)."""
    body = {k: v for k, v in report.items() if k != "signature"}
    return hashlib.sha256(canonical_json(body)).hexdigest()[:16]


def sign_report(report: dict[str, Any], key: bytes) -> str:
    body = {k: v for k, v in report.items() if k != "signature"}
    return hmac.new(key, canonical_json(body), hashlib.sha256).hexdigest()


def env_float(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise AignError(f"{name} must be a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise AignError(f"{name} must be a number of seconds >= 0, got {text!r}")
    return value
