"""Smoke test of the classical-solvers benchmark: old and new run side by side and agree
design for design (no timing asserts)."""

import importlib.util
import json
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "classical.py"


def _load_benchmark(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARK.parent))  # as when run as a script
    spec = importlib.util.spec_from_file_location("classical_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look it up there
    spec.loader.exec_module(module)
    return module


def test_quick_run_times_old_and_new_and_finds_the_same_designs(tmp_path, monkeypatch):
    out = tmp_path / "classical.json"
    rows = _load_benchmark(monkeypatch).main(["--quick", "--cases", "default", "--json", str(out)])
    assert [r["setting"] for r in rows] == ["coordinate, 1 sweep", "coordinate, 2 sweeps",
                                            "coordinate, to convergence", "coordinate, 4 starts",
                                            "WMMSE"]  # fmt: skip
    for r in rows:
        assert r["same_designs"] == "1/1" and r["speedup"] > 0 and r["new_s"] > 0
    saved = json.loads(out.read_text())
    assert saved["benchmark"] == "classical" and saved["rows"] == rows
