"""Property-based fuzzing of validate, deploy and rollback with mutated designs: every
command ends cleanly, and afterwards the log and the network element agree on what is in
force (the element's powers are the last powers the log recorded)."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.harness import COUNTS, environment, mutated, run_cli

EXAMPLES = max(4, int(os.environ.get("AIGN_FUZZ_EXAMPLES", "25")) // 4)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="AIGN_FUZZ_EXAMPLES" not in
                os.environ, suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
SCENARIO = """\
name: fuzzed
seed: 2
duration_s: 1.0
step_s: 0.1
area: {width_m: 400, height_m: 400}
base_stations: {layout: grid, count: 1}
users: {count: 3, mobility: static}
channel: {path_loss: {model: umi}, fading: {model: none}, shadowing: {enabled: false}}
power: {min_mw: 0, max_mw: 10, step_mw: 1}
sync: {enabled: true, report_period_s: 0.1}
control: {epoch_s: 0.5, controller: max}
gates: {runs: 2, min_runs: 2, window_s: 0.5, realized_utility_tolerance: 1000,
        min_improvement: -1000, min_constraint_satisfaction: 0, min_fresh_reports: 1}
"""
DESIGN = {"format": "aign.design/1", "power_mw": [5.0, 5.0, 5.0], "source": "fixed:5"}


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="aign-fuzz-deploy-") as folder, environment(
        AIGN_HOME=str(Path(folder) / "home"), AIGN_ELEMENT_FAULTS=""
    ):
        (Path(folder) / "s.yaml").write_text(SCENARIO)
        yield Path(folder)


def consistent(home: Path) -> None:
    """The element holds what the log last recorded as in force (or the factory default)."""
    db = home / "deployments.db"
    if not db.exists():
        return
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute(
            "SELECT in_force_mw FROM log WHERE scenario = 'fuzzed' AND kind != 'validate' "
            "AND in_force_mw IS NOT NULL ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        log_id = conn.execute("SELECT log_id FROM identity").fetchone()[0]
    element = home / "network" / "fuzzed.json"
    if row is None:
        assert not element.exists()
        return
    state = json.loads(element.read_text())
    assert state["power_mw"] == json.loads(row[0]), (state, row)
    assert state["log_id"] == log_id


@FUZZ
@given(data=st.data())
def test_mutated_designs_keep_the_log_and_the_element_consistent(workdir, data):
    design, _ = data.draw(mutated(DESIGN))
    if data.draw(st.booleans()):  # a design on the levels, of the right size: it may deploy
        design = DESIGN | {"power_mw": data.draw(st.lists(st.integers(0, 10), min_size=3,
                                                          max_size=3))}  # fmt: skip
    path = workdir / "d.json"
    path.write_text(json.dumps(design))
    scenario = str(workdir / "s.yaml")
    COUNTS["inputs"] += 1
    code, _, _ = run_cli("validate", scenario, str(path), "--quiet", "--executor", "local:1")
    COUNTS["accepted" if code in (0, 3) else "refused"] += 1
    code, out, _ = run_cli("deploy", scenario, str(path), "--json")
    COUNTS["deployed"] += code == 0 and '"status": "kept"' in out
    consistent(workdir / "home")
    if data.draw(st.booleans()):
        COUNTS["rolled_back_by_hand"] += run_cli("rollback", scenario)[0] == 0
        consistent(workdir / "home")
    run_cli("deployments", "--summary")
