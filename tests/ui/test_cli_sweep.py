"""aign sweep end to end: tables, figures, resume, exit codes, its summary and --json."""

from __future__ import annotations

import csv
import json

from tests.ui.cli_run import not_json, run


def test_sweep_writes_tables_and_an_offline_figure_page(capsys, tmp_path):
    out = tmp_path / "sweep"
    argv = ["sweep", "default", "--param", "users=3,5", "--param", "duration=1",
            "--controller", "fpc", "--controller", "max", "--seeds", "2",
            "--executor", "local:1", "--out", str(out), "--quiet"]  # fmt: skip
    code, stdout, err = run(capsys, *argv, "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["cells"] == 8 and report["ran"] == 8 and report["failed"] == 0
    assert report["files"] == {"results_csv": "results.csv", "summary_csv": "summary.csv",
                               "figures": "figures.html"}  # fmt: skip
    assert "8 runs (4 settings x 2 seeds) on local:1" in err
    assert "sweep of default: 8 of 8 runs done (8 ran now, 0 stored before, 0 failed)" in err
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["users"], r["controller"]) for r in rows} == {
        ("3", "fpc"),
        ("5", "fpc"),
        ("3", "max"),
        ("5", "max"),
    }
    page = (out / "figures.html").read_text()
    assert "KPIs against users" in page and "KPIs against duration" not in page
    assert "<script src=" not in page  # plotly.js is inline: the page works offline

    code, stdout, _ = run(capsys, *argv)  # the same command again resumes: nothing to do
    assert code == 0 and not_json(stdout)
    lines = stdout.splitlines()
    assert lines[0] == ("sweep of default: 8 of 8 runs done (0 ran now, 8 stored before, "
                        "0 failed) on local:1")  # fmt: skip
    # one line per setting (the swept parameter and the controller): its means over 2 seeds
    with open(out / "summary.csv", newline="") as fh:
        utility = {(r["users"], r["controller"]): float(r["mean"])
                   for r in csv.DictReader(fh) if r["kpi"] == "mean_utility"}  # fmt: skip
    assert len(lines) == 6 and len(utility) == 4
    for line, ((users, controller), mean) in zip(lines[1:5], utility.items(), strict=True):
        assert line.startswith(f"  users={users} {controller}: utility {mean:.5g} [")
        assert " mW, sum rate " in line and line.endswith("/s (2 seeds)")
    assert lines[-1].startswith(f"wrote {out}: results.csv, summary.csv, figures.html")


def test_a_failed_run_makes_the_command_fail_and_says_how_to_retry(capsys, tmp_path):
    argv = ["sweep", "default", "--param", "duration=1", "--controller", "bcq:/missing",
            "--executor", "local:1", "--out", str(tmp_path / "s"), "--quiet"]  # fmt: skip
    code, stdout, err = run(capsys, *argv)
    assert code == 1 and not_json(stdout)
    assert stdout.startswith("sweep of default: 0 of 1 runs done (0 ran now, 0 stored "
                             "before, 1 failed)")  # fmt: skip
    assert "run the same command again to retry them" in err
    code, stdout, err = run(capsys, *argv, "--json")
    assert code == 1 and json.loads(stdout)["failed"] == 1


def test_bad_sweep_input_is_a_clear_error(capsys, tmp_path):
    code, _, err = run(capsys, "sweep", "default", "--param", "usres=3",
                       "--out", str(tmp_path / "s"))  # fmt: skip
    assert code != 0 and "did you mean 'users'" in err and "Traceback" not in err
    code, _, err = run(capsys, "sweep", "default", "--param", "users=3",
                       "--executor", "mpi", "--out", str(tmp_path / "t"))  # fmt: skip
    assert code != 0 and "unknown executor 'mpi'" in err
