"""``aign benchmark pareto`` with tiny budgets: the frontier by its definition, quality against
the best design per instance, refusing and unavailable methods, held-out instances, and the
command end to end with the shipped planner."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from evaluation.paper import held_out
from evaluation.pareto import (
    CASES,
    Method,
    ParetoArgs,
    case_instances,
    check,
    choose_method,
    mark_frontier,
    run_pareto,
)
from twin.core.errors import AignError
from twin.solvers import coordinate_ascent, fractional_power_control, max_power, wmmse
from ui.cli import main


def _entry(method: str, seconds: float, quality: float, learned: bool = False) -> dict:
    return {"method": method, "seconds": seconds, "quality_mean": quality, "learned": learned}


def test_frontier_is_the_set_no_other_method_is_both_faster_and_better():
    entries = [_entry("fast", 0.001, 0.90), _entry("slow best", 0.1, 1.0),
               _entry("middle", 0.01, 0.99), _entry("learned", 0.05, 0.95, learned=True),
               _entry("tied slower", 0.2, 1.0), _entry("learned 2", 0.005, 0.92, learned=True)]
    mark_frontier(entries)
    by = {e["method"]: e for e in entries}
    # Independent truth: the definition, pair by pair.
    for e in entries:
        dominated = any(o is not e and o["seconds"] <= e["seconds"]
                        and o["quality_mean"] >= e["quality_mean"]
                        and (o["seconds"], o["quality_mean"]) != (e["seconds"], e["quality_mean"])
                        for o in entries)  # fmt: skip
        assert e["frontier"] is not dominated, e["method"]
    assert [m for m, e in by.items() if e["frontier"]] == ["fast", "slow best", "middle",
                                                          "learned 2"]  # fmt: skip
    assert by["learned"]["verdict"] == "loses: middle is faster and better"
    assert by["learned 2"]["verdict"] == "on the frontier"
    assert by["tied slower"]["dominated_by"] == "slow best"


def refusing_above(n: int) -> Method:
    def design(instance):
        if instance.n_users > n:
            raise AignError(f"at most {n} users")
        return max_power(instance)

    return Method("learned toy", design, learned=True)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("pareto")
    methods = [
        Method("WMMSE", wmmse, spec="wmmse"),
        Method("FPC", fractional_power_control, spec="fpc"),
        Method("coordinate, 1 sweep", lambda i: coordinate_ascent(i, starts=1, max_sweeps=1),
               spec="coordinate:starts=1,max_sweeps=1"),
        Method("coordinate, 2 starts", lambda i: coordinate_ascent(i, starts=2), max_users=10),
        refusing_above(10),
        Method("ghost", None, learned=True, unavailable="no trained ghost here"),
    ]
    args = ParetoArgs(out=str(out), cases=("paper-20", "default"), instances=2)
    result = run_pareto(args, methods=methods)
    return out, result


def test_writes_csv_markdown_html_and_summary(tiny):
    out, _ = tiny
    for name in ("pareto.csv", "pareto.md", "pareto.html", "frontier.json", "summary.json"):
        assert (out / name).stat().st_size > 0, name
    html = (out / "pareto.html").read_text(encoding="utf-8")
    assert '"type":"log"' in html.replace(" ", "")  # the time axis is logarithmic


def test_quality_is_the_utility_over_the_best_design_found_on_the_instance(tiny):
    out, _ = tiny
    with open(out / "pareto.csv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["status"] == "ok"]
    assert rows
    for case in ("paper-20", "default"):
        instances = case_instances(CASES[case], 2)
        for k, inst in enumerate(instances):
            mine = [r for r in rows if r["case"] == case and int(r["instance"]) == k]
            utilities = {r["method"]: float(r["utility"]) for r in mine}
            for r in mine:  # the utility recorded is the design's, and the ratio to the best
                assert float(r["quality"]) == pytest.approx(
                    utilities[r["method"]] / max(utilities.values()), rel=1e-12)
            assert max(float(r["quality"]) for r in mine) == pytest.approx(1.0)
            best = coordinate_ascent(inst, starts=1, max_sweeps=1)
            assert utilities["coordinate, 1 sweep"] == pytest.approx(
                float(inst.objective(best)[0]), rel=1e-12)


def test_refusing_unavailable_and_over_budget_methods_are_reported_not_crashed(tiny):
    out, result = tiny
    summary = {(s["case"], s["method"]): s for s in result["summary"]}
    toy = summary[("paper-20", "learned toy")]
    assert toy["status"] == "refuses" and "at most 10 users" in toy["note"]
    assert toy["verdict"] == "refuses this size"
    assert summary[("paper-20", "ghost")]["status"] == "unavailable"
    assert summary[("paper-20", "coordinate, 2 starts")]["status"] == "not run"
    md = (out / "pareto.md").read_text(encoding="utf-8")
    assert "| learned toy | refuses: at most 10 users |" in md
    assert "| ghost | unavailable: no trained ghost here |" in md


def test_every_measured_method_has_median_time_and_worst_instance(tiny):
    _, result = tiny
    for s in result["summary"]:
        if s["status"] == "ok":
            mine = [r for r in result["rows"] if r["case"] == s["case"]
                    and r["method"] == s["method"]]  # fmt: skip
            assert s["seconds"] == pytest.approx(float(np.median([r["seconds"] for r in mine])))
            assert s["quality_worst"] == min(r["quality"] for r in mine)
            assert s["quality_worst"] <= s["quality_median"] <= 1.0 + 1e-12
            assert math.isfinite(s["quality_mean"]) and "frontier" in s


def test_frontier_json_holds_each_cases_frontier_fastest_first(tiny):
    out, result = tiny
    table = json.loads((out / "frontier.json").read_text(encoding="utf-8"))
    assert [c["case"] for c in table["cases"]] == ["paper-20", "default"]
    for c in table["cases"]:
        assert (c["users"], c["levels"], c["off_distribution"]) == (
            20, 41, c["case"] == "default")
        expected = {s["method"] for s in result["summary"]
                    if s["case"] == c["case"] and s.get("frontier")}  # fmt: skip
        front = c["frontier"]
        assert {e["method"] for e in front} == expected and front
        assert [e["seconds"] for e in front] == sorted(e["seconds"] for e in front)
        assert [e["quality_mean"] for e in front] == sorted(e["quality_mean"] for e in front)
        assert all(e["spec"] for e in front if not e["learned"])


def test_choose_method_takes_the_best_that_fits_the_budget_at_the_nearest_size():
    def case(name, users, frontier, off=False):
        return {"case": name, "users": users, "off_distribution": off, "frontier": [
            {"method": m, "seconds": t, "quality_mean": q} for m, t, q in frontier]}

    table = {"cases": [
        case("small", 20, [("fpc", 1e-4, 0.5), ("1 sweep", 0.002, 0.98), ("conv", 0.008, 1.0)]),
        case("large", 1000, [("fpc", 2e-4, 0.6), ("wmmse", 0.03, 0.8), ("1 sweep", 0.6, 0.97)]),
        case("odd", 60, [("other", 1e-5, 1.0)], off=True),  # off-distribution: never chosen
    ]}  # fmt: skip
    assert choose_method(table, 20, 0.005)["method"] == "1 sweep"
    assert choose_method(table, 20, 1.0)["method"] == "conv"
    assert choose_method(table, 20, 1e-6)["method"] == "fpc"  # nothing fits: the fastest
    assert choose_method(table, 60, 1.0)["case"] == "small"  # log-nearest of 20 and 1000
    assert choose_method(table, 500, 0.1) == {"method": "wmmse", "seconds": 0.03,
                                              "quality_mean": 0.8, "case": "large"}
    with pytest.raises(AignError, match="time_budget_s >= 0"):
        choose_method(table, 20, -1.0)


def test_cases_are_held_out_instances_and_the_price_cases_change_only_the_price():
    assert [i.fingerprint() for i in case_instances(CASES["paper-50"], 2)] == [
        i.fingerprint() for i in held_out("paper-50", 0, 2)]  # the Table I instances
    base = case_instances(CASES["paper-50"], 1)[0]
    double = case_instances(CASES["paper-50-price-x2"], 1)[0]
    assert double.price == pytest.approx(2 * base.price)
    assert np.array_equal(double.gains, base.gains)
    assert case_instances(CASES["city-200x20"], 1)[0].n_users == 200


def test_bad_arguments_are_refused_with_what_is_allowed():
    with pytest.raises(AignError, match="unknown case 'paper-7'.*paper-20"):
        check(ParetoArgs(cases=("paper-7",)))
    with pytest.raises(AignError, match="--instances must be >= 1"):
        check(ParetoArgs(instances=0))


def test_the_command_runs_every_default_method_in_a_micro_mode(tmp_path, capsys):
    # The shipped planner at K = 1, no trained agents here (reported as unavailable).
    out = tmp_path / "p"
    assert main(["benchmark", "pareto", "--quick", "--cases", "default", "--instances", "1",
                 "--candidates", "1", "--out", str(out)]) == 0  # fmt: skip
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    methods = {s["method"]: s for s in summary["summary"]}
    assert set(methods) >= {"planner K=1", "SAC", "BCQ", "WMMSE", "FPC", "coordinate, 1 sweep",
                            "coordinate, 2 sweeps", "coordinate, to convergence",
                            "coordinate, 4 starts"}  # fmt: skip
    assert methods["planner K=1"]["status"] == "ok"
    assert summary["command"] == ("aign benchmark pareto --quick --cases default "
                                  "--candidates 1 --instances 1")  # fmt: skip
    assert "## default (20 users x 3 BSs; 1 held-out instances" in capsys.readouterr().out
