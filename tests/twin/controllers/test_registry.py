"""Controller specs: every built-in builds and obeys the protocol, bad specs say what is
allowed, and plugins arrive through the ``aign.controllers`` entry-point group."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest

from twin.controllers import (
    Controller,
    Observation,
    SolverController,
    available_controllers,
    make_controller,
)
from twin.core.errors import AignError, TooLargeError
from twin.radio.instance import ProblemInstance
from twin.solvers import SOLVERS

BUILTIN_SPECS = [
    "fixed:10",
    "max",
    "random",
    "random:seed=3",
    "fpc",
    "fpc:p0_dbm=-85,alpha=0.7",
    "wmmse",
    "coordinate",
    "coordinate:starts=8",
    "exhaustive",
]


def small_instance(n_users: int = 3) -> ProblemInstance:
    gains = np.array([[1.4e-12, 2e-13], [1.0e-12, 3e-13], [2e-13, 9e-13], [1e-13, 5e-13]])
    gains = gains[:n_users]
    return ProblemInstance(
        gains=gains, assoc=gains.argmax(axis=1), noise_mw=1e-10, bandwidth_hz=1e6,
        levels_mw=np.arange(0.0, 41.0, 2.0), price=0.0225,
    )  # fmt: skip


def observe(instance: ProblemInstance, power_mw: np.ndarray | None = None) -> Observation:
    power = np.zeros(instance.n_users) if power_mw is None else power_mw
    return Observation(time_s=0.0, instance=instance, power_mw=power)


# --------------------------------------------------------------------------- built-ins
@pytest.mark.parametrize("spec", BUILTIN_SPECS)
def test_builtin_spec_returns_allowed_levels(spec: str):
    instance = small_instance()
    controller = make_controller(spec)
    controller.reset(instance)
    power = controller.decide(observe(instance))
    assert power.shape == (instance.n_users,)
    assert np.all(np.isin(power, instance.levels_mw))


@pytest.mark.parametrize("spec", BUILTIN_SPECS)
def test_builtin_controller_satisfies_protocol(spec: str):
    assert isinstance(make_controller(spec), Controller)


@pytest.mark.parametrize("spec", BUILTIN_SPECS)
def test_builtin_controller_is_named_by_its_spec(spec: str):
    assert make_controller(spec).name == spec


def test_every_solver_is_an_available_controller():
    assert set(SOLVERS) <= set(available_controllers())


def test_solver_controller_can_be_built_directly():
    controller = SolverController("coordinate", starts=2)
    assert controller.name == "coordinate:starts=2"
    assert isinstance(controller, Controller)


def test_fixed_controller_refuses_a_power_that_is_not_a_level_at_reset():
    controller = make_controller("fixed:11")  # levels are 0, 2, ..., 40
    with pytest.raises(AignError, match="11 mW is not an allowed level"):
        controller.reset(small_instance())


def test_fixed_controller_refuses_a_power_that_is_not_a_level_at_decide():
    controller = make_controller("fixed:11")
    with pytest.raises(AignError, match="11 mW is not an allowed level"):
        controller.decide(observe(small_instance()))


def test_exhaustive_controller_refuses_too_large_instance_at_reset():
    controller = make_controller("exhaustive:max_evaluations=100")
    with pytest.raises(TooLargeError, match="coordinate or wmmse"):
        controller.reset(small_instance())


def test_random_controller_draws_afresh_each_decision_and_repeats_after_reset():
    instance = small_instance(4)
    controller = make_controller("random:seed=3")
    controller.reset(instance)
    first = [controller.decide(observe(instance)).tolist() for _ in range(3)]
    controller.reset(instance)
    again = [controller.decide(observe(instance)).tolist() for _ in range(3)]
    assert first == again
    assert len({tuple(p) for p in first}) > 1


def test_coordinate_controller_warm_starts_from_powers_in_force(monkeypatch):
    seen = []

    def spy(instance, **params):
        seen.append(params["init"].tolist())
        return SOLVERS["max"](instance)

    instance = small_instance()
    controller = make_controller("coordinate")
    monkeypatch.setitem(SOLVERS, "coordinate", spy)
    controller.reset(instance)
    controller.decide(observe(instance, np.array([2.0, 4.0, 6.0])))
    assert seen == [[2.0, 4.0, 6.0]]


# --------------------------------------------------------------------------- bad specs
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope", r"unknown controller 'nope'.*exhaustive.*coordinate"),
        ("", r"unknown controller ''.*choose one of"),
        ("coordinate:starts=0", r"starts must be an integer >= 1, got 0"),
        ("coordinate:starts=two", r"starts must be an integer >= 1, got 'two'"),
        ("coordinate:foo=1", r"unknown parameter 'foo'.*starts.*max_sweeps"),
        ("coordinate:init=1", r"unknown parameter 'init'"),
        ("coordinate:8", r"'8' is not key=value.*starts"),
        ("coordinate:starts=2,starts=3", r"'starts' given twice"),
        ("fpc:alpha=2", r"alpha must be a number in \[0, 1\]"),
        ("wmmse:iters=1.5", r"iters must be an integer >= 1"),
        ("fixed", r"missing parameter level_mw"),
        ("fixed:ten", r"level_mw must be a power in mW"),
        ("max:seed=1", r"unknown parameter 'seed'; parameters: none"),
    ],
)
def test_bad_spec_is_refused_saying_what_is_allowed(spec: str, message: str):
    with pytest.raises(AignError, match=message):
        make_controller(spec)


# --------------------------------------------------------------------------- plugins
class FakeController:
    """What a plugin factory returns: anything with the protocol's name, reset, decide."""

    def __init__(self, args: str) -> None:
        self.name = f"fake:{args}"
        self.args = args

    def reset(self, instance: ProblemInstance) -> None:
        pass

    def decide(self, observation: Observation) -> np.ndarray:
        return np.full(observation.instance.n_users, observation.instance.max_power_mw)


