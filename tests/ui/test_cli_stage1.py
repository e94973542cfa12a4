"""Stage-1 commands end to end: collect, dataset info, train sac|bcq, agents as controllers."""

import json

from tests.ui.cli_run import run


def test_collect_info_train_and_simulate_with_the_agents(capsys, tmp_path):
    data, sac, bcq = tmp_path / "data", tmp_path / "sac", tmp_path / "bcq"
    for policy in ("random", "coordinate"):
        code, out, _ = run(
            capsys,
            "collect",
            "--scenario",
            "paper-fig3",
            "--policy",
            policy,
            "--episodes",
            "4",
            "--batch",
            "4",
            "--out",
            str(data),
            "--quiet",
            "--json",
        )
        assert code == 0 and json.loads(out)["collected"] == 4
    # a second identical run finds everything done
    code, out, _ = run(
        capsys,
        "collect",
        "--scenario",
        "paper-fig3",
        "--policy",
        "random",
        "--episodes",
        "4",
        "--batch",
        "4",
        "--out",
        str(data),
        "--quiet",
        "--json",
    )
    assert json.loads(out) == {
        "dataset": str(data),
        "source": "random",
        "already_stored": 4,
        "collected": 0,
        "executor": "local",
    }
    code, out, _ = run(capsys, "dataset", "info", str(data), "--json")
    info = json.loads(out)
    assert code == 0 and info["episodes"] == 8 and info["sources"] == {"random": 4, "coordinate": 4}

    assert (
        run(
            capsys,
            "train",
            "bcq",
            "--data",
            str(data),
            "--steps",
            "3",
            "--out",
            str(bcq),
            "--quiet",
        )[0]
        == 0
    )
    assert (
        run(
            capsys,
            "train",
            "sac",
            "--scenario",
            "paper-fig3",
            "--steps",
            "40",
            "--checkpoint-every",
            "0",
            "--out",
            str(sac),
            "--quiet",
        )[0]
        == 0
    )
    for spec in (f"sac:{sac}", f"bcq:{bcq}"):
        code, out, _ = run(
            capsys, "simulate", "paper-fig3", "--controller", spec, "--json", "--quiet"
        )
        assert code == 0 and json.loads(out)["controller"] == spec


def test_bad_dataset_and_policy_are_clear_errors(capsys, tmp_path):
    code, _, err = run(capsys, "dataset", "info", str(tmp_path))
    assert code == 1 and "not a dataset" in err
    code, _, err = run(
        capsys,
        "collect",
        "--scenario",
        "paper-fig3",
        "--policy",
        "greedy",
        "--episodes",
        "1",
        "--out",
        str(tmp_path / "d"),
    )
    assert code == 1 and "unknown policy 'greedy'" in err
    assert not (tmp_path / "d").exists()
    code, _, err = run(
        capsys,
        "train",
        "sac",
        "--scenario",
        "paper-fig3",
        "--users",
        "2,x",
        "--out",
        str(tmp_path / "s"),
    )
    assert code == 1 and "--users" in err


def test_collect_imposes_drawn_limits_and_refuses_an_unknown_constraint(capsys, tmp_path):
    data = tmp_path / "budget"
    common = ["collect", "--scenario", "paper-20", "--policy", "coordinate", "--episodes", "3",
              "--batch", "3", "--horizon", "4", "--quiet", "--json"]  # fmt: skip
    code, out, _ = run(capsys, *common, "--out", str(data), "--impose", "budget=0.5-0.6")
    assert code == 0 and json.loads(out)["collected"] == 3
    info = json.loads(run(capsys, "dataset", "info", str(data), "--json")[1])
    budget = info["constraints"]["max_total_power_mw"]
    assert budget["episodes"] == 3 and budget["satisfied_share"] == 1.0  # the expert keeps it
    assert set(info["constraints"]) == {"max_total_power_mw"}
    code, _, err = run(capsys, *common, "--out", str(tmp_path / "bad"), "--impose", "power")
    assert code == 1 and "aign collect: error: --impose: unknown constraint 'power'" in err
    assert not (tmp_path / "bad").exists()


def test_training_off_a_terminal_prints_steps_rate_eta_and_the_latest_figure(
    capsys, tmp_path, monkeypatch
):
    """``train sac`` and ``train bcq`` with a tiny budget, stderr not a terminal (captured):
    periodic lines say steps done/total, the rate and the time left; the last line where
    the job ended, with its latest return (SAC) or losses (BCQ)."""
    import re

    monkeypatch.setenv("AIGN_PROGRESS_EVERY_S", "0.05")
    counted = r": (\d+)/(\d+) steps \(\d+%\), [\d.,]+ steps/s, ETA \d+ (s|min \d+ s), "
    code, _, err = run(capsys, "train", "sac", "--scenario", "paper-fig3", "--steps", "3000",
                       "--checkpoint-every", "0", "--out", str(tmp_path / "sac"))  # fmt: skip
    assert code == 0
    lines = err.strip().splitlines()
    assert lines[0] == "aign train sac: started (a line every 0 s)"
    steps = [m for m in (re.match("aign train sac" + counted, x) for x in lines) if m]
    assert steps, err  # at least one line during the steps
    assert all(m[2] == "3000" and 0 < int(m[1]) <= 3000 for m in steps)
    assert re.fullmatch(r"aign train sac: finished after \d+ s: 3000/3000 steps, [\d.,]+ "
                        r"steps/s, mean episode return -?[\d.]+ \(last \d+ episodes\)",
                        lines[-1]), lines[-1]  # fmt: skip

    data = tmp_path / "data"
    assert run(capsys, "collect", "--scenario", "paper-fig3", "--policy", "coordinate",
               "--episodes", "4", "--batch", "4", "--out", str(data), "--quiet")[0] == 0
    code, _, err = run(capsys, "train", "bcq", "--data", str(data), "--steps", "40",
                       "--out", str(tmp_path / "bcq"))  # fmt: skip
    assert code == 0
    lines = err.strip().splitlines()
    steps = [m for m in (re.match("aign train bcq" + counted, x) for x in lines) if m]
    assert steps and all(m[2] == "40" for m in steps), err
    done = [int(m[1]) for m in steps]
    assert done == sorted(done)  # it moves on
    assert re.fullmatch(r"aign train bcq: finished after \d+ s: 40/40 steps, [\d.,]+ steps/s, "
                        r"epoch 1 losses: .*critic -?[\d.e+-]+.*", lines[-1]), lines[-1]
