"""Smoke test of the tick benchmark: it runs end to end and yields a ratio (no timing asserts)."""

import importlib.util
import json
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "twin_ticks.py"


def _load_benchmark(monkeypatch):
    # As when run as a script: the benchmarks folder is on the path (for bench_args).
    monkeypatch.syspath_prepend(str(BENCHMARK.parent))
    spec = importlib.util.spec_from_file_location("twin_ticks", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look it up there
    spec.loader.exec_module(module)
    return module


def test_quick_run_measures_the_twin_against_the_raw_update(tmp_path, monkeypatch):
    out = tmp_path / "ticks.json"
    results = _load_benchmark(monkeypatch).main(["--quick", "--sizes", "80x4", "--json", str(out)])
    (result,) = results
    assert (result.users, result.bs) == (80, 4)
    assert result.twin_ticks_per_s > 0 and result.raw_ticks_per_s > 0
    assert result.overhead > 0
    saved = json.loads(out.read_text())
    assert saved["results"][0]["overhead"] == result.overhead
