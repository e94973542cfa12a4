"""Pure plotly figure builders: arrays, dataclasses and graphs in, ``go.Figure`` out.

No I/O, no twin runs: the app's callbacks compute with the twin and hand the results here,
and tests call these functions directly, without a browser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np
import plotly.graph_objects as go

from twin.kpi import KpiLog

TEMPLATE = "plotly_white"
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
KPI_LABELS = {
    "utility": "utility U",
    "utility_predicted": "utility predicted by the twin",
    "sum_rate_bps": "sum rate (bit/s)",
    "total_power_mw": "total power (mW)",
    "rate_bps_p5": "5th-percentile user rate (bit/s)",
    "rate_bps_p50": "median user rate (bit/s)",
    "sinr_db_p50": "median SINR (dB)",
    "active_users": "active users",
    "staleness_s": "channel estimate age (s)",
    "sinr_rmse_db": "twin SINR error, RMS (dB)",
}


def _layout(fig: go.Figure, title: str, **kwargs: Any) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01}, template=TEMPLATE,
        margin={"l": 60, "r": 20, "t": 50, "b": 50}, legend={"orientation": "h", "y": -0.2},
        **kwargs,
    )  # fmt: skip
    return fig


def empty_figure(message: str) -> go.Figure:
    """A blank figure that says why there is nothing to plot."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, "")


# --------------------------------------------------------------------------- map
def network_map(
    graph: nx.Graph, width_m: float | None = None, height_m: float | None = None, title: str = ""
) -> go.Figure:
    """BSs, users, association edges (solid) and strong-interference edges (dotted) of a
    :func:`twin.topology.network_graph`."""
    fig = go.Figure()
    for kind, style, name in (
        ("association", {"color": "#7f7f7f", "width": 1}, "association"),
        ("interference", {"color": "#d62728", "width": 1, "dash": "dot"},
         "strong interference"),
    ):  # fmt: skip
        xs: list[float | None] = []
        ys: list[float | None] = []
        for a, b, data in graph.edges(data=True):
            if data.get("kind") != kind:
                continue
            (x0, y0), (x1, y1) = graph.nodes[a]["pos"], graph.nodes[b]["pos"]
            xs += [x0, x1, None]
            ys += [y0, y1, None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=style, name=name,
                                 hoverinfo="skip"))  # fmt: skip
    for kind, marker, name in (
        ("user", {"size": 8, "color": COLORS[0]}, "users"),
        ("bs", {"size": 16, "color": "black", "symbol": "triangle-up"}, "base stations"),
    ):
        nodes = [(n, d) for n, d in graph.nodes(data=True) if d.get("kind") == kind]
        fig.add_trace(
            go.Scatter(
                x=[d["pos"][0] for _, d in nodes], y=[d["pos"][1] for _, d in nodes],
                mode="markers", marker=marker, name=name,
                text=[f"{n[0]} {n[1]}" for n, _ in nodes], hoverinfo="text",
            )
        )  # fmt: skip
    fig.update_xaxes(title="x (m)", range=None if width_m is None else [0, width_m])
    fig.update_yaxes(title="y (m)", scaleanchor="x", scaleratio=1,
                     range=None if height_m is None else [0, height_m])  # fmt: skip
    return _layout(fig, title or "network: association and strong interference")


# --------------------------------------------------------------------------- runs
def kpi_timeseries(runs: Mapping[str, KpiLog], kpi: str = "utility") -> go.Figure:
    """One line per run: a KPI column of each run's :class:`KpiLog` over time."""
    fig = go.Figure()
    for n, (label, log) in enumerate(runs.items()):
        if kpi not in log.columns:
            continue
        fig.add_trace(
            go.Scatter(x=log.column("time_s"), y=log.column(kpi), mode="lines", name=label,
                       line={"color": COLORS[n % len(COLORS)]})
        )  # fmt: skip
    fig.update_xaxes(title="time (s)")
    fig.update_yaxes(title=KPI_LABELS.get(kpi, kpi))
    return _layout(fig, f"{KPI_LABELS.get(kpi, kpi)} over time")


