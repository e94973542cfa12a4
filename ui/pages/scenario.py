"""Scenario page: pick, edit or upload a scenario (live validation), see its map, save it."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html, no_update
from dash import ctx as dash_ctx

from twin.core import AignError
from ui import figures, services
from ui.pages import message, public_text, upload


def layout(app_ctx) -> html.Div:
    return html.Div(
        [
            html.H2("Scenario"),
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(
                                [
                                    html.Label(
                                        "shipped or saved scenario", htmlFor="scenario-select"
                                    ),  # fmt: skip
                                    dcc.Dropdown(
                                        id="scenario-select",
                                        options=services.scenario_choices(app_ctx.home),
                                        value=app_ctx.scenario,
                                        clearable=False,
                                    ),  # fmt: skip
                                    upload(
                                        "scenario-upload",
                                        "drop a YAML scenario (up to 2 MB) or click",
                                        message_id="upload-msg",
                                        kind="YAML scenario",
                                        max_bytes=services.MAX_SCENARIO_BYTES,
                                    ),
                                    html.Div(id="upload-msg"),
                                    html.Label(
                                        "YAML (validated as you type)", htmlFor="scenario-editor"
                                    ),  # fmt: skip
                                    dcc.Textarea(id="scenario-editor", spellCheck=False),
                                    html.Div(id="scenario-errors"),
                                    html.Div(
                                        [
                                            dcc.Input(
                                                id="save-name",
                                                type="text",
                                                placeholder="new file name",
                                            ),  # fmt: skip
                                            html.Button("save as new file", id="save-btn"),
                                        ],
                                        style={"marginTop": "8px"},
                                    ),
                                    html.Div(id="save-msg"),
                                ],
                                className="card",
                            )
                        ],
                        className="col",
                    ),
                    html.Div(
                        html.Div(
                            dcc.Graph(
                                id="network-map",
                                style={"height": "620px"},
                                config={"displaylogo": False},
                            ),  # fmt: skip
                            className="card",
                        ),
                        className="col",
                    ),
                ],
                className="row",
            ),
        ]
    )


# --------------------------------------------------------------------------- callbacks
def load_into_editor(
    trigger: str | None, name: str | None, upload: str | None, filename: str | None, home
) -> tuple[Any, Any]:
    """``(editor text, upload message)`` after picking a scenario or uploading a file."""
    try:
        if trigger == "scenario-upload":
            text = services.decode_upload(upload, filename or "upload")
            return text, message(f"loaded {filename}", "ok")
        return services.scenario_text(name or "default", home), []
    except AignError as err:
        return no_update, message(str(err), "error")


def check_editor(text: str | None, current: dict | None) -> tuple[Any, Any]:
    """``(problems view, scenario store)``: a valid text becomes the session's scenario."""
    scenario, problems = services.check_scenario(text, source="editor")
    if scenario is None:
        items = [html.Li(p) for p in problems]
        return html.Div([html.Div(f"{len(problems)} problem(s):"), html.Ul(items)],
                        className="msg-error", id="scenario-problems"), no_update  # fmt: skip
    summary = (f"valid: {scenario.name}, {scenario.users.n} users, "
               f"{scenario.base_stations.n} base stations, {scenario.duration_s:g} s")  # fmt: skip
    data = {"name": scenario.name, "text": text}
    return message(summary, "ok"), (no_update if data == current else data)


def network_figure(data: dict | None):
    try:
        scenario = services.scenario_from_text((data or {}).get("text"))
        graph = services.topology(scenario)
    except AignError as err:
        return figures.empty_figure(public_text(str(err).split("\n", 1)[0]))
    return figures.network_map(
        graph,
        scenario.area.width_m,
        scenario.area.height_m,
        title=f"{scenario.name}: association and strong interference",
    )


def save(text: str | None, name: str | None, home) -> tuple[Any, Any]:
    """``(message, dropdown options)`` after saving the editor as a new file."""
    try:
        path = services.save_scenario(text or "", (name or "").strip(), home)
    except AignError as err:
        return message(str(err), "error"), no_update
    return (message(f"saved as {path.stem} (in the app's saved scenarios)", "ok"),
            services.scenario_choices(home))  # fmt: skip


def register(app, app_ctx) -> None:
    home = app_ctx.home

    @app.callback(
        Output("scenario-editor", "value"),
        Output("upload-msg", "children"),
        Input("scenario-select", "value"),
        Input("scenario-upload", "contents"),
        State("scenario-upload", "filename"),
    )
    def _load(name, upload, filename):
        return load_into_editor(dash_ctx.triggered_id, name, upload, filename, home)

    @app.callback(
        Output("scenario-errors", "children"),
        Output("scenario-store", "data"),
        Input("scenario-editor", "value"),
        State("scenario-store", "data"),
    )
    def _check(text, current):
        return check_editor(text, current)

    @app.callback(Output("network-map", "figure"), Input("scenario-store", "data"))
    def _map(data):
        return network_figure(data)

    @app.callback(
        Output("save-msg", "children"),
        Output("scenario-select", "options"),
        Input("save-btn", "n_clicks"),
        State("scenario-editor", "value"),
        State("save-name", "value"),
        prevent_initial_call=True,
    )
    def _save(_n, text, name):
        return save(text, name, home)
