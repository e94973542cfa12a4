"""The UI at 10 000 users x 100 BSs: bounded work, a correct SINR map, capped drawings.

The shipped ``scale-10000x100`` network is built once (about a second; ``network_snapshot``
keeps it) and shared by every test here. Sizes are checked by counts, never by timing.
"""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import plotly.graph_objects as go
import pytest

from twin.radio.uplink import sinr
from twin.scenario.loader import SCENARIO_DIR, load_scenario
from ui import figures, services
from ui.pages import sinr as sinr_page

LARGE = "scale-10000x100"


@pytest.fixture(scope="module")
def large():
    scenario = load_scenario(LARGE)
    return scenario, services.network_snapshot(scenario)


def _trace(fig: go.Figure, prefix: str):
    (trace,) = [t for t in fig.data if (t.name or "").startswith(prefix)]
    return trace


def _points(fig: go.Figure) -> int:
    return sum(len(t.x) for t in fig.data if getattr(t, "x", None) is not None)


# --------------------------------------------------------------------------- SINR map
def test_sinr_map_at_scale_equals_the_direct_per_probe_sinr(large):
    """Independent truth: the probe appended to all 10 000 users, ``twin.radio.uplink.sinr`` over
    the 10 001 x 100 gains, one grid point at a time (the map's original algorithm)."""
    scenario, snap = large
    levels = np.asarray(scenario.power.levels())
    power = np.random.default_rng(0).choice(levels, size=scenario.users.n)  # a mixed design
    grid = 4
    got = services.sinr_map(scenario, power, grid=grid, chunk_links=3 * 100)  # 3 points/chunk
    xs = np.linspace(0.0, scenario.area.width_m, grid)
    ys = np.linspace(0.0, scenario.area.height_m, grid)
    network, top = snap["network"], float(levels.max())
    expected = np.empty((grid, grid))
    for r, y in enumerate(ys):
        for c, x in enumerate(xs):
            probe = network.large_scale_gain_at(np.array([[x, y]]))[0]
            s = sinr(np.vstack([snap["gains"], probe]), np.append(snap["assoc"], np.argmax(probe)),
                     np.append(power, top), network.noise_mw, scenario.reuse)  # fmt: skip
            expected[r, c] = 10 * np.log10(s[-1])
    np.testing.assert_allclose(got["sinr_db"], expected, rtol=0, atol=1e-9)
    assert got["user_positions"].shape == (10_000, 2)


def test_chunk_size_does_not_change_the_map(large):
    scenario, _ = large
    one_point = services.sinr_map(scenario, None, grid=9, chunk_links=1)
    whole = services.sinr_map(scenario, None, grid=9, chunk_links=1 << 30)
    np.testing.assert_allclose(one_point["sinr_db"], whole["sinr_db"], rtol=1e-12)


def test_sinr_map_memory_is_bounded_by_the_chunk_not_the_grid(large):
    scenario, _ = large
    tracemalloc.start()
    try:
        services.sinr_map(scenario, None, grid=120)  # 14 400 probes x 100 BSs
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Unchunked, the 1.44 million probe links take about 140 MB of temporaries.
    assert peak < 48e6


# --------------------------------------------------------------------------- drawings
def test_sinr_page_at_scale_draws_a_capped_user_subsample():
    store = {"name": LARGE, "text": (SCENARIO_DIR / f"{LARGE}.yaml").read_text()}
    fig = sinr_page.sinr_figure(store, None, sinr_page.TOP_LEVEL, 0.0, 40)
    assert np.asarray(fig.data[0].z).shape == (40, 40)
    users = _trace(fig, "users")
    assert isinstance(users, go.Scattergl)
    assert len(users.x) == figures.MAX_DRAWN_USERS
    assert f"showing {figures.MAX_DRAWN_USERS} of 10000 users" in fig.layout.title.text
    assert len(_trace(fig, "base stations").x) == 100
    # Heat map, contour, users, BSs: the figure's size is set by the grid and the budget.
    assert _points(fig) <= 2 * 40 + figures.MAX_DRAWN_USERS + 100
    assert len(json.dumps(fig.to_plotly_json(), cls=_NumpyJSON)) < 400_000


def test_network_map_at_scale_caps_users_and_links(large):
    scenario, _ = large
    graph = services.topology(scenario)
    assert graph.number_of_nodes() == 10_100
    kinds = [d["kind"] for *_, d in graph.edges(data=True)]
    assert kinds.count("association") == 10_000
    assert kinds.count("interference") == min(
        services.MAX_INTERFERENCE_EDGES, graph.graph["interference_edges"]
    )
    fig = figures.network_map(graph, scenario.area.width_m, scenario.area.height_m)
    users = _trace(fig, "users")
    shown = len(users.x)
    assert shown == figures.MAX_DRAWN_USERS
    assert f"showing {shown} of 10000 users" in fig.layout.title.text
    # One segment (x0, x1, None) per association of a drawn user; interference capped.
    assert len(_trace(fig, "association").x) == 3 * shown
    assert len(_trace(fig, "strong interference").x) <= 3 * figures.MAX_DRAWN_INTERFERENCE
    assert _points(fig) <= 4 * shown + 3 * figures.MAX_DRAWN_INTERFERENCE + 100


def test_network_map_draws_the_links_of_drawn_users_only(large):
    scenario, _ = large
    fig = figures.network_map(services.topology(scenario), max_users=50, max_interference=20)
    users = _trace(fig, "users")
    drawn = set(zip(users.x, users.y, strict=True))
    bs = set(zip(_trace(fig, "base stations").x, _trace(fig, "base stations").y, strict=True))
    for name in ("association", "strong interference"):
        trace = _trace(fig, name)
        for k in range(0, len(trace.x), 3):
            ends = {(trace.x[k], trace.y[k]), (trace.x[k + 1], trace.y[k + 1])}
            assert len(ends & drawn) == 1 and len(ends & bs) == 1


def test_subsample_is_seeded_sorted_and_complete_when_small():
    assert figures.subsample(5, 10).tolist() == [0, 1, 2, 3, 4]
    picked = figures.subsample(10_000, 2000)
    assert picked.tolist() == figures.subsample(10_000, 2000).tolist()
    assert len(set(picked.tolist())) == 2000 and np.all(np.diff(picked) > 0)


def test_small_networks_are_drawn_whole_with_svg_markers():
    users = np.random.default_rng(1).uniform(0, 100, (50, 2))
    fig = figures.sinr_heatmap(np.arange(3.0), np.arange(3.0), np.zeros((3, 3)),
                               np.array([[1.0, 1.0]]), user_positions=users)  # fmt: skip
    trace = _trace(fig, "users")
    assert trace.name == "users" and isinstance(trace, go.Scatter) and len(trace.x) == 50
    assert "showing" not in fig.layout.title.text


class _NumpyJSON(json.JSONEncoder):
    def default(self, o):
        return o.tolist() if isinstance(o, np.ndarray) else super().default(o)
