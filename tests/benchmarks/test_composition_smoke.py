"""Smoke test of the constraint-composition benchmark: every setting is planned and reported
(no timing asserts)."""

import importlib.util
import json
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "composition.py"
SETTINGS = ("none", "min-rate", "budget", "both", "both+compose")


def _load_benchmark(monkeypatch):
    # As when run as a script: the benchmarks folder is on the path (bench_args).
    monkeypatch.syspath_prepend(str(BENCHMARK.parent))
    spec = importlib.util.spec_from_file_location("composition_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look it up there
    spec.loader.exec_module(module)
    return module


def test_quick_run_reports_every_setting(tmp_path, monkeypatch):
    out = tmp_path / "composition.json"
    results = _load_benchmark(monkeypatch).main(["--quick", "--json", str(out)])
    summary = results["summary"]
    assert [e["setting"] for e in summary] == list(SETTINGS)
    for entry in summary:
        assert entry["scenario"] == "paper-20" and entry["n"] == 2
        for who in ("planner", "reference"):
            for ok in ("rate_ok", "budget_ok", "both_ok"):
                assert 0.0 <= entry[f"{who}_{ok}"] <= 1.0
        assert 0.0 <= entry["feasible_candidates"] <= 1.0
        assert 0.0 < entry["share_of_reference"] <= 1.5
    for setting in SETTINGS:
        assert f"| {setting} |" in results["table"]
    by_setting = {e["setting"]: e for e in summary}
    # The budget is binding by construction: the unconstrained reference exceeds it.
    assert by_setting["none"]["reference_budget_ok"] == 0.0
    saved = json.loads(out.read_text())
    assert saved["benchmark"] == "composition" and saved["summary"] == summary
    assert len(saved["rows"]) == 2 * len(SETTINGS)
