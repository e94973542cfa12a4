"""Validate, deploy, observe, keep or roll back: designs reach the network only through here.

What the CLI (``aign validate|deploy|deployments|rollback``) and the UI call is
:class:`Operations`, over one data directory (``$AIGN_HOME``, default ``~/.aign``)::

    deployments.db        the append-only deployment log (twin.rollout.deploylog)
    deployments.id        the identity of that log (a lost or swapped log is refused)
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

import os
from collections.abc import Callable
from datetime import UTC, datetime

from twin.rollout.deploy import Deployer
from twin.rollout.deploylog import DEFAULT_BUSY_TIMEOUT_S, DeploymentLog
from twin.rollout.element import (
    ElementFaults,
)
from twin.rollout.history import Historian
from twin.rollout.home import (
    DB_NAME,
    DB_TIMEOUT_ENV,
    aign_home,
    check_log_identity,
    check_log_present,
    env_float,
)
from twin.rollout.observation import (
    Observer,
    observe,
)
from twin.rollout.outcomes import Recovery


# --------------------------------------------------------------------------- operations
class Operations(Deployer, Historian):
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
            busy_timeout_s = env_float(DB_TIMEOUT_ENV, DEFAULT_BUSY_TIMEOUT_S)
        self.faults = ElementFaults.from_env() if faults is None else faults
        check_log_present(self.home)
        self.log = DeploymentLog(self.home / DB_NAME, busy_timeout_s, read_only=read_only)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.observer = observe if observer is None else observer
        try:
            check_log_identity(self.home, self.log.log_id, self.log.created_at(), not read_only)
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
