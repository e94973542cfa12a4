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


def test_constraints_survive_json(tmp_path, fig3):
    inst = ProblemInstance(**{**fig3.__dict__, "constraints": Constraints(min_rate_bps=1e5)})
    inst.save(tmp_path / "c.json")
    assert ProblemInstance.load(tmp_path / "c.json").constraints.min_rate_bps == 1e5
