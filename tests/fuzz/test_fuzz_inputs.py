"""Property-based fuzzing of every input: the shipped scenarios, instances and designs,
mutated, against the commands that read them. Each must end in exit 0 or a clean error, with
no traceback and bounded memory; a mutation that breaks a documented rule must be refused.

Bounded in time: a few dozen examples per property (``AIGN_FUZZ_EXAMPLES`` raises it for a
long run, see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.harness import (
    COUNTS,
    SMALL_RUNS,
    dump_yaml,
    environment,
    mutated,
    run_cli,
    text_mutated,
)
from twin.scenario.loader import SCENARIO_DIR

EXAMPLES = int(os.environ.get("AIGN_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="AIGN_FUZZ_EXAMPLES" not in
                os.environ, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.data_too_large])  # fmt: skip
# The large shipped networks are mutated too, but run only within the small budget.
SHIPPED = {p.stem: yaml.safe_load(p.read_text()) for p in sorted(SCENARIO_DIR.glob("*.yaml"))}
FIG3_INSTANCE = {"format": "aign.instance/1", "gains": [[1.4e-12], [1.0e-12]], "assoc": [0, 0],
                 "noise_mw": 1e-10, "bandwidth_hz": 1e6, "levels_mw": [float(i) for i in
                 range(41)], "price": 0.0225, "constraints": {"min_rate_bps": None,
                 "max_total_power_mw": None, "max_interference_mw": None}, "reuse": "shared",
                 "meta": {"scenario": "paper-fig3"}}  # fmt: skip
FIG3_DESIGN = {"format": "aign.design/1", "power_mw": [28.0, 31.0], "source": "exhaustive",
               "predicted": {"utility": 24.0922}, "provenance": {"scenario": "paper-fig3"}}


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="aign-fuzz-") as folder, environment(
        AIGN_HOME=str(Path(folder) / "home"), **SMALL_RUNS
    ):
        yield Path(folder)


def _write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return str(path)


@FUZZ
@given(data=st.data())
def test_mutated_scenarios_are_checked_and_run_cleanly(workdir, data):
    name = data.draw(st.sampled_from(sorted(SHIPPED)))
    scenario, must_refuse = data.draw(mutated(SHIPPED[name]))
    text = dump_yaml(scenario)
    path = _write(workdir, "s.yaml", text)
    COUNTS["inputs"] += 1
    code, out, _ = run_cli("scenario", "check", path)
    if code != 0:
        COUNTS["refused"] += 1
        return
    COUNTS["accepted"] += 1
    if must_refuse:
        COUNTS["wrongly_accepted"] += 1
        raise AssertionError(f"accepted a scenario that breaks a rule:\n{text}")
    run_cli("instance", path, "--out", str(workdir / "i.json"))
    COUNTS["simulated"] += run_cli("simulate", path, "--controller", "max", "--json")[0] == 0
    # most mutated networks are over the small budget: run them for one second too, so the
    # mutated values reach the twin (the change keeps every rule the check applied)
    short = dict(scenario)
    step = short.get("step_s", 0.1)
    if isinstance(step, int | float) and not isinstance(step, bool) and 0 < step <= 1.0:
        short["duration_s"] = 1.0
        gates = short.get("gates")
        if isinstance(gates, dict) and isinstance(gates.get("window_s"), int | float):
            gates["window_s"] = min(gates["window_s"], 1.0)
        control = short.get("control")
        if isinstance(control, dict) and isinstance(control.get("epoch_s"), int | float):
            control["epoch_s"] = min(control["epoch_s"], 1.0)
        short_path = _write(workdir, "short.yaml", dump_yaml(short))
        if run_cli("scenario", "check", short_path)[0] == 0:
            code = run_cli("simulate", short_path, "--controller", "max", "--json")[0]
            COUNTS["simulated"] += code == 0


@FUZZ
@given(data=st.data())
def test_scenario_text_mutations_are_clean_errors(workdir, data):
    name = data.draw(st.sampled_from(sorted(SHIPPED)))
    text = data.draw(text_mutated((SCENARIO_DIR / f"{name}.yaml").read_text()))
    path = _write(workdir, "t.yaml", text)
    COUNTS["inputs"] += 1
    code, _, _ = run_cli("scenario", "check", path)
    COUNTS["accepted" if code == 0 else "refused"] += 1


@FUZZ
@given(data=st.data())
def test_mutated_instances_and_designs_are_evaluated_or_refused_cleanly(workdir, data):
    instance, bad_instance = data.draw(mutated(FIG3_INSTANCE))
    design, bad_design = data.draw(mutated(FIG3_DESIGN))
    inst_text = json.dumps(instance)
    if data.draw(st.booleans()):
        inst_text = data.draw(text_mutated(json.dumps(instance, indent=1)))
        bad_instance = False  # a text mutation may still be valid JSON
    inst = _write(workdir, "inst.json", inst_text)
    des = _write(workdir, "design.json", json.dumps(design))
    COUNTS["inputs"] += 2
    code, _, err = run_cli("evaluate", inst, des)
    COUNTS["accepted" if code == 0 else "refused"] += 1
    if code == 0 and (bad_instance or bad_design):
        COUNTS["wrongly_accepted"] += 1
        raise AssertionError(f"accepted:\n{inst_text}\n{json.dumps(design)}")
    method = data.draw(st.sampled_from(["wmmse", "coordinate", "exhaustive", "fpc", "max"]))
    run_cli("solve", inst, "--method", method, "--out", str(workdir / "solved.json"))
