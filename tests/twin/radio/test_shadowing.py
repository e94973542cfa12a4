"""Shadowing fields against the exponential correlation they promise, and the spec's
decorrelation distances (TR 38.901 Table 7.5-6)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.radio import shadowing
from twin.radio.shadowing import (
    ShadowingField,
    decorrelation_pair_m,
    default_decorrelation_m,
)

DCORR = 40.0
SIDE = 2000.0
# Read at the nearest node, the correlation averaged over positions is within 1.1% of
# exp(-r/d) at the default spacing (the field's docstring); the tests allow that much.
METHOD_BIAS = 0.011


@pytest.fixture(scope="module")
def field() -> ShadowingField:
    return ShadowingField(np.random.default_rng(8), 20, SIDE, SIDE, DCORR)


def pair_correlation(field: ShadowingField, distance_m: float, n: int = 20_000) -> float:
    """Mean product of the field at pairs of points ``distance_m`` apart in random directions."""
    rng = np.random.default_rng(9)
    a = rng.uniform(0, SIDE - distance_m, (n, 2))
    angle = rng.uniform(0, math.pi / 2, n)  # keeps b inside the area
    b = a + distance_m * np.column_stack([np.cos(angle), np.sin(angle)])
    return float(np.mean(field.sample(a) * field.sample(b)))


def test_shadowing_has_unit_std_everywhere(field):
    values = field.sample(np.random.default_rng(10).uniform(0, SIDE, (20_000, 2)))
    assert values.shape == (20_000, 20)
    assert values.std() == pytest.approx(1.0, abs=0.03)
    assert values.mean() == pytest.approx(0.0, abs=0.03)


def test_shadowing_std_is_one_mid_cell_too(field):
    # Cell centres are where bilinear interpolation lost most variance.
    s = field.spacing_m
    centres = (np.random.default_rng(11).integers(0, int(SIDE / s) - 1, (20_000, 2)) + 0.5) * s
    assert field.sample(centres).std() == pytest.approx(1.0, abs=0.03)


def test_shadowing_correlation_at_zero_distance_is_one(field):
    assert pair_correlation(field, 0.0) == pytest.approx(1.0, abs=0.03)


def test_shadowing_correlation_at_the_decorrelation_distance_is_one_over_e(field):
    assert pair_correlation(field, DCORR) == pytest.approx(math.exp(-1), abs=0.07)


def test_shadowing_is_uncorrelated_far_apart(field):
    assert pair_correlation(field, 5 * DCORR) == pytest.approx(0.0, abs=0.05)


def test_shadowing_fields_of_different_bs_are_independent(field):
    values = field.sample(np.random.default_rng(12).uniform(0, SIDE, (20_000, 2)))
    assert np.corrcoef(values[:, 0], values[:, 1])[0, 1] == pytest.approx(0.0, abs=0.05)


def test_empirical_decorrelation_is_exponential_at_every_lag():
    """20 independent fields (one per BS), 200 000 random pairs at each lag: each field's
    correlation estimate is one replicate, so their spread gives the standard error. The
    old bilinear read-out sat 5-6 standard errors above exp(-r/d) at r <= d/4 (7.7% high);
    reading the nearest node is exact up to METHOD_BIAS."""
    d, side, n_fields, n = 20.0, 1000.0, 20, 200_000
    f = ShadowingField(np.random.default_rng(8), n_fields, side, side, d)
    rng = np.random.default_rng(9)
    for r in (d / 8, d / 4, d / 2, d, 2 * d):
        a = rng.uniform(0, side - r, (n, 2))
        angle = rng.uniform(0, math.pi / 2, n)
        b = a + r * np.column_stack([np.cos(angle), np.sin(angle)])
        fa, fb = f.sample(a), f.sample(b)
        per_field = (fa * fb).sum(0) / np.sqrt((fa * fa).sum(0) * (fb * fb).sum(0))
        se = per_field.std(ddof=1) / math.sqrt(n_fields)
        truth = math.exp(-r / d)
        assert per_field.mean() == pytest.approx(truth, abs=METHOD_BIAS * truth + 4 * se), r


def test_nearest_node_correlation_averages_to_the_exponential():
    """The read-out's own error, without sampling noise: two points r apart read nodes whose
    exact correlation is exp(-|node_a - node_b|/d); averaged over uniform positions and
    directions that is exp(-r/d) within METHOD_BIAS at the default spacing."""
    d = 1.0
    s = d * shadowing.DEFAULT_SPACING_FRACTION
    rng = np.random.default_rng(3)
    for r in (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0):
        a = rng.uniform(0, s, (400_000, 2)) + 100 * s
        angle = rng.uniform(0, 2 * math.pi, a.shape[0])
        b = a + r * np.column_stack([np.cos(angle), np.sin(angle)])
        nodes = np.floor(a / s + 0.5) - np.floor(b / s + 0.5)
        mean = np.mean(np.exp(-np.hypot(nodes[:, 0], nodes[:, 1]) * s / d))
        assert mean == pytest.approx(math.exp(-r / d), rel=METHOD_BIAS), r


def test_a_point_reads_its_nearest_node(field):
    s = field.spacing_m
    node = np.array([[10, 7]])
    near = node * s + [[0.49 * s, -0.49 * s]]
    np.testing.assert_array_equal(field.sample(near), field.sample(node * s))
    assert not np.array_equal(field.sample(node * s + 0.51 * s), field.sample(node * s))


def test_shadowing_grid_is_coarsened_to_fit_the_memory_cap(monkeypatch):
    monkeypatch.setattr(shadowing, "MAX_SHADOWING_POINTS", 200_000)
    field = ShadowingField(np.random.default_rng(13), 50, 3000.0, 3000.0, 50.0)
    assert 50 * field.shape[0] * field.shape[1] <= 200_000
    assert field.spacing_m > 50.0 / 8
    values = field.sample(np.random.default_rng(15).uniform(0, 3000, (5000, 2)))
    assert values.std() == pytest.approx(1.0, abs=0.05)
    capped = ShadowingField(np.random.default_rng(13), 50, 3000.0, 3000.0, 50.0, max_points=50_000)
    assert 50 * capped.shape[0] * capped.shape[1] <= 50_000


def test_same_seed_gives_the_same_shadowing():
    points = np.array([[10.0, 20.0], [300.0, 77.7]])
    a = ShadowingField(np.random.default_rng(14), 3, 400.0, 300.0, 30.0).sample(points)
    b = ShadowingField(np.random.default_rng(14), 3, 400.0, 300.0, 30.0).sample(points)
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- Table 7.5-6


def test_default_decorrelation_is_table_7_5_6():
    assert default_decorrelation_m("uma", True) == 37.0
    assert default_decorrelation_m("uma", False) == 50.0
    assert default_decorrelation_m("umi", True) == 10.0
    assert default_decorrelation_m("umi", False) == 13.0
    assert default_decorrelation_m("log_distance", True) == 50.0


def test_a_scenario_value_overrides_both_states():
    assert decorrelation_pair_m("umi", None) == (10.0, 13.0)
    assert decorrelation_pair_m("umi", 25.0) == (25.0, 25.0)
    with pytest.raises(ValueError, match="allowed: log_distance, uma, umi"):
        default_decorrelation_m("rma", True)
