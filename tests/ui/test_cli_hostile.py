"""The CLI under hostile input: a clean error line and a non-zero exit, never a traceback;
the last-resort guard logs what it caught for the operator."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.ui.cli_run import run
from ui.cli.main import INTERNAL_ERROR


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("AIGN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AIGN_ELEMENT_FAULTS", raising=False)
    return tmp_path / "home"


def clean(code: int, out: str, err: str) -> None:
    assert code not in (0, INTERNAL_ERROR), err
    assert "Traceback" not in out + err and "internal error" not in err


def test_an_unexpected_exception_is_one_line_and_a_log_entry(capsys, home, monkeypatch):
    from ui.cli import scenario

    def boom(args):
        raise RuntimeError("'int' object has no attribute 'encode'")

    monkeypatch.setattr(scenario, "cmd_scenario_schema", boom)
    code, out, err = run(capsys, "scenario", "schema")
    assert code == INTERNAL_ERROR and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error (RuntimeError)" in err and "'int' object" not in err
    log = home / "logs" / "errors.log"
    assert str(log) in err
    text = log.read_text()
    assert "Traceback" in text and "'int' object has no attribute 'encode'" in text


def test_plan_with_a_zero_reference_utility_does_not_crash(capsys, home, tmp_path):
    inst, designs = tmp_path / "inst.json", tmp_path / "designs.json"
    assert run(capsys, "instance", "paper-fig3", "--out", str(inst))[0] == 0
    data = json.loads(inst.read_text())
    data["price"] = 10.0  # every power costs more than it brings: the optimum is 0 mW, U = 0
    inst.write_text(json.dumps(data))
    code, out, err = run(capsys, "plan", str(inst), "--out", str(designs))
    assert code == 0, err
    assert "gap n/a (the reference utility is 0)" in out
    written = json.loads(designs.read_text())
    assert written["reference"]["predicted"]["utility"] == 0
    assert written["designs"][0]["predicted"]["gap_to_reference"] is None


def test_exhaustive_search_on_thousands_of_users_is_refused_cleanly(capsys, home, tmp_path):
    inst = tmp_path / "big.json"
    n = 2700
    inst.write_text(json.dumps({"gains": np.full((n, 1), 1e-12).tolist(), "assoc": [0] * n,
                                "noise_mw": 1e-10, "bandwidth_hz": 1e6,
                                "levels_mw": list(range(41)), "price": 0.0225}))  # fmt: skip
    code, out, err = run(capsys, "solve", str(inst), "--method", "exhaustive", "--out",
                         str(tmp_path / "d.json"))  # fmt: skip
    clean(code, out, err)
    assert "41^2700 = 3.28e+4354 evaluations, above the limit" in err


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "DIR", "FIFO"])
def test_unreadable_inputs_are_refused_without_hanging(capsys, home, tmp_path, target):
    if target == "DIR":
        target = str(tmp_path)
    elif target == "FIFO":
        target = str(tmp_path / "pipe")
        os.mkfifo(target)
    elif not os.path.exists(target):
        pytest.skip(f"no {target}")
    design = tmp_path / "d.json"
    design.write_text(json.dumps({"power_mw": [28, 31], "source": "x"}))
    for argv in (("scenario", "check", target), ("evaluate", target, str(design)),
                 ("solve", target, "--method", "wmmse")):  # fmt: skip
        code, out, err = run(capsys, *argv)
        clean(code, out, err)
        assert "regular file" in err + out or "a directory" in err + out


def test_yaml_tags_are_clean_errors_in_check(capsys, tmp_path):
    path = tmp_path / "s.yaml"
    text = (Path(__file__).resolve().parents[2] / "scenarios" / "default.yaml").read_text()
    path.write_text(text.replace("seed: 1\n", "seed: !!int 3.5\n"))
    code, out, err = run(capsys, "scenario", "check", str(path))
    clean(code, out, err)
    assert "seed: '3.5' is not a valid int" in out


def test_check_refuses_what_simulate_could_not_run_here(capsys, tmp_path):
    path = tmp_path / "s.yaml"
    text = (Path(__file__).resolve().parents[2] / "scenarios" / "default.yaml").read_text()
    path.write_text(text.replace("duration_s: 30.0", "duration_s: 1000000"))
    code, out, err = run(capsys, "scenario", "check", str(path))
    clean(code, out, err)
    assert "cannot run here" in out and "10,000,000 steps" in out
    code, out, err = run(capsys, "simulate", str(path))
    clean(code, out, err)
    assert "cannot run here" in err and "Nothing was started" in err


def test_a_lost_log_is_refused_by_every_command(capsys, home, tmp_path):
    design = tmp_path / "d.json"
    design.write_text(json.dumps({"power_mw": [28, 31], "source": "x"}))
    assert run(capsys, "validate", "paper-fig3", str(design), "--runs", "2", "--quiet")[0] in (0, 3)
    (home / "deployments.db").write_bytes(b"")
    for extra in ("-wal", "-shm"):
        Path(f"{home / 'deployments.db'}{extra}").unlink(missing_ok=True)
    for argv in (("deployments", "--summary"), ("validate", "paper-fig3", str(design)),
                 ("deploy", "paper-fig3", str(design)), ("rollback", "paper-fig3")):  # fmt: skip
        code, out, err = run(capsys, *argv)
        clean(code, out, err)
        assert "is empty (0 bytes), but this data directory has a history" in err
        assert "Restore the log" in err
    assert (home / "deployments.db").stat().st_size == 0


@pytest.mark.parametrize(
    ("power", "message"),
    [('["28", "31"]', "valid number"), ("[true, 31]", "valid number")],
)
def test_mistyped_designs_are_neither_validated_nor_deployed(capsys, home, tmp_path, power,
                                                            message):  # fmt: skip
    design = tmp_path / "d.json"
    design.write_text(f'{{"power_mw": {power}, "source": "x"}}')
    for command in ("validate", "deploy"):
        code, out, err = run(capsys, command, "paper-fig3", str(design))
        clean(code, out, err)
        assert message in err
    assert not (home / "network" / "paper-fig3.json").exists()
