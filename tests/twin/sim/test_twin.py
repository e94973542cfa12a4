"""The SimPy twin: event order, determinism, sync fidelity, activity and closed-loop control."""

import numpy as np
import pytest
import simpy

from tests.twin.small import small_scenario
from twin.controllers import make_controller
from twin.scenario.loader import load_scenario
from twin.scenario.schema import Scenario
from twin.sim.twin import (
    PHASE_CHANNEL,
    PHASE_DECIDE,
    PHASE_DELIVER,
    PHASE_MEASURE,
    PHASE_RECORD,
    PhasedTimeout,
    Twin,
)


def small(**overrides) -> Scenario:
    """The small network, synced with exact immediate reports unless a test overrides."""
    sync = {"enabled": True, "report_period_s": 0.1, "delay_s": 0.0, "error_db": 0.0}
    return small_scenario(**{"sync": sync, **overrides})


def test_simultaneous_events_run_in_phase_order_whatever_the_schedule():
    env = simpy.Environment()
    log = []

    def proc(name, period, phase):
        while True:
            yield PhasedTimeout(env, period, phase)
            log.append((name, env.now))

    # started in reverse phase order and with different periods
    env.process(proc("record", 10, PHASE_RECORD))
    env.process(proc("decide", 20, PHASE_DECIDE))
    env.process(proc("deliver", 20, PHASE_DELIVER))
    env.process(proc("measure", 10, PHASE_MEASURE))
    env.process(proc("channel", 5, PHASE_CHANNEL))
    env.run(until=21)
    assert log == [
        ("channel", 5),
        ("channel", 10), ("measure", 10), ("record", 10),
        ("channel", 15),
        ("channel", 20), ("measure", 20), ("deliver", 20), ("decide", 20), ("record", 20),
    ]  # fmt: skip


def test_same_scenario_and_seed_give_identical_runs():
    a = Twin(small(), make_controller("coordinate")).run()
    b = Twin(small(), make_controller("coordinate")).run()
    assert a.columns == b.columns
    assert all(np.array_equal(x, y) for x, y in zip(a.power_mw, b.power_mw, strict=True))


def test_another_seed_gives_another_run():
    a = Twin(small(), make_controller("max"), seed=1).run()
    b = Twin(small(), make_controller("max"), seed=2).run()
    assert a.columns["utility"] != b.columns["utility"]


def test_progress_callback_does_not_change_the_run():
    seen = []
    a = Twin(small(), make_controller("max")).run(progress=seen.append)
    b = Twin(small(), make_controller("max")).run()
    assert a.columns == b.columns
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)


def test_one_record_per_step_over_the_duration():
    log = Twin(small(), make_controller("max")).run()
    assert len(log) == 20
    assert log.columns["time_s"][:3] == pytest.approx([0.0, 0.1, 0.2])


def test_exact_immediate_reports_make_the_estimate_the_true_channel():
    twin = Twin(small(), make_controller("max"))
    for t in (0.3, 0.75, 1.2):
        twin.run(until_s=t + 1e-9)
        gains, assoc, positions, active = twin.estimate()
        truth = twin.physical.network
        assert np.array_equal(gains, truth.gains())
        assert np.array_equal(assoc, truth.association())
        assert np.array_equal(positions, truth.positions)
    log = twin.run()
    assert log.column("sinr_rmse_db").max() == 0.0
    assert np.array_equal(log.column("utility_predicted"), log.column("utility"))


def _fidelity(error_db: float, delay_s: float) -> float:
    """Mean SINR error (dB) of the twin's prediction over seeds.

    Slow users (0.05 m/s: coherence time ~1 s at 3.5 GHz), so that delays of 0.1-0.5 s fall
    inside the range where fading decorrelates gradually rather than at once.
    """
    values = []
    users = {"count": 6, "speed_mps": 0.05}
    for seed in range(3):
        sync = {"enabled": True, "report_period_s": 0.1, "delay_s": delay_s, "error_db": error_db}
        scenario = small(sync=sync, users=users, duration_s=3.0)
        log = Twin(scenario, make_controller("max"), seed=seed).run()
        values.append(np.nanmean(log.column("sinr_rmse_db")))
    return float(np.mean(values))


def test_fidelity_degrades_as_estimation_error_grows():
    errors = [_fidelity(e, 0.0) for e in (0.0, 2.0, 6.0)]
    assert errors[0] == 0.0 and errors[0] < errors[1] < errors[2]


def test_fidelity_degrades_as_report_delay_grows():
    errors = [_fidelity(0.0, d) for d in (0.0, 0.1, 0.5)]
    assert errors[0] == 0.0 and errors[0] < errors[1] < errors[2]


def test_staleness_is_the_age_of_the_last_delivered_report():
    sync = {"enabled": True, "report_period_s": 0.5, "delay_s": 0.2}
    twin = Twin(small(sync=sync), make_controller("max"))
    log = twin.run()
    stale = dict(zip(np.round(log.column("time_s"), 6), log.column("staleness_s"), strict=True))
    # measured at 0.5, delivered at 0.7: at 0.6 the estimate is from 0.0, at 0.7 from 0.5
    assert stale[0.6] == pytest.approx(0.6)
    assert stale[0.7] == pytest.approx(0.2)


def test_dropped_reports_are_counted_and_leave_the_estimate_older():
    sync = {"enabled": True, "report_period_s": 0.1, "drop_prob": 0.5}
    twin = Twin(small(sync=sync, duration_s=10.0), make_controller("max"))
    log = twin.run()
    s = twin.sync
    assert s.reports_dropped + s.reports_delivered == s.reports_sent
    assert 0.3 < s.reports_dropped / s.reports_sent < 0.7
    assert log.column("staleness_s").max() >= 0.2


def test_fixed_controller_powers_reach_the_physical_layer():
    twin = Twin(small(), make_controller("fixed:7"))
    log = twin.run()
    assert np.all(twin.physical.power_mw == 7.0)
    assert np.all(log.column("total_power_mw") == 7.0 * 6)


def test_fig3_twin_with_exhaustive_controller_reaches_the_optimum():
    twin = Twin(load_scenario("paper-fig3"), make_controller("exhaustive"))
    log = twin.run()
    assert twin.power_mw.tolist() == [28.0, 31.0]
    assert log.column("utility") == pytest.approx(24.0922, abs=1e-4)


def test_unsynced_twin_predicts_exactly_what_it_simulates():
    log = Twin(small(sync={"enabled": False}), make_controller("wmmse")).run()
    assert np.array_equal(log.column("utility_predicted"), log.column("utility"))
    assert log.column("staleness_s").max() == 0.0


def test_activity_changes_the_active_set_and_the_instance_follows_it():
    users = {"count": 30, "activity": {"mean_active_s": 0.5, "mean_idle_s": 0.5}}
    twin = Twin(small(users=users, duration_s=5.0), make_controller("max"))
    log = twin.run()
    active = log.column("active_users")
    assert active.min() < active.max() <= 30
    inst = twin.instance()
    _, _, _, est_active = twin.estimate()
    assert inst.meta["user_ids"] == np.flatnonzero(est_active).tolist()
    assert inst.n_users == est_active.sum()
    # idle users do not count in the realized total power
    assert log.column("total_power_mw")[-1] == pytest.approx(active[-1] * 40.0)


def test_instance_snapshot_carries_scenario_physics():
    scenario = small()
    inst = Twin(scenario).instance()
    assert inst.n_users == 6 and inst.n_bs == 2
    assert inst.levels_mw.tolist() == scenario.power.levels()
    assert inst.price == scenario.objective.price_per_mw
    assert inst.meta["scenario"] == "small"
