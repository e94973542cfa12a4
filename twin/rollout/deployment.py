"""Validate, deploy, observe, keep or roll back: designs reach the network only through here.

What the CLI (``aign validate|deploy|deployments|rollback``) and the UI call is
:class:`Operations`, over one data directory (``$AIGN_HOME``, default ``~/.aign``)::

    deployments.db        the append-only deployment log (twin.rollout.deploylog)
    network/NAME.json     what the network of scenario NAME has in force (twin.rollout.element)
    locks/NAME.lock       held while an operation changes network NAME
    key                   signs validation reports (a forged or altered one is refused)

Invariants:
- a row is written *before* the network is asked to change (``deploying``), and after each
  change it answers (``applied``, ``rolled_back``): the log never claims a change that the
  network did not make, and an unrecorded change is found by reading the network;
- an operation whose last row is not terminal while its lock is free was interrupted;
  every command first closes such operations with a ``recovered`` row that says what the
  network really has in force (and records drift found outside any operation);
- only a design whose latest validation passed, was judged under the current gates against
  the design in force now, on this version of the scenario, and is younger than
  ``gates.max_validation_age_s`` is deployed.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import hmac
import math
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.compute.executors import Executor
from twin.core.errors import AignError, DeploymentError, DeploymentLogError, NetworkElementError
from twin.radio.instance import Design
from twin.rollout.deploylog import DEFAULT_BUSY_TIMEOUT_S, DeploymentLog, LogRow
from twin.rollout.element import (
    ElementFaults,
    ElementRejected,
    ElementState,
    ElementTimeout,
    NetworkElement,
    element_path,
    read_element_state,
)
from twin.rollout.observation import (
    Observer,
    Realized,
    judge_observation,
    observation_seed,
    observe,
    sinr_rmse_db,
)
from twin.scenario.schema import Scenario

if TYPE_CHECKING:
    from twin.radio.calibration import Calibration
from twin.rollout.validation import (
    canonical_json,
    check_design,
    design_digest,
    finite,
    initial_powers,
    scenario_digest,
    validate_design,
)

HOME_ENV = "AIGN_HOME"
DB_TIMEOUT_ENV = "AIGN_DB_TIMEOUT_S"
DEFAULT_HOME = "~/.aign"
DB_NAME = "deployments.db"
# How long the network element may take to answer a configuration request, s.
DEFAULT_APPLY_TIMEOUT_S = 10.0
FACTORY_SOURCE = "factory default (the scenario's initial powers)"


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
def _signing_key(home: Path) -> bytes:
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


def _signature(report: dict[str, Any], key: bytes) -> str:
    body = {k: v for k, v in report.items() if k != "signature"}
    return hmac.new(key, canonical_json(body), hashlib.sha256).hexdigest()


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


def _lock_holder(home: Path, scenario: str) -> str:
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
                f"another aign command ({_lock_holder(home, scenario)}) is changing network "
                f"{scenario!r}; try again when it has finished. Nothing was changed."
            )
        yield


# --------------------------------------------------------------------------- in force
@dataclass(frozen=True)
class InForce:
    """What a network runs: the design's digest and powers, where it came from, since when."""

    scenario: str
    digest: str
    power_mw: tuple[float, ...]
    source: str
    operation: int | None
    applied_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "power_mw": list(self.power_mw)}

    def same_powers(self, power_mw: Any) -> bool:
        return power_mw is not None and tuple(float(p) for p in power_mw) == self.power_mw


def in_force_from(
    state: ElementState | None, scenario: str, factory: tuple[str, tuple[float, ...]] | None
) -> InForce | None:
    if state is not None:
        return InForce(
            scenario, state.design, state.power_mw, state.source, state.operation, state.applied_at
        )
    if factory is None:
        return None
    return InForce(scenario, factory[0], factory[1], FACTORY_SOURCE, None, None)


