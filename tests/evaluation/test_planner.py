"""``aign benchmark planner`` end to end in a micro mode, and its interpolated scenarios."""

import csv
import json
import math

import pytest

from evaluation.planner import PlannerBenchArgs, check, interpolated_scenario
from twin.core.errors import AignError
from twin.scenario.loader import load_scenario
from ui.cli import main

MICRO = ["--seeds", "1", "--instances", "1", "--fig3-seeds", "2", "--steps", "5,10",
         "--weights", "0,1", "--users", "20,35", "--scenarios", "paper-fig3,paper-20"]  # fmt: skip


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    out = tmp_path_factory.mktemp("planner")
    assert main(["benchmark", "planner", *MICRO, "--out", str(out)]) == 0
    return out


def test_writes_every_output(micro):
    for name in ("sweep.csv", "generalization.csv", "planner.md", "figure.html", "summary.json"):
        assert (micro / name).stat().st_size > 0, name
    assert "<script" in (micro / "figure.html").read_text(encoding="utf-8")


def test_sweep_has_one_row_per_case_and_setting(micro):
    with open(micro / "sweep.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # (2 fig3 noise seeds + 1 paper-20 instance) x 2 step counts x 2 weights
    assert len(rows) == 3 * 2 * 2
    assert {(r["steps"], r["guidance_weight"]) for r in rows} == {
        ("5", "0.0"), ("5", "1.0"), ("10", "0.0"), ("10", "1.0")}  # fmt: skip
    for r in rows:
        assert 0.5 < float(r["share_of_reference"]) <= 1.0 + 1e-9
        if r["scenario"] == "paper-fig3":
            assert r["ends_at_optimum"] == str(r["end_mw"] == "28 31")


def test_generalization_marks_the_user_counts_never_trained_on(micro):
    from diffusion import DEFAULT_MODEL_DIR, load_model

    lo, hi = load_model(DEFAULT_MODEL_DIR).envelope.users  # the range the model trained on
    with open(micro / "generalization.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["users"] for r in rows} == {"20", "35"}
    for r in rows:
        assert r["trained"] == str(lo <= int(r["users"]) <= hi)
    for r in rows:
        assert math.isfinite(float(r["share_of_reference"]))
    summary = json.loads((micro / "summary.json").read_text(encoding="utf-8"))
    assert summary["trained_users"] == [lo, hi]
    assert f"the model was trained on {lo}-{hi} users" in (micro / "planner.md").read_text(
        encoding="utf-8")  # fmt: skip


def test_interpolated_scenario_scales_the_area_between_its_neighbours():
    low, high = load_scenario("paper-20"), load_scenario("paper-50")
    sc = interpolated_scenario(35)
    assert sc.users.n == 35 and sc.name == "paper-35-interpolated"
    assert sc.area.width_m == pytest.approx((low.area.width_m + high.area.width_m) / 2)
    assert sc.base_stations == low.base_stations and sc.channel == low.channel
    assert interpolated_scenario(50) == high  # a calibrated count is the paper scenario itself


def test_bad_input_is_a_clear_error():
    with pytest.raises(AignError, match="--users must lie in"):
        check(PlannerBenchArgs(users=(10,)))
    with pytest.raises(AignError, match="--weights"):
        check(PlannerBenchArgs(weights=(-1.0,)))
