"""The deployment log: an append-only SQLite table, one row per step of every operation.

An *operation* is a validation (one ``validated`` row), a deployment or a rollback
(``deploying`` -> ``applied`` -> ``observed`` -> ``kept`` / ``rolled_back``, or ``failed``),
or a reconciliation. Its id is the ``seq`` of its first row. An operation whose last row is
not terminal was interrupted (or is running: see the operation lock in
:mod:`twin.rollout.deployment`); a ``recovered`` row closes it with what the network really has in
force.

Crash consistency: WAL journal, one transaction per row, rows are never updated or deleted
(triggers refuse it). Every row says which design is in force after its step, so the log
alone tells what the network runs. ``PRAGMA user_version`` is the schema version; a log from
a newer aign is refused rather than misread.

Identity: every log has a random ``log_id`` (table ``identity``, written once when the log is
created, or when an older log is first opened for writing). The data directory keeps a copy
(``deployments.id``) and every network element state names the log that configured it, so a
log that was deleted, emptied or swapped is noticed (:mod:`twin.rollout.home`).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.core.errors import DeploymentLogError

SCHEMA_VERSION = 1
APPLICATION_ID = 0x6169676E  # "aign": marks the file as a deployment log
DEFAULT_BUSY_TIMEOUT_S = 5.0
SQLITE_HEADER = b"SQLite format 3\x00"

KINDS = ("validate", "deploy", "rollback", "reconcile")
STEPS = (
    "validated",
    "deploying",
    "applied",
    "observed",
    "kept",
    "rolled_back",
    "failed",
    "recovered",
)
TERMINAL_STEPS = frozenset({"validated", "kept", "rolled_back", "failed", "recovered"})


class LockedLogError(DeploymentLogError):
    """Another process holds the log's write lock past the busy timeout."""


class ReadOnlyLogError(DeploymentLogError):
    """The log cannot be written (file, folder or filesystem read-only)."""


class FullDiskLogError(ReadOnlyLogError):
    """The log cannot be written: the filesystem is full."""


