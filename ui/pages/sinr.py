"""SINR map: uplink SINR of a probe user over the area for a design; two designs side by side.

Any network size: the map costs ``O((users + grid^2) x BSs)`` in bounded memory
(:func:`ui.services.sinr_map`), and large networks draw a subsample of their users
(:func:`ui.figures.sinr_heatmap`).
"""

from __future__ import annotations

from dash import Input, Output, State, dcc, html

from twin.core import AignError
from ui import figures, services, session
from ui.pages import field

TOP_LEVEL = "top"  # every user at the top power level


def _side(suffix: str) -> html.Div:
    return html.Div(
        html.Div(
            [
                html.Label("design", htmlFor=f"sinr-design-{suffix}"),
                dcc.Dropdown(
                    id=f"sinr-design-{suffix}",
                    value=TOP_LEVEL,
                    clearable=False,
                    options=[{"label": "every user at the top level", "value": TOP_LEVEL}],
                ),  # fmt: skip
                dcc.Loading(dcc.Graph(id=f"sinr-graph-{suffix}", style={"height": "560px"})),
            ],
            className="card",
        ),
        className="col",
    )


def layout(app_ctx) -> html.Div:
    return html.Div(
        [
            html.H2("SINR map"),
            html.Div(
                html.Div(
                    [
                        field(
                            "coverage threshold (dB)",
                            dcc.Input(id="sinr-threshold", type="number", value=0, debounce=True),
                        ),  # fmt: skip
                        field(
                            "grid points per side",
                            dcc.Input(
                                id="sinr-grid",
                                type="number",
                                value=40,
                                min=5,
                                max=120,
                                step=1,
                                debounce=True,
                            ),
                        ),  # fmt: skip
                    ],
                    className="controls",
                ),
                className="card",
            ),
            html.Div([_side("a"), _side("b")], className="row"),
        ]
    )


def design_options(designs: dict | None, scenario_data: dict | None) -> list[dict]:
    options = [{"label": "every user at the top level", "value": TOP_LEVEL}]
    current = session.designs_for(designs, session.key_of(scenario_data))
    for entry in (current or {}).get("designs") or []:
        utility = (entry["design"].get("predicted") or {}).get("utility")
        text = session.entry_title(entry) + ("" if utility is None else f", U = {utility:.4g}")
        options.append({"label": text, "value": entry["id"]})
    return options


def options_and_choice(designs: dict | None, scenario_data: dict | None, choice: str | None):
    """The dropdown's options, and its choice kept while it is still among them."""
    options = design_options(designs, scenario_data)
    values = {o["value"] for o in options}
    return options, (choice if choice in values else TOP_LEVEL)


def options_and_design(designs: dict | None, scenario_data: dict | None, choice: str | None):
    """The right-hand side: like :func:`options_and_choice`, but when designs exist and it
    shows no design of theirs, the selected (else the best) one, so the two maps compare
    the top level with the design at hand instead of showing one map twice."""
    options, kept = options_and_choice(designs, scenario_data, choice)
    current = session.designs_for(designs, session.key_of(scenario_data))
    if current is None or kept != TOP_LEVEL:
        return options, kept
    return options, session.picked_id(current, None) or TOP_LEVEL


def sinr_figure(scenario_data: dict | None, designs: dict | None, choice: str | None,
                threshold_db: float | None, grid: int | None):  # fmt: skip
    try:
        scenario = services.scenario_from_text((scenario_data or {}).get("text"))
        power, name = None, "every user at the top level"
        if choice not in (None, TOP_LEVEL):
            current = session.designs_for(designs, session.key_of(scenario_data))
            entry = session.entry_by_id(current, choice)
            if entry is None:
                raise AignError("that design is no longer in this session; choose another")
            design = services.design_from_json(entry["design"])
            services.check_design_for(scenario, design)
            power, name = design.power_mw, session.entry_title(entry)
        grid = int(grid or 40)
        if not 5 <= grid <= 120:
            raise AignError(f"grid points per side must be 5..120, got {grid}")
        result = services.sinr_map(scenario, power, grid=grid)
    except AignError as err:
        return figures.empty_figure(str(err).split("\n", 1)[0])
    threshold = 0.0 if threshold_db is None else float(threshold_db)
    covered = figures.coverage_fraction(result["sinr_db"], threshold)
    title = (f"{scenario.name}, {name}: {100 * covered:.0f}% covered at {threshold:g} dB "
             f"(probe at {result['probe_mw']:g} mW)")  # fmt: skip
    return figures.sinr_heatmap(result["x_m"], result["y_m"], result["sinr_db"],
                                result["bs_positions"], threshold, title=title,
                                user_positions=result["user_positions"])  # fmt: skip


def register(app, app_ctx) -> None:
    for suffix, choose in (("a", options_and_choice), ("b", options_and_design)):
        app.callback(
            Output(f"sinr-design-{suffix}", "options"),
            Output(f"sinr-design-{suffix}", "value"),
            Input("designs-store", "data"),
            Input("scenario-store", "data"),
            State(f"sinr-design-{suffix}", "value"),
        )(choose)
        app.callback(
            Output(f"sinr-graph-{suffix}", "figure"),
            Input("scenario-store", "data"),
            State("designs-store", "data"),
            Input(f"sinr-design-{suffix}", "value"),
            Input("sinr-threshold", "value"),
            Input("sinr-grid", "value"),
        )(sinr_figure)
