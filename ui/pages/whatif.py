"""What-if page: change the scenario's knobs, run the twin as a background job, compare runs."""

from __future__ import annotations

from typing import Any

import numpy as np
from dash import Input, Output, State, dcc, html, no_update

from twin.core import AignError
from twin.sim import KpiLog
from ui import figures, services
from ui.pages import field, message, unexpected

CONTROLLERS = ("scenario's own", "coordinate", "wmmse", "fpc", "max", "fixed:20", "random")
KPIS = ("utility", "sum_rate_bps", "total_power_mw", "rate_bps_p5", "rate_bps_p50",
        "sinr_db_p50", "utility_predicted", "sinr_rmse_db", "staleness_s")  # fmt: skip


def _number(id_: str, placeholder: str, **kw) -> dcc.Input:
    return dcc.Input(id=id_, type="number", placeholder=placeholder, debounce=True, **kw)


def layout(app_ctx) -> html.Div:
    return html.Div(
        [
            html.H2("What-if"),
            html.Div(
                [
                    html.P("Empty fields keep the scenario's values.", style={"marginTop": 0}),
                    html.Div(
                        [
                            field("users", _number("wi-users", "scenario", min=1, step=1)),
                            field("speed (m/s)", _number("wi-speed", "scenario", min=0)),
                            field("noise figure (dB)", _number("wi-noise", "scenario", min=0)),
                            field("price per mW", _number("wi-price", "scenario", min=0)),
                            field("shadowing std (dB)", _number("wi-shadow", "scenario", min=0)),
                            field("sync error (dB)", _number("wi-sync", "scenario", min=0)),
                            field("seed", _number("wi-seed", "scenario", min=0, step=1)),
                            html.Div(
                                [
                                    html.Label("controller", htmlFor="wi-controller"),
                                    dcc.Dropdown(
                                        id="wi-controller",
                                        value=CONTROLLERS[0],
                                        options=list(CONTROLLERS),
                                        clearable=False,
                                    ),
                                ]  # fmt: skip
                            ),
                        ],
                        className="controls",
                    ),
                    html.Div(
                        [
                            html.Button("run the twin", id="wi-run"),
                            html.Button(
                                "cancel", id="wi-cancel", className="secondary", disabled=True
                            ),  # fmt: skip
                            html.Button("clear runs", id="wi-clear", className="secondary"),
                        ],
                        style={"margin": "10px 0"},
                    ),
                    html.Progress(id="wi-progress", value="0", max="100"),
                    html.Div(id="wi-status"),
                ],
                className="card",
            ),
            html.Div(
                [
                    html.Label("runs to compare", htmlFor="wi-compare"),
                    dcc.Checklist(id="wi-compare", options=[], value=[], inline=True),
                    html.Label("KPI over time", htmlFor="wi-kpi"),
                    dcc.Dropdown(
                        id="wi-kpi",
                        options=list(KPIS),
                        value="utility",
                        clearable=False,
                        style={"maxWidth": "320px"},
                    ),  # fmt: skip
                ],
                className="card",
            ),
            html.Div(
                [
                    html.Div(
                        html.Div(dcc.Graph(id="wi-kpi-graph"), className="card"), className="col"
                    ),  # fmt: skip
                    html.Div(
                        html.Div(dcc.Graph(id="wi-cdf-graph"), className="card"), className="col"
                    ),  # fmt: skip
                    html.Div(
                        html.Div(dcc.Graph(id="wi-power-graph"), className="card"), className="col"
                    ),  # fmt: skip
                ],
                className="row",
            ),
        ]
    )


# --------------------------------------------------------------------------- callbacks
def run_job(
    set_progress,
    scenario_data: dict | None,
    overrides: dict[str, Any],
    controller: str | None,
    seed: int | None,
    runs: list | None,
) -> tuple[Any, Any]:
    """``(runs store, status)``: one twin run with the what-if settings, appended to the
    session's runs; a clear message (and the runs unchanged) when the settings are wrong."""
    try:
        scenario = services.scenario_from_text((scenario_data or {}).get("text"))
        scenario = services.apply_overrides(scenario, overrides)
        spec = None if controller in (None, CONTROLLERS[0]) else controller
        last = [-1]

        def progress(frac: float) -> None:
            pct = int(100 * frac)
            if pct >= last[0] + 5 or pct == 100:
                last[0] = pct
                set_progress((str(pct), "100"))

        label = f"#{len(runs or []) + 1} {scenario.name} / {spec or scenario.control.controller}"
        changed = ", ".join(f"{k}={v}" for k, v in overrides.items() if v not in (None, ""))
        if changed:
            label += f" ({changed})"
        run = services.run_whatif(scenario, spec, seed=seed, label=label, progress=progress)
    except AignError as err:
        return no_update, message(str(err), "error")
    except Exception as err:  # a job never shows a traceback
        return no_update, unexpected("the run", err)
    summary = run["summary"]
    text = (f"finished {run['label']}: mean utility {summary.get('mean_utility', 0):.4g}, "
            f"mean total power {summary.get('mean_total_power_mw', 0):.4g} mW, "
            f"{summary.get('ticks')} ticks")  # fmt: skip
    return services.keep_run(runs, run), message(text, "ok")


