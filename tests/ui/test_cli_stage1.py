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
