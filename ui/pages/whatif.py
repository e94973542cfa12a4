"""What-if page: change the scenario's knobs, run the twin as a background job, compare runs."""

from __future__ import annotations

from typing import Any

import numpy as np
from dash import Input, Output, State, dcc, html, no_update

from twin.core import AignError
from twin.sim import KpiLog
from ui import figures, services, session
from ui.pages import PROGRESS_POLL_MS, field, message, unexpected

CONTROLLERS = ("scenario's own", "coordinate", "wmmse", "fpc", "max", "fixed:20", "random")
KPIS = ("utility", "sum_rate_bps", "total_power_mw", "rate_bps_p5", "rate_bps_p50",
        "sinr_db_p50", "utility_predicted", "sinr_rmse_db", "staleness_s")  # fmt: skip


# The fields, in the order of services.WHATIF_FIELDS + seed: (id, label).
FIELDS = (("wi-users", "users"), ("wi-speed", "speed (m/s)"), ("wi-noise", "noise figure (dB)"),
          ("wi-price", "price per mW"), ("wi-shadow", "shadowing std (dB)"),
          ("wi-sync", "sync error (dB)"), ("wi-seed", "seed"))  # fmt: skip
FIELD_NAMES = (*services.WHATIF_FIELDS, "seed")
HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}


def _number(id_: str, placeholder: str) -> dcc.Input:
    """A text field for a number: what is typed reaches the server as typed, so a value the
    page cannot use is reported, never silently replaced by the scenario's (a number field
    sends nothing for what the browser deems invalid)."""
    return dcc.Input(id=id_, type="text", inputMode="decimal", placeholder=placeholder,
                     debounce=0.3, autoComplete="off")  # fmt: skip


