"""Closing interrupted operations and recording drift: what the network really runs.
"""

from __future__ import annotations

from typing import Any

from twin.core.errors import AignError
from twin.rollout.base import OperationsBase
from twin.rollout.deploylog import LogRow
from twin.rollout.locks import lock_holder, try_operation_lock
from twin.rollout.outcomes import Recovery, in_force_from
from twin.scenario.derive import scenario_digest
from twin.scenario.schema import Scenario


class Reconciler(OperationsBase):
    """Interrupted operations, drift, and the designs in force over time."""

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
                            f"({lock_holder(self.home, name)}), last step {rows[-1].step}",
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
        try:
            state = self.element_state(name)
        except AignError as err:  # nothing is known: say so, record nothing, refuse later
            return Recovery(name, op, False, f"{first.kind} #{op} on network {name!r} was "
                            f"interrupted, and what is in force cannot be told: {err}", None)
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