def not_a_controller(args: str) -> object:
    return object()


def install_plugins(monkeypatch, **targets: str) -> None:
    """Pretend installed packages declare ``name = target`` under ``aign.controllers``."""
    eps = [
        importlib.metadata.EntryPoint(name=name, value=value, group="aign.controllers")
        for name, value in targets.items()
    ]

    def entry_points(**params):
        assert params == {"group": "aign.controllers"}
        return eps

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_plugin_receives_the_text_after_the_colon(monkeypatch):
    install_plugins(monkeypatch, fake=f"{__name__}:FakeController")
    controller = make_controller("fake:runs/x/model.zip")
    assert isinstance(controller, FakeController)
    assert controller.args == "runs/x/model.zip"
    assert isinstance(controller, Controller)


def test_plugin_is_listed_among_available_controllers(monkeypatch):
    install_plugins(monkeypatch, fake=f"{__name__}:FakeController")
    assert available_controllers() == [*SOLVERS, "fake"]


def test_plugin_cannot_shadow_a_builtin(monkeypatch):
    install_plugins(monkeypatch, max=f"{__name__}:FakeController")
    assert isinstance(make_controller("max"), SolverController)


def test_plugin_returning_a_non_controller_is_refused(monkeypatch):
    install_plugins(monkeypatch, odd=f"{__name__}:not_a_controller")
    with pytest.raises(AignError, match="plugin 'odd'.*lacks the Controller protocol"):
        make_controller("odd")


def test_plugin_that_fails_to_load_is_reported(monkeypatch):
    install_plugins(monkeypatch, gone="no_such_module_xyz:Factory")
    with pytest.raises(AignError, match="plugin 'gone'.*failed to load"):
        make_controller("gone:abc")


def test_unknown_name_lists_installed_plugins(monkeypatch):
    install_plugins(monkeypatch, fake=f"{__name__}:FakeController")
    with pytest.raises(AignError, match="choose one of .*random, fake"):
        make_controller("sac")