class LostLogError(DeploymentLogError):
    """The data directory had a log, and it is missing, empty or another one now."""


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY,          -- order of the rows; never reused (rows are never deleted)
    operation INTEGER NOT NULL,       -- seq of the operation's first row
    kind TEXT NOT NULL CHECK (kind IN {KINDS}),
    step TEXT NOT NULL CHECK (step IN {STEPS}),
    scenario TEXT NOT NULL,           -- network (scenario) name
    scenario_digest TEXT NOT NULL,
    design TEXT,                      -- digest of the design the operation is about
    in_force TEXT,                    -- digest of the design in force after this step
    in_force_mw TEXT,                 -- its power vector, JSON list, mW
    report TEXT,                      -- digest of the validation report (validated rows)
    detail TEXT NOT NULL,             -- what happened, for people
    data TEXT NOT NULL,               -- JSON: design, report, predicted and realized KPIs, ...
    created_at TEXT NOT NULL,         -- UTC, ISO 8601
    pid INTEGER NOT NULL              -- process that wrote the row
);
CREATE INDEX IF NOT EXISTS log_by_scenario ON log (scenario, seq);
CREATE INDEX IF NOT EXISTS log_by_operation ON log (operation, seq);
CREATE INDEX IF NOT EXISTS log_by_design ON log (design, step);
CREATE INDEX IF NOT EXISTS log_by_report ON log (report);
CREATE TRIGGER IF NOT EXISTS log_no_update BEFORE UPDATE ON log
    BEGIN SELECT RAISE(ABORT, 'the deployment log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS log_no_delete BEFORE DELETE ON log
    BEGIN SELECT RAISE(ABORT, 'the deployment log is append-only'); END;
PRAGMA application_id = {APPLICATION_ID};
PRAGMA user_version = {SCHEMA_VERSION};
"""

# Added in place to logs of schema 1 (older aign ignores the table): the log's identity.
_IDENTITY = """
CREATE TABLE IF NOT EXISTS identity (
    log_id TEXT PRIMARY KEY,          -- random; copied to deployments.id and element states
    created_at TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS identity_no_update BEFORE UPDATE ON identity
    BEGIN SELECT RAISE(ABORT, 'the deployment log identity is fixed'); END;
CREATE TRIGGER IF NOT EXISTS identity_no_delete BEFORE DELETE ON identity
    BEGIN SELECT RAISE(ABORT, 'the deployment log identity is fixed'); END;
"""


@dataclass(frozen=True)
class LogRow:
    seq: int
    operation: int
    kind: str
    step: str
    scenario: str
    scenario_digest: str
    design: str | None
    in_force: str | None
    in_force_mw: list[float] | None
    report: str | None
    detail: str
    data: dict[str, Any]
    created_at: str
    pid: int

    @property
    def terminal(self) -> bool:
        return self.step in TERMINAL_STEPS

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_COLUMNS = (
    "seq, operation, kind, step, scenario, scenario_digest, design, in_force, in_force_mw, "
    "report, detail, data, created_at, pid"
)


def _row(values: tuple) -> LogRow:
    fields = dict(zip(_COLUMNS.split(", "), values, strict=True))
    fields["data"] = json.loads(fields["data"])
    if fields["in_force_mw"] is not None:
        fields["in_force_mw"] = json.loads(fields["in_force_mw"])
    return LogRow(**fields)


class DeploymentLog:
    """The log at ``path``: created on first use, refused if locked, read-only or newer."""

    def __init__(
        self,
        path: str | os.PathLike,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        read_only: bool = False,
    ):
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.read_only = read_only
        self.snapshot: str | None = None  # a copy read when the log's folder cannot be written
        self.log_id: str | None = None
        self._check_file()
        try:
            if read_only:
                self.conn = self._connect_read_only()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.conn = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise self._error(exc, "open") from None
        try:
            self._prepare()
        except sqlite3.Error as exc:
            self.conn.close()
            raise self._error(exc, "open") from None
        except DeploymentLogError:
            self.conn.close()
            raise
        self.log_id = self._identity()

    # ------------------------------------------------------------------ opening
    def _connect_read_only(self) -> sqlite3.Connection:
        """Read-only, also where the folder or filesystem cannot be written or is full.

        SQLite reads a WAL database through a ``-shm`` file it must be able to create; where
        it cannot, the log (and its WAL) is read from a private copy instead."""
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout_s, isolation_level=None)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            conn.close()
            text = str(exc).lower()
            if not any(w in text for w in ("unable to open", "readonly", "disk", "i/o")):
                raise
        folder = tempfile.mkdtemp(prefix="aign-log-")
        try:
            for suffix in ("", "-wal"):
                source = Path(f"{self.path}{suffix}")
                if source.exists():
                    shutil.copyfile(source, Path(folder) / f"{self.path.name}{suffix}")
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise DeploymentLogError(
                f"cannot read the deployment log {self.path} read-only here, nor copy it to "
                f"read it ({exc.strerror or exc}); free some space or copy it elsewhere"
            ) from None
        self.snapshot = folder
        copy = Path(folder) / self.path.name
        return sqlite3.connect(copy, timeout=self.busy_timeout_s, isolation_level=None)

    def _identity(self) -> str | None:
        try:
            row = self.conn.execute("SELECT log_id FROM identity LIMIT 1").fetchone()
        except sqlite3.OperationalError:  # a log of an older aign, opened read-only
            return None
        return None if row is None else str(row[0])

    def _check_file(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(len(SQLITE_HEADER))
        except FileNotFoundError:
            if self.read_only:
                raise DeploymentLogError(f"no deployment log at {self.path}") from None
            return
        except OSError as exc:
            raise DeploymentLogError(f"cannot read the deployment log {self.path}: {exc}") from None
        if head and head != SQLITE_HEADER:
            raise DeploymentLogError(
                f"{self.path} is not a deployment log (not an SQLite database); move it away "
                "or point AIGN_HOME at another data directory"
            )

    def _prepare(self) -> None:
        c = self.conn
        c.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        app_id = c.execute("PRAGMA application_id").fetchone()[0]
        version = c.execute("PRAGMA user_version").fetchone()[0]
        tables = c.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables):
            raise DeploymentLogError(
                f"{self.path} is an SQLite database but not an aign deployment log; move it "
                "away or point AIGN_HOME at another data directory"
            )
        if version > SCHEMA_VERSION:
            raise DeploymentLogError(
                f"the deployment log {self.path} was written by a newer aign (schema version "
                f"{version}; this aign reads up to {SCHEMA_VERSION}); upgrade aign. Nothing "
                "was changed."
            )
        if self.read_only:
            return
        if c.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() != "wal":
            raise DeploymentLogError(f"cannot put the deployment log {self.path} in WAL mode")
        c.execute("PRAGMA synchronous = FULL")
        try:
            if version == 0:  # a new log; IF NOT EXISTS makes a race with another creator safe
                c.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} COMMIT;")
            has_identity = c.execute(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'identity'"
            ).fetchone()[0]
            if not has_identity or not c.execute("SELECT COUNT(*) FROM identity").fetchone()[0]:
                c.executescript(f"BEGIN IMMEDIATE; {_IDENTITY}")
                if not c.execute("SELECT COUNT(*) FROM identity").fetchone()[0]:
                    c.execute(
                        "INSERT INTO identity (log_id, created_at) VALUES (?, "
                        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                        (uuid.uuid4().hex,),
                    )
                c.execute("COMMIT")
            # Write once (rolled back): a locked or read-only log is refused before any work.
            # SQLite opens a file it cannot write read-only without saying so.
            c.execute("BEGIN IMMEDIATE")
            c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            c.execute("ROLLBACK")
        except BaseException:
            if c.in_transaction:
                c.execute("ROLLBACK")
            raise

    def _error(self, exc: BaseException, action: str) -> DeploymentLogError:
        text = str(exc).lower()
        where = f"the deployment log {self.path}"
        if "locked" in text or "busy" in text:
            return LockedLogError(
                f"{where} is locked by another process (waited {self.busy_timeout_s:g} s); "
                f"try again when it is done. Nothing was changed."
            )
        if "disk is full" in text or "disk full" in text:
            return FullDiskLogError(
                f"{where} cannot be written: the filesystem is full ({exc}); aign must record "
                "every step before it changes the network, so nothing was changed. Free some "
                "space; `aign deployments` still lists the history."
            )
        if "readonly" in text or "read-only" in text or "read only" in text:
            return ReadOnlyLogError(
                f"{where} is read-only ({exc}); aign must record every step before it changes "
                "the network, so nothing was changed. Make it writable or point AIGN_HOME at "
                "a writable data directory."
            )
        if "unable to open" in text:
            return DeploymentLogError(
                f"cannot {action} {where} ({exc}); check that its folder exists and is "
                "writable. Nothing was changed."
            )
        if "not a database" in text or "malformed" in text:
            return DeploymentLogError(f"{where} is damaged or not a log ({exc})")
        return DeploymentLogError(f"cannot {action} {where}: {exc}")

    def close(self) -> None:
        self.conn.close()
        if self.snapshot is not None:
            shutil.rmtree(self.snapshot, ignore_errors=True)
            self.snapshot = None

    def created_at(self) -> str | None:
        try:
            row = self.conn.execute("SELECT created_at FROM identity LIMIT 1").fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else str(row[0])

    # ------------------------------------------------------------------ writing
    def append(
        self,
        *,
        operation: int | None,
        kind: str,
        step: str,
        scenario: str,
        scenario_digest: str,
        detail: str,
        data: dict[str, Any],
        design: str | None = None,
        in_force: str | None = None,
        in_force_mw: list[float] | None = None,
        report: str | None = None,
        created_at: str,
    ) -> LogRow:
        """Append one row in its own transaction; ``operation=None`` opens an operation."""
        if self.read_only:
            raise DeploymentLogError(f"the deployment log {self.path} was opened read-only")
        values = (
            kind,
            step,
            scenario,
            scenario_digest,
            design,
            in_force,
            None if in_force_mw is None else json.dumps(in_force_mw),
            report,
            detail,
            json.dumps(data, allow_nan=False),
            created_at,
            os.getpid(),
        )
        c = self.conn
        try:
            c.execute("BEGIN IMMEDIATE")
            try:
                seq = c.execute("SELECT IFNULL(MAX(seq), 0) + 1 FROM log").fetchone()[0]
                c.execute(
                    f"INSERT INTO log ({_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                    (seq, seq if operation is None else operation, *values),
                )
                c.execute("COMMIT")
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise self._error(exc, "write to") from None
        return self.row(seq)

    # ------------------------------------------------------------------ reading
    def _select(self, where: str = "", args: tuple = ()) -> list[LogRow]:
        try:
            rows = self.conn.execute(f"SELECT {_COLUMNS} FROM log {where}", args).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from None
        return [_row(r) for r in rows]

    def row(self, seq: int) -> LogRow:
        return self._select("WHERE seq = ?", (seq,))[0]

    def rows(self, scenario: str | None = None) -> list[LogRow]:
        if scenario is None:
            return self._select("ORDER BY seq")
        return self._select("WHERE scenario = ? ORDER BY seq", (scenario,))

    def operation_rows(self, operation: int) -> list[LogRow]:
        return self._select("WHERE operation = ? ORDER BY seq", (operation,))

    def open_operations(self) -> list[list[LogRow]]:
        """Operations whose last row is not terminal (interrupted, or running now)."""
        last = self._select(
            "WHERE seq IN (SELECT MAX(seq) FROM log GROUP BY operation) ORDER BY seq"
        )
        return [self.operation_rows(r.operation) for r in last if not r.terminal]

    def latest_validation(self, scenario: str, design: str) -> LogRow | None:
        rows = self._select(
            "WHERE scenario = ? AND design = ? AND step = 'validated' ORDER BY seq DESC LIMIT 1",
            (scenario, design),
        )
        return rows[0] if rows else None

    def validation_by_report(self, report_digest: str) -> LogRow | None:
        rows = self._select(
            "WHERE report = ? AND step = 'validated' ORDER BY seq DESC LIMIT 1", (report_digest,)
        )
        return rows[0] if rows else None

    def scenarios(self) -> list[str]:
        try:
            names = self.conn.execute("SELECT DISTINCT scenario FROM log ORDER BY scenario")
            return [n for (n,) in names.fetchall()]
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from None
