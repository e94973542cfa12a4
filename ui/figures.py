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

from twin.sim import KpiLog

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


TITLE_CHARS = 64  # a title line longer than this wraps (cards are ~600 px wide)
MODEBAR_PX = 34  # the modebar's row at the top of a figure: titles go below it


def _wrap(title: str, width: int = TITLE_CHARS) -> str:
    """``title`` with ``<br>`` between words so no line exceeds ``width`` characters (a line
    already broken with ``<br>`` keeps its breaks)."""
    import textwrap

    return "<br>".join("<br>".join(textwrap.wrap(part, width) or [""])
                       for part in title.split("<br>"))  # fmt: skip


def _layout(fig: go.Figure, title: str, **kwargs: Any) -> go.Figure:
    """The shared layout: the title in its own rows under the modebar (never beneath its
    buttons), the legend under the x-axis title in the figure's own space."""
    text = _wrap(title) if title else ""
    lines = text.count("<br>") + 1 if text else 0
    top = MODEBAR_PX + 22 * lines + 12
    fig.update_layout(
        title={"text": text, "x": 0.01, "xanchor": "left", "y": 1, "yref": "container",
               "yanchor": "top", "pad": {"t": MODEBAR_PX}, "font": {"size": 15}},
        template=TEMPLATE,
        margin={"l": 64, "r": 24, "t": top, "b": 40},
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom",
                "x": 0, "xanchor": "left"},
        **kwargs,
    )  # fmt: skip
    if any(getattr(t, "showlegend", None) is not False for t in fig.data) and len(fig.data) > 1:
        fig.update_layout(margin_b=110)  # the x-axis title, then the legend under it
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def empty_figure(message: str) -> go.Figure:
    """A blank figure that says why there is nothing to plot."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, "")


# --------------------------------------------------------------------------- map
# Drawing budget of the maps. Past a few thousand markers a browser pans slowly and the
# figure's JSON grows by megabytes, so a larger network is drawn downsampled: a seeded
# uniform subsample of its users (the same network always shows the same users), only
# their links, the strongest interference links among them, and a title that says so.
MAX_DRAWN_USERS = 2000
MAX_DRAWN_INTERFERENCE = 500
WEBGL_MIN_POINTS = 1000  # marker traces with more points than this are drawn with WebGL
MAP_SAMPLE_SEED = 0


def subsample(n: int, k: int, seed: int = MAP_SAMPLE_SEED) -> np.ndarray:
    """Indices of at most ``k`` of ``n`` items, ascending: all of them when ``n <= k``, else
    ``k`` drawn uniformly without replacement from a generator seeded with ``seed``."""
    if n <= k:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max(0, k), replace=False))


def _markers(x: Sequence[float], y: Sequence[float], **kwargs: Any) -> go.Scatter | go.Scattergl:
    """A marker trace: SVG for a few points, WebGL above :data:`WEBGL_MIN_POINTS`."""
    trace = go.Scattergl if len(x) > WEBGL_MIN_POINTS else go.Scatter
    return trace(x=x, y=y, mode="markers", **kwargs)


def _shown(n_drawn: int, n_total: int, what: str) -> str:
    return "" if n_drawn == n_total else f"showing {n_drawn} of {n_total} {what}"


def _titled(fig: go.Figure, title: str, note: str) -> go.Figure:
    """The figure's layout with ``title``, and ``note`` (what was downsampled) under it."""
    if not note:
        return _layout(fig, title)
    return _layout(fig, f"{_wrap(title)}<br><span style='font-size:12px'>{note}</span>")


def _bs_marker_size(n_bs: int) -> int:
    return 16 if n_bs <= 30 else 9


