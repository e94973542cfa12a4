"""Deploy and roll back: log first, then ask the network element, observe, judge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from twin.core.errors import DeploymentError, DeploymentLogError, NetworkElementError
from twin.core.records import design_digest, finite
from twin.radio.instance import Design
from twin.rollout.approval import Approver
from twin.rollout.base import OperationsBase
from twin.rollout.deploylog import LogRow
from twin.rollout.element import (
    ElementRejected,
    ElementState,
    ElementTimeout,
    NetworkElement,
)
from twin.rollout.home import report_digest
from twin.rollout.locks import operation_lock
from twin.rollout.observation import (
    Realized,
    judge_observation,
    observation_seed,
    sinr_rmse_db,
)
from twin.rollout.outcomes import Outcome
from twin.rollout.validation import check_design
from twin.scenario.derive import scenario_digest
from twin.scenario.schema import Scenario

DEFAULT_APPLY_TIMEOUT_S = 10.0


class Deployer(Approver):
    """Deployments (kept or rolled back after observation) and rollbacks by hand."""

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


class _Recorder:
    """Writes the rows of one operation and asks the network element for changes."""

    def __init__(
        self, ops: OperationsBase, scenario: Scenario, op: int, kind: str, sdigest: str, design: str
    ):
        self.ops, self.scenario, self.op, self.kind = ops, scenario, op, kind
        self.sdigest, self.design = sdigest, design

    def state(self, design: str, power_mw: Sequence[float], source: str) -> ElementState:
        """The configuration this operation asks the element to put in force."""
        return ElementState(self.scenario.name, self.sdigest, design, tuple(power_mw), source,
                            self.op, self.ops._now(), self.ops.log.log_id)  # fmt: skip

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
