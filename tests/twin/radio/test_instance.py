"""ProblemInstance and Design: JSON round trips and refusals with reasons."""

import json

import numpy as np
import pytest

from twin.core.errors import DesignError, InstanceError
from twin.radio.instance import Design, ProblemInstance, load_designs
from twin.radio.uplink import Constraints


@pytest.fixture
def fig3() -> ProblemInstance:
    return ProblemInstance(
        gains=[[1.4e-12], [1.0e-12]], assoc=[0, 0], noise_mw=1e-10, bandwidth_hz=1e6,
        levels_mw=np.arange(41.0), price=0.0225, meta={"scenario": "paper-fig3"},
    )  # fmt: skip


def test_instance_round_trips_through_json(tmp_path, fig3):
    path = tmp_path / "inst.json"
    fig3.save(path)
    back = ProblemInstance.load(path)
    assert back.fingerprint() == fig3.fingerprint()
    assert np.array_equal(back.gains, fig3.gains) and back.meta == fig3.meta


def test_fingerprint_ignores_meta_but_not_physics(fig3):
    other_meta = ProblemInstance(**{**fig3.__dict__, "meta": {"x": 1}})
    other_price = ProblemInstance(**{**fig3.__dict__, "price": 0.02})
    assert other_meta.fingerprint() == fig3.fingerprint()
    assert other_price.fingerprint() != fig3.fingerprint()


def test_malformed_instance_names_the_field(tmp_path):
    path = tmp_path / "bad.json"
    data = {"gains": [[1e-12], [1e-12, 2e-12]], "assoc": [0, 0], "noise_mw": 1e-10,
            "bandwidth_hz": 1e6, "levels_mw": [0, 1], "price": 0.1}  # fmt: skip
    path.write_text(json.dumps(data))
    with pytest.raises(InstanceError, match="gains row 1 has 2 entries"):
        ProblemInstance.load(path)
    data["gains"] = [[1e-12], [1e-12]]
    data["noise_mw"] = -1
    path.write_text(json.dumps(data))
    with pytest.raises(InstanceError, match="noise_mw"):
        ProblemInstance.load(path)


def test_invalid_json_reports_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "gains": [[1e-12]],\n  oops\n}')
    with pytest.raises(InstanceError) as err:
        ProblemInstance.load(path)
    assert err.value.problems[0].line == 3


def test_design_of_wrong_length_is_refused(fig3):
    with pytest.raises(DesignError, match="has 3 entries but the instance has 2 users"):
        fig3.check_power([1.0, 2.0, 3.0])


def test_design_off_the_levels_is_refused_with_the_levels(fig3):
    with pytest.raises(DesignError, match=r"users \[1\].*0 to 40 mW in steps of 1"):
        fig3.check_power([1.0, 2.5])


def test_design_with_nan_is_refused(fig3):
    with pytest.raises(DesignError, match="NaN"):
        fig3.check_power([1.0, float("nan")])


def test_design_records_prediction_and_instance(tmp_path, fig3):
    design = Design.for_instance(fig3, [28, 31], source="exhaustive")
    assert design.predicted["utility"] == pytest.approx(24.0922, abs=1e-4)
    assert design.provenance["instance"] == fig3.fingerprint()
    design.save(tmp_path / "d.json")
    (back,) = load_designs(tmp_path / "d.json")
    assert np.array_equal(back.power_mw, [28, 31]) and back.source == "exhaustive"


def test_design_list_file_loads_every_design(tmp_path, fig3):
    designs = [Design.for_instance(fig3, p, source="x").to_dict() for p in ([0, 0], [40, 40])]
    (tmp_path / "ds.json").write_text(json.dumps({"designs": designs}))
    assert [d.power_mw.tolist() for d in load_designs(tmp_path / "ds.json")] == [[0, 0], [40, 40]]


def test_snap_to_levels_picks_the_nearest(fig3):
    assert fig3.snap_to_levels(np.array([0.4, 0.6, 39.9, 55.0, -3.0])).tolist() == [0, 1, 40, 40, 0]


def test_lowest_on_level_skips_off_and_is_none_when_nothing_is_on(fig3):
    assert fig3.lowest_on_mw == 1.0  # levels 0, 1, ..., 40 mW
    above = ProblemInstance(**{**fig3.__dict__, "levels_mw": np.array([5.0, 10.0])})
    assert above.lowest_on_mw == 5.0
    off = ProblemInstance(**{**fig3.__dict__, "levels_mw": np.array([0.0])})
    assert off.lowest_on_mw is None


def test_constraints_survive_json(tmp_path, fig3):
    inst = ProblemInstance(**{**fig3.__dict__, "constraints": Constraints(min_rate_bps=1e5)})
    inst.save(tmp_path / "c.json")
    assert ProblemInstance.load(tmp_path / "c.json").constraints.min_rate_bps == 1e5


