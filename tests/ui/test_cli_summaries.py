"""Commands print a summary for people on stdout; JSON only with ``--json`` (on stdout, the
summary then on stderr) or ``--out`` (the full JSON in a file): validate, collect,
dataset info, evaluate, deploy, deployments, rollback, sweep."""

from __future__ import annotations

import json

import pytest

from tests.ui.cli_run import not_json, run


@pytest.fixture
def fig3(capsys, tmp_path, monkeypatch):
    """An instance of paper-fig3 and its exhaustive design, in a data directory of its own."""
    monkeypatch.setenv("AIGN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIGN_ELEMENT_FAULTS", raising=False)
    inst, design = tmp_path / "inst.json", tmp_path / "design.json"
    assert run(capsys, "instance", "paper-fig3", "--out", str(inst))[0] == 0
    assert run(capsys, "solve", str(inst), "--method", "exhaustive", "--out", str(design))[0] == 0
    return {"inst": str(inst), "design": str(design), "tmp": tmp_path}


def test_evaluate_prints_a_line_per_design_and_json_on_request(capsys, fig3):
    code, out, err = run(capsys, "evaluate", fig3["inst"], fig3["design"])
    assert code == 0 and err == "" and not_json(out)
    first = out.splitlines()[0]
    assert first.startswith("exhaustive: utility 24.0922, total 59 mW, lowest user rate ")
    assert first.endswith("meets every constraint")
    code, out, err = run(capsys, "evaluate", fig3["inst"], fig3["design"], "--json")
    data = json.loads(out)
    assert code == 0 and data["designs"][0]["utility"] == pytest.approx(24.0922, abs=1e-4)
    assert err.startswith("exhaustive: utility 24.0922")  # the summary moved to stderr
    written = fig3["tmp"] / "metrics.json"
    code, out, _ = run(capsys, "evaluate", fig3["inst"], fig3["design"], "--out", str(written))
    assert code == 0 and out.startswith(f"wrote {written}\n") and not_json(out)
    assert json.loads(written.read_text()) == data


def test_validate_prints_its_summary_and_the_report_on_request(capsys, fig3):
    args = ["validate", "paper-fig3", fig3["design"], "--runs", "10", "--quiet"]
    code, out, err = run(capsys, *args)
    assert code == 0 and not_json(out)
    assert out.startswith("validation of design ") and "on paper-fig3: PASSED" in out
    assert "improvement (paired):" in out and "gates:" in out
    report_file = fig3["tmp"] / "report.json"
    code, out, err = run(capsys, *args, "--json", "--out", str(report_file))
    report = json.loads(out)
    assert code == 0 and report["verdict"]["passed"] is True and report["runs"] == 10
    assert "on paper-fig3: PASSED" in err
    assert json.loads(report_file.read_text()) == report


def test_collect_and_dataset_info_print_summaries_and_json_on_request(capsys, tmp_path):
    data = tmp_path / "data"
    common = ["collect", "--scenario", "paper-fig3", "--policy", "coordinate", "--episodes",
              "2", "--batch", "2", "--out", str(data), "--quiet"]  # fmt: skip
    code, out, _ = run(capsys, *common)
    assert code == 0 and not_json(out)
    assert out.startswith(f"collected 2 episodes of coordinate into {data} (executor local)")
    code, out, _ = run(capsys, *common[:6], "4", *common[7:], "--json")  # 2 more
    report = json.loads(out)
    assert report["collected"] == 2 and report["already_stored"] == 2

    code, out, err = run(capsys, "dataset", "info", str(data))
    assert code == 0 and err == "" and not_json(out)
    lines = out.splitlines()
    assert lines[0] == f"dataset {data} (aign.user-trajectories/1, per-user)"
    assert "  size: 4 episodes (8 user episodes), " in out
    assert "  sources: coordinate: 4" in lines
    code, out, err = run(capsys, "dataset", "info", str(data), "--json")
    info = json.loads(out)
    assert info["episodes"] == 4 and info["sources"] == {"coordinate": 4}
    assert err.startswith(f"dataset {data} ")
    written = tmp_path / "info.json"
    code, out, _ = run(capsys, "dataset", "info", str(data), "--out", str(written))
    assert out.rstrip().endswith(f"wrote {written}") and json.loads(written.read_text()) == info


def test_deploy_deployments_and_rollback_print_summaries_and_json_on_request(capsys, fig3):
    assert run(capsys, "validate", "paper-fig3", fig3["design"], "--runs", "10", "--quiet")[0] == 0
    outcome_file = fig3["tmp"] / "outcome.json"
    code, out, err = run(capsys, "deploy", "paper-fig3", fig3["design"], "--out",
                         str(outcome_file))  # fmt: skip
    assert code == 0 and not_json(out)
    lines = out.splitlines()
    assert lines[0] == f"wrote {outcome_file}"
    outcome = json.loads(outcome_file.read_text())  # the full outcome, as --json prints it
    digest, op = outcome["design"], outcome["operation"]
    assert outcome["status"] == "kept" and outcome["scenario"] == "paper-fig3"
    # what was deployed, how the gate judged it, the validation it ran under, the log entry
    assert lines[1] == f"deployment #{op} of design {digest} on paper-fig3: KEPT"
    assert "is in force and kept: realized mean utility " in lines[2]
    assert f"validation {outcome['predicted']['validation']})" in out
    assert f"  in force: design {digest} (exhaustive, since " in out
    assert lines[-1].startswith(f"  recorded as operation #{op} in ")
    assert lines[-1].endswith("deployments.db (aign deployments)")

    code, out, err = run(capsys, "deploy", "paper-fig3", fig3["design"], "--json")
    again = json.loads(out)  # already in force: nothing done, and the JSON says so
    assert code == 0 and again["status"] == "unchanged" and again["design"] == digest
    assert err.startswith(f"deployment of design {digest} on paper-fig3: UNCHANGED")

    code, out, err = run(capsys, "deployments")
    assert code == 0 and err == "" and not_json(out)
    lines = out.splitlines()
    assert lines[0].startswith("deployment log ") and lines[0].endswith("deployments.db")
    assert lines[1].startswith(f"network paper-fig3: in force: design {digest} (exhaustive")
    rows = [line for line in lines if line.startswith("#")]  # one line per operation
    assert len(rows) == 1 and rows[0].startswith(f"#{op:<4} ")
    assert f"  paper-fig3  deploy    kept        design {digest}; predicted " in rows[0]
    code, out, err = run(capsys, "deployments", "--all", "--json")
    history = json.loads(out)
    assert [(o["kind"], o["status"]) for o in history["operations"]] == [
        ("validate", "validated"), ("deploy", "kept")]  # fmt: skip
    assert history["networks"]["paper-fig3"]["in_force"]["digest"] == digest
    assert err.startswith("deployment log ") and err.count("\n#") == 2

    code, out, err = run(capsys, "rollback")
    assert code == 0 and err == "" and not_json(out)
    first = out.splitlines()[0]
    assert first.startswith("rollback #") and first.endswith("on paper-fig3: ROLLED BACK")
    assert "  in force: design " in out and "factory default" in out  # what is in force now
    assert f"(was {digest})" in out
    code, out, err = run(capsys, "deployments", "--json")
    in_force = json.loads(out)["networks"]["paper-fig3"]["in_force"]
    assert in_force["digest"] != digest and in_force["digest"] in first
