"""The network element: the physical layer's configuration interface and its memory.

A real network element keeps the configuration in force across restarts of whatever
configured it. The simulated one keeps it in a JSON state file (``network/NAME.json`` under
the data directory), replaced atomically, so every ``aign`` command sees what the previous
one left in force, even if that command was killed. An element that was never configured by
aign runs its factory configuration: the scenario's initial powers.

:meth:`NetworkElement.apply` is a remote call with a deadline. Faults are injected as an
operator would meet them (:class:`ElementFaults`, from ``AIGN_ELEMENT_FAULTS``): the element
rejects a configuration, does not answer in time (the request is then dropped), or applies
it but answers too late.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from twin.core.errors import AignError, NetworkElementError
from twin.core.files import JsonLimits, parse_json, read_json, write_json_atomic
from twin.radio.instance import LEVEL_ATOL_MW
from twin.scenario.schema import Scenario

ELEMENT_FORMAT = "aign.element/1"
ELEMENT_LIMITS = JsonLimits(max_bytes=16_000_000)  # 100,000 powers take about 2 MB
FAULTS_ENV = "AIGN_ELEMENT_FAULTS"


class ElementRejected(NetworkElementError):
    """The element refused the configuration; the one in force is unchanged."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"the network element rejected the configuration: {reason}")


class ElementTimeout(NetworkElementError):
    """The element did not answer within the deadline; what is in force must be asked."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        super().__init__(f"the network element did not answer within {timeout_s:g} s")


@dataclass(frozen=True)
class ElementFaults:
    """Faults the simulated element shows, for drills and tests (all off by default).

    - ``reject_prob``: probability in [0, 1] that a configuration is rejected.
    - ``reject_reason``: what the element says when it rejects.
    - ``hang_s``: the element sits on a request this long, s; if the caller's deadline passes
      first, the request is dropped and nothing changes (an element that does not answer).
    - ``ack_delay_s``: the element applies the configuration, then its answer takes this long,
      s (an answer lost on the way back: the caller must ask what is in force).
    - ``seed``: seed of the rejection draws (each request draws from (seed, operation)).
    """

    reject_prob: float = 0.0
    reject_reason: str = "configuration refused by the network element"
    hang_s: float = 0.0
    ack_delay_s: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.reject_prob <= 1.0:
            raise AignError(f"{FAULTS_ENV}: reject_prob must be in [0, 1], got {self.reject_prob}")
        if self.hang_s < 0 or self.ack_delay_s < 0:
            raise AignError(f"{FAULTS_ENV}: hang_s and ack_delay_s must be >= 0")

    @classmethod
    def from_env(cls) -> ElementFaults:
        """Faults from ``AIGN_ELEMENT_FAULTS`` (a JSON object of the fields), or none."""
        text = os.environ.get(FAULTS_ENV, "").strip()
        if not text:
            return cls()
        try:
            data = parse_json(text, FAULTS_ENV, AignError)
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            return cls(**data)
        except (ValueError, TypeError, AignError) as exc:
            allowed = ", ".join(cls.__dataclass_fields__)
            raise AignError(
                f"{FAULTS_ENV} must be a JSON object with fields {allowed}: {exc}"
            ) from None


@dataclass(frozen=True)
class ElementState:
    """The configuration an element has in force."""

    scenario: str
    scenario_digest: str
    design: str  # digest of the power vector's design (see twin.rollout.validation.design_digest)
    power_mw: tuple[float, ...]
    source: str
    operation: int | None  # deployment-log operation that applied it; None: factory default
    applied_at: str | None  # UTC ISO 8601; None: factory default
    log_id: str | None = None  # identity of the deployment log that recorded it (home.py)

    def to_dict(self) -> dict[str, Any]:
        return {"format": ELEMENT_FORMAT, **asdict(self), "power_mw": list(self.power_mw)}

    @classmethod
    def from_dict(cls, data: Any, source: str) -> ElementState:
        try:
            if data.get("format") != ELEMENT_FORMAT:
                raise ValueError(f"format is {data.get('format')!r}, expected {ELEMENT_FORMAT}")
            fields = {k: data[k] for k in cls.__dataclass_fields__ if k != "log_id"}
            fields["log_id"] = data.get("log_id")
            powers = fields["power_mw"]
            if not isinstance(powers, list) or not all(
                isinstance(p, int | float) and not isinstance(p, bool) and math.isfinite(p)
                for p in powers
            ):
                raise ValueError("power_mw must be a list of finite numbers")
            fields["power_mw"] = tuple(float(p) for p in powers)
            for name in ("scenario", "scenario_digest", "design", "source"):
                if not isinstance(fields[name], str):
                    raise ValueError(f"{name} must be text")
            if fields["operation"] is not None and (
                isinstance(fields["operation"], bool) or not isinstance(fields["operation"], int)
            ):
                raise ValueError("operation must be a whole number or null")
            if fields["log_id"] is not None and not isinstance(fields["log_id"], str):
                raise ValueError("log_id must be text or null")
            return cls(**fields)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise NetworkElementError(
                f"the network element's state {source} is unreadable ({exc}); what is in force "
                "is unknown, so nothing will be deployed until it is repaired"
            ) from None


@dataclass
class _Call:
    """One apply request, shared by the caller and the element's worker thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: threading.Event = field(default_factory=threading.Event)
    abandoned: bool = False
    state: ElementState | None = None
    error: BaseException | None = None


