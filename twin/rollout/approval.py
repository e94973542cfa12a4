"""Validation as an operation: a signed report in the log, and the gate a deployment must pass.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.compute.executors import Executor
from twin.core.errors import DeploymentError, NotValidatedError, StaleValidationError
from twin.core.records import finite
from twin.radio.instance import Design
from twin.rollout.home import report_digest, sign_report, signing_key
from twin.rollout.locks import operation_lock
from twin.rollout.outcomes import InForce, format_age
from twin.rollout.reconcile import Reconciler
from twin.rollout.validation import check_design, validate_design
from twin.scenario.derive import scenario_digest
from twin.scenario.schema import Scenario

if TYPE_CHECKING:
    from twin.radio.calibration import Calibration


class Approver(Reconciler):
    """Validate designs; say whether a validation still allows deploying."""

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
        report["signature"] = sign_report(report, signing_key(self.home))
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
        key = signing_key(self.home)
        if report is not None:
            if not isinstance(report, dict) or not hmac.compare_digest(
                str(report.get("signature", "")), sign_report(report, key)
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
                raise NotValidatedError(
                    f"design {digest} has no validation on scenario {scenario.name!r}; run "
                    f"`aign validate {scenario.name} DESIGN` first. Nothing was deployed."
                )
        report = row.data.get("report") or {}
        if not hmac.compare_digest(str(report.get("signature", "")), sign_report(report, key)):
            raise DeploymentError(
                f"the validation recorded at row {row.seq} of {self.log.path} does not match "
                "its signature (the log was altered); validate again. Nothing was deployed."
            )
        reasons: dict[str, str] = {}
        if report["design"]["digest"] != digest:
            reasons["other_design"] = f"the report validates design {report['design']['digest']}"
        if report["scenario"]["digest"] != scenario_digest(scenario):
            reasons["scenario_changed"] = f"scenario {scenario.name!r} changed since the validation"
        if report["gates"] != scenario.gates.model_dump(mode="json"):
            reasons["gates_changed"] = "the scenario's gates changed since the validation"
        if not report["verdict"]["passed"]:
            reasons["failed"] = "the validation failed: " + "; ".join(report["verdict"]["failed"])
        if not current.same_powers(report["baseline"]["power_mw"]):
            reasons["baseline_changed"] = (
                f"it was measured against design {report['baseline']['digest']}, but "
                f"{current.digest} is in force now"
            )
        age_s = (self.clock() - datetime.fromisoformat(report["created_at"])).total_seconds()
        max_age = scenario.gates.max_validation_age_s
        if age_s > max_age:
            reasons["expired"] = (
                f"it is {format_age(age_s)} old (gates.max_validation_age_s allows "
                f"{format_age(max_age)})"
            )
        elif age_s < -60:
            reasons["future"] = f"it is dated {format_age(-age_s)} in the future"
        if reasons:
            raise StaleValidationError(
                f"design {digest} has no passing, current validation (validation of "
                f"{report['created_at']}, log row {row.seq}): "
                + "; ".join(reasons.values())
                + f". Run `aign validate` again. Nothing was deployed; {current.digest} is in "
                "force.",
                list(reasons),
            )
        return report
