"""The app with its background jobs on Celery workers over Redis (``AIGN_UI_REDIS``), as the
README sets it up for several users: a throwaway ``redis-server`` on a free loopback port,
``celery -A ui.worker:celery_app worker`` and ``aign ui``, driven from headless Chromium.

Skipped only when Debian's redis-server is missing (``make test`` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, _free_port, running_app
from tests.e2e.test_app_browser import (
    by_id,
    click,
    console_errors,
    graph_traces,
    open_page,
    retype,
    screenshot,
    text_of,
    wait_for,
)

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(
    REDIS is None, reason="redis-server is not installed (make test installs it: "
    "apt-get install -y redis-server)",
)  # fmt: skip
WORKER_START_S = 120


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group it leads (a worker's pool children too), then SIGKILL."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def celery_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="aign-e2e-celery-") as home:
        yield Path(home)


@pytest.fixture(scope="module")
def redis_url(celery_home: Path) -> Iterator[str]:
    """A redis-server of our own: loopback, free port, no persistence, data in a temp dir."""
    import redis

    port = _free_port()
    data = celery_home / "redis"
    data.mkdir()
    proc = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(data), "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_timeout=1)
    wait_for("redis-server to answer", lambda: proc.poll() is None and client.ping(), 20)
    try:
        yield url
    finally:
        client.close()
        _stop(proc)


@pytest.fixture(scope="module")
def celery_worker(celery_home: Path, redis_url: str) -> Iterator[Path]:
    """``celery -A ui.worker:celery_app worker`` (two pool processes: two jobs at once)."""
    log_path = celery_home / "worker.log"
    env = {**os.environ, "AIGN_HOME": str(celery_home), "AIGN_UI_REDIS": redis_url,
           "PYTHONUNBUFFERED": "1"}  # fmt: skip
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ui.worker:celery_app", "worker",
             "--pool", "prefork", "--concurrency", "2", "--loglevel", "INFO",
             "--hostname", f"aign-test-{os.getpid()}@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def ready() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"the Celery worker exited:\n{log_path.read_text()}", pytrace=False)
        return " ready." in log_path.read_text()

    try:
        wait_for("the Celery worker to be ready", ready, WORKER_START_S)
        yield log_path
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def celery_server(celery_home: Path, redis_url: str, celery_worker: Path) -> Iterator[str]:
    with running_app(celery_home, {"AIGN_UI_REDIS": redis_url}, "celery-server.log") as url:
        yield url


def test_whatif_job_runs_on_a_celery_worker(celery_server, celery_worker, browser_factory):
    tab = browser_factory()
    open_page(tab, celery_server, "/whatif")
    click(tab, "wi-run")
    status = wait_for("the run to finish", lambda: "finished" in text_of(tab, "wi-status")
                      and text_of(tab, "wi-status"), timeout_s=120)  # fmt: skip
    assert "mean utility" in status
    for graph in ("wi-kpi-graph", "wi-cdf-graph", "wi-power-graph"):
        wait_for(f"{graph} to draw", lambda g=graph: graph_traces(tab, g) > 0)
    screenshot(tab, "celery-whatif-run")
    assert re.search(r"Task background_callback_\w+\[[\w-]+\] succeeded", celery_worker.read_text())
    assert console_errors(tab) == []


def test_cancelled_celery_job_stops_on_the_worker_which_lives_on(
    celery_server, celery_worker, browser_factory
):
    tab = browser_factory()
    open_page(tab, celery_server, "/whatif")
    retype(tab, "wi-users", "400\t")  # a long run
    click(tab, "wi-run")
    wait_for("the job to start", lambda: by_id(tab, "wi-cancel").is_enabled())
    click(tab, "wi-cancel")
    msg = wait_for("the cancel message", lambda: "cancelled" in text_of(tab, "wi-status")
                   and text_of(tab, "wi-status"))  # fmt: skip
    assert "nothing was recorded" in msg
    wait_for("the worker to terminate the job", lambda: "Terminating" in celery_worker.read_text())
    wait_for("the run button to come back", lambda: by_id(tab, "wi-run").is_enabled())
    retype(tab, "wi-users", "\t")
    wait_for("the field's value to go", lambda: not by_id(tab, "wi-users").get_attribute("value"))
    time.sleep(0.5)
    click(tab, "wi-run")  # the pool replaced the terminated process: the next job runs
    wait_for("the next run to finish", lambda: "finished" in text_of(tab, "wi-status"),
             timeout_s=120)  # fmt: skip
    assert console_errors(tab) == []


def test_two_tabs_run_jobs_at_once_on_the_workers(celery_server, browser_factory):
    tabs = [browser_factory(), browser_factory()]
    for tab in tabs:
        open_page(tab, celery_server, "/whatif")
    for tab in tabs:
        click(tab, "wi-run")
    for tab in tabs:
        wait_for("both runs to finish", lambda t=tab: "finished" in text_of(t, "wi-status"),
                 timeout_s=120)  # fmt: skip
        labels = wait_for("the tab's run to be listed", lambda t=tab: t.find_elements(
            "css selector", "#wi-compare label"))  # fmt: skip
        assert len(labels) == 1  # its own run
        assert console_errors(tab) == []
