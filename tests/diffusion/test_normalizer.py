"""The model's design space: off at -1, the top level at +1, and a gap between off and the
lowest level that is on, checked against the formula and by round trips."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from diffusion.graph import design_graph
from diffusion.normalizer import PowerNormalizer
from tests.diffusion.conftest import small_instances


def test_without_a_gap_the_space_is_linear():
    n = PowerNormalizer(40.0)
    np.testing.assert_allclose(n.normalize(np.array([0.0, 10.0, 40.0])), [-1.0, -0.5, 1.0])


def test_the_gap_separates_off_from_the_lowest_level():
    n = PowerNormalizer(200.0, 1.0, 0.1)
    x = n.normalize(np.array([0.0, 1.0, 2.0, 200.0]))
    # the formula: -1 + 2 (gap min(p / p_on, 1) + (1 - gap) p / p_max)
    np.testing.assert_allclose(x, [-1.0, -1 + 2 * (0.1 + 0.9 / 200), -1 + 2 * (0.1 + 0.9 * 2 / 200),
                                   1.0])  # fmt: skip
    assert x[1] - x[0] > 0.2 > 20 * (x[2] - x[1])  # off -> 1 mW: 20x a step between levels on
    linear = PowerNormalizer(200.0).normalize(np.array([0.0, 1.0]))
    assert linear[1] - linear[0] == pytest.approx(0.01)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 0.9), st.floats(0.1, 10.0), st.lists(st.floats(0.0, 1.0), min_size=1,
                                                           max_size=20))  # fmt: skip
def test_round_trip_and_order_in_numpy_and_torch(gap, p_on, shares):
    n = PowerNormalizer(50.0, min(p_on, 50.0), gap)
    p = np.sort(np.array(shares) * 50.0)
    x = n.normalize(p)
    assert np.all(np.diff(x) >= -1e-12) and np.all((x >= -1 - 1e-12) & (x <= 1 + 1e-12))
    np.testing.assert_allclose(n.unnormalize(x), p, atol=1e-9)
    back = n.unnormalize(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(back, p, atol=1e-9)


def test_out_of_range_samples_come_back_clipped():
    n = PowerNormalizer(40.0, 1.0, 0.25)
    np.testing.assert_allclose(n.unnormalize(np.array([-1.5, 1.5])), [0.0, 40.0])


def test_an_instance_lays_out_its_own_lowest_level():
    inst = small_instances(1, seed=3)[0]  # levels 0, 1, ..., 40 mW
    norm = design_graph(inst).normalizer(0.1)
    assert norm.p_on_mw == 1.0 and norm.p_max_mw == 40.0 and norm.off_gap == 0.1


@pytest.mark.parametrize("kwargs", [{"p_max_mw": 0.0}, {"p_max_mw": 1.0, "off_gap": 1.0},
                                    {"p_max_mw": 1.0, "off_gap": float("nan")},
                                    {"p_max_mw": 1.0, "p_on_mw": 2.0}])  # fmt: skip
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        PowerNormalizer(**kwargs)