def layout(app_ctx) -> html.Div:
    return html.Div(
        [
            html.H2("What-if"),
            html.Div(
                [
                    html.P("Empty fields keep the scenario's values.", style={"marginTop": 0}),
                    html.Div(
                        [
                            *[field(label, _number(id_, "scenario's")) for id_, label in FIELDS],
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
                    html.Div(id="wi-problems"),
                    html.Progress(id="wi-progress", max="100", style=HIDDEN),
                    html.Div(id="wi-running"),
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
def field_problems(scenario_data: dict | None, raw: dict[str, Any]) -> tuple[Any, bool]:
    """``(problems view, run disabled)`` for what the fields hold now: each field that cannot
    be used says why, and the run is blocked until they all can."""
    values, problems = session.parse_whatif(raw)
    if not problems:
        try:
            scenario = services.scenario_from_text((scenario_data or {}).get("text"))
            services.apply_overrides(scenario, {k: v for k, v in values.items() if k != "seed"})
        except AignError as err:
            problems["scenario"] = str(err)
    if not problems:
        return [], False
    return message("\n".join(problems.values()), "error"), True


def run_job(
    set_progress,
    scenario_data: dict | None,
    overrides: dict[str, Any],
    controller: str | None,
    seed: Any,
    runs: list | None,
) -> tuple[Any, Any]:
    """``(runs store, status)``: one twin run with the what-if settings, appended to the
    session's runs; a clear message (and the runs unchanged) when the settings are wrong."""
    try:
        values, problems = session.parse_whatif({**overrides, "seed": seed})
        if problems:
            raise AignError("\n".join(problems.values()))
        base = services.scenario_from_text((scenario_data or {}).get("text"))
        scenario = services.apply_overrides(base, {k: v for k, v in values.items()
                                                   if k != "seed"})  # fmt: skip
        spec = None if controller in (None, CONTROLLERS[0]) else controller
        last = [-1]

        def progress(frac: float) -> None:
            pct = int(100 * frac)
            if pct >= last[0] + 5 or pct == 100:
                last[0] = pct
                set_progress((str(pct), "100"))

        kept = session.runs_for(runs, session.key_of(scenario_data))
        number = max([int(r.get("number", 0)) for r in kept] + [0]) + 1
        short = f"#{number} {spec or scenario.control.controller}"
        changed = ", ".join(f"{k}={v}" for k, v in values.items() if v is not None)
        label = f"{short} on {scenario.name}" + (f" ({changed})" if changed else "")
        run = services.run_whatif(scenario, spec, seed=values.get("seed"), label=label,
                                  progress=progress, short=short, base=base)  # fmt: skip
        run["number"] = number
    except AignError as err:
        return no_update, message(str(err), "error")
    except Exception as err:  # a job never shows a traceback
        return no_update, unexpected("the run", err)
    summary = run["summary"]
    text = (f"finished {run['label']}: mean utility {summary.get('mean_utility', 0):.4g}, "
            f"mean total power {summary.get('mean_total_power_mw', 0):.4g} mW, "
            f"{summary.get('ticks')} ticks")  # fmt: skip
    return services.keep_run(kept, run), message(text, "ok")


def compare_options(runs: list | None, selected: list | None, key: str | None = None
                    ) -> tuple[list, list]:  # fmt: skip
    """Checklist options for the session's runs (of the scenario with ``key``, when given);
    new runs are selected."""
    runs = runs if key is None else session.runs_for(runs, key)
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
    logs = {_short(r): kpi_log(r) for r in chosen}  # legends name runs briefly (#1 wmmse)
    return (
        figures.kpi_timeseries(logs, kpi),
        figures.rate_cdf({_short(r): r["rates_bps"] for r in chosen}),
        figures.power_used({k: log.column("total_power_mw") for k, log in logs.items()},
                           hover={_short(r): r["label"] for r in chosen}),
    )


def _short(run: dict) -> str:
    return run.get("short") or run["label"]


def register(app, app_ctx) -> None:
    field_ids = [id_ for id_, _ in FIELDS]

    @app.callback(
        Output("wi-problems", "children"),
        Output("wi-run", "disabled", allow_duplicate=True),
        [Input(id_, "value") for id_ in field_ids],
        Input("scenario-store", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def _check(*args):
        *values, scenario_data = args
        return field_problems(scenario_data, dict(zip(FIELD_NAMES, values, strict=True)))

    @app.callback(
        Output("runs-store", "data"),
        Output("wi-status", "children"),
        Input("wi-run", "n_clicks"),
        State("scenario-store", "data"),
        [State(id_, "value") for id_ in field_ids],
        State("wi-controller", "value"),
        State("runs-store", "data"),
        State("session-id", "data"),
        background=True,
        running=[
            (Output("wi-run", "disabled"), True, False),
            (Output("wi-cancel", "disabled"), False, True),
            (Output("wi-running", "children"), message("running the twin ..."), ""),
            (Output("wi-progress", "style"), SHOWN, HIDDEN),
        ],
        progress=[Output("wi-progress", "value"), Output("wi-progress", "max")],
        progress_default=[None, "100"],  # no value: an indeterminate bar until the first step
        interval=PROGRESS_POLL_MS,
        cancel=[Input("wi-cancel", "n_clicks"), Input("scenario-key", "data")],
        prevent_initial_call=True,
    )
    def _run(set_progress, _n, scenario_data, *rest):
        *values, controller, runs, _session = rest
        overrides = dict(zip(services.WHATIF_FIELDS, values[:-1], strict=True))
        return run_job(set_progress, scenario_data, overrides, controller, values[-1], runs)

    @app.callback(
        Output("wi-status", "children", allow_duplicate=True),
        Input("wi-run", "n_clicks"),
        prevent_initial_call=True,
    )
    def _started(_n):  # the last outcome goes when a run starts; the run, or a cancel, says
        return []  # how this one ended (hiding it with `running` lost the cancel message)

    @app.callback(
        Output("wi-status", "children", allow_duplicate=True),
        Input("wi-cancel", "n_clicks"),
        prevent_initial_call=True,
    )
    def _cancelled(_n):
        return message("run cancelled: nothing was recorded", "info")

    @app.callback(
        Output("runs-store", "data", allow_duplicate=True),
        Output("wi-status", "children", allow_duplicate=True),
        Input("wi-clear", "n_clicks"),
        prevent_initial_call=True,
    )
    def _clear(_n):
        return [], message("cleared the runs of this session", "info")

    @app.callback(
        Output("wi-compare", "options"),
        Output("wi-compare", "value"),
        Input("runs-store", "data"),
        Input("scenario-store", "data"),
        State("wi-compare", "value"),
    )
    def _options(runs, scenario_data, selected):
        return compare_options(runs, selected, session.key_of(scenario_data))

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
