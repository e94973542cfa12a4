"""Designs page: generate candidates, pick one, validate it on the twin, deploy it, watch
predicted vs realized KPIs, and read the deployment history.

The table lists the session's design set (:func:`ui.session.design_set`): the reference
first, then every distinct design ranked best first; the best one is selected. Every action
ends in a message in the page's own words: done, cancelled, or refused with the reason.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dash_table, dcc, html, no_update

from twin.core import AignError, NotValidatedError, StaleValidationError, parse_json
from ui import figures, services, session
from ui.pages import PROGRESS_POLL_MS, field, message, unexpected, upload

HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}
PAGE_SIZE = 10  # table rows per page
COLUMNS = (
    ("label", "design"),
    ("sources", "made by"),
    ("time_ms", "time (ms)"),
    ("utility", "U at t = 0"),
    ("gap_pct", "gap to reference (%)"),
    ("total_power_mw", "total power (mW)"),
    ("min_rate_kbps", "lowest user rate (kb/s)"),
    ("constraints", "constraints"),
)


def layout(app_ctx) -> html.Div:
    options = services.generators(app_ctx.home)
    return html.Div(
        [
            html.H2("Designs"),
            dcc.Store(id="ds-pick", storage_type="session"),  # {"set": ..., "id": ...}
            dcc.Store(id="ds-job"),  # which job runs (for the cancel message)
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(
                                [
                                    html.Label("generator", htmlFor="ds-generator"),
                                    dcc.Dropdown(id="ds-generator", clearable=False,
                                                 options=options, value=options[0]["value"],
                                                 searchable=False),  # fmt: skip
                                ],
                                className="wide",
                            ),
                            field(
                                "K candidates",
                                dcc.Input(id="ds-k", type="number", value=4, min=1, max=64, step=1),
                            ),  # fmt: skip
                            field(
                                "refine best (planner)",
                                dcc.Input(id="ds-refine", type="number", value=0, min=0, max=16,
                                          step=1),
                            ),  # fmt: skip
                            field(
                                "validation runs",
                                dcc.Input(
                                    id="ds-runs", type="number", value=10, min=2, max=200, step=1
                                ),
                            ),  # fmt: skip
                        ],
                        className="controls",
                    ),
                    html.Div(
                        [
                            html.Button("generate designs", id="ds-generate"),
                            html.Button(
                                "cancel", id="ds-cancel", className="secondary", disabled=True
                            ),  # fmt: skip
                        ],
                        style={"margin": "10px 0"},
                    ),
                    upload(
                        "ds-upload",
                        "or drop a design JSON here (aign solve/plan output)",
                        message_id="ds-status",
                        kind="design JSON",
                        max_bytes=services.MAX_DESIGN_BYTES,
                    ),
                    html.Progress(id="ds-progress", max="100", style=HIDDEN),
                    html.Div(id="ds-running"),
                    html.Div(id="ds-status"),
                ],
                className="card",
            ),
            html.Div(
                [
                    html.Div(id="ds-caption"),
                    dash_table.DataTable(
                        id="ds-table",
                        columns=[{"name": name, "id": id_} for id_, name in COLUMNS],
                        data=[],
                        row_selectable="single",
                        selected_rows=[],
                        page_size=PAGE_SIZE,
                        style_table={"overflowX": "auto"},
                        style_cell={"fontFamily": "inherit", "fontSize": "13px",
                                    "padding": "4px 6px", "textAlign": "right",
                                    "maxWidth": "320px", "overflow": "hidden",
                                    "textOverflow": "ellipsis"},
                        style_cell_conditional=[
                            {"if": {"column_id": c}, "textAlign": "left"}
                            for c in ("label", "sources", "constraints")
                        ],
                        style_data_conditional=[
                            {"if": {"filter_query": '{label} = "reference"'},
                             "fontWeight": "600", "backgroundColor": "#f3f6fa"},
                            {"if": {"filter_query": '{constraints} contains "violated"',
                                    "column_id": "constraints"}, "color": "#9b1c1c"},
                        ],
                        style_header={"fontWeight": "600", "backgroundColor": "#fff"},
                        tooltip_duration=None,
                    ),  # fmt: skip
                    html.Div(id="ds-selected", className="selected-line"),
                    html.Div(
                        [
                            html.Button("validate on the twin", id="ds-validate"),
                            html.Button("deploy", id="ds-deploy"),
                        ],
                        style={"margin": "10px 0"},
                    ),
                    html.Div(id="ds-validation"),
                    html.Div(id="ds-deployment"),
                ],
                className="card",
            ),
            html.Div(
                [
                    html.Div(
                        html.Div(dcc.Graph(id="ds-pvr-graph", config={"displaylogo": False}),
                                 className="card"), className="col"
                    ),  # fmt: skip
                    html.Div(
                        html.Div(
                            [html.H3("deployment history"), html.Div(id="ds-history")],
                            className="card",
                        ),
                        className="col",
                    ),  # fmt: skip
                ],
                className="row",
            ),
        ]
    )


# --------------------------------------------------------------------------- callbacks
def _progress(set_progress):
    def update(frac: float) -> None:
        set_progress((str(int(100 * frac)), "100"))

    return update


def generate_job(
    set_progress, scenario_data, k, generator, home, refine: Any = 0
) -> tuple[Any, Any]:
    """``(designs store, status)``."""
    try:
        scenario = services.scenario_from_text((scenario_data or {}).get("text"))
        result = services.generate_designs(scenario, int(k or 4), generator or "baselines", home,
                                           progress=_progress(set_progress),
                                           refine=int(refine or 0))  # fmt: skip
    except AignError as err:
        return no_update, message(str(err), "error")
    except Exception as err:  # a job never shows a traceback
        return no_update, unexpected("generation", err)
    return result, generated_message(result)


def generated_message(result: dict) -> Any:
    """What a generation made: distinct designs, the best one, warnings."""
    rows = result["designs"]
    made = result.get("generated", sum(len(e["sources"]) for e in rows) - 1)
    best = session.entry_by_id(result, result["selected"]) or rows[0]
    utility = best["design"]["predicted"]["utility"]
    text = (f"{len(rows) - 1} distinct designs (of {made} generated) for {result['scenario']}; "
            f"best: {session.entry_title(best)}, U = {utility:.6g} at t = 0 (selected)")
    if not best["design"]["predicted"].get("feasible"):
        text += "; no design meets the scenario's constraints"
    for note in result.get("notes") or []:
        text += f"\n{note}"
    if result.get("warnings"):
        return message(text + "\nwarnings: " + "; ".join(result["warnings"]), "warning")
    return message(text, "ok")


def upload_design(contents: str | None, filename: str | None, scenario_data, designs):
    """Add an uploaded design file to the session's designs (refusing ones that do not fit)."""
    try:
        text = services.decode_upload(contents, filename or "upload", "design JSON",
                                      services.MAX_DESIGN_BYTES)  # fmt: skip
        data = parse_json(text, str(filename), AignError)
        items = data["designs"] if isinstance(data, dict) and "designs" in data else [data]
        if not isinstance(items, list) or not items:
            raise AignError(f"{filename}: 'designs' must be a non-empty list")
        scenario = services.scenario_from_text((scenario_data or {}).get("text"))
        parsed = [services.design_from_json(d, f"{filename}[{n}]") for n, d in enumerate(items)]
        for design in parsed:
            services.check_design_for(scenario, design)
            if design.power_mw.size != scenario.users.n:
                raise AignError(
                    f"{filename}: the design has {design.power_mw.size} powers but scenario "
                    f"{scenario.name!r} has {scenario.users.n} users"
                )
        current = session.designs_for(designs, session.key_of(scenario_data))
        if current is None:
            raise AignError("generate designs for this scenario first (the upload is compared "
                            "with their reference)")  # fmt: skip
        merged = session.add_designs(current, scenario, parsed)
    except AignError as err:
        return no_update, message(str(err), "error")
    return merged, message(f"added {len(parsed)} design(s) from {filename}; the table is "
                           "ranked again", "ok")  # fmt: skip


