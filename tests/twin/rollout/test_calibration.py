"""Twin calibration: the fit recovers a known law, the shadowing map follows the true field,
calibrating shrinks the prediction error on a mismatched network, and bad input is refused."""

import json
import math
import os

import numpy as np
import pytest

from twin.core.errors import CalibrationError, ScenarioError
from twin.core.seeding import stream
from twin.radio.calibration import CALIBRATION_FORMAT, Calibration, check_calibration
from twin.radio.instance import Design
from twin.radio.mobility import place_base_stations
from twin.rollout.calibrate import (
    calibrate,
    calibrate_from_network,
    collect_reports,
    effective_counts,
    fading_log_moments_db,
)
from twin.rollout.observation import observe, sinr_rmse_db
from twin.rollout.validation import validate_design
from twin.scenario.derive import scenario_digest
from twin.scenario.loader import parse_scenario
from twin.scenario.schema import Scenario
from twin.sim.physical import ChannelReport, PhysicalLayer, true_channel_scenario
from twin.sim.twin import Twin

TRUE_EXPONENT = 3.9
TRUE_REF_LOSS_DB = 38.0


def mismatched(**overrides) -> Scenario:
    """Static users on two log-distance cells: the twin assumes n = 3.2 and free-space
    intercept, the real network has n = 3.9, 38 dB at 1 m, and its own 6 dB shadowing."""
    data = {
        "name": "mismatched",
        "seed": 5,
        "duration_s": 10.0,
        "step_s": 0.1,
        "area": {"width_m": 500, "height_m": 400},
        "base_stations": {"layout": "grid", "count": 2},
        "users": {"count": 16, "mobility": "static", "speed_mps": 1.0},
        "channel": {
            "path_loss": {"model": "log_distance", "exponent": 3.2},
            "shadowing": {"std_db": 6.0, "decorrelation_m": 50.0},
            "fading": {"model": "rayleigh"},
        },
        "sync": {
            "error_db": 1.0,
            "physical_seed": 11,
            "physical_channel": {
                "path_loss": {
                    "model": "log_distance",
                    "exponent": TRUE_EXPONENT,
                    "ref_loss_db": TRUE_REF_LOSS_DB,
                }
            },
        },
        "gates": {"runs": 6, "min_runs": 2, "window_s": 2.0},
    }
    for key, value in overrides.items():
        data[key] = value
    return Scenario.model_validate(data)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return mismatched()


@pytest.fixture(scope="module")
def calibration(scenario) -> Calibration:
    return calibrate_from_network(scenario, 20, seed=0, start_s=5.0)


# ------------------------------------------------------------------ fading statistics
def test_rayleigh_log_moments_are_the_closed_form():
    mean, var = fading_log_moments_db("rayleigh")
    assert mean == pytest.approx(-2.5068, abs=1e-4)  # -gamma * 10 / ln 10
    assert var == pytest.approx((math.pi**2 / 6) * (10 / math.log(10)) ** 2)


def test_rician_log_moments_match_a_simulation():
    k = 10 ** (9.0 / 10)
    rng = np.random.default_rng(0)
    n = 400_000
    w = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / math.sqrt(2)
    h = math.sqrt(k / (k + 1)) * np.exp(1j * rng.uniform(0, 2 * np.pi, n)) + w / math.sqrt(k + 1)
    db = 10 * np.log10(np.abs(h) ** 2)
    mean, var = fading_log_moments_db("rician", 9.0)
    assert mean == pytest.approx(db.mean(), abs=0.01)
    assert var == pytest.approx(db.var(), rel=0.02)


def test_effective_counts_of_independent_and_frozen_samples():
    counts = np.array([1, 5, 40])
    assert effective_counts(counts, 0.0) == pytest.approx([1, 5, 40])
    assert effective_counts(counts, 1.0) == pytest.approx([1, 1, 1])
    middle = effective_counts(counts, 0.5)
    assert 1 < middle[2] < 40


