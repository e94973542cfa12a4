"""Smoke test of the fading benchmark: it runs and yields a ratio (no timing asserts)."""

import importlib.util
import json
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "fading_ticks.py"


def test_quick_run_times_new_fading_against_old(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARK.parent))  # bench_args, twin_ticks
    spec = importlib.util.spec_from_file_location("fading_ticks", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look it up there
    spec.loader.exec_module(module)
    out = tmp_path / "fading.json"
    (result,) = module.main(["--quick", "--json", str(out)])
    assert (result.users, result.bs) == (80, 4)
    assert result.old_us_per_tick > 0 and result.ratio[9] > 0
    assert json.loads(out.read_text())["results"][0]["ratio"]["9"] == result.ratio[9]


def test_the_kept_old_model_has_lag_k_correlation_rho_to_the_k(monkeypatch):
    # The baseline really is the first-order recursion: rho^k, not J0, at lag k.
    monkeypatch.syspath_prepend(str(BENCHMARK.parent))
    spec = importlib.util.spec_from_file_location("fading_ticks_old", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    import numpy as np

    old = module.GaussMarkovFading(np.random.default_rng(0), 2000, 50)
    h0 = old._h.copy()
    rho = np.full(2000, 0.9)
    for _ in range(5):
        old.step(rho)
    corr = np.mean(old._h * h0.conj()).real
    assert abs(corr - 0.9**5) < 0.02
