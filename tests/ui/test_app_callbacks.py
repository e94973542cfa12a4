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


def _text(name: str) -> str:
    return (SCENARIO_DIR / f"{name}.yaml").read_text()


def _store(name: str) -> dict:
    return {"name": name, "text": _text(name)}


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
    assert calls == [(("paper-fig3",), {"host": "127.0.0.1", "port": 8123, "allow_remote": False})]


# --------------------------------------------------------------------------- scenario page
def test_broken_yaml_lists_line_and_field():
    view, store = scenario.check_editor("name: x\nseed: 1\nchanel: {}\n", None)
    assert store is no_update
    assert "editor:3: chanel: unknown field" in str(view)


def test_valid_yaml_becomes_the_session_scenario():
    view, store = scenario.check_editor(_text("paper-fig3"), None)
    assert store == _store("paper-fig3")
    assert "valid: paper-fig3, 2 users" in _msg(view)


def test_huge_yaml_is_refused_with_a_message():
    view, store = scenario.check_editor("a: 1\n" * 500_000, None)
    assert store is no_update and "too large" in str(view)


def test_binary_upload_is_refused(tmp_path):
    text, msg = scenario.load_into_editor("scenario-upload", None, _upload(b"\x00\x01\xff"),
                                          "x.yaml", tmp_path)  # fmt: skip
    assert text is no_update and "binary file" in _msg(msg)


def test_text_upload_goes_to_the_editor(tmp_path):
    text, msg = scenario.load_into_editor("scenario-upload", None,
                                          _upload(_text("default").encode()), "d.yaml",
                                          tmp_path)  # fmt: skip
    assert text == _text("default") and "loaded d.yaml" in _msg(msg)


def test_picking_a_shipped_scenario_loads_its_text(tmp_path):
    text, _ = scenario.load_into_editor("scenario-select", "paper-fig3", None, None, tmp_path)
    assert text == _text("paper-fig3")


def test_save_writes_a_new_file_and_lists_it(tmp_path):
    msg, options = scenario.save(_text("paper-fig3").replace("name: paper-fig3", "name: mine"),
                                 "mine", tmp_path)  # fmt: skip
    assert (tmp_path / "scenarios" / "mine.yaml").is_file()
    assert {"label": "mine (saved)", "value": "mine"} in options
    again, _ = scenario.save(_text("paper-fig3"), "mine", tmp_path)
    assert "exists already" in _msg(again)


def test_save_refuses_path_names_and_shipped_names(tmp_path):
    for name in ("../evil", "default"):
        msg, options = scenario.save(_text("paper-fig3"), name, tmp_path)
        assert options is no_update and msg.className == "msg-error"


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
    assert "designs for paper-fig3" in _msg(status)
    return home, result


def test_generated_designs_carry_the_reference(fig3_designs):
    _, result = fig3_designs
    assert result["reference"]["power_mw"] == [28.0, 31.0]
    sources = [d["source"] for d in result["designs"]]
    assert sources == ["coordinate", "wmmse", "fpc", "max", "random:seed=0", "random:seed=1"]
    table, options, selected = designs.design_table(result)
    assert "gap to reference" in str(table) and len(options) == 6 and selected == 0


def test_planner_designs_can_be_refined_to_meet_a_binding_budget(tmp_path):
    # paper-fig3 with a 30 mW budget: the optimum (28, 31) spends 59 mW
    store = {"name": "fig3-budget",
             "text": _text("paper-fig3") + "\nconstraints:\n  max_total_power_mw: 30.0\n"}
    result, status = designs.generate_job(lambda _p: None, store, 4, "diffusion", tmp_path,
                                          refine=2)  # fmt: skip
    assert "designs for paper-fig3" in _msg(status), _msg(status)
    best = result["designs"][0]
    assert best["source"] == "diffusion" and best["predicted"]["feasible"]
    assert sum(best["power_mw"]) <= 30.0
    refined = [d for d in result["designs"] if d["provenance"].get("refined")]
    assert 1 <= len(refined) <= 2
    table, _, _ = designs.design_table(result)
    assert "diffusion (refined)" in str(table)
    _, status = designs.generate_job(lambda _p: None, store, 4, "diffusion", tmp_path, refine=9)
    assert "refine must be between 0 and K = 4" in _msg(status)


def test_validate_then_deploy_shows_realized_kpis(fig3_designs):
    home, result = fig3_designs
    store = _store("paper-fig3")
    report = designs.validate_job(lambda _p: None, store, result, 0, 10, home)
    assert "PASSED" in _msg(report) and "95% CI" in _msg(report)
    msg, fig, history = designs.deploy_job(store, result, 0, home)
    assert "kept" in _msg(msg) and "realized utility" in _msg(msg)
    assert [t.x[0] for t in fig.data] == ["predicted", "realized"]
    assert "kept" in str(history)


def test_deploy_without_validation_is_refused(fig3_designs):
    home, result = fig3_designs
    msg, fig, history = designs.deploy_job(_store("paper-fig3"), result, 3, home)
    assert fig is no_update and "has no validation" in _msg(msg)


def test_design_for_another_scenario_is_refused(fig3_designs):
    home, result = fig3_designs
    report = designs.validate_job(lambda _p: None, _store("default"), result, 0, 10, home)
    assert "made for scenario 'paper-fig3'" in _msg(report)


def test_uploaded_design_is_checked_against_the_scenario(fig3_designs):
    _, result = fig3_designs
    good = {"power_mw": [28, 31], "source": "mine"}
    merged, msg = designs.upload_design(_upload(json.dumps(good).encode()), "d.json",
                                        _store("paper-fig3"), result)  # fmt: skip
    assert merged["designs"][-1]["source"] == "mine"
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


def test_history_of_an_empty_log_says_so(tmp_path):
    assert "no deployments" in _msg(designs.history_view(tmp_path, "default"))


# --------------------------------------------------------------------------- power
def test_power_page_draws_run_and_plan(fig3_designs):
    _, result = fig3_designs
    run = {"label": "r", "power_times_s": [0.0, 0.1], "power_mw": [[28, 31], [28, 31]]}
    assert power.run_options([run]) == (["r"], "r")
    assert len(power.run_figure([run], "r").data) == 2
    plan, contour = power.plan_figures(result, 0)
    path = np.column_stack([plan.data[0].y, plan.data[1].y])
    assert path[0].tolist() == [0.0, 0.0] and path[-1].tolist() == [28.0, 31.0]
    assert isinstance(contour.data[0], go.Contour)
    assert list(contour.data[2].x) == [28.0]  # the optimum marker


def test_power_page_without_designs_explains():
    plan, contour = power.plan_figures(None, None)
    assert plan.layout.annotations and contour.layout.annotations


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


def test_sinr_map_refuses_a_design_for_another_scenario(fig3_designs):
    _, result = fig3_designs
    fig = sinr.sinr_figure(_store("default"), result, "0", 0.0, 12)
    assert "made for scenario" in fig.layout.annotations[0].text