def test_effective_counts_take_a_correlation_per_lag():
    counts = np.array([1, 5, 40])
    r = 0.5
    np.testing.assert_allclose(effective_counts(counts, r ** np.arange(40)),
                               effective_counts(counts, r))  # fmt: skip
    # Jakes-like oscillating correlations: n / (1 + 2 sum (1 - k/n) c_k), by hand for n = 5.
    c = np.array([1.0, 0.3, -0.1, 0.2, 0.0])
    denom = 1 + 2 * sum((1 - k / 5) * c[k] for k in range(1, 5))
    assert effective_counts(np.array([5]), c)[0] == pytest.approx(5 / denom)
    with pytest.raises(ValueError, match="lags"):
        effective_counts(np.array([5]), c[:3])


# ------------------------------------------------------------------ the fit
def synthetic_reports(scenario: Scenario, n_reports: int, seed: int) -> list[ChannelReport]:
    """Reports from a world with exactly the true log-distance law, Rayleigh fading and no
    shadowing, at random static positions: the exponent is the only thing to find."""
    rng = np.random.default_rng(seed)
    bs = place_base_stations(scenario.base_stations, scenario.area, stream(scenario.seed, "layout"))
    n_users = 40
    pos = rng.uniform([0, 0], [scenario.area.width_m, scenario.area.height_m], (n_users, 2))
    d2d = np.hypot(pos[:, 0:1] - bs[:, 0], pos[:, 1:2] - bs[:, 1])
    h = scenario.base_stations.height_m - scenario.users.height_m
    loss = TRUE_REF_LOSS_DB + 10 * TRUE_EXPONENT * np.log10(np.hypot(d2d, h))
    reports = []
    for r in range(n_reports):
        fading = rng.exponential(1.0, loss.shape)
        gains = 10 ** (-loss / 10) * fading
        active = np.ones(n_users, dtype=bool)
        reports.append(ChannelReport(0.1 * r, gains, np.argmax(gains, 1), pos, active))
    return reports


def test_fit_recovers_a_known_exponent_and_intercept():
    scenario = mismatched(
        channel={"path_loss": {"model": "log_distance", "exponent": 3.0},
                 "shadowing": {"enabled": False}, "fading": {"model": "rayleigh"}},
        sync={"error_db": 0.0},
    )  # fmt: skip
    fit = calibrate(scenario, synthetic_reports(scenario, 40, seed=1)).path_loss
    # Unbiased (fading's -2.5 dB mean in dB removed) and as precise as it says it is.
    assert fit.exponent_stderr < 0.06
    assert abs(fit.exponent - TRUE_EXPONENT) < 3 * fit.exponent_stderr
    assert abs(fit.intercept_db - TRUE_REF_LOSS_DB) < 3 * fit.intercept_stderr_db


def test_fit_on_the_network_finds_the_true_exponent_not_the_model(calibration):
    fit = calibration.path_loss
    assert abs(fit.exponent - TRUE_EXPONENT) < max(3 * fit.exponent_stderr, 0.3)
    assert abs(fit.exponent - 3.2) > 0.3  # the scenario's (wrong) model is not what it found


def test_shadowing_map_follows_the_true_field(scenario, calibration):
    world = PhysicalLayer(scenario, 0).network
    points = world.positions.copy()
    true_db = 6.0 * world._shadowing.sample(points)
    estimate = calibration.shadowing.mean_at(points)
    assert np.corrcoef(true_db.ravel(), estimate.ravel())[0, 1] > 0.8
    # Certain where the users report, the prior far from any report.
    near = calibration.shadowing.std_at(points)
    assert near.max() < 0.6 * calibration.shadowing.prior_std_db
    sh = calibration.shadowing
    assert sh.std_db.max() == pytest.approx(sh.prior_std_db, rel=0.05)


def test_same_seed_same_calibration(scenario, calibration):
    again = calibrate_from_network(scenario, 20, seed=0, start_s=5.0)
    assert again.digest() == calibration.digest()


# ------------------------------------------------------------------ it helps
def prediction_errors(scenario, cal, power_mw: float) -> tuple[float, float]:
    """SINR RMSE (dB) and relative utility error of a validation vs the realized network."""
    n = scenario.users.n
    design = Design(np.full(n, power_mw), f"fixed:{power_mw:g}")
    realized = observe(scenario, np.zeros(n), design.power_mw, seed=123)
    report = validate_design(
        scenario, design, np.zeros(n), runs=6, executor="local:1", calibration=cal
    )
    utility = realized.utility["mean"]
    rel = abs(report["utility"]["mean"] - utility) / abs(utility)
    return sinr_rmse_db(report["sinr_db_mean"], realized.sinr_db_mean), rel