def design_table(designs: dict | None, scenario_data: dict | None, pick: dict | None = None
                 ) -> tuple[Any, list, list]:  # fmt: skip
    """``(caption, table rows, selected rows)`` for the session's designs: the design picked
    in this set (``pick``), else the best one."""
    current = session.designs_for(designs, session.key_of(scenario_data))
    if current is None:
        return message("no designs yet: generate some"), [], []
    reference = current["reference"]["predicted"]["utility"]
    rows = figures.design_rows(current["designs"], reference)
    chosen = session.picked_id(current, pick)
    selected = [n for n, r in enumerate(rows) if r["id"] == chosen] or [0]
    caption = html.P(
        f"Scenario {current['scenario']}: the reference ({current['designs'][0]['sources'][0]}, "
        f"U = {reference:.6g}) first, then {len(rows) - 1} distinct designs, best first "
        "(feasible before infeasible, then by utility). Time is the wall time of the method "
        "that made the design (the planner's K candidates share one run). U at t = 0 is the "
        "utility on the network's snapshot at t = 0; a validation measures the mean over time "
        "on the twin.",
        className="caption",
    )  # fmt: skip
    return caption, rows, selected


def selection(designs: dict | None, scenario_data: dict | None, rows: list | None,
              selected_rows: list | None, pick: dict | None) -> tuple:  # fmt: skip
    """``(pick, selected line, validation outcome, deployment outcome)`` when the selection
    changes: the pick remembers it (design and set), and outcomes about another design, or
    from before this set was made (a refusal for want of designs), go."""
    current = session.designs_for(designs, session.key_of(scenario_data))
    none = message("select a design in the table", "info")
    if current is None or not rows or not selected_rows:
        return no_update, none, no_update, no_update
    row = rows[selected_rows[0]] if 0 <= selected_rows[0] < len(rows) else None
    entry = session.entry_by_id(current, (row or {}).get("id"))
    if entry is None:
        return no_update, none, no_update, no_update
    line = f"selected: {session.entry_title(entry)}"
    new = {"set": current["set"], "id": entry["id"]}
    if pick == new:  # the same design of the same set (a re-render, a reload)
        return no_update, line, no_update, no_update
    return new, line, [], []  # another design, or a new set: earlier outcomes no longer apply