def rate_cdf(rates_bps: Mapping[str, Sequence[float]]) -> go.Figure:
    """Empirical CDF of user rates (bit/s), one step line per run."""
    fig = go.Figure()
    for n, (label, rates) in enumerate(rates_bps.items()):
        values = np.sort(np.asarray(rates, dtype=float))
        if values.size == 0:
            continue
        prob = np.arange(1, values.size + 1) / values.size
        fig.add_trace(
            go.Scatter(x=values, y=prob, mode="lines", line_shape="hv", name=label,
                       line={"color": COLORS[n % len(COLORS)]})
        )  # fmt: skip
    fig.update_xaxes(title="user rate (bit/s)")
    fig.update_yaxes(title="P(rate <= x)", range=[0, 1.02])
    return _layout(fig, "CDF of user rates")


def power_used(total_power_mw: Mapping[str, Sequence[float]]) -> go.Figure:
    """Mean total transmit power of each run (bar), with its range over the run."""
    labels = list(total_power_mw)
    series = [np.asarray(total_power_mw[k], dtype=float) for k in labels]
    means = [float(s.mean()) if s.size else 0.0 for s in series]
    fig = go.Figure(
        go.Bar(
            x=labels, y=means, marker_color=[COLORS[n % len(COLORS)] for n in range(len(labels))],
            error_y={
                "type": "data", "symmetric": False,
                "array": [float(s.max()) - m if s.size else 0 for s, m in zip(series, means,
                                                                                strict=True)],
                "arrayminus": [m - float(s.min()) if s.size else 0 for s, m in zip(series, means,
                                                                                   strict=True)],
            },
        )
    )  # fmt: skip
    fig.update_yaxes(title="total power (mW)")
    return _layout(fig, "power used (mean, min to max over the run)")


def power_trajectories(
    times: Sequence[float], power_mw: np.ndarray, xlabel: str = "time (s)", title: str = ""
) -> go.Figure:
    """Per-user power: ``power_mw[t, i]`` against ``times[t]``, one line per user."""
    power = np.asarray(power_mw, dtype=float)
    fig = go.Figure()
    if power.ndim == 2:
        for i in range(power.shape[1]):
            fig.add_trace(
                go.Scatter(x=list(times), y=power[:, i], mode="lines+markers", name=f"user {i}",
                           line_shape="hv", marker={"size": 4})
            )  # fmt: skip
    fig.update_xaxes(title=xlabel)
    fig.update_yaxes(title="power (mW)")
    return _layout(fig, title or "per-user transmit power")


def utility_contours(
    p1_mw: np.ndarray,
    p2_mw: np.ndarray,
    utility: np.ndarray,
    path_mw: np.ndarray | None = None,
    optimum_mw: Sequence[float] | None = None,
) -> go.Figure:
    """Utility contours over the (p1, p2) plane (``utility[row p2, column p1]``), a planned
    path of power vectors, and the optimum."""
    fig = go.Figure(
        go.Contour(x=p1_mw, y=p2_mw, z=utility, colorscale="Viridis", ncontours=25,
                   colorbar={"title": {"text": "U"}}, name="utility")
    )  # fmt: skip
    if path_mw is not None and len(path_mw):
        path = np.asarray(path_mw, dtype=float)
        fig.add_trace(
            go.Scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers", name="planned path",
                       line={"color": "white", "width": 3},
                       marker={"size": 8, "color": "white", "line": {"color": "black", "width": 1}})
        )  # fmt: skip
    if optimum_mw is not None:
        fig.add_trace(
            go.Scatter(x=[optimum_mw[0]], y=[optimum_mw[1]], mode="markers+text",
                       marker={"symbol": "star", "size": 16, "color": "#d62728"},
                       text=[f"({optimum_mw[0]:g}, {optimum_mw[1]:g})"],
                       textposition="top right", name="optimum")
        )  # fmt: skip
    fig.update_xaxes(title="p1 (mW)")
    fig.update_yaxes(title="p2 (mW)", scaleanchor="x", scaleratio=1)
    return _layout(fig, "path in the power plane over the utility contours")


