"""Radio: the uplink maths, the 38.901 channel, mobility and activity, the network, instances.

Pure and vectorized over users and base stations; no clock (that is :mod:`twin.sim`)."""

from twin.radio.activity import UserActivity
from twin.radio.calibration import Calibration, PathLossFit, ShadowingMap, check_calibration
from twin.radio.channel import (
    FadingProcess,
    ShadowingField,
    default_decorrelation_m,
    doppler_hz,
    gauss_markov_rho,
    jakes_correlation,
    los_probability,
    path_loss_db,
    thermal_noise_mw,
    uma_environment_height_m,
)
from twin.radio.deviation import checked_best_response, deviation_value
from twin.radio.graph import (
    InterferenceGraph,
    UserRadioState,
    difference_utility,
    interference_graph,
    priced_best_response,
    strongest_interferers,
    user_radio_state,
)
from twin.radio.instance import Design, ProblemInstance, load_designs
from twin.radio.mobility import RandomWaypoint, place_base_stations, place_users
from twin.radio.network import RadioNetwork
from twin.radio.sampling import InstanceSampler
from twin.radio.topology import network_graph
from twin.radio.uplink import (
    Constraints,
    RadioMetrics,
    bs_interference_mw,
    constraint_violations,
    evaluate_power,
    interference_mw,
    objective,
    probe_sinr,
    rate_bps,
    serving_gain,
    sinr,
    utility_from_rates,
)

__all__ = [
    "Calibration",
    "Constraints",
    "Design",
    "FadingProcess",
    "InstanceSampler",
    "InterferenceGraph",
    "PathLossFit",
    "ProblemInstance",
    "RadioMetrics",
    "RadioNetwork",
    "RandomWaypoint",
    "ShadowingField",
    "ShadowingMap",
    "UserActivity",
    "UserRadioState",
    "bs_interference_mw",
    "check_calibration",
    "checked_best_response",
    "constraint_violations",
    "default_decorrelation_m",
    "deviation_value",
    "difference_utility",
    "doppler_hz",
    "evaluate_power",
    "gauss_markov_rho",
    "interference_graph",
    "interference_mw",
    "jakes_correlation",
    "load_designs",
    "los_probability",
    "network_graph",
    "objective",
    "path_loss_db",
    "place_base_stations",
    "place_users",
    "priced_best_response",
    "probe_sinr",
    "rate_bps",
    "serving_gain",
    "sinr",
    "strongest_interferers",
    "thermal_noise_mw",
    "uma_environment_height_m",
    "user_radio_state",
    "utility_from_rates",
]
