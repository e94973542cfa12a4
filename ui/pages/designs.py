"""Designs page: generate candidates, pick one, validate it on the twin, deploy it, watch
predicted vs realized KPIs, and read the deployment history."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html, no_update

from twin.core import AignError, parse_json
from ui import figures, services
from ui.pages import field, message, unexpected, upload


def layout(app_ctx) -> html.Div:
    return html.Div(
        [
            html.H2("Designs"),
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(
                                [
                                    html.Label("generator", htmlFor="ds-generator"),
                                    dcc.Dropdown(
                                        id="ds-generator",
                                        clearable=False,
                                        options=services.generators(app_ctx.home),
                                        value=services.generators(app_ctx.home)[0]["value"],
                                    ),  # fmt: skip
                                ]
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
                    html.Progress(id="ds-progress", value="0", max="100"),
                    html.Div(id="ds-status"),
                ],
                className="card",
            ),
            html.Div(
                [
                    html.Div(id="ds-table"),
                    html.Label("selected design", htmlFor="ds-select"),
                    dcc.RadioItems(id="ds-select", options=[], value=None, inline=True),
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
                        html.Div(dcc.Graph(id="ds-pvr-graph"), className="card"), className="col"
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
    ref = result["reference"]
    text = (f"{len(result['designs'])} designs for {scenario.name}; reference "
            f"({ref['source']}) utility {ref['predicted']['utility']:.6g}")  # fmt: skip
    if result.get("warnings"):
        text += "; planner warnings: " + "; ".join(result["warnings"])
        return result, message(text, "warning")
    return result, message(text, "ok")


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
        if not designs or designs.get("scenario") != scenario.name:
            raise AignError("generate designs for this scenario first (the upload is compared "
                            "with their reference)")  # fmt: skip
    except AignError as err:
        return no_update, message(str(err), "error")
    merged = dict(designs)
    merged["designs"] = list(designs["designs"]) + [d.to_dict() for d in parsed]
    return merged, message(f"added {len(parsed)} design(s) from {filename}", "ok")


def design_table(designs: dict | None) -> tuple[Any, list, Any]:
    """``(table, radio options, selected)`` for the session's designs."""
    if not designs or not designs.get("designs"):
        return message("no designs yet: generate some"), [], None
    reference = designs["reference"]["predicted"]["utility"]
    rows = figures.design_rows(designs["designs"], reference)
    header = ["#", "source", "predicted U", "gap to reference (%)", "total power (mW)",
              "constraints"]  # fmt: skip
    body = [
        html.Tr(
            [
                html.Td(r["index"]),
                html.Td(r["source"]),
                html.Td(r["utility"]),
                html.Td(r["gap_pct"]),
                html.Td(_fmt(r["total_power_mw"])),
                html.Td(r["constraints"]),
            ]
        )  # fmt: skip
        for r in rows
    ]
    table = html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)],
        className="designs",
        id="ds-designs-table",
    )
    caption = html.P(f"reference: {designs['reference']['source']}, U = {reference:.6g} "
                     f"(scenario {designs['scenario']})")  # fmt: skip
    options = [{"label": f"#{r['index']} {r['source']}", "value": r["index"]} for r in rows]
    return html.Div([caption, table]), options, 0


def _fmt(x: Any) -> str:
    return "" if x is None else f"{x:.4g}"


def _selected(scenario_data, designs, index):
    scenario = services.scenario_from_text((scenario_data or {}).get("text"))
    items = (designs or {}).get("designs") or []
    if index is None or not 0 <= int(index) < len(items):
        raise AignError("select a design first")
    design = services.design_from_json(items[int(index)], f"design #{index}")
    return scenario, design


def validate_job(set_progress, scenario_data, designs, index, runs, home) -> Any:
    try:
        scenario, design = _selected(scenario_data, designs, index)
        report = services.validate(scenario, design, home, runs=int(runs) if runs else None,
                                   progress=_progress(set_progress))  # fmt: skip
    except AignError as err:
        return message(str(err), "error")
    except Exception as err:
        return unexpected("validation", err)
    return validation_view(report)


