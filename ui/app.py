"""The Dash app: ``create_app()`` builds it, ``aign ui`` serves it on 127.0.0.1:8050.

Every page is rendered once and shown or hidden by the URL, so a job started on one page
keeps running while another is open. State lives in the browser tab (``sessionStorage``
stores), never in module globals: two tabs are two independent sessions. Long work (twin
runs, design generation, validation, deployment) runs in background callbacks; the default
manager is a local :class:`dash.DiskcacheManager` (jobs in child processes of the server).
For several users, jobs go to Celery workers over Redis: ``AIGN_UI_REDIS=redis://host:6379/0``
in the environment of ``aign ui`` and of ``celery -A ui.worker:celery_app worker``
(:mod:`ui.worker` builds the same app, so its workers know every background callback by the
name the server sends; both need the same ``AIGN_HOME``). tests/e2e/test_app_celery.py runs
a what-if job that way.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dash
from dash import Input, Output, State, dcc, html, set_props

from twin.core import AignError
from ui.session import scenario_title

ASSETS = Path(__file__).resolve().parent / "assets"
log = logging.getLogger("aign.ui")


@dataclass(frozen=True)
class AppContext:
    """What every page needs to know about this server (not about a session)."""

    home: Path  # AIGN_HOME: deployment log, saved scenarios, models
    scenario: str  # scenario selected when a session starts
    background: Any  # the background-callback manager


PAGES = (
    ("/", "Scenario", "scenario"),
    ("/whatif", "What-if", "whatif"),
    ("/power", "Power trajectories", "power"),
    ("/sinr", "SINR map", "sinr"),
    ("/designs", "Designs", "designs"),
)


def default_manager(cache_dir: str | os.PathLike | None = None):
    """A local diskcache-backed background manager (jobs run in child processes).

    Without ``cache_dir`` its folder is a new ``aign-ui-cache-*`` in the temporary folder,
    removed when the process that made it exits (Ctrl-C, SIGTERM or a normal stop)."""
    import diskcache

    folder = cache_dir
    if folder is None:
        folder = tempfile.mkdtemp(prefix="aign-ui-cache-")
        atexit.register(_remove_cache, folder, os.getpid())
    return dash.DiskcacheManager(diskcache.Cache(str(folder)), expire=3600)


def _remove_cache(folder: str, owner_pid: int) -> None:
    if os.getpid() == owner_pid:  # never from a job's child process
        shutil.rmtree(folder, ignore_errors=True)


def celery_manager(redis_url: str):
    """A Celery background manager with Redis as broker and result store, for several users
    (``pip install -e ".[celery]"``); the workers run :mod:`ui.worker`."""
    try:
        from celery import Celery
    except ImportError:
        raise AignError(
            'AIGN_UI_REDIS needs Celery and redis: pip install -e ".[celery]"'
        ) from None
    app = Celery(__name__, broker=redis_url, backend=redis_url)
    app.conf.broker_connection_retry_on_startup = True
    return dash.CeleryManager(app, expire=3600)


def _manager_from_env():
    url = os.environ.get("AIGN_UI_REDIS")
    return celery_manager(url) if url else default_manager()


def worker_celery_app(redis_url: str | None = None, home: str | os.PathLike | None = None):
    """The Celery app of a worker for ``aign ui`` with ``AIGN_UI_REDIS``: it builds the same
    Dash app, which registers every background callback as a Celery task under the name the
    server sends (a hash of the callback's outputs and source)."""
    url = redis_url or os.environ.get("AIGN_UI_REDIS")
    if not url:
        raise AignError("set AIGN_UI_REDIS (redis://HOST:PORT/DB) for the workers, as for aign ui")
    manager = celery_manager(url)
    create_app(home=home, background_manager=manager)
    return manager.handle


def _on_error(err: Exception) -> None:
    """Last resort for an unexpected error in a callback: a message, never a traceback, and
    never the exception's own text (it can name internals); the details go to the log."""
    from ui.pages import public_text

    text = public_text(str(err).split("\n", 1)[0])
    if not isinstance(err, AignError):
        log.error("callback failed", exc_info=err)
        text = (f"unexpected error ({type(err).__name__}); it was logged for the operator "
                "(the server log)")  # fmt: skip
    set_props("banner", {"children": html.Div(text, className="msg-error")})


def create_app(
    scenario: str = "default",
    home: str | os.PathLike | None = None,
    background_manager: Any = None,
) -> dash.Dash:
    """Build the app for ``scenario`` (a shipped or saved scenario name) over ``home``."""
    from twin.rollout import aign_home
    from ui.pages import designs, hide_path, power, sinr, whatif
    from ui.pages import scenario as scenario_page
    from ui.services import scenario_from_text, scenario_text
    from ui.session import scenario_state

    ctx = AppContext(
        home=aign_home(home),
        scenario=scenario,
        background=background_manager or _manager_from_env(),
    )
    hide_path(ctx.home, "$AIGN_HOME")
    initial_text = scenario_text(scenario, ctx.home)  # fails early on an unknown scenario
    initial = scenario_state(scenario_from_text(initial_text, scenario), initial_text, scenario,
                             "listed")  # fmt: skip
    app = dash.Dash(
        __name__,
        title="aign",
        assets_folder=str(ASSETS),
        serve_locally=True,
        suppress_callback_exceptions=False,
        background_callback_manager=ctx.background,
        on_error=_on_error,
        update_title=None,
    )
    modules = {
        "scenario": scenario_page, "whatif": whatif, "power": power, "sinr": sinr,
        "designs": designs,
    }  # fmt: skip
    app.layout = html.Div(
        [
            dcc.Location(id="url"),
            # The session's state (ui.session): the scenario, the key of the scenario its runs
            # and designs belong to, the runs, the designs (with the selected one).
            dcc.Store(id="scenario-store", storage_type="session", data=initial),
            dcc.Store(id="scenario-key", storage_type="session", data=initial["key"]),
            dcc.Store(id="runs-store", storage_type="session", data=[]),
            # Makes background jobs of different tabs distinct (Dash keys a job by its inputs).
            dcc.Store(id="session-id", storage_type="session"),
            dcc.Store(id="designs-store", storage_type="session", data=None),
            html.Header(
                [
                    html.H1("aign: network design on a digital twin"),
                    html.Nav(
                        [dcc.Link(label, href=path, id=f"nav-{key}") for path, label, key in PAGES]
                    ),  # fmt: skip
                    html.Span(id="current-scenario", style={"marginLeft": "auto"}),
                ]
            ),
            html.Main(
                [html.Div(id="banner")]
                + [
                    html.Div(
                        modules[key].layout(ctx),
                        id=f"page-{key}",
                        className="page",
                        style={"display": "block" if path == "/" else "none"},
                    )
                    for path, _, key in PAGES
                ]  # fmt: skip
            ),
        ]
    )

    @app.callback(
        [Output(f"page-{key}", "style") for _, _, key in PAGES],
        Input("url", "pathname"),
    )
    def _route(pathname: str | None) -> list[dict]:
        return page_styles(pathname)

    app.clientside_callback(
        """function(_path, id) {
            if (id) { return window.dash_clientside.no_update; }
            return (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
                : String(Date.now()) + String(Math.random()).slice(2);
        }""",
        Output("session-id", "data"),
        Input("url", "pathname"),
        State("session-id", "data"),
    )

    @app.callback(Output("current-scenario", "children"), Input("scenario-store", "data"))
    def _current(data: dict | None) -> str:
        return scenario_title(data)

    @app.callback(
        Output("scenario-key", "data"),
        Output("runs-store", "data", allow_duplicate=True),
        Output("designs-store", "data", allow_duplicate=True),
        Output("wi-status", "children", allow_duplicate=True),
        Output("ds-status", "children", allow_duplicate=True),
        Output("ds-validation", "children", allow_duplicate=True),
        Output("ds-deployment", "children", allow_duplicate=True),
        Input("scenario-store", "data"),
        State("scenario-key", "data"),
        State("runs-store", "data"),
        State("designs-store", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def _scenario_changed(data, key, runs, designs):
        return scenario_changed(dash.ctx.triggered_id is None, data, key, runs, designs)

    @app.callback(Output("banner", "children"), Input("url", "pathname"))
    def _clear_banner(_pathname: str | None) -> list:
        return []

    for module in modules.values():
        module.register(app, ctx)

    server = app.server

    @server.route("/healthz")
    def _healthz():
        return {"ok": True, "scenario": ctx.scenario}

    return app


def scenario_changed(initial: bool, data: dict | None, key: str | None, runs: list | None,
                     designs: dict | None) -> tuple:  # fmt: skip
    """What changes with the session's scenario: ``(key, runs, designs, what-if outcome,
    generation outcome, validation outcome, deployment outcome)``. Runs and designs of
    another scenario are dropped (also after a reload, ``initial``) and a new scenario
    clears every outcome; an edit that leaves the network as it was (a comment, the
    description, the gates) changes nothing."""
    from ui.session import designs_for, key_of, runs_for

    new = key_of(data)
    kept_runs = runs_for(runs, new)
    kept_designs = designs_for(designs, new)
    out_runs = kept_runs if kept_runs != (runs or []) else dash.no_update
    out_designs = kept_designs if kept_designs != designs else dash.no_update
    if initial or new == key:
        return (dash.no_update, out_runs, out_designs) + (dash.no_update,) * 4
    return (new, out_runs, out_designs) + ([],) * 4


def page_styles(pathname: str | None) -> list[dict]:
    """Show the page whose path matches (the scenario page for unknown paths)."""
    known = [path for path, _, _ in PAGES]
    current = pathname if pathname in known else "/"
    return [{"display": "block" if path == current else "none"} for path in known]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> str | None:
    """Refuse a non-loopback address unless asked for explicitly; the warning to print."""
    if is_loopback(host):
        return None
    if not allow_remote:
        raise AignError(
            f"--host {host} would let other machines reach the app, which has no login: anyone "
            "who can connect could validate and deploy designs. Serve on 127.0.0.1 and reach "
            "it through an SSH tunnel, or add --allow-remote if this network is trusted"
        )
    return (f"warning: serving on {host}, reachable from other machines; the app has no login "
            "(anyone who can connect can validate and deploy designs)")  # fmt: skip


def serve(
    scenario: str = "default", host: str = "127.0.0.1", port: int = 8050,
    allow_remote: bool = False, access_log: bool = False, threads: int = 8,
) -> None:  # fmt: skip
    """``aign ui``: serve the app with waitress (a production WSGI server; debug off) until
    interrupted. Requests are not logged unless ``access_log``; "serving on" is printed once
    the port is bound, and a port in use is an :class:`AignError`."""
    import errno

    from waitress import create_server

    warning = check_host(host, allow_remote)
    error_log = _log_to_file()
    app = create_app(scenario)
    logging.getLogger("waitress").setLevel(logging.INFO if access_log else logging.ERROR)
    wsgi = AccessLog(app.server) if access_log else app.server
    try:
        server = create_server(wsgi, host=host, port=port, threads=threads, ident="aign")
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise AignError(f"port {port} on {host} is in use (another aign ui?): stop that "
                            "server or choose another port with --port") from None  # fmt: skip
        raise AignError(f"cannot serve on {host}:{port}: {err.strerror or err}") from None
    _stop_jobs_on_sigterm()
    if warning:
        print(f"aign ui: {warning}")
    print(f"aign ui: serving scenario {scenario!r} on http://{host}:{port}/ (Ctrl-C stops); "
          f"errors are logged to {error_log}" + ("; requests are logged here" if access_log
                                                else ""), flush=True)  # fmt: skip
    try:
        server.run()
    finally:
        server.close()


class AccessLog:
    """WSGI middleware: one line per request on stderr (``aign ui --access-log``)."""

    def __init__(self, app: Any):
        self.app = app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        import sys
        import time

        def logged(status: str, headers: list, exc_info: Any = None) -> Any:
            when = time.strftime("%Y-%m-%d %H:%M:%S")
            path = environ.get("PATH_INFO", "")
            print(f"{when} {environ.get('REMOTE_ADDR', '-')} {environ.get('REQUEST_METHOD')} "
                  f"{path} {status.split(' ', 1)[0]}", file=sys.stderr, flush=True)  # fmt: skip
            return start_response(status, headers, exc_info)

        return self.app(environ, logged)


def _log_to_file() -> str:
    """Send the app's error log (with tracebacks) to ``$AIGN_HOME/logs/ui.log`` too."""
    from twin.rollout import aign_home

    folder = aign_home() / "logs"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        handler = logging.FileHandler(folder / "ui.log", encoding="utf-8")
    except OSError:
        return "the terminal (the log folder is not writable)"
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger("aign").addHandler(handler)
    return str(folder / "ui.log")


def _stop_jobs_on_sigterm() -> None:
    """On SIGTERM (a service manager or a test stopping the server) end the running
    background jobs too: they are child processes that would otherwise live on, orphaned,
    computing for no one. (Ctrl-C reaches them already: it signals the whole process group.)"""
    import signal

    import psutil

    def stop(signum: int, frame: object) -> None:
        children = psutil.Process().children(recursive=True)
        for child in children:
            with contextlib.suppress(psutil.Error):
                child.terminate()
        psutil.wait_procs(children, timeout=5)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