def compare_options(runs: list | None, selected: list | None) -> tuple[list, list]:
    """Checklist options for the session's runs; new runs are selected."""
    labels = [r["label"] for r in runs or []]
    options = [{"label": label, "value": label} for label in labels]
    kept = [s for s in (selected or []) if s in labels]
    if labels and labels[-1] not in kept:
        kept.append(labels[-1])
    return options, kept


def kpi_log(run: dict) -> KpiLog:
    """A stored run's KPI log (the dataclass the figure builders take)."""
    columns = {k: [np.nan if v is None else v for v in vs] for k, vs in run["columns"].items()}
    return KpiLog(columns=columns, power_times_s=list(run["power_times_s"]),
                  power_mw=[np.asarray(p, dtype=float) for p in run["power_mw"]])  # fmt: skip


def comparison_figures(runs: list | None, selected: list | None, kpi: str):
    chosen = [r for r in runs or [] if r["label"] in (selected or [])]
    if not chosen:
        empty = figures.empty_figure("run the twin to see KPIs here")
        return empty, empty, empty
    logs = {r["label"]: kpi_log(r) for r in chosen}
    return (
        figures.kpi_timeseries(logs, kpi),
        figures.rate_cdf({r["label"]: r["rates_bps"] for r in chosen}),
        figures.power_used({k: log.column("total_power_mw") for k, log in logs.items()}),
    )


def register(app, app_ctx) -> None:
    @app.callback(
        Output("runs-store", "data"),
        Output("wi-status", "children"),
        Input("wi-run", "n_clicks"),
        State("scenario-store", "data"),
        State("wi-users", "value"),
        State("wi-speed", "value"),
        State("wi-noise", "value"),
        State("wi-price", "value"),
        State("wi-shadow", "value"),
        State("wi-sync", "value"),
        State("wi-controller", "value"),
        State("wi-seed", "value"),
        State("runs-store", "data"),
        State("session-id", "data"),
        background=True,
        running=[
            (Output("wi-run", "disabled"), True, False),
            (Output("wi-cancel", "disabled"), False, True),
            (Output("wi-status", "children"), message("running the twin ..."), ""),
        ],
        progress=[Output("wi-progress", "value"), Output("wi-progress", "max")],
        progress_default=["0", "100"],
        cancel=[Input("wi-cancel", "n_clicks")],
        prevent_initial_call=True,
    )
    def _run(set_progress, _n, scenario_data, users, speed, noise, price, shadow, sync,
             controller, seed, runs, _session):  # fmt: skip
        overrides = dict(zip(services.WHATIF_FIELDS,
                             (users, speed, noise, price, shadow, sync), strict=True))  # fmt: skip
        return run_job(set_progress, scenario_data, overrides, controller, seed, runs)

    @app.callback(
        Output("wi-status", "children", allow_duplicate=True),
        Input("wi-cancel", "n_clicks"),
        prevent_initial_call=True,
    )
    def _cancelled(_n):
        return message("run cancelled: nothing was recorded", "info")

    @app.callback(
        Output("runs-store", "data", allow_duplicate=True),
        Input("wi-clear", "n_clicks"),
        prevent_initial_call=True,
    )
    def _clear(_n):
        return []

    @app.callback(
        Output("wi-compare", "options"),
        Output("wi-compare", "value"),
        Input("runs-store", "data"),
        State("wi-compare", "value"),
    )
    def _options(runs, selected):
        return compare_options(runs, selected)

    @app.callback(
        Output("wi-kpi-graph", "figure"),
        Output("wi-cdf-graph", "figure"),
        Output("wi-power-graph", "figure"),
        Input("runs-store", "data"),
        Input("wi-compare", "value"),
        Input("wi-kpi", "value"),
    )
    def _figures(runs, selected, kpi):
        return comparison_figures(runs, selected, kpi)