def _selected(scenario_data, designs, pick):
    scenario = services.scenario_from_text((scenario_data or {}).get("text"))
    current = session.designs_for(designs, session.key_of(scenario_data))
    entry = session.entry_by_id(current, session.picked_id(current, pick)) if current else None
    if entry is None:
        raise AignError("select a design in the table first")
    design = services.design_from_json(entry["design"], entry["label"])
    return scenario, entry, design


def validate_job(set_progress, scenario_data, designs, pick, runs, home) -> Any:
    try:
        scenario, entry, design = _selected(scenario_data, designs, pick)
        report = services.validate(scenario, design, home, runs=int(runs) if runs else None,
                                   progress=_progress(set_progress))  # fmt: skip
    except AignError as err:
        return message(str(err), "error")
    except Exception as err:
        return unexpected("validation", err)
    return validation_view(report, session.entry_title(entry))


def in_force_text(baseline: dict) -> str:
    """The design in force, for people: all-zero powers say so."""
    powers = baseline.get("power_mw") or []
    if powers and not any(powers):
        return "the design in force (every user at 0 mW: nothing deployed yet)"
    return f"the design in force ({baseline.get('source')}, {sum(powers):.4g} mW in total)"


def validation_view(report: dict, title: str | None = None) -> html.Div:
    u, imp = report["utility"], report["improvement"]
    base = report["baseline_utility"]
    passed = report["verdict"]["passed"]
    name = title or report["design"]["source"]
    lines = [
        f"validation of {name} on {report['scenario']['name']}: "
        f"{'PASSED' if passed else 'FAILED'} ({report['runs']} runs on the twin)",
        f"mean utility {u['mean']:.6g}, 95% CI [{u['ci95'][0]:.6g}, {u['ci95'][1]:.6g}]",
        f"improvement over {in_force_text(report['baseline'])}, whose mean utility is "
        f"{base['mean']:.6g}: {imp['mean']:.6g}, 95% CI [{imp['ci95'][0]:.6g}, "
        f"{imp['ci95'][1]:.6g}]",
    ] + [("ok   " if c["passed"] else "FAIL ") + c["message"] for c in report["verdict"]["checks"]]
    if passed:
        lines.append("deploy it with the deploy button while this validation is current")
    return html.Div("\n".join(lines), className="msg-ok" if passed else "msg-error",
                    id="ds-validation-report")  # fmt: skip


REASONS = {  # StaleValidationError.reasons, in the page's words
    "other_design": "the latest validation is of another design",
    "scenario_changed": "the scenario changed since it was validated",
    "gates_changed": "the scenario's gates changed since it was validated",
    "failed": "its validation failed the gates",
    "baseline_changed": "another design was deployed since it was validated",
    "expired": "its validation is too old (gates.max_validation_age_s)",
    "future": "its validation is dated in the future (check the clock)",
}