# --------------------------------------------------------------------------- hostile input
def _fig3_dict() -> dict:
    return {"format": "aign.instance/1", "gains": [[1.4e-12], [1.0e-12]], "assoc": [0, 0],
            "noise_mw": 1e-10, "bandwidth_hz": 1e6, "levels_mw": list(range(41)),
            "price": 0.0225}  # fmt: skip


def _instance_text_refused(tmp_path, text: str) -> str:
    path = tmp_path / "inst.json"
    path.write_text(text)
    with pytest.raises(InstanceError) as err:
        ProblemInstance.load(path)
    return str(err.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("noise_mw", True, "valid number"),  # true is not a number
        ("noise_mw", "1e-10", "valid number"),  # nor is text
        ("gains", [[1e308], [1e-12]], "at most 1000"),  # NaN utilities before
        ("price", 1e300, "less than or equal to 1000000"),
        ("assoc", [True, 0], "valid integer"),
        ("levels_mw", list(range(20_000)), "at most 10001 items"),
        ("noise_mw", 1e-300, "greater than or equal to"),
    ],
)
def test_mistyped_or_implausible_instances_are_refused(tmp_path, field, value, message):
    data = _fig3_dict() | {field: value}
    assert message in _instance_text_refused(tmp_path, json.dumps(data))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"noise_mw": Infinity', "must be finite"),
        ('"price": 1e999', "out of range"),
        ('"price": 0.1, "price": 0.2', "duplicate key 'price'"),
    ],
)
def test_non_finite_and_duplicate_values_are_refused_in_the_file(tmp_path, text, message):
    body = json.dumps(_fig3_dict()).replace('"price": 0.0225', text)
    assert message in _instance_text_refused(tmp_path, body)


def test_the_range_limits_keep_every_utility_finite():
    extreme = ProblemInstance.from_dict(
        _fig3_dict() | {"gains": [[1e3], [1e3]], "noise_mw": 1e-30, "bandwidth_hz": 1e12,
                        "levels_mw": [0.0, 1e7], "price": 1e6}  # fmt: skip
    )
    for power in ([0.0, 0.0], [1e7, 0.0], [1e7, 1e7]):
        assert np.isfinite(extreme.evaluate(np.array(power)).utility)


@pytest.mark.parametrize(
    ("power", "message"),
    [(["28", "31"], "valid number"), ([True, 31], "valid number"), ([28, float("nan")], "")],
)
def test_designs_with_text_or_booleans_for_powers_are_refused(power, message):
    data = {"format": "aign.design/1", "power_mw": power, "source": "x"}
    with pytest.raises(DesignError) as err:
        Design.from_dict(data)
    assert message in str(err.value)


@pytest.mark.parametrize("power", [["28", "31"], [True, 31], np.array([True, False])])
def test_the_python_api_refuses_the_same_powers(fig3, power):
    with pytest.raises(DesignError, match="must be a list of numbers"):
        Design(power, "x")
    with pytest.raises(DesignError, match="must be a list of numbers"):
        fig3.check_power(power)


def test_a_huge_design_source_is_refused(tmp_path):
    path = tmp_path / "design.json"
    path.write_text(json.dumps({"power_mw": [28, 31], "source": "x" * 10_000_000}))
    with pytest.raises(DesignError, match="text of 10000000 characters; the limit is 100000"):
        load_designs(path)
    path.write_text(json.dumps({"power_mw": [28, 31], "source": "x" * 1000}))
    with pytest.raises(DesignError, match="at most 200 characters"):
        load_designs(path)
    with pytest.raises(DesignError, match="1 to 200 characters"):
        Design(np.array([28.0, 31.0]), "x" * 1000)


def test_price_jitter_scales_the_price_log_uniformly_and_leaves_the_rest():
    from twin.radio import InstanceSampler
    from twin.scenario import load_scenario

    sc = load_scenario("paper-20")
    plain, jittered = InstanceSampler(sc, 0), InstanceSampler(sc, 0, price_jitter=3.0)
    factors = []
    for seed in range(400):
        a = plain.sample(np.random.default_rng(seed), 5)
        b = jittered.sample(np.random.default_rng(seed), 5)
        assert np.array_equal(a.gains, b.gains) and a.noise_mw == b.noise_mw
        assert b.price == float(np.float32(b.price))  # storable in a float32 label
        factors.append(np.log(b.price / a.price) / np.log(3.0))
    assert min(factors) >= -1 - 1e-6 and max(factors) <= 1 + 1e-6
    assert abs(np.mean(factors)) < 0.1 and 0.25 < np.var(factors) < 0.42  # uniform: var 1/3
    with pytest.raises(ValueError, match="factor >= 1"):
        InstanceSampler(sc, 0, price_jitter=0.5)