def network_map(
    graph: nx.Graph,
    width_m: float | None = None,
    height_m: float | None = None,
    title: str = "",
    max_users: int = MAX_DRAWN_USERS,
    max_interference: int = MAX_DRAWN_INTERFERENCE,
) -> go.Figure:
    """BSs, users, association edges (solid) and strong-interference edges (dotted) of a
    :func:`twin.radio.topology.network_graph`.

    At most ``max_users`` users are drawn (:func:`subsample` of the graph's users in index
    order), with their association edges and the ``max_interference`` strongest
    interference edges among them; the title and legend say how many of how many.
    """
    users = sorted(n for n, d in graph.nodes(data=True) if d.get("kind") == "user")
    shown = [users[k] for k in subsample(len(users), max_users)]
    shown_set = set(shown)
    association, interference = [], []
    for a, b, data in graph.edges(data=True):
        user, bs = (a, b) if a[0] == "user" else (b, a)
        if user not in shown_set:
            continue
        if data.get("kind") == "association":
            association.append((user, bs))
        elif data.get("kind") == "interference":
            interference.append((-data.get("relative_db", 0.0), user, bs))
    total_interference = graph.graph.get(
        "interference_edges",
        sum(1 for *_, d in graph.edges(data=True) if d.get("kind") == "interference"),
    )
    interference = [(u, b) for _, u, b in sorted(interference)[: max(0, max_interference)]]

    fig = go.Figure()
    for edges, style, name in (
        (association, {"color": "#7f7f7f", "width": 1}, "association"),
        (interference, {"color": "#d62728", "width": 1, "dash": "dot"},
         "strong interference"),
    ):  # fmt: skip
        xs: list[float | None] = []
        ys: list[float | None] = []
        for a, b in edges:
            (x0, y0), (x1, y1) = graph.nodes[a]["pos"], graph.nodes[b]["pos"]
            xs += [x0, x1, None]
            ys += [y0, y1, None]
        if name == "strong interference" and len(edges) < total_interference:
            name = f"{name} (strongest {len(edges)} of {total_interference})"
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=style, name=name,
                                 hoverinfo="skip"))  # fmt: skip
    stations = sorted(n for n, d in graph.nodes(data=True) if d.get("kind") == "bs")
    users_note = _shown(len(shown), len(users), "users")
    for nodes, marker, name in (
        (shown, {"size": 8 if len(shown) <= WEBGL_MIN_POINTS else 4, "color": COLORS[0]},
         "users" + (f" ({len(shown)} of {len(users)})" if users_note else "")),
        (stations, {"size": _bs_marker_size(len(stations)), "color": "black",
                    "symbol": "triangle-up"}, "base stations"),
    ):  # fmt: skip
        pos = [graph.nodes[n]["pos"] for n in nodes]
        fig.add_trace(
            _markers([p[0] for p in pos], [p[1] for p in pos], marker=marker, name=name,
                     text=[f"{n[0]} {n[1]}" for n in nodes], hoverinfo="text")
        )  # fmt: skip
    fig.update_xaxes(title="x (m)", range=None if width_m is None else [0, width_m])
    fig.update_yaxes(title="y (m)", scaleanchor="x", scaleratio=1,
                     range=None if height_m is None else [0, height_m])  # fmt: skip
    return _titled(fig, title or "network: association and strong interference", users_note)


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


