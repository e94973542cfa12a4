"""Solvers against independent truth: the paper's Fig. 3 optimum, a hand-computed utility,
brute-force enumeration, a closed form (fractional power control) and a generic optimizer."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.optimize import minimize

from twin.core.errors import AignError, TooLargeError
from twin.radio.instance import ProblemInstance
from twin.radio.uplink import Constraints
from twin.solvers import (
    best_response_dynamics,
    coordinate_ascent,
    exhaustive,
    fixed_power,
    fractional_power_control,
    max_power,
    priced_response_dynamics,
    random_power,
    solve,
    wmmse,
)

FIG3_UTILITY = 24.0922


def fig3(levels_mw: np.ndarray | None = None) -> ProblemInstance:
    """The paper's Fig. 3 reference instance (ARCHITECTURE.md)."""
    return ProblemInstance(
        gains=[[1.4e-12], [1.0e-12]], assoc=[0, 0], noise_mw=1.0e-10, bandwidth_hz=1e6,
        levels_mw=np.arange(41.0) if levels_mw is None else levels_mw, price=0.0225,
    )  # fmt: skip


def random_instance(
    seed: int, constraints: Constraints = Constraints(), reuse: str | None = None
) -> ProblemInstance:
    """2-4 users, 1-2 BSs, 11-21 levels up to 40 mW; gains log-uniform in [1e-13, 1e-10]
    against 1e-10 mW noise, so single-user SNRs at full power span about 16 to 46 dB."""
    rng = np.random.default_rng(seed)
    n_users, n_bs, n_levels = rng.integers(2, 5), rng.integers(1, 3), rng.integers(11, 22)
    gains = 10.0 ** rng.uniform(-13, -10, (n_users, n_bs))
    if reuse is None:
        reuse = "shared" if rng.random() < 0.5 else "orthogonal_in_cell"
    return ProblemInstance(
        gains=gains, assoc=gains.argmax(axis=1), noise_mw=1e-10, bandwidth_hz=1e6,
        levels_mw=np.linspace(0.0, 40.0, n_levels), price=0.0225, constraints=constraints,
        reuse=reuse,
    )  # fmt: skip


def brute_force(instance: ProblemInstance) -> tuple[float, float]:
    """Best (violation, utility) by a plain loop over every combination, one at a time."""
    best = (math.inf, -math.inf)
    for combo in itertools.product(instance.levels_mw, repeat=instance.n_users):
        m = instance.evaluate(np.array(combo))
        key = (sum(m.violations.values()), m.utility)
        if (key[0], -key[1]) < (best[0], -best[1]):
            best = key
    return best


def score(instance: ProblemInstance, power: np.ndarray) -> tuple[float, float]:
    m = instance.evaluate(power)
    return sum(m.violations.values()), m.utility


def assert_on_levels(instance: ProblemInstance, power: np.ndarray) -> None:
    assert power.shape == (instance.n_users,)
    assert np.all(np.isin(power, instance.levels_mw))


# --------------------------------------------------------------------------- Fig. 3
def test_fig3_exhaustive_optimum_is_28_31_mw():
    instance = fig3()
    power = exhaustive(instance)
    assert power.tolist() == [28.0, 31.0]
    assert instance.evaluate(power).utility == pytest.approx(FIG3_UTILITY, abs=1e-4)


def test_fig3_utility_at_optimum_matches_hand_computation():
    p1, p2, noise, w, price = 28.0, 31.0, 1.0e-10, 1e6, 0.0225
    r1 = w * math.log2(1 + 1.4e-12 * p1 / (noise + 1.0e-12 * p2))
    r2 = w * math.log2(1 + 1.0e-12 * p2 / (noise + 1.4e-12 * p1))
    by_hand = math.log(1 + r1) + math.log(1 + r2) - price * (p1 + p2)
    assert by_hand == pytest.approx(FIG3_UTILITY, abs=1e-4)
    assert fig3().evaluate(np.array([p1, p2])).utility == pytest.approx(by_hand, rel=1e-12)


