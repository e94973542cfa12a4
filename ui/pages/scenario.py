"""Scenario page: pick, edit or upload a scenario (live validation), see its map, save it.

One callback (:func:`scenario_state`) owns the editor, the dropdown and the session's
scenario store, so they always agree: the dropdown shows the listed scenario the editor
holds, or nothing (with what the editor holds as its placeholder) after an edit or an
upload; a reload shows the session's scenario, not the server's default.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from dash import Input, Output, State, dcc, html, no_update
from dash import ctx as dash_ctx

from twin.core import AignError
from ui import figures, services
from ui.pages import message, public_text, upload
from ui.session import scenario_state

PLACEHOLDER = "choose a scenario"


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
                                        placeholder=PLACEHOLDER,
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
                                                placeholder="file name (default: the "
                                                            "scenario's name)",
                                            ),  # fmt: skip
                                            html.Button("save", id="save-btn"),
                                        ],
                                        className="save-row",
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
class ScenarioView(NamedTuple):
    """What the scenario page's one callback sets (``no_update`` where nothing changes)."""

    editor: Any  # the editor's text
    value: Any  # the dropdown's value: the listed scenario the editor holds, else None
    placeholder: Any  # what the dropdown says when it has no value
    options: Any  # the dropdown's options (shipped and saved scenarios)
    store: Any  # the session's scenario (ui.session.scenario_state)
    problems: Any  # the editor's problems, or "valid: ..."
    upload_msg: Any
    save_msg: Any


def scenario_state_view(
    trigger: str | None,
    chosen: str | None,
    upload_contents: str | None,
    filename: str | None,
    text: str | None,
    save_name: str | None,
    store: dict | None,
    home,
) -> ScenarioView:
    """The page after ``trigger``: the dropdown, an upload, the editor, the save button, or
    nothing (a page load: show the session's scenario)."""
    store = store or {}
    keep = no_update
    upload_msg: Any = keep
    save_msg: Any = []
    options: Any = keep
    how, listed = "edited", None
    try:
        if trigger is None:  # page load: the session's scenario, as the session left it
            text = store.get("text") or services.scenario_text("default", home)
            how, listed = store.get("how", "listed"), store.get("listed")
            options = services.scenario_choices(home)
        elif trigger == "scenario-select":
            if not chosen:
                return ScenarioView(*(keep,) * 8)
            text = services.scenario_text(chosen, home)
            how, listed, upload_msg = "listed", chosen, []
        elif trigger == "scenario-upload":
            text = services.decode_upload(upload_contents, filename or "upload")
            how, upload_msg = "uploaded", message(f"loaded {filename}", "ok")
        elif trigger == "save-btn":
            scenario, problems = services.check_scenario(text, source="editor")
            if scenario is None:
                raise AignError("fix the scenario's problems before saving it")
            name = (save_name or "").strip() or scenario.name
            path, what = services.save_scenario(text or "", name, home,
                                                loaded=store.get("listed"))  # fmt: skip
            save_msg = message({"saved": f"saved as {path.stem} (in the app's saved scenarios)",
                                "unchanged": f"{path.stem} is saved already (no changes)",
                                "updated": f"saved the changes to {path.stem}"}[what],
                               "ok")  # fmt: skip
            how, listed, options = "saved", path.stem, services.scenario_choices(home)
    except AignError as err:
        if trigger == "save-btn":
            return ScenarioView(*(keep,) * 7, message(str(err), "error"))
        return ScenarioView(*(keep,) * 6, message(str(err), "error"), keep)
    scenario, problems = services.check_scenario(text, source="editor")
    if trigger == "scenario-editor" and scenario is not None:
        # what the editor holds decides, not the order requests come back in: the text of a
        # listed file (the one loaded, or the one the scenario names) is that file
        listed = listed_file(text, [store.get("listed"), scenario.name], home)
        how = "listed" if listed else "edited"
    placeholder = PLACEHOLDER
    if scenario is None:
        items = [html.Li(p) for p in problems]
        view = html.Div([html.Div(f"{len(problems)} problem(s):"), html.Ul(items)],
                        className="msg-error", id="scenario-problems")  # fmt: skip
        data: Any = keep  # the session keeps its last valid scenario
        placeholder = "the editor's scenario is invalid (the session keeps its last valid one)"
    else:
        view = message(f"valid: {scenario.name}, {scenario.users.n} users, "
                       f"{scenario.base_stations.n} base stations, {scenario.duration_s:g} s",
                       "ok")  # fmt: skip
        new = scenario_state(scenario, text or "", listed, how)
        # set on a page load even when unchanged: Dash fires the callbacks that depend on
        # the store at load only when it is set
        data = keep if new == store and trigger is not None else new
        if listed is None:
            placeholder = f"{scenario.name} ({'uploaded' if how == 'uploaded' else 'edited'}, " \
                          "not saved)"
    value = listed if scenario is not None else None
    return ScenarioView(text if trigger != "scenario-editor" else keep, value, placeholder,
                        options, data, view, upload_msg, save_msg)  # fmt: skip


def listed_file(text: str | None, names: list, home) -> str | None:
    """The first of ``names`` that is a shipped or saved scenario whose file holds ``text``."""
    for name in dict.fromkeys(n for n in names if n):
        try:
            if services.scenario_text(name, home) == text:
                return name
        except AignError:
            continue
    return None


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


def register(app, app_ctx) -> None:
    home = app_ctx.home

    @app.callback(
        Output("scenario-editor", "value"),
        Output("scenario-select", "value"),
        Output("scenario-select", "placeholder"),
        Output("scenario-select", "options"),
        Output("scenario-store", "data"),
        Output("scenario-errors", "children"),
        Output("upload-msg", "children"),
        Output("save-msg", "children"),
        Input("scenario-select", "value"),
        Input("scenario-upload", "contents"),
        Input("scenario-editor", "value"),
        Input("save-btn", "n_clicks"),
        State("scenario-upload", "filename"),
        State("save-name", "value"),
        State("scenario-store", "data"),
    )
    def _state(chosen, upload_contents, text, _save, filename, save_name, store):
        return scenario_state_view(dash_ctx.triggered_id, chosen, upload_contents, filename,
                                   text, save_name, store, home)  # fmt: skip

    @app.callback(
        Output("scenario-select", "options", allow_duplicate=True),
        Input("url", "pathname"),
        prevent_initial_call=True,
    )
    def _options(_path):  # saved scenarios (from any tab) appear on every page change
        return services.scenario_choices(home)

    @app.callback(Output("network-map", "figure"), Input("scenario-store", "data"))
    def _map(data):
        return network_figure(data)
