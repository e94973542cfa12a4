"""The executor interface: same results everywhere, failures retried then reported."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from twin.compute.executors import (
    LocalExecutor,
    RayExecutor,
    TaskError,
    TaskFailure,
    default_workers,
    make_executor,
)
from twin.core.errors import AignError

pytestmark = pytest.mark.slow


# Task functions live at module level: workers import them by name.
def seeded_draw(seed: int) -> list[float]:
    return np.random.default_rng(seed).normal(size=3).tolist()


def fail_on_three(k: int) -> int:
    if k == 3:
        raise ValueError(f"bad task {k}")
    return k * k


def fail_once(task: tuple[str, int]) -> int:
    """Fails on its first attempt only (the marker file remembers across processes)."""
    folder, k = task
    marker = Path(folder) / f"attempt-{k}"
    if k == 2 and not marker.exists():
        marker.touch()
        raise RuntimeError("transient failure")
    return k


def die_on_one(k: int) -> int:
    if k == 1:
        os._exit(17)  # the worker process vanishes, as if killed
    return k


def test_ray_without_ray_installed_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(AignError, match=r'needs Ray: pip install "aign\[ray\]"'):
        make_executor("ray")


@pytest.fixture(scope="module")
def ray_executor():
    """One local Ray instance with 2 CPUs for the module (starting Ray takes seconds)."""
    pytest.importorskip("ray", reason="Ray is in the test extra; pip install -e '.[test]'")
    executor = RayExecutor(workers=2)
    yield executor
    executor.close()


@pytest.fixture(params=["local:1", "local:2", "ray"])
def executor(request, ray_executor):
    if request.param == "ray":
        yield ray_executor
        return
    with make_executor(request.param) as ex:
        yield ex


def test_results_come_back_in_task_order_and_match_a_plain_loop(executor):
    seeds = list(range(7))
    assert executor.map(seeded_draw, seeds) == [seeded_draw(s) for s in seeds]


def test_a_task_failing_every_time_is_reported_with_the_others_kept(executor):
    with pytest.raises(
        TaskError, match=r"task 3 failed after 2 attempt\(s\): ValueError: bad task 3"
    ) as err:
        executor.map(fail_on_three, list(range(6)))
    assert [f.index for f in err.value.failures] == [3]
    assert err.value.results == {k: k * k for k in range(6) if k != 3}


def test_run_yields_every_task_once_failures_included(executor):
    seen = dict(executor.run(fail_on_three, list(range(5))))
    assert sorted(seen) == [0, 1, 2, 3, 4]
    assert isinstance(seen[3], TaskFailure) and seen[3].attempts == 2
    assert [seen[k] for k in (0, 1, 2, 4)] == [0, 1, 4, 16]


def test_a_transient_failure_is_retried(executor, tmp_path):
    tasks = [(str(tmp_path), k) for k in range(4)]
    assert executor.map(fail_once, tasks) == [0, 1, 2, 3]
    assert (tmp_path / "attempt-2").exists()  # it did fail once


def test_a_dead_worker_process_is_retried_then_reported():
    with LocalExecutor(workers=2, retries=1) as ex:
        outcome = dict(ex.run(die_on_one, [0, 1, 2, 3]))
    assert isinstance(outcome[1], TaskFailure)
    assert "worker process died" in outcome[1].error and outcome[1].attempts == 2
    # Tasks that shared the broken pool are rerun alone on a fresh one: not lost, and the
    # death of another task's worker costs them no attempt, however the pool was loaded.
    assert [outcome[k] for k in (0, 2, 3)] == [0, 2, 3]


def test_a_worker_death_is_charged_to_its_own_task_only():
    with LocalExecutor(workers=2, retries=0) as ex:
        outcome = dict(ex.run(die_on_one, list(range(8))))
    assert isinstance(outcome[1], TaskFailure) and outcome[1].attempts == 1
    assert [outcome[k] for k in range(8) if k != 1] == [0, 2, 3, 4, 5, 6, 7]


def test_no_retries_means_one_attempt():
    with pytest.raises(TaskError, match=r"after 1 attempt"):
        LocalExecutor(workers=1, retries=0).map(fail_on_three, [3])


def test_progress_reaches_one():
    seen = []
    make_executor("local:1").map(seeded_draw, [1, 2, 3, 4], progress=seen.append)
    assert seen == [0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("dask", "unknown executor 'dask'; use local, local:N, ray or ray:ADDRESS"),
        ("local:two", "local:N needs a whole number N"),
        ("local:0", "need at least 1 worker"),
    ],
)
def test_bad_executor_names_are_refused(spec, message):
    with pytest.raises(AignError, match=message):
        make_executor(spec)


def test_names_and_default_workers(monkeypatch):
    assert make_executor(None).name == "local:1"
    assert make_executor("local:3").workers == 3
    monkeypatch.setenv("AIGN_WORKERS", "5")
    assert default_workers() == 5 and make_executor("local").name == "local"
    monkeypatch.setenv("AIGN_WORKERS", "many")
    with pytest.raises(AignError, match="AIGN_WORKERS='many' is not a whole number"):
        default_workers()


# ------------------------------------------------------------------ the commands' tasks
def test_validation_is_identical_on_every_executor(executor):
    from tests.twin.rollout.test_validation import fixed, small
    from twin.rollout.validation import validate_design
    from twin.scenario.derive import initial_powers

    scenario = small()
    reports = [
        validate_design(
            scenario, fixed(scenario, 10), initial_powers(scenario), runs=4, executor=ex
        )
        for ex in ("local:1", executor)
    ]
    for report in reports:
        report.pop("created_at"), report.pop("executor")
    assert reports[0] == reports[1]


def test_collection_is_identical_on_every_executor(executor, tmp_path):
    from agents.collect import CollectArgs, collect
    from agents.dataset import FIELDS, TrajectoryDataset

    def run(name, ex):
        args = CollectArgs("paper-fig3", "noisy:coordinate,sigma=0.5", episodes=7, batch=2,
                           out=str(tmp_path / name), seed=5)  # fmt: skip
        report = collect(args, executor=ex)
        assert report["collected"] == 7
        return TrajectoryDataset.load(tmp_path / name)

    ref, got = run("ref", "local:1"), run("got", executor)
    assert got.n_episodes == ref.n_episodes == 7
    for name in FIELDS:
        assert np.array_equal(ref[name], got[name], equal_nan=name == "constraint_limits"), name


def test_sweep_tables_are_identical_on_every_executor(executor, tmp_path):
    from twin.compute.sweep import SweepSpec, override, run_sweep
    from twin.scenario.loader import load_scenario

    scenario = override(load_scenario("default"), {"duration_s": 1.0})
    spec = SweepSpec(scenario, [("users", [3, 5])], controllers=["fpc"], seeds=2)
    run_sweep(spec, tmp_path / "ref", executor="local:1")
    report = run_sweep(spec, tmp_path / "got", executor=executor)
    assert report.ran == 4 and report.executor == executor.name
    for name in ("results.csv", "summary.csv"):
        assert (tmp_path / "got" / name).read_bytes() == (tmp_path / "ref" / name).read_bytes()
