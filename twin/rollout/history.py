"""The history: operations, what each network has in force, and the twin's fidelity.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from twin.core.errors import AignError
from twin.core.records import finite
from twin.rollout.deploylog import LogRow
from twin.rollout.outcomes import FACTORY_SOURCE, in_force_from
from twin.rollout.reconcile import Reconciler


class Historian(Reconciler):
    """Read the log: operations and networks."""

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
            last = self._last_in_force(name)
            try:
                state = self.element_state(name)
            except AignError as err:  # a damaged element state does not hide the history
                state, error = None, str(err)
            else:
                error = None
            if error is not None:
                in_force = {
                    "design": None if last is None else last.in_force,
                    "power_mw": None if last is None else last.in_force_mw,
                    "source": "unknown: the network element's state cannot be read",
                    "error": error,
                }
            elif state is not None:
                in_force = {**in_force_from(state, name, None).to_dict(), "log_id": state.log_id}
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
                "log_id": self.log.log_id,
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
