"""Per-episode constraint limits (``aign collect --impose``): checked against the unconstrained
design p* computed here independently, the twin's own constraint check and the stored data."""

import numpy as np
import pytest

from agents.collect import CollectArgs, collect
from agents.constraint_draw import ConstraintDraw, parse_impose
from agents.dataset import CONSTRAINT_NAMES, TrajectoryDataset
from agents.env import PowerAllocationEnv
from twin.core.errors import AignError
from twin.solvers import coordinate_ascent


def _instances(draw, seeds, scenario="paper-20"):
    env = PowerAllocationEnv(scenario, constraint_draw=draw)
    plain = PowerAllocationEnv(scenario)
    out = []
    for seed in seeds:
        env.reset(seed=seed)
        plain.reset(seed=seed)
        out.append((plain.instance, env.instance))
    return out


def test_parse_impose_reads_names_ranges_and_refuses_the_rest():
    assert parse_impose(None) is None and parse_impose([]) is None
    draw = parse_impose(["min-rate", "budget=0.5-0.9"])
    assert draw.min_rate and draw.budget and draw.budget_fraction == (0.5, 0.9)
    assert draw.names == ("min_rate_bps", "max_total_power_mw")
    assert parse_impose(["min-rate=10-20,budget"]).rate_percentile == (10.0, 20.0)
    with pytest.raises(AignError, match="unknown constraint 'power'.*min-rate, budget"):
        parse_impose(["power"])
    with pytest.raises(AignError, match="budget given twice"):
        parse_impose(["budget", "budget=0.5-1"])
    with pytest.raises(AignError, match="LO <= HI"):
        parse_impose(["budget=0.9-0.5"])
    with pytest.raises(AignError, match="expected LO-HI"):
        parse_impose(["min-rate=low-high"])
    with pytest.raises(AignError, match="0-100"):
        parse_impose(["min-rate=50-150"])


def test_budget_is_a_drawn_fraction_of_the_unconstrained_design_and_binds():
    draw = ConstraintDraw(budget=True, budget_fraction=(0.5, 0.9))
    fractions = []
    for plain, inst in _instances(draw, range(6)):
        assert np.array_equal(plain.gains, inst.gains)  # the same instance, limits added
        assert inst.constraints.active() == ("max_total_power_mw",)
        p_star = coordinate_ascent(plain, starts=2)  # independent: the unconstrained design
        fraction = inst.constraints.max_total_power_mw / p_star.sum()
        assert 0.5 <= fraction <= 0.9
        assert not inst.evaluate(p_star).feasible  # binding: p* spends more than Y
        fractions.append(fraction)
    assert np.ptp(fractions) > 0.05  # drawn per episode, not one value


def test_min_rate_lies_between_the_worst_rate_and_the_percentile_and_the_expert_meets_it():
    draw = ConstraintDraw(min_rate=True, rate_percentile=(10.0, 30.0))
    met = 0
    for plain, inst in _instances(draw, range(6)):
        rates = plain.evaluate(coordinate_ascent(plain, starts=2)).rate_bps
        x = inst.constraints.min_rate_bps
        assert rates.min() <= x <= np.percentile(rates, 30.0)
        met += inst.evaluate(coordinate_ascent(inst, starts=2)).feasible
    assert met >= 4  # halved until the expert meets it (unless 10 halvings do not suffice)


def test_the_same_seed_draws_the_same_limits_and_other_seeds_others():
    draw = ConstraintDraw(min_rate=True, budget=True)
    a = [i.constraints for _, i in _instances(draw, [3, 4])]
    b = [i.constraints for _, i in _instances(draw, [3, 4])]
    assert a == b and a[0] != a[1]


def test_collected_episodes_store_their_limits_and_honest_labels(tmp_path):
    out = tmp_path / "c"
    args = dict(scenario="paper-20", episodes=6, batch=3, out=str(out), horizon=4, seed=7)
    for policy in ("coordinate", "random"):
        report = collect(CollectArgs(policy=policy, impose=parse_impose(["min-rate"]), **args))
        assert report["collected"] == 6
    ds = TrajectoryDataset.load(out)
    limits = ds["constraint_limits"]
    assert limits.shape == (12, 3)
    assert not np.isnan(limits[:, 0]).any() and np.isnan(limits[:, 1:]).all()
    assert np.array_equal(limits[:6, 0], limits[6:, 0])  # episode k: same instance and limit
    for k in range(ds.n_episodes):
        inst = ds.instance(k)
        assert inst.constraints.min_rate_bps == limits[k, 0]
        final = ds["powers_mw"][k, -1, : inst.n_users].astype(float)
        holds = inst.evaluate(final).violations.get("min_rate_bps", 0.0) == 0.0
        assert ds["constraint_ok"][k, CONSTRAINT_NAMES.index("min_rate_bps")] == holds
    assert ds["constraint_ok"][:6, 0].mean() > ds["constraint_ok"][6:, 0].mean()
    info = ds.info()["constraints"]["min_rate_bps"]
    assert info["episodes"] == 12 and info["limit_range"][0] == limits[:, 0].min()
    # rerunning the command resumes its own stream; other limits are another stream
    again = collect(CollectArgs(policy="random", impose=parse_impose(["min-rate"]), **args))
    assert again["already_stored"] == 6 and again["collected"] == 0
    other = collect(CollectArgs(policy="random", impose=parse_impose(["budget"]), **args))
    assert other["already_stored"] == 0 and other["collected"] == 6