def test_calibration_shrinks_the_sinr_prediction_error(scenario, calibration):
    before, _ = prediction_errors(scenario, None, 20.0)
    after, _ = prediction_errors(scenario, calibration, 20.0)
    assert after < 0.6 * before


def test_calibration_shrinks_the_utility_prediction_error_when_noise_limited(scenario, calibration):
    # At 1 mW the links are noise-limited: the twin's optimistic path loss (n = 3.2, free
    # space at 1 m) overstates every rate. (Interference-limited, a common path-loss offset
    # cancels in the SINR and the uncalibrated utility error is small by luck.)
    _, before = prediction_errors(scenario, None, 1.0)
    _, after = prediction_errors(scenario, calibration, 1.0)
    assert after < 0.5 * before


def test_calibrated_twin_changes_only_large_scale_gains(scenario, calibration):
    twin = Twin(scenario.model_copy(update={"sync": scenario.sync.model_copy(
        update={"enabled": False})}), seed=4, calibration=calibration)  # fmt: skip
    net = twin._truth_network
    pl = calibration.path_loss
    d3d = np.hypot(
        np.hypot(net.positions[:, 0:1] - net.bs_positions[:, 0],
                 net.positions[:, 1:2] - net.bs_positions[:, 1]),
        scenario.base_stations.height_m - scenario.users.height_m,
    )  # fmt: skip
    expected_db = (
        pl.intercept_db
        + 10 * pl.exponent * np.log10(d3d)
        + calibration.shadowing.mean_at(net.positions)
        + calibration.shadowing.std_at(net.positions) * net._shadowing.sample(net.positions)
    )
    assert -10 * np.log10(net.large_scale_gain()) == pytest.approx(expected_db)


# ------------------------------------------------------------------ the mismatch option
def test_no_physical_channel_leaves_the_world_as_before():
    base = mismatched(sync={"physical_seed": 11})
    assert true_channel_scenario(base) is base
    same_law = mismatched(
        sync={"physical_seed": 11,
              "physical_channel": {"path_loss": {"model": "log_distance", "exponent": 3.2}}},
    )  # fmt: skip
    a, b = PhysicalLayer(base, 0).network, PhysicalLayer(same_law, 0).network
    assert np.array_equal(a.gains(), b.gains())


def test_a_true_exponent_shifts_the_loss_by_its_closed_form():
    base = mismatched(sync={"physical_seed": 11})
    steeper = mismatched(
        sync={"physical_seed": 11,
              "physical_channel": {"path_loss": {"model": "log_distance", "exponent": 3.7}}},
    )  # fmt: skip
    a, b = PhysicalLayer(base, 0).network, PhysicalLayer(steeper, 0).network
    d3d = np.hypot(
        np.hypot(a.positions[:, 0:1] - a.bs_positions[:, 0],
                 a.positions[:, 1:2] - a.bs_positions[:, 1]),
        base.base_stations.height_m - base.users.height_m,
    )  # fmt: skip
    shift_db = 10 * np.log10(a.large_scale_gain() / b.large_scale_gain())
    assert shift_db == pytest.approx(10 * 0.5 * np.log10(d3d))


def test_unset_physical_channel_keeps_the_scenario_digest():
    with_null = mismatched(sync={"physical_seed": 11, "physical_channel": None})
    data = with_null.model_dump(mode="json", exclude={"description", "gates"})
    del data["sync"]["physical_channel"]
    import hashlib

    from twin.core.records import canonical_json

    assert scenario_digest(with_null) == hashlib.sha256(canonical_json(data)).hexdigest()[:16]


def test_physical_channel_with_explicit_gains_is_a_located_error():
    text = """\
name: x
base_stations: {layout: grid, count: 1}
users: {count: 1}
channel: {mode: explicit, gains: [[1.0e-12]]}
sync:
  physical_channel: {path_loss: {model: uma}}
"""
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, source="x.yaml")
    assert "sync.physical_channel" in str(err.value)
    assert "needs channel mode 'model'" in str(err.value)


