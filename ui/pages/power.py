"""Power trajectories: per-user power in a twin run, and along a planned trajectory."""

from __future__ import annotations

import numpy as np
from dash import Input, Output, dcc, html

from twin.core import AignError
from twin.radio import ProblemInstance
from ui import figures, services, session


def layout(app_ctx) -> html.Div:
    return html.Div(
        [
            html.H2("Power trajectories"),
            html.Div(
                [
                    html.Label("twin run (from the What-if page)", htmlFor="pw-run"),
                    dcc.Dropdown(id="pw-run", options=[], placeholder="no runs yet",
                                 clearable=False),  # fmt: skip
                    dcc.Graph(id="pw-run-graph"),
                ],
                className="card",
            ),
            html.Div(
                [
                    html.Label("design (from the Designs page)", htmlFor="pw-design"),
                    dcc.Dropdown(id="pw-design", options=[], placeholder="no designs yet",
                                 clearable=False),  # fmt: skip
                    html.Div(
                        [
                            html.Div(dcc.Graph(id="pw-plan-graph"), className="col"),
                            # the power plane exists for two users only: hidden otherwise
                            html.Div(dcc.Graph(id="pw-contour-graph"), className="col",
                                     id="pw-contour-col", style={"display": "none"}),
                        ],
                        className="row",
                    ),
                ],
                className="card",
            ),
        ]
    )


def run_options(runs: list | None, key: str | None = None) -> tuple[list, str | None]:
    runs = runs if key is None else session.runs_for(runs, key)
    labels = [r["label"] for r in runs or []]
    return labels, (labels[-1] if labels else None)


def run_figure(runs: list | None, label: str | None):
    run = next((r for r in runs or [] if r["label"] == label), None)
    if run is None or not run["power_mw"]:
        return figures.empty_figure("run the twin on the What-if page to see its powers")
    return figures.power_trajectories(run["power_times_s"], np.asarray(run["power_mw"]),
                                      title=f"per-user power: {label}")  # fmt: skip


def design_options(designs: dict | None, key: str | None = None) -> tuple[list, str | None]:
    current = designs if key is None else session.designs_for(designs, key)
    entries = (current or {}).get("designs") or []
    options = [{"label": session.entry_title(e), "value": e["id"]} for e in entries]
    return options, (session.picked_id(current, None) if entries else None)


def plan_figures(designs: dict | None, design_id: str | None):
    """Per-user power along the planned trajectory, and for two users the path in the
    power plane over the utility contours (the paper's Fig. 3); ``(plan, contour, contour
    column style)``: the contour column shows only for two users."""
    hidden = {"display": "none"}
    entry = session.entry_by_id(designs, design_id)
    if entry is None:
        empty = figures.empty_figure("generate designs on the Designs page")
        return empty, empty, hidden
    try:
        instance = ProblemInstance.from_dict(designs["instance"])
        design = services.design_from_json(entry["design"])
        if entry.get("trajectory_mw"):
            path = np.asarray(entry["trajectory_mw"], dtype=float)
            how = "generated trajectory"
        else:
            path = services.planned_path(instance, design)
            how = "MDP steps from the initial powers"
        plan = figures.power_trajectories(
            np.arange(len(path)), path, xlabel="planning step",
            title=f"{session.entry_title(entry)}: {how}",
        )  # fmt: skip
        plan.update_xaxes(dtick=1)  # steps are whole numbers
        if instance.n_users != 2:
            return plan, figures.empty_figure(""), hidden
        grid = services.utility_grid(instance)
        reference = designs.get("reference") or {}
        contour = figures.utility_contours(grid["p1_mw"], grid["p2_mw"], grid["utility"], path,
                                           optimum_mw=reference.get("power_mw"))  # fmt: skip
    except AignError as err:
        empty = figures.empty_figure(str(err).split("\n", 1)[0])
        return empty, empty, hidden
    return plan, contour, {"display": "block"}


def register(app, app_ctx) -> None:
    @app.callback(Output("pw-run", "options"), Output("pw-run", "value"),
                  Input("runs-store", "data"), Input("scenario-store", "data"))  # fmt: skip
    def _runs(runs, scenario_data):
        return run_options(runs, session.key_of(scenario_data))

    @app.callback(Output("pw-run-graph", "figure"), Input("runs-store", "data"),
                  Input("pw-run", "value"))  # fmt: skip
    def _run_figure(runs, label):
        return run_figure(runs, label)

    @app.callback(Output("pw-design", "options"), Output("pw-design", "value"),
                  Input("designs-store", "data"), Input("scenario-store", "data"))  # fmt: skip
    def _designs(designs, scenario_data):
        return design_options(designs, session.key_of(scenario_data))

    @app.callback(Output("pw-plan-graph", "figure"), Output("pw-contour-graph", "figure"),
                  Output("pw-contour-col", "style"),
                  Input("designs-store", "data"), Input("pw-design", "value"))  # fmt: skip
    def _plan(designs, design_id):
        return plan_figures(designs, design_id)