def deploy_job(scenario_data, designs, pick, home) -> tuple[Any, Any, Any]:
    """``(message, predicted-vs-realized figure, history)``."""
    try:
        scenario, entry, design = _selected(scenario_data, designs, pick)
        title = session.entry_title(entry)
        outcome = services.deploy(scenario, design, home)
    except NotValidatedError:
        return (message(f"{title} cannot be deployed yet: it has no validation on "
                        f"{scenario.name}. Press \"validate on the twin\" first. Nothing was "
                        "deployed.", "error"), no_update, no_update)  # fmt: skip
    except StaleValidationError as err:
        why = "; ".join(REASONS.get(r, r) for r in err.reasons)
        return (message(f"{title} cannot be deployed: {why}. Press \"validate on the twin\" "
                        "again. Nothing was deployed.", "error"), no_update, no_update)  # fmt: skip
    except AignError as err:
        return message(str(err), "error"), no_update, no_update
    except Exception as err:
        return unexpected("deployment", err), no_update, no_update
    status = outcome["status"]
    realized = (outcome.get("realized") or {}).get("utility") or {}
    text = f"deployment of {title} {status.replace('_', ' ')}: {outcome['message']}"
    if realized.get("mean") is not None:
        text += f"\nrealized utility {realized['mean']:.6g}"
    kind = "ok" if status in ("kept", "unchanged") else "error"
    return (html.Div(text, className=f"msg-{kind}", id="ds-outcome"),
            figures.predicted_vs_realized(outcome), history_view(home, scenario.name))  # fmt: skip


def history_view(home, scenario: str | None) -> Any:
    try:
        data = services.history(home, scenario)
    except AignError as err:
        return message(str(err), "error")
    ops = data["operations"]
    if not ops:
        return message(f"no deployments recorded for {scenario}")
    header = ["#", "started", "kind", "status", "design", "validated U (mean)", "realized U"]
    rows = [
        html.Tr(
            [
                html.Td(op["operation"]),
                html.Td(op["started_at"][:19].replace("T", " ")),
                html.Td(op["kind"]),
                html.Td(op["status"]),
                html.Td(op["design"]),
                html.Td(_fmt(op.get("predicted_utility"))),
                html.Td(_fmt(op.get("realized_utility"))),
            ]
        )  # fmt: skip
        for op in reversed(ops)
    ]
    note = html.P("validated U: the mean utility over time on the twin that the deployment was "
                  "judged by; realized U: what the network showed after the switch.",
                  className="caption")  # fmt: skip
    return html.Div([html.Table([html.Thead(html.Tr([html.Th(h) for h in header])),
                                 html.Tbody(rows)], className="designs",
                                id="ds-history-table"), note])  # fmt: skip


def _started(_n: Any) -> list:
    """A job's outcome area when it starts: empty (the last outcome no longer applies)."""
    return []


def _fmt(x: Any) -> str:
    return "" if x is None else f"{x:.4g}"


