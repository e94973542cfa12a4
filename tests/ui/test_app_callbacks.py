"""The app's callback functions, called directly (no browser, no server)."""

from __future__ import annotations

import base64
import json

import numpy as np
import plotly.graph_objects as go
import pytest
from dash import no_update

from twin.scenario.loader import SCENARIO_DIR
from ui import app as ui_app
from ui import services
from ui.pages import designs, power, scenario, sinr, whatif
from ui.session import scenario_state


def _text(name: str) -> str:
    return (SCENARIO_DIR / f"{name}.yaml").read_text()


def _store(name: str, how: str = "listed", listed: str | None = "") -> dict:
    """The session's scenario store for a shipped scenario (as the scenario page makes it)."""
    text = _text(name)
    return scenario_state(services.scenario_from_text(text), text,
                          name if listed == "" else listed, how)  # fmt: skip


def _upload(data: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


def _msg(component) -> str:
    return str(component.children)


# --------------------------------------------------------------------------- app
def test_app_factory_serves_health_and_binds_locally(tmp_path):
    app = ui_app.create_app("paper-fig3", home=tmp_path)
    client = app.server.test_client()
    assert client.get("/healthz").get_json() == {"ok": True, "scenario": "paper-fig3"}
    assert app.config.serve_locally is True
    assert client.get("/_dash-layout").status_code == 200


def test_redis_url_selects_celery_workers(monkeypatch):
    import dash

    monkeypatch.setenv("AIGN_UI_REDIS", "redis://127.0.0.1:1/0")  # not contacted here
    manager = ui_app._manager_from_env()
    assert isinstance(manager, dash.CeleryManager)
    assert manager.handle.conf.broker_url == "redis://127.0.0.1:1/0"


def test_worker_without_redis_url_says_what_to_set(monkeypatch):
    from twin.core.errors import AignError

    monkeypatch.delenv("AIGN_UI_REDIS", raising=False)
    with pytest.raises(AignError, match="set AIGN_UI_REDIS"):
        ui_app.worker_celery_app()


def test_uploads_carry_the_browser_limit_and_their_too_large_message():
    from ui.pages import MAX_UPLOAD_BYTES, upload

    box = upload("u", "drop", "u-msg", "YAML scenario", 2_000_000)
    assert box.children.max_size == MAX_UPLOAD_BYTES
    attrs = box.to_plotly_json()["props"]
    assert attrs["data-max-bytes"] == str(MAX_UPLOAD_BYTES)
    assert attrs["data-message-id"] == "u-msg"
    assert attrs["data-too-large"] == ("{name}: {size} bytes; a YAML scenario is limited to "
                                       "2000000 bytes (nothing was uploaded)")  # fmt: skip
    assert (ui_app.ASSETS / "upload_limit.js").is_file()


def test_unknown_path_shows_the_scenario_page():
    styles = ui_app.page_styles("/nowhere")
    assert styles[0] == {"display": "block"}
    assert all(s == {"display": "none"} for s in styles[1:])


def test_cli_ui_command_calls_the_app_factory(monkeypatch):
    from ui import cli

    calls = []
    monkeypatch.setattr(ui_app, "serve", lambda *a, **k: calls.append((a, k)))
    assert cli.main(["ui", "--port", "8123", "--scenario", "paper-fig3"]) == 0
    assert calls == [(("paper-fig3",), {"host": "127.0.0.1", "port": 8123, "allow_remote": False,
                                        "access_log": False})]


# --------------------------------------------------------------------------- scenario page
def _view(trigger, home, text=None, chosen=None, upload=None, filename=None, save_name=None,
          store=None) -> scenario.ScenarioView:  # fmt: skip
    return scenario.scenario_state_view(trigger, chosen, upload, filename, text, save_name,
                                        store, home)  # fmt: skip


def test_broken_yaml_lists_line_and_field(tmp_path):
    view = _view("scenario-editor", tmp_path, text="name: x\nseed: 1\nchanel: {}\n")
    assert view.store is no_update  # the session keeps its last valid scenario
    assert "editor:3: chanel: unknown field" in str(view.problems)
    assert view.value is None and "invalid" in view.placeholder


def test_valid_yaml_becomes_the_session_scenario(tmp_path):
    text = _text("paper-fig3").replace("seed:", "seed:  ", 1)  # not the file's text
    view = _view("scenario-editor", tmp_path, text=text)
    expected = scenario_state(services.scenario_from_text(text), text, None, "edited")
    assert view.store == expected and view.value is None
    assert "valid: paper-fig3, 2 users" in _msg(view.problems)


def test_an_unknown_controller_is_a_problem_of_the_editor(tmp_path):
    text = _text("default").replace("controller: coordinate", "controller: coordinat")
    view = _view("scenario-editor", tmp_path, text=text)
    assert view.store is no_update
    assert "control.controller: unknown controller 'coordinat'" in str(view.problems)


def test_the_editor_holding_a_files_text_is_that_file_whatever_came_before(tmp_path):
    text = _text("paper-fig3")
    view = _view("scenario-editor", tmp_path, text=text, store=_store("default", how="edited",
                                                                      listed=None))
    assert view.store == _store("paper-fig3") and view.value == "paper-fig3"
    edited = _view("scenario-editor", tmp_path, text=text + "# note\n", store=view.store)
    assert edited.store["how"] == "edited" and edited.value is None


def test_huge_yaml_is_refused_with_a_message(tmp_path):
    view = _view("scenario-editor", tmp_path, text="a: 1\n" * 500_000)
    assert view.store is no_update and "too large" in str(view.problems)


def test_binary_upload_is_refused(tmp_path):
    view = _view("scenario-upload", tmp_path, upload=_upload(b"\x00\x01\xff"),
                 filename="x.yaml")  # fmt: skip
    assert view.editor is no_update and "binary file" in _msg(view.upload_msg)


def test_text_upload_goes_to_the_editor_and_is_named_as_uploaded(tmp_path):
    view = _view("scenario-upload", tmp_path, upload=_upload(_text("default").encode()),
                 filename="d.yaml")  # fmt: skip
    assert view.editor == _text("default") and "loaded d.yaml" in _msg(view.upload_msg)
    assert view.value is None and view.placeholder == "default (uploaded, not saved)"
    assert view.store["how"] == "uploaded" and view.store["listed"] is None


def test_picking_a_shipped_scenario_loads_its_text(tmp_path):
    view = _view("scenario-select", tmp_path, chosen="paper-fig3")
    assert view.editor == _text("paper-fig3") and view.value == "paper-fig3"
    assert view.store == _store("paper-fig3")


def test_a_page_load_shows_the_sessions_scenario(tmp_path):
    view = _view(None, tmp_path, store=_store("paper-fig3"))
    assert view.editor == _text("paper-fig3") and view.value == "paper-fig3"
    assert view.store == _store("paper-fig3")


def _saved(view) -> str:
    return _msg(view.save_msg)


def test_save_writes_a_new_file_lists_it_and_saving_again_is_no_error(tmp_path):
    text = _text("paper-fig3").replace("name: paper-fig3", "name: mine")
    view = _view("save-btn", tmp_path, text=text, save_name="mine")
    assert (tmp_path / "scenarios" / "mine.yaml").read_text() == text
    assert "saved as mine" in _saved(view)
    assert {"label": "mine (saved)", "value": "mine"} in view.options
    assert view.value == "mine" and view.store["listed"] == "mine"
    again = _view("save-btn", tmp_path, text=text, save_name="", store=view.store)
    assert "mine is saved already" in _saved(again)
    changed = text.replace("seed: 3", "seed: 4") if "seed: 3" in text else text + "\n# more\n"
    updated = _view("save-btn", tmp_path, text=changed, store=view.store)
    assert "saved the changes to mine" in _saved(updated)
    other = _view("save-btn", tmp_path, text=changed + "\n# other\n", save_name="mine",
                  store=_store("default"))  # fmt: skip
    assert "exists already" in _saved(other)  # never overwrites a file it did not load


def test_save_refuses_path_names_and_shipped_names(tmp_path):
    for name in ("../evil", "default"):
        view = _view("save-btn", tmp_path, text=_text("paper-fig3"), save_name=name)
        assert view.options is no_update and view.save_msg.className == "msg-error"


def test_network_figure_draws_the_map():
    fig = scenario.network_figure(_store("default"))
    names = {t.name for t in fig.data}
    assert {"users", "base stations", "association"} <= names


# --------------------------------------------------------------------------- what-if
def _progress_log():
    seen = []
    return seen, seen.append


def test_whatif_run_records_a_comparable_run():
    seen, set_progress = _progress_log()
    runs, status = whatif.run_job(set_progress, _store("paper-fig3"),
                                  dict.fromkeys(services.WHATIF_FIELDS), "exhaustive", None,
                                  [])  # fmt: skip
    assert "finished" in _msg(status)
    (run,) = runs
    assert run["power_mw"][-1] == [28.0, 31.0]  # the paper's optimum
    assert len(run["rates_bps"]) == 2
    assert seen[-1] == ("100", "100")
    kpi, cdf, used = whatif.comparison_figures(runs, [run["label"]], "utility")
    assert np.isclose(kpi.data[0].y[-1], 24.0922, atol=1e-4)
    assert len(cdf.data[0].x) == 2 and len(used.data) == 1


def test_whatif_bad_setting_is_a_message_not_a_crash():
    runs, status = whatif.run_job(lambda _p: None, _store("default"),
                                  {"users": 10**6}, None, None, [])  # fmt: skip
    assert runs is no_update and "users.count" in _msg(status)


def test_whatif_user_count_of_a_listed_scenario_is_refused():
    runs, status = whatif.run_job(lambda _p: None, _store("paper-fig3"), {"users": 5}, None,
                                  None, [])  # fmt: skip
    assert runs is no_update and "cannot be changed" in _msg(status)


def test_whatif_overrides_reach_the_scenario():
    base = services.scenario_from_text(_text("default"))
    changed = services.apply_overrides(base, {"users": 7, "price_per_mw": 0.1,
                                              "sync_error_db": 2.0, "speed_mps": 3.0,
                                              "noise_figure_db": 9.0,
                                              "shadowing_std_db": 5.0})  # fmt: skip
    assert changed.users.n == 7 and changed.objective.price_per_mw == 0.1
    assert changed.sync.error_db == 2.0 and changed.channel.noise.figure_db == 9.0
    assert changed.channel.shadowing.std_db == 5.0


def test_runs_are_capped_and_options_follow_them():
    runs = []
    for n in range(services.MAX_RUNS_KEPT + 2):
        runs = services.keep_run(runs, {"label": f"r{n}"})
    assert [r["label"] for r in runs][0] == "r2"
    options, selected = whatif.compare_options(runs, ["r0", "r3"])
    assert selected == ["r3", f"r{services.MAX_RUNS_KEPT + 1}"]
    assert len(options) == services.MAX_RUNS_KEPT


def test_no_runs_give_explanatory_figures():
    figs = whatif.comparison_figures([], [], "utility")
    assert all(f.layout.annotations for f in figs)


# --------------------------------------------------------------------------- designs
@pytest.fixture(scope="module")
def fig3_designs(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    result, status = designs.generate_job(lambda _p: None, _store("paper-fig3"), 2, "baselines",
                                          home)  # fmt: skip
    assert "distinct designs (of 6 generated) for paper-fig3" in _msg(status)
    return home, result


def _pick(result, design_id):
    return {"set": result["set"], "id": design_id}


def test_generated_designs_are_distinct_with_the_reference_on_top(fig3_designs):
    _, result = fig3_designs
    rows = result["designs"]
    assert rows[0]["reference"] and rows[0]["design"]["power_mw"] == [28.0, 31.0]
    powers = [tuple(e["design"]["power_mw"]) for e in rows]
    assert len(set(powers)) == len(powers)  # identical designs are one row
    made = [s for e in rows for s in e["sources"]]
    assert sorted(made) == sorted(["exhaustive", "coordinate", "wmmse", "response", "fpc",
                                   "max", "random (best of 2 draws)"])  # fmt: skip
    utilities = [e["design"]["predicted"]["utility"] for e in rows[1:]]
    assert utilities == sorted(utilities, reverse=True)
    assert result["selected"] == "ref"  # the optimum: nothing generated beats it
    caption, table, selected = designs.design_table(result, _store("paper-fig3"))
    assert "best first" in str(caption) and [r["label"] for r in table][0] == "reference"
    assert selected == [0] and len(table) == len(rows)


def test_the_best_design_is_selected_not_the_first_generated():
    from twin.api import snapshot_instance
    from twin.radio import Design
    from ui.session import design_set

    fig3 = services.scenario_from_text(_text("paper-fig3"))
    inst = snapshot_instance(fig3, 0.0)

    def made(powers, source):
        return Design.for_instance(inst, np.asarray(powers, dtype=float), source)

    reference = made([10, 10], "coordinate")  # a reference that is not the optimum
    candidates = [(made([0, 40], "planner"), None), (made([28, 31], "wmmse"), None),
                  (made([28, 31], "fpc"), None), (made([10, 10], "max"), None)]  # fmt: skip
    store = design_set(fig3, inst.to_dict(), reference, candidates)
    assert [e["label"] for e in store["designs"]] == ["reference", "#1", "#2"]
    assert store["designs"][0]["sources"] == ["coordinate", "max"]  # joins the reference
    assert store["designs"][1]["sources"] == ["wmmse", "fpc"]  # one row for equal powers
    assert store["designs"][1]["design"]["power_mw"] == [28.0, 31.0]
    assert store["selected"] == "d1"  # the best, not the planner's first


def test_planner_designs_can_be_refined_to_meet_a_binding_budget(tmp_path):
    # paper-fig3 with a 30 mW budget: the optimum (28, 31) spends 59 mW
    text = _text("paper-fig3") + "\nconstraints:\n  max_total_power_mw: 30.0\n"
    store = scenario_state(services.scenario_from_text(text), text, None, "edited")
    result, status = designs.generate_job(lambda _p: None, store, 4, "diffusion", tmp_path,
                                          refine=2)  # fmt: skip
    assert "distinct designs" in _msg(status), _msg(status)
    best = designs.session.entry_by_id(result, result["selected"])
    assert best["design"]["predicted"]["feasible"] and sum(best["design"]["power_mw"]) <= 30.0
    assert any("(refined)" in s for e in result["designs"] for s in e["sources"])
    _, status = designs.generate_job(lambda _p: None, store, 4, "diffusion", tmp_path, refine=9)
    assert "refine must be between 0 and K = 4" in _msg(status)


def test_validate_then_deploy_shows_realized_kpis(fig3_designs):
    home, result = fig3_designs
    store = _store("paper-fig3")
    report = designs.validate_job(lambda _p: None, store, result, None, 10, home)
    assert "PASSED" in _msg(report) and "95% CI" in _msg(report)
    assert "every user at 0 mW: nothing deployed yet" in _msg(report)
    msg, fig, history = designs.deploy_job(store, result, None, home)
    assert "kept" in _msg(msg) and "realized utility" in _msg(msg)
    assert [t.x[0] for t in fig.data] == ["validated (twin)", "realized (network)"]
    assert "kept" in str(history)


def test_deploy_without_validation_is_refused_in_the_pages_words(fig3_designs):
    home, result = fig3_designs
    pick = _pick(result, result["designs"][-1]["id"])
    msg, fig, history = designs.deploy_job(_store("paper-fig3"), result, pick, home)
    text = _msg(msg)
    assert fig is no_update and "has no validation on paper-fig3" in text
    assert 'Press "validate on the twin" first' in text and "aign validate" not in text


def test_designs_of_another_scenario_are_not_offered(fig3_designs):
    home, result = fig3_designs
    report = designs.validate_job(lambda _p: None, _store("default"), result, None, 10, home)
    assert "select a design in the table first" in _msg(report)
    caption, rows, _ = designs.design_table(result, _store("default"))
    assert rows == [] and "no designs yet" in _msg(caption)


def test_uploaded_design_is_checked_against_the_scenario(fig3_designs):
    _, result = fig3_designs
    good = {"power_mw": [20, 20], "source": "mine"}
    merged, msg = designs.upload_design(_upload(json.dumps(good).encode()), "d.json",
                                        _store("paper-fig3"), result)  # fmt: skip
    assert any(e["sources"] == ["mine"] for e in merged["designs"]) and "added 1" in _msg(msg)
    wrong = {"power_mw": [1, 2, 3], "source": "x"}
    kept, msg = designs.upload_design(_upload(json.dumps(wrong).encode()), "w.json",
                                      _store("paper-fig3"), result)  # fmt: skip
    assert kept is no_update and "3 powers" in _msg(msg)
    kept, msg = designs.upload_design(_upload(b"{not json"), "b.json", _store("paper-fig3"),
                                      result)  # fmt: skip
    assert kept is no_update and "invalid JSON" in _msg(msg)


def test_uploaded_design_for_another_scenario_is_refused(fig3_designs):
    _, result = fig3_designs
    other = {"power_mw": [28.0, 31.0], "source": "x", "provenance": {"scenario": "paper-fig3"}}
    kept, msg = designs.upload_design(_upload(json.dumps(other).encode()), "o.json",
                                      _store("default"), result)  # fmt: skip
    assert kept is no_update
    assert "made for scenario 'paper-fig3', but the current scenario is 'default'" in _msg(msg)


def test_binary_or_oversized_design_upload_is_refused(fig3_designs):
    _, result = fig3_designs
    kept, msg = designs.upload_design(_upload(b"\x89PNG\x00"), "p.json", _store("paper-fig3"),
                                      result)  # fmt: skip
    assert kept is no_update and _msg(msg) == "p.json: a binary file, not a design JSON"
    big = _upload(b" " * (services.MAX_DESIGN_BYTES + 1))
    kept, msg = designs.upload_design(big, "b.json", _store("paper-fig3"), result)
    assert kept is no_update and "a design JSON is limited to 2000000 bytes" in _msg(msg)


def test_no_selection_is_a_message(tmp_path):
    report = designs.validate_job(lambda _p: None, _store("paper-fig3"), None, None, 10,
                                  tmp_path)  # fmt: skip
    assert "select a design" in _msg(report)


def test_picking_another_design_clears_the_outcomes_about_the_last(fig3_designs):
    _, result = fig3_designs
    _, rows, selected = designs.design_table(result, _store("paper-fig3"))
    pick, line, validation, deployment = designs.selection(result, _store("paper-fig3"), rows,
                                                           [1], None)  # fmt: skip
    assert pick == _pick(result, rows[1]["id"]) and validation == [] and deployment == []
    assert line.startswith("selected: design #1")
    same = designs.selection(result, _store("paper-fig3"), rows, [1], pick)
    assert same[0] is no_update and same[2] is no_update  # re-rendering keeps the outcome


def test_a_new_design_set_clears_a_refusal_made_before_it(fig3_designs):
    _, result = fig3_designs
    _, rows, selected = designs.design_table(result, _store("paper-fig3"))
    pick, _, validation, _ = designs.selection(result, _store("paper-fig3"), rows, selected,
                                               {"set": "an earlier set", "id": "ref"})
    assert pick == _pick(result, "ref") and validation == []


def test_history_of_an_empty_log_says_so(tmp_path):
    assert "no deployments" in _msg(designs.history_view(tmp_path, "default"))


# --------------------------------------------------------------------------- power
def test_power_page_draws_run_and_plan(fig3_designs):
    _, result = fig3_designs
    run = {"label": "r", "power_times_s": [0.0, 0.1], "power_mw": [[28, 31], [28, 31]]}
    assert power.run_options([run]) == (["r"], "r")
    assert len(power.run_figure([run], "r").data) == 2
    plan, contour, style = power.plan_figures(result, "ref")
    path = np.column_stack([plan.data[0].y, plan.data[1].y])
    assert path[0].tolist() == [0.0, 0.0] and path[-1].tolist() == [28.0, 31.0]
    assert plan.layout.xaxis.dtick == 1  # whole planning steps, no half-step ticks
    assert isinstance(contour.data[0], go.Contour) and style == {"display": "block"}
    assert list(contour.data[2].x) == [28.0]  # the optimum marker


def test_power_plane_is_hidden_for_more_than_two_users(tmp_path):
    result, _ = designs.generate_job(lambda _p: None, _store("default"), 1, "baselines",
                                     tmp_path)  # fmt: skip
    plan, _, style = power.plan_figures(result, result["selected"])
    assert len(plan.data) >= 3 and style == {"display": "none"}


def test_power_page_without_designs_explains():
    plan, contour, style = power.plan_figures(None, None)
    assert plan.layout.annotations and style == {"display": "none"}


def test_power_page_offers_only_this_scenarios_runs_and_designs(fig3_designs):
    _, result = fig3_designs
    key = _store("paper-fig3")["key"]
    run = {"label": "r", "scenario_key": key}
    assert power.run_options([run], _store("default")["key"]) == ([], None)
    assert power.run_options([run], key) == (["r"], "r")
    assert power.design_options(result, _store("default")["key"]) == ([], None)
    options, value = power.design_options(result, key)
    assert value == "ref" and options[0]["label"].startswith("the reference")


# --------------------------------------------------------------------------- SINR
def test_sinr_map_of_a_geometric_scenario():
    fig = sinr.sinr_figure(_store("default"), None, sinr.TOP_LEVEL, 0.0, 12)
    heat = fig.data[0]
    assert isinstance(heat, go.Heatmap) and np.asarray(heat.z).shape == (12, 12)
    assert "covered at 0 dB" in fig.layout.title.text


def test_sinr_map_of_explicit_gains_explains():
    fig = sinr.sinr_figure(_store("paper-fig3"), None, sinr.TOP_LEVEL, 0.0, 12)
    assert "no geometry" in fig.layout.annotations[0].text


def test_sinr_design_options_only_for_this_scenario(fig3_designs):
    _, result = fig3_designs
    assert len(sinr.design_options(result, _store("paper-fig3"))) == 1 + len(result["designs"])
    assert len(sinr.design_options(result, _store("default"))) == 1


def test_the_right_sinr_map_shows_the_design_at_hand(fig3_designs):
    """Left: the top level unless chosen; right: the selected design once designs exist (not
    the same map twice), a design chosen there kept, the top level for another scenario."""
    _, result = fig3_designs
    fig3 = _store("paper-fig3")
    assert sinr.options_and_choice(result, fig3, sinr.TOP_LEVEL)[1] == sinr.TOP_LEVEL
    assert sinr.options_and_design(result, fig3, sinr.TOP_LEVEL)[1] == result["selected"]
    last = result["designs"][-1]["id"]
    assert sinr.options_and_design(result, fig3, last)[1] == last
    assert sinr.options_and_design(result, _store("default"), last)[1] == sinr.TOP_LEVEL


def test_sinr_map_of_a_design_no_longer_in_the_session_explains(fig3_designs):
    _, result = fig3_designs
    fig = sinr.sinr_figure(_store("default"), result, "d1", 0.0, 12)
    assert "no longer in this session" in fig.layout.annotations[0].text


# --------------------------------------------------------------------------- app state
def test_a_new_scenario_drops_other_scenarios_runs_designs_and_outcomes(fig3_designs):
    _, result = fig3_designs
    fig3, default = _store("paper-fig3"), _store("default")
    runs = [{"label": "a", "scenario_key": fig3["key"]}, {"label": "b",
                                                         "scenario_key": default["key"]}]
    key, kept_runs, kept_designs, *outcomes = ui_app.scenario_changed(False, default,
                                                                      fig3["key"], runs,
                                                                      result)  # fmt: skip
    assert key == default["key"] and [r["label"] for r in kept_runs] == ["b"]
    assert kept_designs is None and outcomes == [[], [], [], []]


def test_a_reload_keeps_the_scenarios_state_and_drops_the_rest(fig3_designs):
    _, result = fig3_designs
    fig3 = _store("paper-fig3")
    runs = [{"label": "a", "scenario_key": fig3["key"]}, {"label": "b", "scenario_key": "x"}]
    key, kept_runs, kept_designs, *outcomes = ui_app.scenario_changed(True, fig3, fig3["key"],
                                                                      runs, result)  # fmt: skip
    assert [r["label"] for r in kept_runs] == ["a"] and kept_designs is no_update
    assert all(o is no_update for o in outcomes)


def test_an_edit_that_leaves_the_network_as_it_was_changes_nothing(fig3_designs):
    _, result = fig3_designs
    fig3 = _store("paper-fig3")
    text = fig3["text"] + "\n# a comment\n"
    edited = scenario_state(services.scenario_from_text(text), text, None, "edited")
    assert edited["key"] == fig3["key"]
    out = ui_app.scenario_changed(False, edited, fig3["key"], [], result)
    assert all(o is no_update for o in out)


def test_the_auto_generator_runs_the_frontier_method_for_the_size(tmp_path):
    from evaluation.auto import load_frontier
    from evaluation.pareto import choose_method
    from twin.scenario import load_scenario

    scenario = load_scenario("paper-20")
    result = services.generate_designs(scenario, 4, "auto", tmp_path)
    chosen = choose_method(load_frontier(), 20, services.AUTO_BUDGET_S)
    assert any(f"auto chose {chosen['method']}" in n for n in result["notes"])
    sources = {s for e in result["designs"] for s in e["sources"]}
    assert f"auto ({chosen['method']})" in sources  # its design is in the table, so named
    assert services.generators(tmp_path)[0]["value"] == "auto"  # the page's default
    assert all(w == "" or "auto chose" not in w for w in result["warnings"])  # a note
    from ui import figures

    rows = figures.design_rows(result["designs"], result["reference"]["predicted"]["utility"])
    assert all(r["time_ms"] is not None and r["time_ms"] >= 0 for r in rows)
    message = designs.generated_message(result)
    assert f"auto chose {chosen['method']}" in str(message) and "msg-ok" in str(message)
