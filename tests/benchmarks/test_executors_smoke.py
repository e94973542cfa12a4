"""Smoke test of the executor speedup benchmark: it runs, and the outputs match (no timings)."""

import importlib.util
import json
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "executors.py"


def test_quick_run_compares_two_workers_with_one(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARK.parent))  # bench_args, as when run as a script
    spec = importlib.util.spec_from_file_location("executors", BENCHMARK)  # importable by workers
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    out = tmp_path / "executors.json"
    results = module.main(["--quick", "--executors", "local:2", "--json", str(out)])
    for workload in ("raw limit", "collect", "sweep"):
        rows = results["workloads"][workload]["executors"]
        assert set(rows) == {"local:1", "local:2"}
        assert rows["local:2"]["identical_to_local_1"] is True
        assert rows["local:2"]["speedup"] > 0
    assert json.loads(out.read_text())["workloads"].keys() == {"raw limit", "collect", "sweep"}
