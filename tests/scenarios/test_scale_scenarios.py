"""The shipped large networks, scale-1000x20 and scale-10000x100 (docs/scale.md).

They must stay realistic (UMa macro sites about 500 m apart) and runnable: a controller
whose cost grows with users x BSs at most, and a twin that builds and ticks at full size.
The runs here are a few ticks long; ``aign simulate`` runs them whole.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.controllers import make_controller
from twin.scenario.loader import load_scenario, shipped_scenarios
from twin.sim.twin import Twin

SIZES = {"scale-1000x20": (1000, 20), "scale-10000x100": (10_000, 100)}
# Controllers whose decision costs O(users x BSs) or less (coordinate ascent is quadratic in
# the users, exhaustive exponential).
SCALABLE = {"fpc", "wmmse", "max", "fixed", "random"}


@pytest.mark.parametrize("name", list(SIZES))
def test_large_scenario_ships_with_its_size(name):
    assert name in shipped_scenarios()
    scenario = load_scenario(name)
    assert (scenario.users.n, scenario.base_stations.n) == SIZES[name]


@pytest.mark.parametrize("name", list(SIZES))
def test_large_scenario_is_a_uma_macro_layout_with_a_scalable_controller(name):
    scenario = load_scenario(name)
    assert scenario.channel.path_loss.model == "uma"
    assert scenario.base_stations.layout == "hexagonal"
    # A hexagonal site covers sqrt(3)/2 ISD^2: 400-600 m between sites.
    site_m2 = scenario.area.width_m * scenario.area.height_m / scenario.base_stations.n
    isd_m = math.sqrt(site_m2 / (math.sqrt(3) / 2))
    assert 400 <= isd_m <= 600
    assert scenario.control.controller.partition(":")[0] in SCALABLE


def _run_ticks(name: str, ticks: int) -> Twin:
    scenario = load_scenario(name)
    twin = Twin(scenario, make_controller(scenario.control.controller))
    twin.run(until_s=ticks * scenario.step_s)
    return twin


def test_1000x20_runs_with_its_controller():
    twin = _run_ticks("scale-1000x20", 3)
    kpis = twin.kpis
    assert len(kpis) == 3
    assert kpis.column("active_users").tolist() == [1000.0] * 3
    assert np.all(np.isfinite(kpis.column("utility")))
    assert min(kpis.column("total_power_mw")) > 0  # the controller decided at t = 0


def test_10000x100_builds_and_ticks_at_full_size():
    twin = _run_ticks("scale-10000x100", 2)
    gains, assoc, _, _ = twin.estimate()
    assert gains.shape == (10_000, 100) and assoc.shape == (10_000,)
    assert len(twin.kpis) == 2
    assert np.all(np.isfinite(twin.kpis.column("utility")))
    assert len(np.unique(assoc)) > 90  # users spread over (nearly) every site