def test_fig3_coordinate_ascent_reaches_optimum_from_zero_power():
    power = coordinate_ascent(fig3(), starts=1, init=np.zeros(2))
    assert power.tolist() == [28.0, 31.0]


@pytest.mark.parametrize("dynamics", [best_response_dynamics, priced_response_dynamics])
def test_fig3_best_response_dynamics_reach_the_optimum_from_zero_power(dynamics):
    assert dynamics(fig3()).tolist() == [28.0, 31.0]


@pytest.mark.parametrize("seed", range(8))
def test_checked_best_responses_end_where_no_single_user_can_improve_by_much(seed: int):
    # No constraints: a fixed point of the checked dynamics leaves each user within its
    # checked candidates' reach of its best level; against exhaustive search it stays close.
    inst = random_instance(seed, reuse="shared")
    p = best_response_dynamics(inst, steps=40)
    assert set(np.unique(p)) <= set(inst.levels_mw)
    assert inst.evaluate(p).utility >= brute_force(inst)[1] - 0.02 * abs(brute_force(inst)[1])


def test_fig3_wmmse_reaches_optimum_within_one_percent():
    instance = fig3()
    assert instance.evaluate(wmmse(instance)).utility >= 0.99 * FIG3_UTILITY


# --------------------------------------------------------------------------- exhaustive
@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("reuse", ["shared", "orthogonal_in_cell"])
def test_exhaustive_matches_brute_force_loop(seed: int, reuse: str):
    rng = np.random.default_rng(100 + seed)
    constraints = Constraints(
        min_rate_bps=[None, 1e5][seed % 2], max_total_power_mw=[None, 30.0][(seed // 2) % 2]
    )
    instance = random_instance(seed, constraints, reuse)
    instance = replace(  # keep brute force quick: at most 3 users, 6 uneven levels
        instance, gains=instance.gains[:3], assoc=instance.assoc[:3],
        levels_mw=np.sort(rng.choice(41, 6, replace=False)).astype(float),
    )  # fmt: skip
    violation, utility = score(instance, exhaustive(instance))
    expected_violation, expected_utility = brute_force(instance)
    assert violation == pytest.approx(expected_violation, abs=1e-12)
    assert utility == pytest.approx(expected_utility, rel=1e-12)


def test_exhaustive_refuses_too_large_instance_and_names_alternatives():
    instance = ProblemInstance(
        gains=np.ones((10, 1)) * 1e-12, assoc=np.zeros(10, int), noise_mw=1e-10,
        bandwidth_hz=1e6, levels_mw=np.arange(41.0), price=0.0225,
    )  # fmt: skip
    with pytest.raises(TooLargeError, match=r"41\^10.*coordinate or wmmse"):
        exhaustive(instance)


def test_exhaustive_limit_is_a_parameter():
    with pytest.raises(TooLargeError, match="limit of 1,000"):
        exhaustive(fig3(), max_evaluations=1000)


# --------------------------------------------------------------------------- coordinate
def test_coordinate_ascent_within_one_percent_of_exhaustive():
    ratios = []
    for seed in range(30):
        instance = random_instance(seed)
        best = instance.evaluate(exhaustive(instance)).utility
        ratios.append(instance.evaluate(coordinate_ascent(instance)).utility / best)
    assert min(ratios) >= 0.99


@pytest.mark.parametrize("seed", range(5))
def test_coordinate_ascent_ends_where_no_single_user_can_improve(seed: int):
    instance = random_instance(seed)
    power = coordinate_ascent(instance, starts=1)
    violation, utility = score(instance, power)
    for i, level in itertools.product(range(instance.n_users), instance.levels_mw):
        moved = power.copy()
        moved[i] = level
        v, u = score(instance, moved)
        assert (v, -u) >= (violation, -utility - 1e-9)


def test_coordinate_ascent_is_reproducible_from_its_seed():
    instance = random_instance(3)
    a = coordinate_ascent(instance, starts=6, seed=7)
    b = coordinate_ascent(instance, starts=6, seed=7)
    assert a.tolist() == b.tolist()


def test_coordinate_ascent_refuses_init_of_wrong_length():
    with pytest.raises(AignError, match="init must be 2 finite powers"):
        coordinate_ascent(fig3(), init=np.zeros(3))


# --------------------------------------------------------------------------- constraints
CONSTRAINED_CASES = {
    # A high price makes the unconstrained optimum starve weak users, so min_rate binds.
    "min_rate": (Constraints(min_rate_bps=3e5), 0.5),
    "total_power": (Constraints(max_total_power_mw=20.0), 0.0225),
    "both": (Constraints(min_rate_bps=3e5, max_total_power_mw=30.0), 0.5),
}


@pytest.mark.parametrize("case", CONSTRAINED_CASES)
def test_coordinate_ascent_is_feasible_whenever_a_feasible_design_exists(case: str):
    constraints, price = CONSTRAINED_CASES[case]
    checked = binding = 0
    for seed in range(40):
        instance = replace(random_instance(seed, constraints), price=price)
        # Exhaustive search decides whether any feasible design exists.
        if not instance.evaluate(exhaustive(instance)).feasible:
            continue
        checked += 1
        free = replace(instance, constraints=Constraints())
        binding += not instance.evaluate(exhaustive(free)).feasible
        assert instance.evaluate(coordinate_ascent(instance)).feasible, f"seed {seed}"
    assert checked >= 8 and binding >= 5  # the constraints actually mattered


def test_total_power_budget_binds_the_fig3_optimum():
    instance = replace(fig3(), constraints=Constraints(max_total_power_mw=40.0))
    power = exhaustive(instance)
    assert power.sum() <= 40.0
    assert instance.evaluate(power).feasible


# --------------------------------------------------------------------------- WMMSE
@pytest.mark.parametrize("seed", range(10))
def test_wmmse_returns_allowed_levels(seed: int):
    instance = random_instance(seed)
    assert_on_levels(instance, wmmse(instance))


def test_wmmse_matches_a_generic_optimizer_on_fine_levels():
    # With 0.01 mW levels the discrete problem is close to the continuous one, which a
    # bounded quasi-Newton method from several starts solves independently.
    instance = fig3(levels_mw=np.linspace(0.0, 40.0, 4001))

    def negative_utility(p: np.ndarray) -> float:
        return -instance.evaluate(p).utility

    starts = [np.array(s) for s in ([1.0, 1.0], [20.0, 20.0], [40.0, 40.0], [5.0, 35.0])]
    reference = max(
        -minimize(negative_utility, s, bounds=[(0.0, 40.0)] * 2, method="L-BFGS-B").fun
        for s in starts
    )
    assert instance.evaluate(wmmse(instance)).utility == pytest.approx(reference, abs=1e-3)


def test_wmmse_is_not_below_fractional_power_control():
    for seed in range(30):
        instance = random_instance(seed)
        u_wmmse = instance.evaluate(wmmse(instance)).utility
        assert u_wmmse >= instance.evaluate(fractional_power_control(instance)).utility


def test_wmmse_is_deterministic():
    instance = random_instance(5)
    assert wmmse(instance).tolist() == wmmse(instance).tolist()


# --------------------------------------------------------------------------- baselines
def test_fractional_power_control_follows_closed_form():
    # PL = 120 dB: -90 + 0.8 * 120 = 6 dBm = 3.98 mW -> 4 mW. PL = 150 dB: 30 dBm, capped.
    instance = ProblemInstance(
        gains=[[1e-12], [1e-15]], assoc=[0, 0], noise_mw=1e-10, bandwidth_hz=1e6,
        levels_mw=np.arange(41.0), price=0.0225,
    )  # fmt: skip
    assert fractional_power_control(instance).tolist() == [4.0, 40.0]
    # Full compensation: -110 + 120 = 10 dBm = 10 mW; -110 + 150 = 40 dBm, capped.
    assert fractional_power_control(instance, p0_dbm=-110.0, alpha=1.0).tolist() == [10.0, 40.0]


def test_max_power_puts_everyone_at_the_top_level():
    assert max_power(fig3()).tolist() == [40.0, 40.0]


def test_fixed_power_puts_everyone_at_the_given_level():
    assert fixed_power(fig3(), 10.0).tolist() == [10.0, 10.0]


def test_fixed_power_refuses_a_power_that_is_not_a_level():
    with pytest.raises(AignError, match="10.5 mW is not an allowed level"):
        fixed_power(fig3(), 10.5)


def test_random_power_is_reproducible_and_on_levels():
    instance = random_instance(2)
    a, b = random_power(instance, seed=4), random_power(instance, seed=4)
    assert a.tolist() == b.tolist()
    assert_on_levels(instance, a)


# --------------------------------------------------------------------------- solve()
def test_solve_returns_design_with_source_params_and_predicted_kpis():
    design = solve(fig3(), "coordinate", starts=2)
    assert design.source == "coordinate"
    assert design.provenance["params"] == {"starts": 2}
    assert design.power_mw.tolist() == [28.0, 31.0]
    assert design.predicted["utility"] == pytest.approx(FIG3_UTILITY, abs=1e-4)


def test_solve_refuses_unknown_method_and_lists_the_known_ones():
    with pytest.raises(AignError, match="unknown method 'simplex'.*exhaustive.*wmmse"):
        solve(fig3(), "simplex")


def test_solve_refuses_a_bad_parameter_value_naming_what_is_allowed():
    with pytest.raises(AignError, match=r"alpha must be a number in \[0, 1\]"):
        solve(fig3(), "fpc", alpha=1.5)


def test_solve_refuses_an_unknown_parameter_listing_the_allowed_ones():
    with pytest.raises(AignError, match="unknown parameter 'sweeps'.*max_sweeps"):
        solve(fig3(), "coordinate", sweeps=3)


def _sized_instance(n_users: int, n_bs: int, seed: int) -> ProblemInstance:
    rng = np.random.default_rng(seed)
    gains = 10.0 ** rng.uniform(-13, -10, (n_users, n_bs))
    return ProblemInstance(
        gains=gains, assoc=gains.argmax(axis=1), noise_mw=1e-10, bandwidth_hz=1e6,
        levels_mw=np.linspace(0.0, 40.0, 11), price=0.0225,
    )  # fmt: skip


def test_best_reference_leaves_out_coordinate_ascent_beyond_its_budget(monkeypatch):
    import twin.solvers.registry as solvers

    used = []
    real = solvers.solve
    monkeypatch.setattr(
        solvers, "solve", lambda inst, m, **kw: used.append(m) or real(inst, m, **kw)
    )
    small = _sized_instance(12, 3, 0)
    assert solvers.coordinate_affordable(small)
    solvers.best_reference(small, max_evaluations=10)
    assert sorted(used) == ["coordinate", "wmmse"]

    used.clear()
    large = _sized_instance(600, 20, 1)  # 11 levels: 6600 cells per move, scored by the bound
    work = solvers.REFERENCE_STARTS * 600 * (600 * 8 + solvers.MOVE_OVERHEAD_CELLS)
    assert work == solvers.coordinate_work(large)
    assert work > solvers.COORDINATE_MAX_WORK and not solvers.coordinate_affordable(large)
    design = solvers.best_reference(large)
    assert used == ["wmmse"] and design.source.startswith("wmmse")


def test_best_response_dynamics_start_where_told_and_refuse_a_bad_start():
    inst = random_instance(3, reuse="shared")
    start = inst.levels_mw[np.arange(inst.n_users) % len(inst.levels_mw)]
    # one step in which (almost surely) nobody moves leaves the start as it was
    moved = best_response_dynamics(inst, steps=1, move_prob=1e-9, init=start)
    assert np.array_equal(moved, start)
    assert np.array_equal(best_response_dynamics(inst, steps=6, init=np.zeros(inst.n_users)),
                          best_response_dynamics(inst, steps=6))  # fmt: skip
    with pytest.raises(AignError, match="init must be"):
        best_response_dynamics(inst, init=np.ones(inst.n_users + 1))
