"""Smoke test of the scale benchmark: every part runs end to end (no timing asserts)."""

import importlib.util
import json
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "scale.py"


def _load_benchmark(monkeypatch):
    # As when run as a script: the benchmarks folder is on the path (bench_args, twin_ticks).
    monkeypatch.syspath_prepend(str(BENCHMARK.parent))
    spec = importlib.util.spec_from_file_location("scale_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look it up there
    spec.loader.exec_module(module)
    return module


def test_quick_run_measures_ticks_memory_and_maps(tmp_path, monkeypatch):
    out = tmp_path / "scale.json"
    results = _load_benchmark(monkeypatch).main(["--quick", "--json", str(out)])
    assert [t["variant"] for t in results["ticks"]] == ["mechanics", "as shipped"]
    assert all(t["twin_ticks_per_s"] > 0 and t["overhead"] > 0 for t in results["ticks"])
    (memory,) = results["memory"]
    assert memory["users"] == [2, 5, 10, 20] and memory["simulate_max_rss_mb"] > 0
    (ui,) = results["ui"]
    assert set(ui["sinr_map_s"]) == {10, 20} and ui["heatmap_points"] > 0
    saved = json.loads(out.read_text())
    assert saved["benchmark"] == "scale" and saved["ticks"] == results["ticks"]
