"""Deployment: only validated designs reach the network; every step is logged; faults leave
the log consistent and the design in force known exactly."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.twin.small import small_scenario
from twin.core.errors import DeploymentError, DeploymentLogError, DesignError
from twin.core.records import design_digest
from twin.radio.instance import Design
from twin.rollout import Operations
from twin.rollout.deploylog import LockedLogError, ReadOnlyLogError
from twin.rollout.element import ElementFaults, element_path
from twin.rollout.home import report_digest
from twin.rollout.observation import observe
from twin.scenario.derive import scenario_digest
from twin.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[3]


def small(gates=None, sync=None, **overrides) -> Scenario:
    """The small network, synced; lenient rollback floor unless a test sets the gates."""
    lenient = {"runs": 5, "min_runs": 5, "window_s": 1.0, "realized_utility_tolerance": 1e3}
    return small_scenario(
        sync={"enabled": True, "report_period_s": 0.1, **(sync or {})},
        gates=gates or lenient,
        **overrides,
    )


def fixed(level_mw: float, n: int = 6) -> Design:
    return Design(np.full(n, level_mw), f"fixed:{level_mw:g}")


def steps(ops: Operations, kinds=("deploy", "rollback", "reconcile")) -> list[tuple[int, str]]:
    return [(r.operation, r.step) for r in ops.log.rows() if r.kind in kinds]


def powers_in_force(ops: Operations, scenario: Scenario) -> list[float]:
    return list(ops.in_force(scenario).power_mw)


class Clock:
    def __init__(self):
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self):
        return self.now


@pytest.fixture
def home(tmp_path):
    return tmp_path / "aign"


def open_ops(home, **kwargs) -> Operations:
    kwargs.setdefault("faults", ElementFaults())
    return Operations(home, **kwargs)


# --------------------------------------------------------------------------- the happy path
def test_validated_design_is_applied_observed_kept_and_every_step_logged(home):
    scenario = small()
    ops = open_ops(home)
    report = ops.validate(scenario, fixed(10))
    outcome = ops.deploy(scenario, fixed(10))
    assert outcome.status == "kept" and outcome.ok
    assert powers_in_force(ops, scenario) == [10.0] * 6
    rows = ops.log.rows()
    assert [r.step for r in rows] == ["validated", "deploying", "applied", "observed", "kept"]
    assert all(r.operation == 2 for r in rows[1:])
    assert [r.in_force == report["design"]["digest"] for r in rows] == [
        False, False, True, True, True,
    ]  # fmt: skip
    observed = rows[3].data
    assert observed["predicted"]["utility"] == report["utility"]["mean"]
    assert observed["realized"]["fresh_reports"] >= scenario.gates.min_fresh_reports
    assert "utility_error" in observed["fidelity"] and "sinr_rmse_db" in observed["fidelity"]
    assert rows[1].data["design"]["power_mw"] == [10.0] * 6
    assert rows[0].data["report"] == report
    assert all(datetime.fromisoformat(r.created_at).tzinfo is not None for r in rows)


def test_the_configuration_in_force_outlives_the_process_that_deployed_it(home):
    scenario = small()
    with open_ops(home) as ops:
        ops.validate(scenario, fixed(10))
        ops.deploy(scenario, fixed(10))
    with open_ops(home) as later:
        assert powers_in_force(later, scenario) == [10.0] * 6
        assert later.recovered == []


def test_deploying_the_design_in_force_changes_nothing(home):
    scenario = small()
    ops = open_ops(home)
    ops.validate(scenario, fixed(10))
    ops.deploy(scenario, fixed(10))
    before = len(ops.log.rows())
    outcome = ops.deploy(scenario, fixed(10))
    assert outcome.status == "unchanged" and len(ops.log.rows()) == before


def test_log_rows_cannot_be_changed_or_deleted(home):
    ops = open_ops(home)
    ops.validate(small(), fixed(10))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        ops.log.conn.execute("UPDATE log SET detail = 'edited'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        ops.log.conn.execute("DELETE FROM log")


def test_a_design_that_underperforms_on_the_network_is_rolled_back(home):
    # The real network is noisier than the twin believes (noise figure 30 dB, not 7 dB).
    def noisier_network(scenario, before, after, seed):
        noise = scenario.channel.noise.model_copy(update={"figure_db": 30.0})
        channel = scenario.channel.model_copy(update={"noise": noise})
        return observe(scenario.model_copy(update={"channel": channel}), before, after, seed)

    scenario = small(gates={"runs": 5, "min_runs": 5, "window_s": 1.0})
    ops = open_ops(home, observer=noisier_network)
    ops.validate(scenario, fixed(10))
    outcome = ops.deploy(scenario, fixed(10))
    assert outcome.status == "rolled_back" and not outcome.ok
    assert "is below the floor" in outcome.message
    assert outcome.realized["utility"]["mean"] < outcome.predicted["utility_p5_of_runs"]
    assert powers_in_force(ops, scenario) == [0.0] * 6
    assert steps(ops) == [(2, "deploying"), (2, "applied"), (2, "observed"), (2, "rolled_back")]


# --------------------------------------------------------------------------- manual rollback
def test_rollback_restores_the_previous_designs_in_turn_then_refuses(home):
    lenient = {"runs": 5, "min_runs": 5, "window_s": 1.0, "min_improvement": -1e3,
               "realized_utility_tolerance": 1e3}  # fmt: skip
    scenario = small(gates=lenient)
    ops = open_ops(home)
    for level in (1, 10):
        ops.validate(scenario, fixed(level))
        assert ops.deploy(scenario, fixed(level)).status == "kept"
    assert ops.rollback(scenario).status == "rolled_back"
    assert powers_in_force(ops, scenario) == [1.0] * 6
    assert ops.rollback(scenario).status == "rolled_back"
    assert powers_in_force(ops, scenario) == [0.0] * 6
    with pytest.raises(DeploymentError, match="nothing to roll back"):
        ops.rollback(scenario)


# --------------------------------------------------------------------------- refusals
def test_a_design_without_validation_is_refused_and_nothing_changes(home):
    scenario = small()
    ops = open_ops(home)
    with pytest.raises(DeploymentError, match="has no validation.*Nothing was deployed"):
        ops.deploy(scenario, fixed(10))
    assert ops.log.rows() == [] and not element_path(home, "small").exists()


def test_a_failed_validation_does_not_deploy(home):
    scenario = small()
    ops = open_ops(home)
    ops.validate(scenario, fixed(10), runs=3)  # below gates.min_runs
    with pytest.raises(DeploymentError, match="the validation failed: Monte-Carlo runs: 3"):
        ops.deploy(scenario, fixed(10))
    assert powers_in_force(ops, scenario) == [0.0] * 6


def test_a_validation_older_than_the_gate_allows_is_refused(home):
    clock = Clock()
    scenario = small()
    ops = open_ops(home, clock=clock)
    ops.validate(scenario, fixed(10))
    clock.now += timedelta(days=2)
    with pytest.raises(DeploymentError, match=r"it is 2 days old \(gates.max_validation_age_s"):
        ops.deploy(scenario, fixed(10))
    assert powers_in_force(ops, scenario) == [0.0] * 6


def test_a_validation_against_a_design_no_longer_in_force_is_refused(home):
    scenario = small()
    ops = open_ops(home)
    ops.validate(scenario, fixed(10))
    ops.validate(scenario, fixed(20))  # both measured against the factory powers
    ops.deploy(scenario, fixed(10))
    with pytest.raises(DeploymentError, match="measured against design .* but .* is in force"):
        ops.deploy(scenario, fixed(20))
    assert powers_in_force(ops, scenario) == [10.0] * 6


def test_a_validation_judged_under_other_gates_is_refused(home):
    ops = open_ops(home)
    ops.validate(small(), fixed(10))
    stricter = small(gates={"runs": 5, "min_runs": 5, "window_s": 1.0, "min_improvement": 5.0})
    with pytest.raises(DeploymentError, match="gates changed since the validation"):
        ops.deploy(stricter, fixed(10))


def test_a_validation_of_another_version_of_the_scenario_is_refused(home):
    ops = open_ops(home)
    ops.validate(small(), fixed(10))
    with pytest.raises(DeploymentError, match="has no validation"):  # other digest, other design
        ops.deploy(small(seed=4), fixed(10))


def test_an_altered_report_is_refused_as_not_signed(home):
    scenario = small()
    ops = open_ops(home)
    report = ops.validate(scenario, fixed(10))
    forged = json.loads(json.dumps(report))
    forged["utility"]["mean"] += 100.0
    with pytest.raises(DeploymentError, match="not signed by this data directory"):
        ops.deploy(scenario, fixed(10), report=forged)
    assert ops.deploy(scenario, fixed(10), report=report).status == "kept"


def test_a_signed_report_missing_from_this_log_is_refused(home, tmp_path):
    scenario = small()
    elsewhere = tmp_path / "elsewhere"
    report = open_ops(elsewhere).validate(scenario, fixed(10))
    home.mkdir()
    (home / "key").write_text((elsewhere / "key").read_text())  # the same signing key
    with pytest.raises(DeploymentError, match="is not in the deployment log"):
        open_ops(home).deploy(scenario, fixed(10), report=report)


def test_a_validation_row_forged_into_the_database_is_refused(home):
    scenario = small()
    ops = open_ops(home)
    report = ops.validate(scenario, fixed(10), runs=3)  # failed: too few runs
    forged = json.loads(json.dumps(report))
    forged["verdict"] = {"passed": True, "checks": [], "failed": []}
    ops.log.append(
        operation=None, kind="validate", step="validated", scenario="small",
        scenario_digest=report["scenario"]["digest"], design=report["design"]["digest"],
        report=report_digest(forged), detail="forged", data={"report": forged},
        created_at=report["created_at"],
    )  # fmt: skip
    with pytest.raises(DeploymentError, match="does not match its signature"):
        ops.deploy(scenario, fixed(10))


@pytest.mark.parametrize(
    ("design", "message"),
    [
        (Design(np.full(6, 10.0), "x", provenance={"scenario": "default"}),
         "made for scenario 'default'"),
        (fixed(10, n=5), "has 5 entries but the scenario has 6 users"),
        (Design(np.array([10, 10, 10, 10, 10, 10.5]), "x"), "users [5] have powers [10.5]"),
    ],
)  # fmt: skip
def test_a_design_that_does_not_fit_the_scenario_is_refused(home, design, message):
    ops = open_ops(home)
    with pytest.raises(DesignError) as err:
        ops.deploy(small(), design)
    assert message in str(err.value)
    assert ops.log.rows() == []


# --------------------------------------------------------------------------- the log file
def test_a_log_from_a_newer_aign_is_refused(home):
    open_ops(home).close()
    with sqlite3.connect(home / "deployments.db") as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(DeploymentLogError, match="newer aign .*version 99.*reads up to 1"):
        open_ops(home)


def test_a_file_that_is_not_a_log_is_refused(home):
    home.mkdir()
    (home / "deployments.db").write_text("hello")
    with pytest.raises(DeploymentLogError, match="not a deployment log"):
        open_ops(home)


def test_a_locked_log_is_refused_after_the_busy_timeout_and_nothing_is_deployed(home):
    scenario = small()
    ops = open_ops(home)
    ops.validate(scenario, fixed(10))
    ops.close()
    holder = sqlite3.connect(home / "deployments.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        start = time.monotonic()
        with pytest.raises(LockedLogError, match=r"locked by another process \(waited 0.2 s\)"):
            open_ops(home, busy_timeout_s=0.2)
        assert time.monotonic() - start >= 0.2
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not element_path(home, "small").exists()


def _make_read_only(path: Path) -> None:
    if os.geteuid() != 0:
        path.chmod(0o444)
        return
    # root writes through permissions; the immutable attribute stops it
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot make a file read-only for root here (chattr +i failed)")


def _make_writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    path.chmod(0o644)


def test_a_read_only_log_is_refused_and_nothing_is_deployed(home):
    scenario = small()
    ops = open_ops(home)
    ops.validate(scenario, fixed(10))
    ops.close()
    db = home / "deployments.db"
    _make_read_only(db)
    try:
        with pytest.raises(ReadOnlyLogError, match="read-only.*nothing was changed"):
            open_ops(home)
        # the history can still be read
        with open_ops(home, read_only=True) as reader:
            assert [r.step for r in reader.log.rows()] == ["validated"]
    finally:
        _make_writable(db)
    assert not element_path(home, "small").exists()


# --------------------------------------------------------------------------- the network element
def test_a_rejected_configuration_is_logged_and_the_previous_design_stays(home):
    scenario = small()
    ops = open_ops(home)
    ops.validate(scenario, fixed(10))
    ops.faults = ElementFaults(reject_prob=1.0, reject_reason="maintenance window")
    outcome = ops.deploy(scenario, fixed(10))
    assert outcome.status == "failed"
    assert "rejected (maintenance window)" in outcome.message
    assert outcome.in_force["power_mw"] == [0.0] * 6
    assert steps(ops) == [(2, "deploying"), (2, "failed")]
    assert ops.log.rows()[-1].in_force_mw == [0.0] * 6


def test_an_element_that_does_not_answer_times_out_and_the_request_is_dropped(home):
    scenario = small()
    ops = open_ops(home)
    ops.validate(scenario, fixed(10))
    ops.faults = ElementFaults(hang_s=0.6)
    start = time.monotonic()
    outcome = ops.deploy(scenario, fixed(10), apply_timeout_s=0.1)
    assert time.monotonic() - start < 0.5  # the deadline, not the element, ended the wait
    assert outcome.status == "failed" and "did not answer within 0.1 s" in outcome.message
    time.sleep(0.8)  # the element wakes up after the deadline: it must not apply it late
    assert powers_in_force(ops, scenario) == [0.0] * 6
    assert steps(ops) == [(2, "deploying"), (2, "failed")]


def test_a_lost_answer_is_resolved_by_asking_the_element_what_is_in_force(home):
    scenario = small()
    ops = open_ops(home)
    ops.validate(scenario, fixed(10))
    ops.faults = ElementFaults(ack_delay_s=0.5)
    outcome = ops.deploy(scenario, fixed(10), apply_timeout_s=0.1)
    assert outcome.status == "kept"
    applied = ops.log.rows()[2]
    assert applied.step == "applied"
    assert "did not answer within 0.1 s, but it reports the configuration in force" in (
        applied.detail
    )


# --------------------------------------------------------------------------- channel reports
def test_reports_measured_before_the_switch_are_stale_and_not_counted():
    # reports every 0.1 s arrive 0.25 s late; the switch is at 0.5 s (first epoch >= period)
    scenario = small(sync={"delay_s": 0.25})
    realized = observe(scenario, np.zeros(6), np.full(6, 10.0), seed=1, window_s=1.0)
    assert realized.applied_at_s == 0.5
    # measured at 0.3, 0.4, 0.5 (<= switch), seen at 0.6, 0.7, 0.8: stale; measured at
    # 0.6 .. 1.1, seen at 0.9 .. 1.4: fresh; the window ends at 1.5 with 1.3 and 1.4 in flight
    assert realized.stale_reports == 3
    assert realized.fresh_reports == 6
    assert realized.reports_sent == 14 and realized.reports_in_flight == 2


def test_dropped_reports_leave_too_little_evidence_and_the_design_is_rolled_back(home):
    gates = {"runs": 5, "min_runs": 5, "window_s": 2.0, "min_fresh_reports": 15,
             "realized_utility_tolerance": 1e3}  # fmt: skip
    scenario = small(gates=gates, sync={"drop_prob": 0.9})
    ops = open_ops(home)
    ops.validate(scenario, fixed(10))
    outcome = ops.deploy(scenario, fixed(10))
    realized = outcome.realized
    assert outcome.status == "rolled_back"
    assert "cannot be judged" in outcome.message and "dropped" in outcome.message
    assert realized["fresh_reports"] < 15 and realized["reports_dropped"] > 10
    assert realized["reports_sent"] == (
        realized["reports_dropped"] + realized["reports_delivered"] + realized["reports_in_flight"]
    )
    assert powers_in_force(ops, scenario) == [0.0] * 6


def test_reports_delayed_past_the_window_cannot_confirm_a_design(home):
    scenario = small(sync={"delay_s": 5.0})
    ops = open_ops(home)
    ops.validate(scenario, fixed(10))
    outcome = ops.deploy(scenario, fixed(10))
    assert outcome.status == "rolled_back"
    assert outcome.realized["fresh_reports"] == 0
    assert "still in flight" in outcome.message
    assert powers_in_force(ops, scenario) == [0.0] * 6


# --------------------------------------------------------------------------- crashes
def _scenario_file(tmp_path: Path, scenario: Scenario) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(json.dumps(scenario.model_dump(mode="json", exclude_none=True)))
    return path


def _wait_for(predicate, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the subprocess")
        time.sleep(0.05)


def test_killed_after_the_network_applied_the_design_is_recovered_on_the_next_command(
    home, tmp_path
):
    scenario = small()
    with open_ops(home) as ops:
        ops.validate(scenario, fixed(10))
    path = _scenario_file(tmp_path, scenario)
    code = (
        "from twin.rollout.deployment import Operations; "
        "from twin.scenario.loader import load_scenario; "
        "from twin.radio.instance import Design; import numpy as np; "
        f"Operations({str(home)!r}).deploy(load_scenario({str(path)!r}), "
        "Design(np.full(6, 10.0), 'fixed:10'), apply_timeout_s=120)"
    )
    env = {**os.environ, "AIGN_ELEMENT_FAULTS": json.dumps({"ack_delay_s": 120})}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    try:
        state = element_path(home, "small")
        _wait_for(lambda: state.exists() or proc.poll() is not None)
        assert proc.poll() is None, "the deployment ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()

    ops = open_ops(home)
    (recovery,) = ops.recovered
    assert recovery.recorded and recovery.operation == 2
    assert "was interrupted (last recorded step: deploying)" in recovery.message
    assert "the network applied it" in recovery.message
    assert recovery.in_force["power_mw"] == [10.0] * 6
    assert steps(ops) == [(2, "deploying"), (2, "recovered")]
    assert [r.step for r in ops.log.rows()][0] == "validated"  # nothing recorded was lost
    # the design in force is known exactly, and the one before it can be restored
    assert powers_in_force(ops, scenario) == [10.0] * 6
    assert ops.rollback(scenario).status == "rolled_back"
    assert powers_in_force(ops, scenario) == [0.0] * 6


def test_a_change_made_outside_aign_is_recorded_as_drift(home):
    scenario = small()
    ops = open_ops(home)
    ops.validate(scenario, fixed(10))
    ops.deploy(scenario, fixed(10))
    state = json.loads(element_path(home, "small").read_text())
    state["power_mw"] = [20.0] * 6
    state["design"] = design_digest(scenario_digest(scenario), state["power_mw"])
    element_path(home, "small").write_text(json.dumps(state))
    notes = ops.reconcile(scenario)
    assert len(notes) == 1 and "changed outside aign" in notes[0].message
    assert ops.log.rows()[-1].in_force_mw == [20.0] * 6


def test_an_operation_in_progress_in_another_process_is_not_touched(home):
    scenario = small()
    ops = open_ops(home)
    lock = home / "locks" / "small.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'4242'); print('held', flush=True); "
         "time.sleep(60)", str(lock)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DeploymentError, match=r"another aign command \(pid 4242\)"):
            ops.validate(scenario, fixed(10))
    finally:
        holder.kill()
        holder.wait()
