"""Smoke test of the stage-1 benchmark: tiny budgets, every figure present and sane (no
timing or quality thresholds: those are the benchmark's to report, not the test's)."""

import importlib.util
import json
import math
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "stage1.py"


def _load_benchmark(monkeypatch):
    # As when run as a script: the benchmarks folder is on the path (for bench_args).
    monkeypatch.syspath_prepend(str(BENCHMARK.parent))
    spec = importlib.util.spec_from_file_location("stage1", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look it up there
    spec.loader.exec_module(module)
    return module


def test_micro_run_reports_throughput_ratios_and_shares_of_the_reference(tmp_path, monkeypatch):
    out = tmp_path / "stage1.json"
    micro = ["--quick", "--seeds", "2", "--sac-steps", "80", "--sac-learning-starts", "40",
             "--episodes-per-source", "8", "--bcq-steps", "5", "--eval-instances", "2",
             "--throughput-sac-steps", "40", "--throughput-episodes", "16",
             "--out", str(out)]  # fmt: skip
    result = _load_benchmark(monkeypatch).main(micro)

    saved = json.loads(out.read_text())
    assert saved["quality"] == json.loads(json.dumps(result["quality"]))
    assert out.with_suffix(".md").read_text().startswith("| throughput |")
    assert {"command", "date", "machine", "args", "throughput", "quality"} <= saved.keys()

    sac_rows, collection_rows = saved["throughput"]["sac"], saved["throughput"]["collection"]
    assert [r["scenario"] for r in sac_rows] == ["paper-fig3", "paper-20"]
    assert {(r["scenario"], r["policy"]) for r in collection_rows} == {
        (s, p) for s in ("paper-fig3", "paper-20") for p in ("random", "coordinate", "sac")
    }
    for row in sac_rows + collection_rows:
        assert row["single_per_s"] > 0 and row["vectorized_per_s"] > 0 and row["ratio"] > 0

    fig3, paper20 = saved["quality"]
    assert (fig3["scenario"], fig3["eval_instances"], fig3["reference"]) == (
        "paper-fig3", 1, "exhaustive",
    )  # fmt: skip
    assert math.isclose(fig3["mean_reference_utility"], 24.0922, abs_tol=1e-4)
    assert fig3["reference_design_mw"] == [28.0, 31.0]
    assert all(len(s["sac_design_mw"]) == len(s["bcq_design_mw"]) == 2 for s in fig3["seeds"])
    assert paper20["eval_instances"] == 2
    for q in (fig3, paper20):
        assert [s["seed"] for s in q["seeds"]] == [0, 1]
        assert {"sac_env_steps", "bcq_gradient_steps", "dataset_transitions"} <= q["budget"].keys()
        assert q["budget"]["dataset_episodes"] == 4 * 8  # four behaviour policies
        shares = [x for s in q["seeds"] for k in ("sac", "bcq") for x in s[f"{k}_instance_shares"]]
        shares += [q["sac"]["mean"], q["bcq"]["mean"], *q["baseline_share"].values()]
        assert all(math.isfinite(x) and 0 <= x <= 1.05 for x in shares), shares
        for agent in ("sac", "bcq"):
            low, high = q[agent]["ci95"]
            assert low <= q[agent]["mean"] <= high