class NetworkElement:
    """The configuration memory of the network a scenario describes (one per scenario name)."""

    def __init__(self, home: str | os.PathLike, scenario: Scenario, faults: ElementFaults):
        self.scenario = scenario
        self.faults = faults
        self.path = element_path(home, scenario.name)

    def state(self) -> ElementState | None:
        """The configuration in force, or None for the factory configuration."""
        return read_element_state(self.path)

    def apply(self, config: ElementState, timeout_s: float) -> ElementState:
        """Put ``config`` in force; :class:`ElementRejected` or :class:`ElementTimeout`.

        After a timeout the caller must ask :meth:`state`: the element may have applied it.
        """
        call = _Call()
        worker = threading.Thread(target=self._serve, args=(call, config), daemon=True)
        worker.start()
        if not call.answered.wait(timeout_s):
            with call.lock:
                call.abandoned = True  # a request still waiting is now dropped, never applied
            raise ElementTimeout(timeout_s)
        if call.error is not None:
            raise call.error
        assert call.state is not None
        return call.state

    def _serve(self, call: _Call, config: ElementState) -> None:
        """The element's side of the call (runs in its own thread)."""
        try:
            if self.faults.hang_s > 0:
                time.sleep(self.faults.hang_s)
            with call.lock:
                if call.abandoned:
                    return
                reason = self._refusal(config)
                if reason is not None:
                    call.error = ElementRejected(reason)
                else:
                    try:
                        write_json_atomic(self.path, config.to_dict())
                    except OSError as exc:
                        raise NetworkElementError(
                            f"the network element cannot store the configuration ({exc})"
                        ) from None
                    call.state = config
            if call.state is not None and self.faults.ack_delay_s > 0:
                time.sleep(self.faults.ack_delay_s)
        except BaseException as exc:  # the caller re-raises it in its own thread
            call.error = exc
        call.answered.set()

    def _refusal(self, config: ElementState) -> str | None:
        """Why the element refuses ``config`` (it checks what it can run), or None."""
        n = self.scenario.users.n
        power = np.asarray(config.power_mw, dtype=float)
        if config.scenario != self.scenario.name:
            return f"the configuration is for network {config.scenario!r}"
        if power.shape != (n,):
            return f"{power.size} powers for {n} users"
        levels = np.asarray(self.scenario.power.levels())
        off = np.min(np.abs(power[:, None] - levels[None, :]), axis=1) > LEVEL_ATOL_MW
        if off.any():
            return f"users {np.flatnonzero(off)[:5].tolist()} have powers off the levels"
        if self.faults.reject_prob > 0:
            draw = np.random.default_rng([self.faults.seed, config.operation or 0]).random()
            if draw < self.faults.reject_prob:
                return self.faults.reject_reason
        return None


def element_path(home: str | os.PathLike, scenario_name: str) -> Path:
    return Path(home) / "network" / f"{scenario_name}.json"


def read_element_state(path: Path) -> ElementState | None:
    if not path.exists() and not path.is_symlink():
        return None
    try:
        data = read_json(path, NetworkElementError, ELEMENT_LIMITS, "network element state")
    except NetworkElementError as err:
        raise NetworkElementError(
            f"the network element's state is unusable ({err}); what is in force is unknown, "
            "so nothing will be deployed until it is repaired"
        ) from None
    return ElementState.from_dict(data, str(path))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
