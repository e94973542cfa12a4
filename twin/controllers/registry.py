"""Build controllers from text specs, e.g. ``"fixed:10"``, ``"coordinate:starts=8"``,
``"fpc:p0_dbm=-85,alpha=0.7"`` or a plugin's ``"sac:runs/x/model.zip"``.

The name before the colon selects the controller. Built-ins (the solvers) take
``key=value`` parameters separated by commas (``fixed`` also takes its level bare). Other
packages add controllers through the entry-point group ``aign.controllers``: the entry point
is a factory called with the text after the colon (``""`` when there is none) that returns a
:class:`Controller`. Built-in names take precedence over plugins of the same name.
"""

from __future__ import annotations

import difflib
import importlib.metadata

from twin.controllers.base import Controller
from twin.controllers.solver_controller import SolverController
from twin.core.errors import AignError
from twin.solvers.registry import SOLVERS, parse_params, validate_params

ENTRY_POINT_GROUP = "aign.controllers"


def _plugins() -> dict[str, importlib.metadata.EntryPoint]:
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in SOLVERS:
            found.setdefault(ep.name, ep)
    return found


def available_controllers() -> list[str]:
    """Names a spec may start with: the built-ins, then installed plugins (sorted)."""
    return list(SOLVERS) + sorted(_plugins())


def check_controller_spec(spec: str) -> None:
    """Refuse a spec that names no controller, or gives a built-in wrong parameters, without
    building anything (a plugin's own argument, such as an agent folder, is checked when it is
    made). :class:`AignError` says what is allowed, with the closest name for a typo."""
    name, _, args = str(spec).strip().partition(":")
    name = name.strip()
    if name in SOLVERS:
        validate_params(name, parse_params(name, args))
        return
    if name in _plugins():
        return
    known = available_controllers()
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise AignError(f"unknown controller {name!r}{hint}; choose one of {', '.join(known)}")


def make_controller(spec: str) -> Controller:
    """The controller a spec describes; :class:`AignError` saying what is allowed if none."""
    name, _, args = spec.strip().partition(":")
    name = name.strip()
    if name in SOLVERS:
        return SolverController(name, **parse_params(name, args))
    plugins = _plugins()
    if name in plugins:
        return _from_plugin(plugins[name], args)
    raise AignError(
        f"unknown controller {name!r} in spec {spec!r}; "
        f"choose one of {', '.join(available_controllers())}"
    )


def _from_plugin(ep: importlib.metadata.EntryPoint, args: str) -> Controller:
    try:
        factory = ep.load()
    except Exception as exc:  # a broken plugin must not look like a bug in aign
        raise AignError(
            f"controller plugin {ep.name!r} ({ep.value}) failed to load: {exc}"
        ) from exc
    controller = factory(args)
    if not isinstance(controller, Controller):
        raise AignError(
            f"controller plugin {ep.name!r} ({ep.value}) returned {type(controller).__name__}, "
            "which lacks the Controller protocol (name, reset, decide)"
        )
    return controller