# --------------------------------------------------------------------------- SINR map
def sinr_heatmap(
    x_m: np.ndarray,
    y_m: np.ndarray,
    sinr_db: np.ndarray,
    bs_positions: np.ndarray,
    threshold_db: float = 0.0,
    title: str = "",
) -> go.Figure:
    """Heat map of SINR (dB, ``sinr_db[row y, column x]``), BS markers and the contour where
    SINR equals the coverage threshold."""
    z = np.where(np.isfinite(sinr_db), sinr_db, np.nan)
    fig = go.Figure(
        go.Heatmap(x=x_m, y=y_m, z=z, colorscale="RdYlGn", colorbar={"title": {"text": "dB"}},
                   name="SINR", hovertemplate="x %{x:.0f} m, y %{y:.0f} m: %{z:.1f} dB"
                   "<extra></extra>")
    )  # fmt: skip
    fig.add_trace(
        go.Contour(x=x_m, y=y_m, z=z, contours={"start": threshold_db, "end": threshold_db,
                                                 "size": 1, "coloring": "none"},
                   line={"color": "black", "width": 2, "dash": "dash"}, showscale=False,
                   name=f"coverage threshold {threshold_db:g} dB", showlegend=True,
                   hoverinfo="skip")
    )  # fmt: skip
    bs = np.asarray(bs_positions, dtype=float).reshape(-1, 2)
    fig.add_trace(
        go.Scatter(x=bs[:, 0], y=bs[:, 1], mode="markers", name="base stations",
                   marker={"symbol": "triangle-up", "size": 16, "color": "black"})
    )  # fmt: skip
    covered = float(np.mean(z >= threshold_db)) if np.isfinite(z).any() else 0.0
    fig.update_xaxes(title="x (m)")
    fig.update_yaxes(title="y (m)", scaleanchor="x", scaleratio=1)
    return _layout(fig, title or f"uplink SINR; {100 * covered:.0f}% of the area >= "
                                 f"{threshold_db:g} dB")  # fmt: skip


def coverage_fraction(sinr_db: np.ndarray, threshold_db: float) -> float:
    """Share of grid points whose SINR reaches the threshold (what the map's title says)."""
    z = np.asarray(sinr_db, dtype=float)
    return float(np.mean(np.nan_to_num(z, nan=-np.inf) >= threshold_db))


# --------------------------------------------------------------------------- designs
def design_rows(designs: Sequence[Mapping[str, Any]], reference_utility: float) -> list[dict]:
    """Rows of the designs table: source, predicted utility, gap to the reference (%),
    total power, constraint status."""
    rows = []
    for n, d in enumerate(designs):
        predicted = d.get("predicted") or {}
        utility = predicted.get("utility")
        gap = None
        if utility is not None and reference_utility:
            gap = round(100 * (reference_utility - utility) / abs(reference_utility), 3)
        rows.append(
            {
                "index": n,
                "source": d.get("source"),
                "utility": None if utility is None else round(float(utility), 4),
                "gap_pct": gap,
                "total_power_mw": predicted.get("total_power_mw"),
                "constraints": "satisfied" if predicted.get("feasible") else "violated",
            }
        )
    return rows


def predicted_vs_realized(outcome: Mapping[str, Any]) -> go.Figure:
    """Predicted (validation mean and 95% interval) against realized utility of a deployment."""
    predicted = outcome.get("predicted") or {}
    realized = outcome.get("realized") or {}
    fig = go.Figure()
    if predicted.get("utility") is not None:
        lo, hi = predicted.get("utility_ci95") or (None, None)
        u = predicted["utility"]
        fig.add_trace(
            go.Bar(x=["predicted"], y=[u], name="predicted (validation)", marker_color=COLORS[0],
                   error_y=None if lo is None else {"type": "data", "symmetric": False,
                                                    "array": [hi - u], "arrayminus": [u - lo]})
        )  # fmt: skip
    real_u = (realized.get("utility") or {}).get("mean")
    if real_u is not None:
        fig.add_trace(go.Bar(x=["realized"], y=[real_u], name="realized (network)",
                             marker_color=COLORS[2]))  # fmt: skip
    fig.update_yaxes(title="utility U")
    status = outcome.get("status", "")
    return _layout(fig, f"deployment {status.replace('_', ' ')}: predicted vs realized utility")
