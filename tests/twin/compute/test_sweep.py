"""Sweeps: the grid, the rows against direct twin runs, resume, failures, tables."""

from __future__ import annotations

import csv
import json

import pytest

import twin.compute.sweep as sweep_module
from twin.api import simulate
from twin.compute.sweep import SweepSpec, override, parse_param, run_sweep, summarize
from twin.core.errors import AignError
from twin.scenario.loader import load_scenario


@pytest.fixture(scope="module")
def scenario():
    # Two seconds of the default scenario: 20 ticks a run.
    return override(load_scenario("default"), {"duration_s": 2.0})


def spec(scenario, **kw) -> SweepSpec:
    kw.setdefault("params", [("users", [4, 6]), ("price", [0.01, 0.05])])
    kw.setdefault("controllers", ["fpc"])
    kw.setdefault("seeds", 2)
    return SweepSpec(scenario, **kw)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------ parameters
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("users=20,50,80", ("users", [20, 50, 80])),
        ("price = 0.01, 0.02", ("price", [0.01, 0.02])),
        ("channel.model=uma,umi", ("channel.model", ["uma", "umi"])),
    ],
)
def test_params_are_read_as_yaml_scalars(text, expected):
    assert parse_param(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("users", "expected NAME=V1,V2"),
        ("users=", "expected NAME=V1,V2"),
        ("users=1,,2", "empty value"),
        ("users=1,1", "listed twice"),
        ("users={}", "not a single value"),
    ],
)
def test_malformed_params_are_refused(text, message):
    with pytest.raises(AignError, match=message):
        parse_param(text)


def test_unknown_field_suggests_the_nearest(scenario):
    with pytest.raises(AignError, match=r"no field 'pirce'; did you mean 'price'\?"):
        SweepSpec(scenario, params=[("pirce", [1])]).cells()


def test_an_invalid_combination_is_refused_before_anything_runs(scenario, tmp_path):
    bad = SweepSpec(scenario, params=[("users", [4, -1])])
    with pytest.raises(AignError, match=r"users=-1 is not a valid scenario: users.count"):
        run_sweep(bad, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_controller_is_swept_with_controller_not_param(scenario):
    with pytest.raises(AignError, match="--controller"):
        SweepSpec(scenario, params=[("controller", ["fpc"])])


def test_cells_cover_the_grid_with_stable_distinct_keys(scenario):
    cells = spec(scenario, controllers=["fpc", "max"]).cells()
    assert len(cells) == 2 * 2 * 2 * 2
    assert len({c.key for c in cells}) == len(cells)
    assert [c.key for c in cells] == [
        c.key for c in spec(scenario, controllers=["fpc", "max"]).cells()
    ]
    assert {c.scenario.users.n for c in cells} == {4, 6}
    assert {c.scenario.objective.price_per_mw for c in cells} == {0.01, 0.05}


# ------------------------------------------------------------------ running
def test_every_row_is_the_twin_run_it_names(scenario, tmp_path):
    report = run_sweep(spec(scenario), tmp_path / "s")
    assert report.cells == 8 and report.ran == 8 and not report.failures
    rows = read_csv(tmp_path / "s" / "results.csv")
    assert len(rows) == 8
    for row in (rows[0], rows[-1]):
        direct = simulate(
            override(scenario, {"users.count": int(row["users"]),
                                "objective.price_per_mw": float(row["price"])}),
            controller="fpc", seed=int(row["seed"]),
        ).summary()  # fmt: skip
        assert float(row["mean_utility"]) == direct["mean_utility"]
        assert float(row["mean_total_power_mw"]) == direct["mean_total_power_mw"]


def test_summary_has_the_mean_and_interval_over_seeds(scenario, tmp_path):
    report = run_sweep(spec(scenario, seeds=3), tmp_path / "s")
    summary = summarize(report.rows, report.params)
    first = next(r for r in summary if r["kpi"] == "mean_utility")
    values = [r["mean_utility"] for r in report.rows
              if (r["users"], r["price"]) == (first["users"], first["price"])]  # fmt: skip
    assert first["runs"] == 3 and first["mean"] == pytest.approx(sum(values) / 3)
    assert first["ci95_low"] < first["mean"] < first["ci95_high"]
    on_disk = read_csv(tmp_path / "s" / "summary.csv")
    assert len(on_disk) == len(summary)


def test_an_interrupted_sweep_resumes_without_redoing_finished_cells(
    scenario, tmp_path, monkeypatch
):
    out = tmp_path / "s"

    def stop_after_three(done, total):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec(scenario), out, progress=stop_after_three)
    assert len(list((out / "cells").glob("*.json"))) == 3

    ran = []
    real = sweep_module.run_cell
    monkeypatch.setattr(sweep_module, "run_cell", lambda cell: ran.append(cell.key) or real(cell))
    report = run_sweep(spec(scenario), out)
    assert report.already_done == 3 and report.ran == 5 and len(ran) == 5
    finished_first = {p.stem for p in (out / "cells").glob("*.json")} - set(ran)
    assert len(finished_first) == 3

    uninterrupted = run_sweep(spec(scenario), tmp_path / "whole")
    assert report.rows == uninterrupted.rows


def test_a_torn_cell_file_is_run_again(scenario, tmp_path):
    out = tmp_path / "s"
    first = run_sweep(spec(scenario), out)
    victim = next((out / "cells").glob("*.json"))
    victim.write_text('{"cell": "trunc')
    again = run_sweep(spec(scenario), out)
    assert again.already_done == 7 and again.ran == 1 and again.rows == first.rows


def test_another_sweep_in_the_same_folder_is_refused(scenario, tmp_path):
    run_sweep(spec(scenario, seeds=1), tmp_path / "s")
    with pytest.raises(AignError, match=r"holds a different sweep \(its seeds differ\)"):
        run_sweep(spec(scenario, seeds=2), tmp_path / "s")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(AignError, match="not empty and holds no sweep"):
        run_sweep(spec(scenario), tmp_path / "busy")


def test_failed_cells_are_reported_and_retried_on_the_next_run(scenario, tmp_path):
    out = tmp_path / "s"
    broken = spec(scenario, controllers=["fpc", "sac:/no/such/model"], seeds=1)
    report = run_sweep(broken, out)
    assert report.ran == 4 and len(report.failures) == 4
    failures = json.loads((out / "failures.json").read_text())
    assert {f["controller"] for f in failures} == {"sac:/no/such/model"}
    assert all(f["attempts"] == 2 and f["error"] for f in failures)
    assert {r["controller"] for r in read_csv(out / "results.csv")} == {"fpc"}
    again = run_sweep(broken, out)  # only the failed ones run again
    assert again.already_done == 4 and len(again.failures) == 4


def test_parquet_holds_the_same_rows_as_csv(scenario, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    run_sweep(spec(scenario, seeds=1), tmp_path / "s", fmt="both")
    table = pq.read_table(tmp_path / "s" / "results.parquet").to_pylist()
    rows = read_csv(tmp_path / "s" / "results.csv")
    assert [t["cell"] for t in table] == [r["cell"] for r in rows]
    assert [t["mean_utility"] for t in table] == [float(r["mean_utility"]) for r in rows]


def test_unknown_format_is_refused(scenario, tmp_path):
    with pytest.raises(AignError, match="--format 'xlsx'"):
        run_sweep(spec(scenario), tmp_path / "s", fmt="xlsx")