def register(app, app_ctx) -> None:
    home = app_ctx.home
    progress = [Output("ds-progress", "value"), Output("ds-progress", "max")]
    buttons = [
        (Output("ds-generate", "disabled"), True, False),
        (Output("ds-validate", "disabled"), True, False),
        (Output("ds-deploy", "disabled"), True, False),
    ]
    bar = [(Output("ds-progress", "style"), SHOWN, HIDDEN)]

    def busy(text: str, cancellable: bool = True) -> list:
        """While a job runs: buttons off, cancel on (when it can be), the job's text shown.
        Its outcome area is emptied when it starts (:func:`_started`) and then says how it
        ended: done, refused, or the cancel message."""
        out = buttons + [(Output("ds-running", "children"), message(text), "")]
        if cancellable:
            out.append((Output("ds-cancel", "disabled"), False, True))
        return out

    cancel = [Input("ds-cancel", "n_clicks"), Input("scenario-key", "data")]

    for button, outcome in (("ds-generate", "ds-status"), ("ds-validate", "ds-validation"),
                            ("ds-deploy", "ds-deployment")):  # fmt: skip
        app.callback(
            Output(outcome, "children", allow_duplicate=True),
            Input(button, "n_clicks"),
            prevent_initial_call=True,
        )(_started)

    @app.callback(
        Output("designs-store", "data"),
        Output("ds-status", "children"),
        Input("ds-generate", "n_clicks"),
        State("scenario-store", "data"),
        State("ds-k", "value"),
        State("ds-generator", "value"),
        State("ds-refine", "value"),
        State("session-id", "data"),
        background=True,
        running=busy("generating designs ...") + bar
        + [(Output("ds-job", "data"), "generation", None)],
        progress=progress,
        progress_default=[None, "100"],
        interval=PROGRESS_POLL_MS,
        cancel=cancel,
        prevent_initial_call=True,
    )
    def _generate(set_progress, _n, scenario_data, k, generator, refine, _session):
        return generate_job(set_progress, scenario_data, k, generator, home, refine)

    @app.callback(
        Output("designs-store", "data", allow_duplicate=True),
        Output("ds-status", "children", allow_duplicate=True),
        Input("ds-upload", "contents"),
        State("ds-upload", "filename"),
        State("scenario-store", "data"),
        State("designs-store", "data"),
        prevent_initial_call=True,
    )
    def _upload(contents, filename, scenario_data, designs):
        return upload_design(contents, filename, scenario_data, designs)

    @app.callback(
        Output("ds-caption", "children"),
        Output("ds-table", "data"),
        Output("ds-table", "selected_rows"),
        Output("ds-table", "page_current"),
        Input("designs-store", "data"),
        Input("scenario-store", "data"),
        State("ds-pick", "data"),
    )
    def _table(designs, scenario_data, pick):
        caption, rows, selected = design_table(designs, scenario_data, pick)
        return caption, rows, selected, (selected[0] // PAGE_SIZE if selected else 0)

    @app.callback(
        Output("ds-pick", "data"),
        Output("ds-selected", "children"),
        Output("ds-validation", "children", allow_duplicate=True),
        Output("ds-deployment", "children", allow_duplicate=True),
        Input("ds-table", "selected_rows"),
        State("ds-table", "data"),
        State("designs-store", "data"),
        State("scenario-store", "data"),
        State("ds-pick", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def _select(selected_rows, rows, designs, scenario_data, pick):
        return selection(designs, scenario_data, rows, selected_rows, pick)

    @app.callback(
        Output("ds-validation", "children"),
        Input("ds-validate", "n_clicks"),
        State("scenario-store", "data"),
        State("designs-store", "data"),
        State("ds-pick", "data"),
        State("ds-runs", "value"),
        State("session-id", "data"),
        background=True,
        running=busy("validating on the twin ...") + bar
        + [(Output("ds-job", "data"), "validation", None)],
        progress=progress,
        progress_default=[None, "100"],
        interval=PROGRESS_POLL_MS,
        cancel=cancel,
        prevent_initial_call=True,
    )
    def _validate(set_progress, _n, scenario_data, designs, pick, runs, _session):
        return validate_job(set_progress, scenario_data, designs, pick, runs, home)

    @app.callback(
        Output("ds-deployment", "children"),
        Output("ds-pvr-graph", "figure"),
        Output("ds-history", "children"),
        Input("ds-deploy", "n_clicks"),
        State("scenario-store", "data"),
        State("designs-store", "data"),
        State("ds-pick", "data"),
        State("session-id", "data"),
        background=True,
        # a deployment is not cancelled halfway: it ends kept or rolled back
        running=busy("deploying and observing ...", cancellable=False),
        prevent_initial_call=True,
    )
    def _deploy(_n, scenario_data, designs, pick, _session):
        return deploy_job(scenario_data, designs, pick, home)

    @app.callback(
        Output("ds-status", "children", allow_duplicate=True),
        Output("ds-validation", "children", allow_duplicate=True),
        Input("ds-cancel", "n_clicks"),
        State("ds-job", "data"),
        prevent_initial_call=True,
    )
    def _cancelled(_n, job):
        text = message(f"{job or 'the job'} cancelled: nothing was recorded by it", "info")
        return (no_update, text) if job == "validation" else (text, no_update)

    @app.callback(
        Output("ds-history", "children", allow_duplicate=True),
        Output("ds-pvr-graph", "figure", allow_duplicate=True),
        Input("scenario-store", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def _history(scenario_data):
        name = (scenario_data or {}).get("name")
        return history_view(home, name), figures.empty_figure(
            "deploy a design to compare the validated and the realized utility"
        )
