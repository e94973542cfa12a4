"""The figure builders are pure: arrays and dataclasses in, plotly figures out (no browser)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from twin.radio.topology import network_graph
from twin.sim.kpi import KpiLog
from ui import figures


def _log(utility: list[float], power: list[float]) -> KpiLog:
    log = KpiLog()
    for t, (u, p) in enumerate(zip(utility, power, strict=True)):
        log.append({"time_s": 0.1 * t, "utility": u, "total_power_mw": p})
    return log


def test_network_map_draws_every_node_and_edge_kind():
    bs = np.array([[0.0, 0.0], [100.0, 0.0]])
    users = np.array([[10.0, 0.0], [50.0, 0.0]])
    gains = np.array([[1e-6, 1e-9], [1e-7, 5e-8]])  # user 1 hears BS 1 within 10 dB
    graph = network_graph(bs, users, gains, np.array([0, 0]))
    fig = figures.network_map(graph, 100, 50)
    by_name = {t.name: t for t in fig.data}
    assert len(by_name["base stations"].x) == 2
    assert len(by_name["users"].x) == 2
    assert _segments(by_name["association"]) == {(0.0, 10.0), (0.0, 50.0)}
    assert _segments(by_name["strong interference"]) == {(50.0, 100.0)}


def _segments(trace) -> set[tuple[float, ...]]:
    xs = list(trace.x)
    return {tuple(sorted(xs[k : k + 2])) for k in range(0, len(xs), 3)}


def test_kpi_timeseries_has_one_line_per_run():
    fig = figures.kpi_timeseries({"a": _log([1, 2], [3, 4]), "b": _log([5, 6], [7, 8])}, "utility")
    assert [t.name for t in fig.data] == ["a", "b"]
    assert list(fig.data[1].y) == [5, 6]
    assert fig.layout.yaxis.title.text == "utility U"


def test_kpi_timeseries_skips_runs_without_the_kpi():
    fig = figures.kpi_timeseries({"a": _log([1], [2])}, "sinr_rmse_db")
    assert fig.data == ()


def test_rate_cdf_steps_from_one_over_n_to_one():
    fig = figures.rate_cdf({"run": [3.0, 1.0, 2.0, 4.0]})
    assert list(fig.data[0].x) == [1.0, 2.0, 3.0, 4.0]
    assert list(fig.data[0].y) == [0.25, 0.5, 0.75, 1.0]


def test_power_used_bars_are_means_with_range():
    fig = figures.power_used({"a": [10.0, 20.0, 30.0]})
    bar = fig.data[0]
    assert list(bar.y) == [20.0]
    assert list(bar.error_y.array) == [10.0] and list(bar.error_y.arrayminus) == [10.0]


def test_power_trajectories_one_line_per_user():
    fig = figures.power_trajectories([0, 1, 2], np.array([[0, 0], [10, 5], [28, 31]]))
    assert [t.name for t in fig.data] == ["user 0", "user 1"]
    assert list(fig.data[1].y) == [0, 5, 31]


def test_utility_contours_draw_the_path_and_the_optimum():
    levels = np.arange(3.0)
    utility = np.add.outer(levels, levels)
    path = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    fig = figures.utility_contours(levels, levels, utility, path, optimum_mw=(2.0, 2.0))
    assert isinstance(fig.data[0], go.Contour)
    assert list(fig.data[1].x) == [0.0, 1.0, 2.0]
    assert fig.data[2].text == ("(2, 2)",)


def test_sinr_heatmap_has_threshold_contour_and_bs_markers():
    x = y = np.linspace(0, 10, 3)
    z = np.array([[-5.0, 0.0, 5.0]] * 3)
    fig = figures.sinr_heatmap(x, y, z, np.array([[5.0, 5.0]]), threshold_db=0.0)
    heat, contour, bs = fig.data
    assert isinstance(heat, go.Heatmap) and isinstance(contour, go.Contour)
    assert contour.contours.start == contour.contours.end == 0.0
    assert list(bs.x) == [5.0]
    assert "67%" in fig.layout.title.text  # two of three columns reach 0 dB


def test_coverage_fraction_counts_points_at_or_above_threshold():
    assert figures.coverage_fraction(np.array([[-1.0, 0.0], [np.nan, 3.0]]), 0.0) == 0.5


def test_design_rows_give_gap_to_reference_and_constraint_status():
    entries = [
        {"id": "ref", "label": "reference", "sources": ["exhaustive"],
         "design": {"predicted": {"utility": 24.0, "feasible": True, "total_power_mw": 59.0,
                                  "min_rate_bps": 12_345.0}}},
        {"id": "d1", "label": "#1", "sources": ["max", "fpc"],
         "design": {"predicted": {"utility": 12.0, "feasible": False}}},
    ]  # fmt: skip
    rows = figures.design_rows(entries, reference_utility=24.0)
    assert [r["gap_pct"] for r in rows] == [0.0, 50.0]
    assert [r["constraints"] for r in rows] == ["satisfied", "violated"]
    assert rows[0]["min_rate_kbps"] == 12.35
    assert rows[1]["sources"] == "max (+1 identical: fpc)"


def test_predicted_vs_realized_shows_both_bars():
    outcome = {"status": "kept", "predicted": {"utility": 10.0, "utility_ci95": [9.0, 11.0]},
               "realized": {"utility": {"mean": 9.5}}}  # fmt: skip
    fig = figures.predicted_vs_realized(outcome)
    assert [t.x[0] for t in fig.data] == ["validated (twin)", "realized (network)"]
    assert list(fig.data[0].error_y.array) == [1.0]
    assert "kept" in fig.layout.title.text


def test_long_titles_wrap_below_the_modebar():
    fig = figures.empty_figure("x")
    figures._layout(fig, "word " * 40)
    text = fig.layout.title.text
    assert all(len(line) <= figures.TITLE_CHARS for line in text.split("<br>"))
    assert fig.layout.title.pad.t == figures.MODEBAR_PX
    assert fig.layout.margin.t >= figures.MODEBAR_PX + 22 * text.count("<br>")


def test_empty_figure_says_why():
    fig = figures.empty_figure("nothing yet")
    assert fig.layout.annotations[0].text == "nothing yet"


# ------------------------------------------------------------------ sweeps
def _summary_rows():
    rows = []
    for controller, offset in (("fpc", 0.0), ("max", 5.0)):
        for users in (10, 20, 40):
            for kpi in ("mean_utility", "mean_total_power_mw"):
                mean = users + offset
                rows.append({"users": users, "price": 0.01, "controller": controller,
                             "kpi": kpi, "runs": 3, "mean": mean, "std": 1.0,
                             "ci95_low": mean - 2, "ci95_high": mean + 2})  # fmt: skip
    return rows


def test_sweep_figure_draws_a_mean_line_and_band_per_setting():
    from ui.figures import sweep_figure

    fig = sweep_figure(_summary_rows(), "users", ["users", "price"])
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(lines) == 4 and len(bands) == 4  # 2 controllers x 2 KPIs
    # price has one value: a setting, not part of the line names
    assert {t.name for t in lines} == {"fpc", "max"}
    fpc = next(t for t in lines if t.name == "fpc")
    assert list(fpc.x) == [10, 20, 40] and list(fpc.y) == [10.0, 20.0, 40.0]
    band = bands[0]
    assert list(band.y) == [12.0, 22.0, 42.0, 38.0, 18.0, 8.0]  # upper, then lower reversed


def test_sweep_figure_without_a_swept_parameter_uses_error_bars():
    from ui.figures import sweep_figure

    rows = [r for r in _summary_rows() if r["users"] == 10]
    fig = sweep_figure(rows, None, ["users", "price"])
    assert all(t.error_y.array is not None for t in fig.data)
    assert list(fig.data[0].x) == ["fpc"]


def test_sweep_figure_with_no_runs_says_so():
    from ui.figures import sweep_figure

    fig = sweep_figure([], "users", ["users"])
    assert fig.layout.annotations[0].text == "no finished runs to plot"
