"""A deployment history cannot vanish: the data directory knows its log, a lost, emptied or
swapped log is refused (never silently recreated), listing survives a read-only folder and
a damaged element state, and drift names the design the element really runs."""

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.twin.small import small_scenario
from twin.core.records import design_digest
from twin.radio.instance import Design
from twin.rollout import LostLogError, Operations
from twin.rollout.element import ElementFaults, element_path
from twin.rollout.home import ID_NAME
from twin.scenario.derive import scenario_digest


def small():
    lenient = {"runs": 5, "min_runs": 5, "window_s": 1.0, "realized_utility_tolerance": 1e3}
    return small_scenario(sync={"enabled": True, "report_period_s": 0.1}, gates=lenient)


def fixed(level_mw: float) -> Design:
    return Design(np.full(6, level_mw), f"fixed:{level_mw:g}")


def open_ops(home, **kwargs) -> Operations:
    return Operations(home, faults=ElementFaults(), **kwargs)


def deployed_home(home: Path) -> str:
    """A data directory with one kept deployment; returns its log's identity."""
    scenario = small()
    with open_ops(home) as ops:
        ops.validate(scenario, fixed(10))
        assert ops.deploy(scenario, fixed(10)).status == "kept"
        return ops.log.log_id


def test_a_fresh_home_gets_a_log_whose_identity_is_kept_beside_it_and_in_the_element(tmp_path):
    home = tmp_path / "aign"
    log_id = deployed_home(home)
    assert log_id and len(log_id) == 32
    assert json.loads((home / ID_NAME).read_text())["log_id"] == log_id
    assert json.loads(element_path(home, "small").read_text())["log_id"] == log_id
    with open_ops(home) as ops:  # reopening the same log is fine
        assert ops.log.log_id == log_id


@pytest.mark.parametrize("how", ["emptied", "deleted"])
def test_a_lost_log_is_refused_with_what_to_do_and_never_recreated(tmp_path, how):
    home = tmp_path / "aign"
    deployed_home(home)
    db = home / "deployments.db"
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    if how == "emptied":
        db.write_bytes(b"")  # `: > deployments.db`
    else:
        db.unlink()
    with pytest.raises(LostLogError, match=r"is (missing|empty).*Restore the log") as err:
        open_ops(home)
    assert "will not start a new, empty log" in str(err.value)
    with pytest.raises(LostLogError):
        open_ops(home, read_only=True)
    # nothing was recreated: the history is not silently replaced by an empty one
    assert (db.exists() and db.stat().st_size == 0) if how == "emptied" else not db.exists()


def test_a_lost_log_is_refused_even_without_the_identity_file_while_networks_remember(tmp_path):
    home = tmp_path / "aign"
    deployed_home(home)
    (home / ID_NAME).unlink()
    (home / "deployments.db").unlink()
    for extra in ("-wal", "-shm"):
        Path(f"{home / 'deployments.db'}{extra}").unlink(missing_ok=True)
    with pytest.raises(LostLogError, match="network element states for small"):
        open_ops(home)


def test_restoring_the_log_from_a_backup_brings_the_history_back(tmp_path):
    home = tmp_path / "aign"
    deployed_home(home)
    backup = tmp_path / "backup.db"
    with sqlite3.connect(home / "deployments.db") as src, sqlite3.connect(backup) as dst:
        src.backup(dst)
    (home / "deployments.db").write_bytes(b"")
    with pytest.raises(LostLogError):
        open_ops(home)
    shutil.copyfile(backup, home / "deployments.db")
    with open_ops(home) as ops:
        statuses = [op["status"] for op in ops.history()["operations"]]
        assert statuses == ["kept"]
        assert ops.in_force(small()).power_mw == (10.0,) * 6


def test_a_swapped_log_is_refused(tmp_path):
    home, other = tmp_path / "aign", tmp_path / "other"
    deployed_home(home)
    open_ops(other).close()
    for extra in ("", "-wal", "-shm"):
        Path(f"{home / 'deployments.db'}{extra}").unlink(missing_ok=True)
    shutil.copyfile(other / "deployments.db", home / "deployments.db")
    with pytest.raises(LostLogError, match="not this data directory's log.*replaced"):
        open_ops(home)


def test_an_element_configured_through_another_log_is_refused(tmp_path):
    home = tmp_path / "aign"
    deployed_home(home)
    state = json.loads(element_path(home, "small").read_text())
    state["log_id"] = "f" * 32
    element_path(home, "small").write_text(json.dumps(state))
    with open_ops(home) as ops, pytest.raises(LostLogError, match="another log"):
        ops.validate(small(), fixed(20))


def test_a_log_of_an_older_aign_gets_an_identity_when_first_opened(tmp_path):
    home = tmp_path / "aign"
    open_ops(home).close()
    with sqlite3.connect(home / "deployments.db") as conn:
        conn.execute("DROP TABLE identity")  # as aign wrote it before identities
    (home / ID_NAME).unlink()
    with open_ops(home, read_only=True) as reader:
        assert reader.log.log_id is None
    with open_ops(home) as ops:
        assert ops.log.log_id is not None
        assert json.loads((home / ID_NAME).read_text())["log_id"] == ops.log.log_id


def test_listing_survives_a_damaged_element_state(tmp_path):
    home = tmp_path / "aign"
    deployed_home(home)
    element_path(home, "small").write_text("{not json")
    with open_ops(home, read_only=True) as ops:
        data = ops.history()
    assert [op["status"] for op in data["operations"]] == ["kept"]
    in_force = data["networks"]["small"]["in_force"]
    assert "not valid JSON" in in_force["error"] or "invalid JSON" in in_force["error"]
    assert in_force["power_mw"] == [10.0] * 6  # what the log last recorded


def _chattr(flag: str, *paths: Path) -> bool:
    if os.geteuid() != 0:
        for path in paths:
            path.chmod(0o555 if flag == "+i" else 0o755)
        return True
    done = [subprocess.run(["chattr", flag, str(p)], capture_output=True) for p in paths]
    return all(d.returncode == 0 for d in done)


def test_listing_works_when_the_data_directory_cannot_be_written(tmp_path):
    home = tmp_path / "aign"
    deployed_home(home)
    locked = [home, home / "deployments.db"]
    for extra in ("-wal", "-shm"):
        if Path(f"{home / 'deployments.db'}{extra}").exists():
            locked.append(Path(f"{home / 'deployments.db'}{extra}"))
    if not _chattr("+i", *locked):
        _chattr("-i", *locked)
        pytest.skip("cannot make the data directory read-only here")
    try:
        with open_ops(home, read_only=True) as ops:
            data = ops.history()
        assert [op["status"] for op in data["operations"]] == ["kept"]
        assert data["networks"]["small"]["in_force"]["power_mw"] == [10.0] * 6
    finally:
        _chattr("-i", *locked)


def test_drift_names_the_design_whose_powers_the_element_holds(tmp_path):
    home = tmp_path / "aign"
    deployed_home(home)
    scenario = small()
    state = json.loads(element_path(home, "small").read_text())
    claimed = state["design"]
    state["power_mw"] = [20.0] * 6  # powers edited, digest left as it was
    element_path(home, "small").write_text(json.dumps(state))
    real = design_digest(scenario_digest(scenario), [20.0] * 6)
    with open_ops(home) as ops:
        (note,) = ops.reconcile(scenario)
        assert f"has design {real} in force" in note.message
        assert ops.in_force(scenario).digest == real != claimed
        assert ops.log.rows()[-1].in_force == real