def power_used(
    total_power_mw: Mapping[str, Sequence[float]], hover: Mapping[str, str] | None = None
) -> go.Figure:
    """Mean total transmit power of each run (bar), with its range over the run; bars are
    named by the short run names (``hover``: the full description of each)."""
    labels = list(total_power_mw)
    series = [np.asarray(total_power_mw[k], dtype=float) for k in labels]
    means = [float(s.mean()) if s.size else 0.0 for s in series]
    fig = go.Figure(
        go.Bar(
            x=labels, y=means, marker_color=[COLORS[n % len(COLORS)] for n in range(len(labels))],
            hovertext=[(hover or {}).get(k, k) for k in labels], hoverinfo="text+y",
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
    fig.update_xaxes(type="category", tickangle=0)
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
    user_positions: np.ndarray | None = None,
    max_users: int = MAX_DRAWN_USERS,
) -> go.Figure:
    """Heat map of SINR (dB, ``sinr_db[row y, column x]``), BS markers, the contour where
    SINR equals the coverage threshold and, if given, the users (at most ``max_users``, a
    :func:`subsample`; the title says how many of how many)."""
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
    users_note = ""
    if user_positions is not None:
        users = np.asarray(user_positions, dtype=float).reshape(-1, 2)
        shown = users[subsample(len(users), max_users)]
        users_note = _shown(len(shown), len(users), "users")
        fig.add_trace(
            _markers(shown[:, 0], shown[:, 1], hoverinfo="skip",
                     name="users" + (f" ({len(shown)} of {len(users)})" if users_note else ""),
                     marker={"size": 4, "color": "#1f77b4", "opacity": 0.7})
        )  # fmt: skip
    bs = np.asarray(bs_positions, dtype=float).reshape(-1, 2)
    fig.add_trace(
        _markers(bs[:, 0], bs[:, 1], name="base stations",
                 marker={"symbol": "triangle-up", "size": _bs_marker_size(len(bs)),
                         "color": "black"})
    )  # fmt: skip
    covered = float(np.mean(z >= threshold_db)) if np.isfinite(z).any() else 0.0
    fig.update_xaxes(title="x (m)")
    fig.update_yaxes(title="y (m)", scaleanchor="x", scaleratio=1)
    title = title or f"uplink SINR; {100 * covered:.0f}% of the area >= {threshold_db:g} dB"
    return _titled(fig, title, users_note)


def coverage_fraction(sinr_db: np.ndarray, threshold_db: float) -> float:
    """Share of grid points whose SINR reaches the threshold (what the map's title says)."""
    z = np.asarray(sinr_db, dtype=float)
    return float(np.mean(np.nan_to_num(z, nan=-np.inf) >= threshold_db))


# --------------------------------------------------------------------------- designs
def design_rows(entries: Sequence[Mapping[str, Any]], reference_utility: float) -> list[dict]:
    """Rows of the designs table, one per entry of a design set (``ui.session.design_set``):
    label, where it came from, the wall time that made it (ms), predicted utility at t = 0,
    gap to the reference (%), total power, lowest user rate, constraint status."""
    rows = []
    for entry in entries:
        predicted = entry["design"].get("predicted") or {}
        utility = predicted.get("utility")
        gap = None
        if utility is not None and reference_utility:
            gap = round(100 * (reference_utility - utility) / abs(reference_utility), 3)
        sources = list(entry["sources"])
        made_by = sources[0] + (f" (+{len(sources) - 1} identical: {', '.join(sources[1:])})"
                                if len(sources) > 1 else "")  # fmt: skip
        min_rate = predicted.get("min_rate_bps")
        total = predicted.get("total_power_mw")
        seconds = (entry["design"].get("provenance") or {}).get("seconds")
        rows.append(
            {
                "id": entry["id"],
                "label": entry["label"],
                "sources": made_by,
                "time_ms": None if seconds is None else float(f"{1e3 * seconds:.3g}"),
                "utility": None if utility is None else round(float(utility), 4),
                "gap_pct": gap,
                "total_power_mw": None if total is None else round(float(total), 3),
                "min_rate_kbps": None if min_rate is None else round(min_rate / 1000, 2),
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
            go.Bar(x=["validated (twin)"], y=[u], name="validated (twin)", marker_color=COLORS[0],
                   error_y=None if lo is None else {"type": "data", "symmetric": False,
                                                    "array": [hi - u], "arrayminus": [u - lo]})
        )  # fmt: skip
    real_u = (realized.get("utility") or {}).get("mean")
    if real_u is not None:
        fig.add_trace(go.Bar(x=["realized (network)"], y=[real_u], name="realized (network)",
                             marker_color=COLORS[2]))  # fmt: skip
    fig.update_yaxes(title="utility U")
    status = outcome.get("status", "")
    return _layout(fig, f"deployment {status.replace('_', ' ')}: validated vs realized utility",
                   showlegend=False)


# --------------------------------------------------------------------------- sweeps
SWEEP_KPIS = ("mean_utility", "mean_sum_rate_bps", "mean_total_power_mw", "mean_rate_bps_p5")


def _hex_rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def sweep_figure(
    summary: Sequence[Mapping[str, Any]],
    param: str | None,
    params: Sequence[str],
    kpis: Sequence[str] = SWEEP_KPIS,
) -> go.Figure:
    """KPIs against one swept parameter: the mean over seeds with its 95% band, one line per
    setting of the other parameters and controller (``param=None``: KPIs per controller).

    ``summary`` holds :func:`twin.compute.sweep.summarize` rows.
    """
    from plotly.subplots import make_subplots

    kpis = [k for k in kpis if any(r["kpi"] == k for r in summary)]
    if not kpis:
        return empty_figure("no finished runs to plot")
    labels = [KPI_LABELS.get(k.removeprefix("mean_"), k) for k in kpis]
    fig = make_subplots(rows=1, cols=len(kpis), subplot_titles=labels,
                        horizontal_spacing=0.08)  # fmt: skip
    # Parameters held at one value are settings, not lines: leave them out of the names.
    others = [p for p in params if p != param and len({repr(r.get(p)) for r in summary}) > 1]
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in summary:
        groups.setdefault(tuple(row.get(p) for p in others) + (row["controller"],), []).append(row)
    for g, (key, rows) in enumerate(groups.items()):
        name = ", ".join([f"{p}={v}" for p, v in zip(others, key[:-1], strict=True)] + [key[-1]])
        color = COLORS[g % len(COLORS)]
        for c, kpi in enumerate(kpis, start=1):
            points = [r for r in rows if r["kpi"] == kpi and r["mean"] is not None]
            if param is None:
                x = [r["controller"] for r in points]
            else:
                points.sort(key=lambda r: r[param])
                x = [r[param] for r in points]
            mean = [r["mean"] for r in points]
            low = [r["ci95_low"] if r["ci95_low"] is not None else r["mean"] for r in points]
            high = [r["ci95_high"] if r["ci95_high"] is not None else r["mean"] for r in points]
            if param is not None and len(points) > 1:
                fig.add_trace(go.Scatter(
                    x=x + x[::-1], y=high + low[::-1], fill="toself", mode="lines",
                    line={"width": 0},
                    fillcolor=_hex_rgba(color, 0.18), hoverinfo="skip", showlegend=False,
                    legendgroup=name, name=f"{name} 95% CI",
                ), row=1, col=c)  # fmt: skip
            fig.add_trace(go.Scatter(
                x=x, y=mean, mode="lines+markers", name=name, legendgroup=name,
                showlegend=c == 1, line={"color": color},
                error_y=None if param is not None and len(points) > 1 else {
                    "type": "data", "symmetric": False,
                    "array": [h - m for h, m in zip(high, mean, strict=True)],
                    "arrayminus": [m - lo for m, lo in zip(mean, low, strict=True)],
                },
            ), row=1, col=c)  # fmt: skip
        if param is not None:
            for c in range(1, len(kpis) + 1):
                fig.update_xaxes(title_text=param, row=1, col=c)
    title = f"KPIs against {param} (mean over seeds, 95% band)" if param else "KPIs per controller"
    return _layout(fig, title, height=420, width=max(520, 380 * len(kpis)))