# --------------------------------------------------------------------------- observation
# (twin/observation.py; re-exported here, where callers have always found them)


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Recovery:
    """An interrupted operation (or drift) found and recorded by :meth:`Operations.reconcile`."""

    scenario: str
    operation: int | None
    recorded: bool
    message: str
    in_force: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Outcome:
    """How a deployment or rollback ended and what the network has in force now.

    ``status``: ``kept`` (the design stays), ``rolled_back`` (the previous design was
    restored: automatically after a bad observation, or by ``aign rollback``), ``failed``
    (the network refused or did not answer; see ``message`` for what is in force), or
    ``unchanged`` (the design was already in force; nothing was done).
    """

    kind: str
    status: str
    scenario: str
    operation: int | None
    design: str | None
    message: str
    in_force: dict[str, Any]
    predicted: dict[str, Any] | None = None
    realized: dict[str, Any] | None = None
    recovered: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The network runs what the command asked for."""
        return self.status in ("kept", "unchanged") or (
            self.kind == "rollback" and self.status == "rolled_back"
        )

    def to_dict(self) -> dict[str, Any]:
        return finite(asdict(self))


# --------------------------------------------------------------------------- operations
class Operations:
    """Validation, deployment, rollback and history over one data directory.

    Opening it reconciles interrupted operations (see :attr:`recovered`). ``faults`` are
    the simulated network element's faults (default: from ``AIGN_ELEMENT_FAULTS``);
    ``clock`` gives the wall-clock time (UTC) that ages validations; ``observer`` measures
    the network after a change (default :func:`observe`, the simulated physical layer).
    """

    def __init__(
        self,
        home: str | os.PathLike | None = None,
        *,
        busy_timeout_s: float | None = None,
        faults: ElementFaults | None = None,
        clock: Callable[[], datetime] | None = None,
        read_only: bool = False,
        observer: Observer | None = None,
    ):
        self.home = aign_home(home)
        if busy_timeout_s is None:
            busy_timeout_s = _env_float(DB_TIMEOUT_ENV, DEFAULT_BUSY_TIMEOUT_S)
        self.faults = ElementFaults.from_env() if faults is None else faults
        self.log = DeploymentLog(self.home / DB_NAME, busy_timeout_s, read_only=read_only)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.observer = observe if observer is None else observer
        try:
            self.recovered: list[Recovery] = self.reconcile()
        except BaseException:
            self.log.close()
            raise

    def close(self) -> None:
        self.log.close()

    def __enter__(self) -> Operations:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ state
    def element(self, scenario: Scenario) -> NetworkElement:
        return NetworkElement(self.home, scenario, self.faults)

    def in_force(self, scenario: Scenario) -> InForce:
        """What the network of ``scenario`` has in force (its element's memory)."""
        state = read_element_state(element_path(self.home, scenario.name))
        factory = initial_powers(scenario)
        found = in_force_from(
            state,
            scenario.name,
            (design_digest(scenario_digest(scenario), factory), tuple(factory.tolist())),
        )
        assert found is not None
        if len(found.power_mw) != scenario.users.n:
            raise DeploymentError(
                f"network {scenario.name!r} has design {found.digest} in force with "
                f"{len(found.power_mw)} powers, but the scenario now has {scenario.users.n} "
                "users (it changed after that deployment); designs are judged against the one "
                "in force, so use the scenario version it was deployed with, or give the "
                "changed network a new scenario name. Nothing was changed."
            )
        return found

    def _now(self) -> str:
        return now_iso(self.clock)

    # ------------------------------------------------------------------ reconcile
    def reconcile(self, scenario: Scenario | None = None) -> list[Recovery]:
        """Close interrupted operations with what the network really has in force; with a
        scenario, also record drift (the network changed outside any recorded operation)."""
        notes = []
        for rows in self.log.open_operations():
            name, op = rows[0].scenario, rows[0].operation
            with try_operation_lock(self.home, name) as held:
                if not held:
                    notes.append(
                        Recovery(
                            name,
                            op,
                            False,
                            f"{rows[0].kind} #{op} on network {name!r} is in progress "
                            f"({_lock_holder(self.home, name)}), last step {rows[-1].step}",
                            None,
                        )
                    )
                    continue
                rows = self.log.operation_rows(op)  # it may have finished meanwhile
                if not rows[-1].terminal:
                    notes.append(self._recover(rows))
        if scenario is not None:
            drift = self._drift(scenario)
            if drift is not None:
                notes.append(drift)
        return notes

    def _recover(self, rows: list[LogRow]) -> Recovery:
        first, last = rows[0], rows[-1]
        name, op = first.scenario, first.operation
        state = read_element_state(element_path(self.home, name))
        previous = first.data.get("previous", {})
        target = first.data.get("target", {})
        current = in_force_from(
            state, name, (previous.get("digest", ""), tuple(previous.get("power_mw", [])))
        )
        assert current is not None
        what = "deployment" if first.kind == "deploy" else first.kind
        head = (
            f"{what} #{op} of design {first.design} on network {name!r} was interrupted "
            f"(last recorded step: {last.step})"
        )
        if current.same_powers(target.get("power_mw")) and last.step != "observed":
            if first.kind == "deploy":
                tail = (
                    f"the network applied it: {current.digest} is in force but was not "
                    f"judged; run `aign rollback {name}` to restore {previous.get('digest')}"
                    ", or keep it"
                )
            else:
                tail = f"the network applied it: {current.digest} is in force (rolled back)"
        elif current.same_powers(target.get("power_mw")):
            tail = (
                f"it was observed but not judged: {current.digest} is in force; run "
                f"`aign rollback {name}` to restore {previous.get('digest')}, or keep it"
            )
        elif current.same_powers(previous.get("power_mw")):
            if last.step == "observed":
                tail = f"the automatic rollback reached the network: {current.digest} is in force"
            else:
                tail = f"the network did not apply it: {current.digest} is still in force"
        else:
            tail = (
                f"the network has design {current.digest} in force, which is neither the "
                "design before it nor the one it deployed"
            )
        message = f"{head}; {tail}"
        if self.log.read_only:
            return Recovery(
                name,
                op,
                False,
                message + " (the log is read-only: not recorded)",
                current.to_dict(),
            )
        self.log.append(
            operation=op,
            kind=first.kind,
            step="recovered",
            scenario=name,
            scenario_digest=first.scenario_digest,
            design=first.design,
            in_force=current.digest,
            in_force_mw=list(current.power_mw),
            detail=message,
            data={"interrupted_after": last.step, "in_force": current.to_dict()},
            created_at=self._now(),
        )
        return Recovery(name, op, True, message, current.to_dict())

    def _drift(self, scenario: Scenario) -> Recovery | None:
        current = self.in_force(scenario)
        recorded = self._last_in_force(scenario.name)
        if recorded is None:
            if current.operation is None:
                return None  # factory configuration, and nothing recorded: consistent
            message = (
                f"the log has no record of network {scenario.name!r}, but the network "
                f"has design {current.digest} in force (applied {current.applied_at} by "
                f"operation #{current.operation} of another log); recorded it"
            )
        elif current.same_powers(recorded.in_force_mw):
            return None
        else:
            message = (
                f"network {scenario.name!r} has design {current.digest} in force, but "
                f"the log last recorded {recorded.in_force} (changed outside aign?); "
                "recorded what the network has"
            )
        if self.log.read_only:
            return Recovery(
                scenario.name,
                None,
                False,
                message + " (not recorded: read-only)",
                current.to_dict(),
            )
        row = self.log.append(
            operation=None,
            kind="reconcile",
            step="recovered",
            scenario=scenario.name,
            scenario_digest=scenario_digest(scenario),
            design=current.digest,
            in_force=current.digest,
            in_force_mw=list(current.power_mw),
            detail=message,
            data={
                "expected": None if recorded is None else recorded.in_force,
                "in_force": current.to_dict(),
                "previous": {
                    "digest": None if recorded is None else recorded.in_force,
                    "power_mw": None if recorded is None else recorded.in_force_mw,
                },
            },
            created_at=self._now(),
        )
        return Recovery(scenario.name, row.operation, True, message, current.to_dict())

    def _change_rows(self, name: str) -> list[LogRow]:
        return [r for r in self.log.rows(name) if r.kind != "validate"]

    def _last_in_force(self, name: str) -> LogRow | None:
        rows = [r for r in self._change_rows(name) if r.in_force_mw is not None]
        return rows[-1] if rows else None

    def _in_force_stack(self, name: str) -> list[dict[str, Any]]:
        """Designs in force over time, as an undo stack: deployments push, rollbacks pop."""
        stack: list[dict[str, Any]] = []
        ops: dict[int, list[LogRow]] = {}
        for row in self._change_rows(name):
            ops.setdefault(row.operation, []).append(row)
        for rows in ops.values():
            first, last = rows[0], rows[-1]
            if not last.terminal:
                continue
            before = first.data.get("previous") or {}
            if not stack and before.get("power_mw") is not None:
                stack.append(
                    {
                        "digest": before.get("digest"),
                        "power_mw": before["power_mw"],
                        "source": before.get("source"),
                    }
                )
            after = {
                "digest": last.in_force,
                "power_mw": last.in_force_mw,
                "source": (last.data.get("in_force") or {}).get("source")
                or first.data.get("target", {}).get("source"),
            }
            if (
                first.kind == "rollback"
                and len(stack) >= 2
                and stack[-2]["power_mw"] == after["power_mw"]
            ):
                stack.pop()
            elif not stack or stack[-1]["power_mw"] != after["power_mw"]:
                stack.append(after)
        return stack

    # ------------------------------------------------------------------ validate
    def validate(
        self,
        scenario: Scenario,
        design: Design,
        *,
        runs: int | None = None,
        seed: int | None = None,
        executor: str | Executor | None = None,
        progress: Callable[[float], None] | None = None,
        calibration: Calibration | None = None,
    ) -> dict[str, Any]:
        """Validate ``design`` against the design in force; record and sign the report.

        ``calibration``: predict on the twin recalibrated from channel reports (the report
        cites it, and so do the deployments made under it)."""
        check_design(scenario, design)
        with operation_lock(self.home, scenario.name):
            self.recovered += self.reconcile(scenario)
            current = self.in_force(scenario)
        report = validate_design(
            scenario,
            design,
            np.asarray(current.power_mw),
            baseline_source=f"in force: {current.source}",
            runs=runs,
            seed=seed,
            executor=executor,
            progress=progress,
            now=self.clock(),
            calibration=calibration,
        )
        report["signature"] = _signature(report, _signing_key(self.home))
        verdict = "passed" if report["verdict"]["passed"] else "failed"
        self.log.append(
            operation=None,
            kind="validate",
            step="validated",
            scenario=scenario.name,
            scenario_digest=report["scenario"]["digest"],
            design=report["design"]["digest"],
            in_force=current.digest,
            in_force_mw=list(current.power_mw),
            report=report_digest(report),
            detail=f"validation {verdict}: mean utility {report['utility']['mean']:.6g}, "
            f"improvement {report['improvement']['mean']:.6g} over {current.digest} "
            f"({report['runs']} runs)",
            data={"design": finite(design.to_dict()), "report": report},
            created_at=report["created_at"],
        )
        return report

    def _current_validation(
        self, scenario: Scenario, digest: str, current: InForce, report: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The validation that allows deploying design ``digest`` now, or a refusal."""
        key = _signing_key(self.home)
        if report is not None:
            if not isinstance(report, dict) or not hmac.compare_digest(
                str(report.get("signature", "")), _signature(report, key)
            ):
                raise DeploymentError(
                    "the validation report is not signed by this data directory "
                    f"({self.home}): it was altered, forged or made with another AIGN_HOME. "
                    "Nothing was deployed."
                )
            row = self.log.validation_by_report(report_digest(report))
            if row is None:
                raise DeploymentError(
                    f"the validation report {report_digest(report)} is not in the deployment "
                    f"log {self.log.path}; validate the design again. Nothing was deployed."
                )
        else:
            row = self.log.latest_validation(scenario.name, digest)
            if row is None:
                raise DeploymentError(
                    f"design {digest} has no validation on scenario {scenario.name!r}; run "
                    f"`aign validate {scenario.name} DESIGN` first. Nothing was deployed."
                )
        report = row.data.get("report") or {}
        if not hmac.compare_digest(str(report.get("signature", "")), _signature(report, key)):
            raise DeploymentError(
                f"the validation recorded at row {row.seq} of {self.log.path} does not match "
                "its signature (the log was altered); validate again. Nothing was deployed."
            )
        reasons = []
        if report["design"]["digest"] != digest:
            reasons.append(f"the report validates design {report['design']['digest']}")
        if report["scenario"]["digest"] != scenario_digest(scenario):
            reasons.append(f"scenario {scenario.name!r} changed since the validation")
        if report["gates"] != scenario.gates.model_dump(mode="json"):
            reasons.append("the scenario's gates changed since the validation")
        if not report["verdict"]["passed"]:
            reasons.append("the validation failed: " + "; ".join(report["verdict"]["failed"]))
        if not current.same_powers(report["baseline"]["power_mw"]):
            reasons.append(
                f"it was measured against design {report['baseline']['digest']}, but "
                f"{current.digest} is in force now"
            )
        age_s = (self.clock() - datetime.fromisoformat(report["created_at"])).total_seconds()
        max_age = scenario.gates.max_validation_age_s
        if age_s > max_age:
            reasons.append(
                f"it is {_age(age_s)} old (gates.max_validation_age_s allows {_age(max_age)})"
            )
        elif age_s < -60:
            reasons.append(f"it is dated {_age(-age_s)} in the future")
        if reasons:
            raise DeploymentError(
                f"design {digest} has no passing, current validation (validation of "
                f"{report['created_at']}, log row {row.seq}): "
                + "; ".join(reasons)
                + f". Run `aign validate` again. Nothing was deployed; {current.digest} is in "
                "force."
            )
        return report

    # ------------------------------------------------------------------ deploy
    def deploy(
        self,
        scenario: Scenario,
        design: Design,
        *,
        report: dict[str, Any] | None = None,
        apply_timeout_s: float = DEFAULT_APPLY_TIMEOUT_S,
        scenario_source: str | None = None,
    ) -> Outcome:
        """Deploy ``design`` if its validation allows it; observe; keep or roll back.

        ``report``: a validation report (as ``aign validate`` prints it) to deploy under;
        default: the latest recorded validation of the design. ``scenario_source``: the
        scenario file, remembered so that ``aign rollback`` may be run without it.
        """
        power = check_design(scenario, design)
        sdigest = scenario_digest(scenario)
        digest = design_digest(sdigest, power)
        with operation_lock(self.home, scenario.name):
            self.recovered += self.reconcile(scenario)
            current = self.in_force(scenario)
            notes = [r.to_dict() for r in self.recovered]
            if current.same_powers(power.tolist()):
                return Outcome(
                    "deploy",
                    "unchanged",
                    scenario.name,
                    None,
                    digest,
                    f"design {digest} is already in force; nothing was done",
                    current.to_dict(),
                    recovered=notes,
                )
            report = self._current_validation(scenario, digest, current, report)
            predicted = _predicted(report)
            previous = current.to_dict()
            target = {"digest": digest, "power_mw": power.tolist(), "source": design.source}
            opened = self.log.append(
                operation=None,
                kind="deploy",
                step="deploying",
                scenario=scenario.name,
                scenario_digest=sdigest,
                design=digest,
                in_force=current.digest,
                in_force_mw=list(current.power_mw),
                detail=f"deploying design {digest} (replacing {current.digest})",
                data={
                    "design": finite(design.to_dict()),
                    "validation": report_digest(report),
                    "predicted": predicted,
                    "previous": previous,
                    "target": target,
                    "scenario_source": scenario_source,
                },
                created_at=self._now(),
            )
            op = opened.operation
            row = _Recorder(self, scenario, op, "deploy", sdigest, digest)
            config = row.state(digest, power.tolist(), design.source)
            failure = row.change(self.element(scenario), config, apply_timeout_s, "applied")
            if failure is not None:  # refused or unanswered, and not in force: nothing changed
                return row.outcome("failed", failure.detail, notes, predicted)

            realized = self.observer(
                scenario, np.asarray(current.power_mw), power, observation_seed(scenario, op)
            )
            verdict = judge_observation(realized, report, scenario.gates)
            error = _fidelity(predicted, realized)
            row.append(
                "observed",
                digest,
                power.tolist(),
                verdict.reason,
                {
                    "predicted": predicted,
                    "realized": realized.to_dict(),
                    "floor": verdict.floor,
                    "fidelity": error,
                },
            )
            if verdict.keep:
                row.append(
                    "kept",
                    digest,
                    power.tolist(),
                    f"kept design {digest}: {verdict.reason}",
                    {"reason": verdict.reason},
                )
                message = f"design {digest} is in force and kept: {verdict.reason}"
                return row.outcome("kept", message, notes, predicted, realized.to_dict())
            restore = row.state(current.digest, current.power_mw, current.source)
            failure = row.change(
                self.element(scenario),
                restore,
                apply_timeout_s,
                "rolled_back",
                why=f"restored {current.digest}: {verdict.reason}",
            )
            if failure is not None:
                return row.outcome("failed", failure.detail, notes, predicted, realized.to_dict())
            message = (
                f"design {digest} was rolled back, {current.digest} is in force: {verdict.reason}"
            )
            return row.outcome("rolled_back", message, notes, predicted, realized.to_dict())

    # ------------------------------------------------------------------ rollback
    def rollback(
        self,
        scenario: Scenario,
        *,
        apply_timeout_s: float = DEFAULT_APPLY_TIMEOUT_S,
        scenario_source: str | None = None,
    ) -> Outcome:
        """Restore the design that was in force before the current one (by hand)."""
        sdigest = scenario_digest(scenario)
        with operation_lock(self.home, scenario.name):
            self.recovered += self.reconcile(scenario)
            notes = [r.to_dict() for r in self.recovered]
            current = self.in_force(scenario)
            stack = self._in_force_stack(scenario.name)
            if len(stack) < 2:
                raise DeploymentError(
                    f"nothing to roll back on network {scenario.name!r}: {current.digest} "
                    f"({current.source}) is in force and the log holds no design before it"
                )
            back = stack[-2]
            power = np.asarray(back["power_mw"], dtype=float)
            if power.shape != (scenario.users.n,):
                raise DeploymentError(
                    f"the previous design {back['digest']} has {power.size} powers but scenario "
                    f"{scenario.name!r} now has {scenario.users.n} users; deploy a design for "
                    "this version of the scenario instead. Nothing was changed."
                )
            target = {
                "digest": back["digest"],
                "power_mw": power.tolist(),
                "source": back.get("source") or "previous design",
            }
            opened = self.log.append(
                operation=None,
                kind="rollback",
                step="deploying",
                scenario=scenario.name,
                scenario_digest=sdigest,
                design=back["digest"],
                in_force=current.digest,
                in_force_mw=list(current.power_mw),
                detail=f"rolling back from {current.digest} to {back['digest']}",
                data={
                    "previous": current.to_dict(),
                    "target": target,
                    "scenario_source": scenario_source,
                },
                created_at=self._now(),
            )
            op = opened.operation
            row = _Recorder(self, scenario, op, "rollback", sdigest, back["digest"])
            config = row.state(back["digest"], power.tolist(), target["source"])
            failure = row.change(
                self.element(scenario),
                config,
                apply_timeout_s,
                "rolled_back",
                why=f"rolled back by hand from {current.digest}",
            )
            if failure is not None:
                return row.outcome("failed", failure.detail, notes)
            message = f"rolled back: {back['digest']} is in force (was {current.digest})"
            return row.outcome("rolled_back", message, notes)

    # ------------------------------------------------------------------ history
    def history(
        self,
        scenario: str | None = None,
        *,
        validations: bool = False,
        limit: int | None = None,
        full: bool = False,
    ) -> dict[str, Any]:
        """Operations (newest last), what each network has in force, and the twin's fidelity."""
        ops: dict[int, list[LogRow]] = {}
        for row in self.log.rows(scenario):
            if validations or row.kind != "validate":
                ops.setdefault(row.operation, []).append(row)
        items = [_summarize(rows, full) for rows in ops.values()]
        if limit is not None:
            items = items[-limit:] if limit > 0 else []
        names = [scenario] if scenario is not None else self.log.scenarios()
        networks = {}
        for name in names:
            state = read_element_state(element_path(self.home, name))
            last = self._last_in_force(name)
            if state is not None:
                in_force = state.to_dict()
            else:  # never configured by aign: the factory configuration
                in_force = {
                    "design": None if last is None else last.in_force,
                    "power_mw": None if last is None else last.in_force_mw,
                    "source": FACTORY_SOURCE,
                }
            observed = [r for r in self.log.rows(name) if r.step == "observed"]
            networks[name] = {"in_force": in_force, "fidelity": _fidelity_summary(observed)}
        return finite(
            {
                "log": str(self.log.path),
                "networks": networks,
                "operations": items,
                "recovered": [r.to_dict() for r in self.recovered],
            }
        )

    def networks(self) -> dict[str, str | None]:
        """Networks the log has deployments or rollbacks for -> their last scenario file."""
        out: dict[str, str | None] = {}
        for row in self.log.rows():
            if row.kind in ("deploy", "rollback"):
                source = row.data.get("scenario_source")
                out[row.scenario] = source or out.get(row.scenario)
        return out


class _Recorder:
    """Writes the rows of one operation and asks the network element for changes."""

    def __init__(
        self, ops: Operations, scenario: Scenario, op: int, kind: str, sdigest: str, design: str
    ):
        self.ops, self.scenario, self.op, self.kind = ops, scenario, op, kind
        self.sdigest, self.design = sdigest, design

    def state(self, design: str, power_mw: Sequence[float], source: str) -> ElementState:
        """The configuration this operation asks the element to put in force."""
        return ElementState(self.scenario.name, self.sdigest, design, tuple(power_mw), source,
                            self.op, self.ops._now())  # fmt: skip

    def outcome(
        self,
        status: str,
        message: str,
        recovered: list[dict[str, Any]],
        predicted: dict[str, Any] | None = None,
        realized: dict[str, Any] | None = None,
    ) -> Outcome:
        """How the operation ended, with what the network has in force now."""
        in_force = self.ops.in_force(self.scenario).to_dict()
        return Outcome(self.kind, status, self.scenario.name, self.op, self.design, message,
                       in_force, predicted, realized, recovered)  # fmt: skip

    def append(
        self, step: str, in_force: str, in_force_mw: list[float], detail: str, data: dict[str, Any]
    ) -> LogRow:
        try:
            return self.ops.log.append(
                operation=self.op,
                kind=self.kind,
                step=step,
                scenario=self.scenario.name,
                scenario_digest=self.sdigest,
                design=self.design,
                in_force=in_force,
                in_force_mw=in_force_mw,
                detail=detail,
                data=finite(data),
                created_at=self.ops._now(),
            )
        except DeploymentLogError as err:
            now = self.ops.in_force(self.scenario)
            raise DeploymentLogError(
                f"{err} The network has design {now.digest} in force; the next aign command "
                f"will record it (operation #{self.op} stays open until then)."
            ) from None

    def change(
        self,
        element: NetworkElement,
        config: ElementState,
        timeout_s: float,
        step: str,
        why: str = "",
    ) -> LogRow | None:
        """Ask the element to put ``config`` in force and record the answer.

        Returns None when ``config`` is in force (``step`` recorded), else the ``failed`` row
        (recorded with what is in force instead).
        """
        config_dict = config.to_dict()
        try:
            element.apply(config, timeout_s)
            how = "the network element applied it"
        except ElementRejected as err:
            how = None
            fault = f"rejected ({err.reason})"
        except ElementTimeout as err:
            how = None
            fault = f"did not answer within {err.timeout_s:g} s"
        except NetworkElementError as err:
            how = None
            fault = f"failed ({err})"
        now = self.ops.in_force(self.scenario)
        if how is None and now.same_powers(config.power_mw):
            how = f"the network element {fault}, but it reports the configuration in force"
        if how is not None:
            detail = f"{why}; {how}" if why else f"design {config.design} applied: {how}"
            self.append(
                step,
                now.digest,
                list(now.power_mw),
                detail,
                {"element": config_dict, "answer": how},
            )
            return None
        goal = "restoring" if step == "rolled_back" else "applying"
        detail = (
            f"{goal} design {config.design} failed: the network element {fault}; "
            f"design {now.digest} is in force"
        )
        if step == "rolled_back" and self.kind == "deploy":
            detail += f" (run `aign rollback {self.scenario.name}` to try again)"
        return self.append(
            "failed",
            now.digest,
            list(now.power_mw),
            detail,
            {"element": config_dict, "fault": fault, "reason": why},
        )


def _predicted(report: dict[str, Any]) -> dict[str, Any]:
    calibration = report.get("calibration")
    return {
        "utility": report["utility"]["mean"],
        "utility_ci95": report["utility"]["ci95"],
        "utility_p5_of_runs": report["utility"]["p5_of_runs"],
        "improvement": report["improvement"]["mean"],
        "rate_p5_bps": report["rate_p5_bps"]["mean"],
        "constraints": {k: v["mean"] for k, v in report["constraints"].items()},
        "sinr_db_mean": report["sinr_db_mean"],
        "validation": report_digest(report),
        **({"calibration": calibration["digest"]} if calibration else {}),
    }


def _fidelity(predicted: dict[str, Any], realized: Realized) -> dict[str, Any]:
    utility = realized.utility["mean"]
    error = None if utility is None else utility - predicted["utility"]
    return {
        "utility_error": error,
        "utility_rel_error": None if error is None or utility == 0 else error / abs(utility),
        "sinr_rmse_db": sinr_rmse_db(predicted["sinr_db_mean"], realized.sinr_db_mean),
        "calibration": predicted.get("calibration"),  # the twin's calibration, if any
    }


def _fidelity_summary(observed: list[LogRow], split: bool = True) -> dict[str, Any]:
    """Mean prediction errors over observed deployments; with ``split``, also per twin
    calibration (``by_calibration``: ``"none"`` for the uncalibrated twin, else the
    calibration's digest), so a recalibration's effect shows in the history."""
    errors = [r.data.get("fidelity", {}) for r in observed]
    utility = [e["utility_error"] for e in errors if e.get("utility_error") is not None]
    rel = [e["utility_rel_error"] for e in errors if e.get("utility_rel_error") is not None]
    sinr = [e["sinr_rmse_db"] for e in errors if e.get("sinr_rmse_db") is not None]
    out: dict[str, Any] = {
        "deployments_observed": len(observed),
        "utility_error_mean": float(np.mean(utility)) if utility else None,
        "utility_abs_error_mean": float(np.mean(np.abs(utility))) if utility else None,
        "utility_rel_abs_error_mean": float(np.mean(np.abs(rel))) if rel else None,
        "sinr_rmse_db_mean": float(np.mean(sinr)) if sinr else None,
    }
    if split:
        groups: dict[str, list[LogRow]] = {}
        for row, e in zip(observed, errors, strict=True):
            groups.setdefault(e.get("calibration") or "none", []).append(row)
        out["by_calibration"] = {k: _fidelity_summary(v, False) for k, v in groups.items()}
    return out


def _summarize(rows: list[LogRow], full: bool) -> dict[str, Any]:
    first, last = rows[0], rows[-1]
    observed = next((r for r in rows if r.step == "observed"), None)
    out = {
        "operation": first.operation,
        "kind": first.kind,
        "scenario": first.scenario,
        "design": first.design,
        "status": last.step if last.terminal else "in progress or interrupted",
        "started_at": first.created_at,
        "finished_at": last.created_at if last.terminal else None,
        "in_force": last.in_force,
        "detail": last.detail,
        "steps": [
            {
                "seq": r.seq,
                "step": r.step,
                "at": r.created_at,
                "in_force": r.in_force,
                "detail": r.detail,
                **({"data": r.data} if full else {}),
            }
            for r in rows
        ],
    }
    if observed is not None:
        out["predicted_utility"] = observed.data["predicted"]["utility"]
        out["realized_utility"] = observed.data["realized"]["utility"]["mean"]
        out["fidelity"] = observed.data.get("fidelity")
    return out


def _age(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{seconds / 86_400:.3g} days"
    if seconds >= 3_600:
        return f"{seconds / 3_600:.3g} h"
    if seconds >= 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


def _env_float(name: str, default: float) -> float:
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