# ------------------------------------------------------------------ files and refusals
def test_json_round_trip_keeps_the_calibration(tmp_path, calibration):
    path = tmp_path / "calib.json"
    calibration.save(path)
    data = json.loads(path.read_text())
    assert data["format"] == CALIBRATION_FORMAT
    loaded = Calibration.load(path)
    assert loaded.digest() == calibration.digest()
    points = np.array([[10.0, 20.0], [250.0, 200.0]])
    assert loaded.shadowing.mean_at(points) == pytest.approx(
        calibration.shadowing.mean_at(points), abs=1e-3
    )


def test_calibration_for_another_scenario_is_refused(calibration):
    other = mismatched(name="elsewhere")
    with pytest.raises(CalibrationError, match="fitted for scenario 'mismatched', not 'elsewhere'"):
        check_calibration(other, calibration, "calib.json")
    changed = mismatched(seed=6)
    with pytest.raises(CalibrationError, match="another version of scenario 'mismatched'"):
        check_calibration(changed, calibration)
    with pytest.raises(CalibrationError, match="another version"):
        validate_design(changed, Design(np.zeros(16), "zero"), np.zeros(16), runs=2,
                        calibration=calibration)  # fmt: skip


def test_corrupt_or_foreign_files_are_refused(tmp_path, calibration):
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "aign.calibration/1",\n "path_loss": ')
    with pytest.raises(CalibrationError, match=r"corrupt.json:2: invalid JSON"):
        Calibration.load(corrupt)
    newer = calibration.to_dict() | {"format": "aign.calibration/9"}
    with pytest.raises(CalibrationError, match="upgrade aign"):
        Calibration.from_dict(newer)
    missing = calibration.to_dict()
    del missing["path_loss"]
    with pytest.raises(CalibrationError, match="missing field 'path_loss'"):
        Calibration.from_dict(missing, source="x.json")
    bad = calibration.to_dict()
    bad["path_loss"]["exponent"] = "steep"
    with pytest.raises(CalibrationError, match="path_loss.exponent must be a number"):
        Calibration.from_dict(bad)
    with pytest.raises(CalibrationError, match="cannot read"):
        Calibration.load(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["path_loss"].update(intercept_db=-1e308), "intercept_db must be in"),
        (lambda d: d.update(reports=True), "reports must be a whole number"),
        (lambda d: d.update(samples="12"), "samples must be a whole number"),
        (lambda d: d["scenario"].update(name=["x"]), "scenario.name must be text"),
        (lambda d: d["shadowing"]["support"].update(weight_db=["1"] * len(
            d["shadowing"]["support"]["weight_db"])), "must be an array of numbers"),
        (lambda d: d["shadowing"].update(decorrelation_m=1e308), "decorrelation_m must be in"),
    ],
)
def test_implausible_or_mistyped_calibrations_are_refused(calibration, change, message):
    data = json.loads(json.dumps(calibration.to_dict()))
    change(data)
    with pytest.raises(CalibrationError, match=message):
        Calibration.from_dict(data)


def test_calibration_files_go_through_the_input_boundary(tmp_path):
    path = tmp_path / "dup.json"
    path.write_text('{"format": "aign.calibration/1", "format": "x"}')
    with pytest.raises(CalibrationError, match="duplicate key 'format'"):
        Calibration.load(path)
    if os.path.exists("/dev/zero"):
        with pytest.raises(CalibrationError, match="not a regular file"):
            Calibration.load("/dev/zero")


def test_too_few_reports_are_refused(scenario):
    with pytest.raises(CalibrationError, match="no channel reports"):
        calibrate(scenario, [])
    with pytest.raises(CalibrationError, match="at least 1"):
        collect_reports(scenario, 0)
    one_user = mismatched(users={"placement": "list", "positions_m": [[100.0, 100.0]]})
    with pytest.raises(CalibrationError, match="too few reports to fit a path-loss law"):
        calibrate_from_network(one_user, 3, seed=0)


def test_a_twin_on_reports_refuses_a_calibration(scenario, calibration):
    with pytest.raises(ValueError, match="does not use"):
        Twin(scenario, calibration=calibration)