def validation_view(report: dict) -> html.Div:
    u, imp = report["utility"], report["improvement"]
    passed = report["verdict"]["passed"]
    lines = [
        f"validation of {report['design']['source']} on {report['scenario']['name']}: "
        f"{'PASSED' if passed else 'FAILED'} ({report['runs']} runs)",
        f"mean utility {u['mean']:.6g}, 95% CI [{u['ci95'][0]:.6g}, {u['ci95'][1]:.6g}]",
        f"improvement over the design in force {imp['mean']:.6g}, 95% CI "
        f"[{imp['ci95'][0]:.6g}, {imp['ci95'][1]:.6g}]",
    ] + [("ok   " if c["passed"] else "FAIL ") + c["message"] for c in report["verdict"]["checks"]]
    return html.Div("\n".join(lines), className="msg-ok" if passed else "msg-error",
                    id="ds-validation-report")  # fmt: skip


def deploy_job(scenario_data, designs, index, home) -> tuple[Any, Any, Any]:
    """``(message, predicted-vs-realized figure, history)``."""
    try:
        scenario, design = _selected(scenario_data, designs, index)
        outcome = services.deploy(scenario, design, home)
    except AignError as err:
        return message(str(err), "error"), no_update, no_update
    except Exception as err:
        return unexpected("deployment", err), no_update, no_update
    status = outcome["status"]
    realized = (outcome.get("realized") or {}).get("utility") or {}
    text = f"deployment {status.replace('_', ' ')}: {outcome['message']}"
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
    header = ["#", "started", "kind", "status", "design", "predicted U", "realized U"]
    rows = [
        html.Tr(
            [
                html.Td(op["operation"]),
                html.Td(op["started_at"][:19]),
                html.Td(op["kind"]),
                html.Td(op["status"]),
                html.Td(op["design"]),
                html.Td(_fmt(op.get("predicted_utility"))),
                html.Td(_fmt(op.get("realized_utility"))),
            ]
        )  # fmt: skip
        for op in reversed(ops)
    ]
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)],
                      className="designs", id="ds-history-table")  # fmt: skip


def register(app, app_ctx) -> None:
    home = app_ctx.home
    progress = [Output("ds-progress", "value"), Output("ds-progress", "max")]
    busy = [
        (Output("ds-generate", "disabled"), True, False),
        (Output("ds-validate", "disabled"), True, False),
        (Output("ds-deploy", "disabled"), True, False),
        (Output("ds-cancel", "disabled"), False, True),
    ]

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
        running=busy + [(Output("ds-status", "children"), message("generating ..."), "")],
        progress=progress,
        progress_default=["0", "100"],
        cancel=[Input("ds-cancel", "n_clicks")],
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
        Output("ds-table", "children"),
        Output("ds-select", "options"),
        Output("ds-select", "value"),
        Input("designs-store", "data"),
    )
    def _table(designs):
        return design_table(designs)

    @app.callback(
        Output("ds-validation", "children"),
        Input("ds-validate", "n_clicks"),
        State("scenario-store", "data"),
        State("designs-store", "data"),
        State("ds-select", "value"),
        State("ds-runs", "value"),
        State("session-id", "data"),
        background=True,
        running=busy + [(Output("ds-validation", "children"), message("validating ..."), "")],
        progress=progress,
        progress_default=["0", "100"],
        cancel=[Input("ds-cancel", "n_clicks")],
        prevent_initial_call=True,
    )
    def _validate(set_progress, _n, scenario_data, designs, index, runs, _session):
        return validate_job(set_progress, scenario_data, designs, index, runs, home)

    @app.callback(
        Output("ds-deployment", "children"),
        Output("ds-pvr-graph", "figure"),
        Output("ds-history", "children"),
        Input("ds-deploy", "n_clicks"),
        State("scenario-store", "data"),
        State("designs-store", "data"),
        State("ds-select", "value"),
        State("session-id", "data"),
        background=True,
        running=busy
        + [
            (Output("ds-deployment", "children"), message("deploying and observing ..."), "")
        ],  # fmt: skip
        prevent_initial_call=True,
    )
    def _deploy(_n, scenario_data, designs, index, _session):
        return deploy_job(scenario_data, designs, index, home)

    @app.callback(
        Output("ds-status", "children", allow_duplicate=True),
        Input("ds-cancel", "n_clicks"),
        prevent_initial_call=True,
    )
    def _cancelled(_n):
        return message("job cancelled: nothing was recorded by it", "info")

    @app.callback(
        Output("ds-history", "children", allow_duplicate=True),
        Output("ds-pvr-graph", "figure", allow_duplicate=True),
        Input("scenario-store", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def _history(scenario_data):
        name = (scenario_data or {}).get("name")
        return history_view(home, name), figures.empty_figure(
            "deploy a design to compare predicted and realized utility"
        )
