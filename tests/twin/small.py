"""The small network several twin tests share: six walking users, two UMi cells."""

import copy

from twin.scenario.schema import Scenario

SMALL = {
    "name": "small",
    "seed": 3,
    "duration_s": 2.0,
    "step_s": 0.1,
    "area": {"width_m": 600, "height_m": 600},
    "base_stations": {"layout": "grid", "count": 2},
    "users": {"count": 6, "mobility": "random_waypoint", "speed_mps": [1, 3]},
    "channel": {"path_loss": {"model": "umi"}, "fading": {"model": "rayleigh"}},
    "control": {"epoch_s": 0.5, "controller": "max"},
}


def small_scenario(**sections) -> Scenario:
    """The small network; ``sections`` replace whole top-level sections."""
    data = copy.deepcopy(SMALL)
    data.update(sections)
    return Scenario.model_validate(data)
