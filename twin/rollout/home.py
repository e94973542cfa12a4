"""The data directory (``$AIGN_HOME``), the identity of its log, and the key that signs
validation reports.

A data directory whose log once existed knows it: ``deployments.id`` holds the log's identity
(written when the log is created) and every network element state names the log that
configured it. A missing, emptied or swapped log is then refused with what to do (restore
it), never silently replaced by a new, empty history (docs/deployment.md#a-lost-log).
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
from twin.core.files import JsonLimits, read_json, write_json_atomic
from twin.core.records import canonical_json

HOME_ENV = "AIGN_HOME"
DB_TIMEOUT_ENV = "AIGN_DB_TIMEOUT_S"
DEFAULT_HOME = "~/.aign"
DB_NAME = "deployments.db"
ID_NAME = "deployments.id"  # the identity of this data directory's log
RESTORE_DOC = "docs/deployment.md#a-lost-log"


def aign_home(home: str | os.PathLike | None = None) -> Path:
    """The data directory: ``home``, else ``$AIGN_HOME``, else ``~/.aign`` (created 0700)."""
    path = Path(home or os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise DeploymentLogError(f"cannot create the data directory {path}: {exc}") from None
    return path


# --------------------------------------------------------------------------- log identity
def home_identity(home: Path) -> dict[str, Any] | None:
    """What ``deployments.id`` says about this data directory's log, or None (no file)."""
    path = home / ID_NAME
    if not path.exists() and not path.is_symlink():
        return None
    try:
        data = read_json(path, DeploymentLogError, JsonLimits(max_bytes=10_000), "log identity")
    except DeploymentLogError as err:
        raise DeploymentLogError(
            f"{err}; it identifies this data directory's deployment log: restore it from a "
            f"backup (see {RESTORE_DOC}). Nothing was changed."
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("log_id"), str):
        raise DeploymentLogError(
            f"{path} is damaged (no log_id); restore it from a backup (see {RESTORE_DOC}). "
            "Nothing was changed."
        )
    return data


def write_home_identity(home: Path, log_id: str, created_at: str | None) -> None:
    """Record the log's identity in the data directory (done once, when the log is new)."""
    write_json_atomic(home / ID_NAME, {"log_id": log_id, "created_at": created_at,
                                       "log": DB_NAME})  # fmt: skip


def configured_networks(home: Path) -> list[str]:
    """Networks whose element state is kept here (each was configured through a log)."""
    folder = home / "network"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def check_log_present(home: Path) -> None:
    """Refuse a data directory whose log vanished or was emptied while its history remains.

    A genuinely fresh data directory has neither ``deployments.id`` nor network element
    states; only then may a new, empty log be created."""
    from twin.rollout.deploylog import LostLogError

    db = home / DB_NAME
    try:
        size = db.stat().st_size
    except FileNotFoundError:
        size = None
    except OSError:
        return  # unreadable: the log itself says why when it is opened
    if size:
        return
    known = home_identity(home)
    networks = configured_networks(home)
    if known is None and not networks:
        return
    what = "missing" if size is None else "empty (0 bytes)"
    evidence = []
    if known is not None:
        evidence.append(f"{ID_NAME} names log {known['log_id']} (created "
                        f"{known.get('created_at') or 'at an unknown time'})")  # fmt: skip
    if networks:
        evidence.append(f"network element states for {', '.join(networks[:5])} record "
                        "deployments")  # fmt: skip
    raise LostLogError(
        f"the deployment log {db} is {what}, but this data directory has a history: "
        f"{'; '.join(evidence)}. aign will not start a new, empty log over a lost one (what "
        f"was deployed, validated and rolled back would be forgotten). Restore the log from "
        f"your backup to {db} (with its -wal file if you have one); to start over on purpose, "
        f"see {RESTORE_DOC}. Nothing was changed."
    )


def check_log_identity(home: Path, log_id: str | None, created_at: str | None,
                       writable: bool) -> None:  # fmt: skip
    """Refuse a log that is not this data directory's; record the identity of a new one."""
    from twin.rollout.deploylog import LostLogError

    known = home_identity(home)
    if known is None:
        if writable and log_id is not None:
            try:
                write_home_identity(home, log_id, created_at)
            except OSError as exc:
                raise DeploymentLogError(
                    f"cannot record the log's identity in {home / ID_NAME} ({exc.strerror}); "
                    "the data directory must be writable. Nothing was changed."
                ) from None
        return
    if log_id != known["log_id"]:
        found = "a log without an identity (from an older aign, or another data directory)" \
            if log_id is None else f"log {log_id}"  # fmt: skip
        raise LostLogError(
            f"the deployment log {home / DB_NAME} is not this data directory's log: it is "
            f"{found}, but {ID_NAME} names log {known['log_id']} (created "
            f"{known.get('created_at') or 'at an unknown time'}). It was replaced; restore the "
            f"original from your backup (see {RESTORE_DOC}). Nothing was changed."
        )


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
