"""A real `aign ui` server on 127.0.0.1 and a headless Debian Chromium driving it.

Chromium is required: when it is missing the tests fail with a message saying how to
install it (``apt-get install -y chromium chromium-driver``); they are never skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"
START_TIMEOUT_S = 60
SCREENSHOTS = Path(
    os.environ.get("AIGN_E2E_SCREENSHOTS") or Path(tempfile.gettempdir()) / "aign-e2e-screenshots"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium() -> tuple[str, str]:
    browser = next((shutil.which(b) for b in CHROMIUM if shutil.which(b)), None)
    driver = shutil.which(DRIVER) or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    if browser is None or driver is None:
        pytest.fail(
            "end-to-end tests need Chromium and its driver: "
            "apt-get update && apt-get install -y chromium chromium-driver "
            f"(found browser={browser}, driver={driver})",
            pytrace=False,
        )
    return browser, driver


@pytest.fixture(scope="session")
def aign_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="aign-e2e-home-") as home:
        yield Path(home)


@contextlib.contextmanager
def running_app(home: Path, env: dict[str, str] | None = None, log_name: str = "server.log"):
    """``aign ui`` in a child process over ``home`` (extra ``env`` on top of this one's);
    yields its base URL; afterwards its log must hold no traceback."""
    port = _free_port()
    env = {**os.environ, "AIGN_HOME": str(home), "PYTHONUNBUFFERED": "1", **(env or {})}
    log_path = home / log_name
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "ui", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                if json.load(r).get("ok"):
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"aign ui did not start:\n{log_path.read_text()}")
        time.sleep(0.3)
    try:
        yield url
    finally:
        jobs = psutil.Process(proc.pid).children(recursive=True)  # background jobs running
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        _, alive = psutil.wait_procs(jobs, timeout=10)
        for orphan in alive:  # do not leave them running, but fail the test
            orphan.kill()
        log.close()
        text = log_path.read_text()
        assert "Traceback" not in text, f"the server logged a traceback:\n{text}"
        assert not alive, f"stopping the server left {len(alive)} job process(es) running"


@pytest.fixture(scope="session")
def server(aign_home: Path) -> Iterator[str]:
    """``aign ui`` in a child process (its own AIGN_HOME); yields its base URL."""
    with running_app(aign_home) as url:
        yield url


@pytest.fixture(scope="session")
def browser_factory():
    """Make headless Chromium drivers (each with a fresh profile); quits them at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _chromium()
    made = []

    def make():
        profile = tempfile.mkdtemp(prefix="aign-e2e-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1400,1000",
                     # WebGL (the maps' Scattergl) through SwiftShader, which Chromium
                     # otherwise only falls back to with a deprecation warning
                     "--enable-unsafe-swiftshader",
                     f"--user-data-dir={profile}"):  # fmt: skip
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        drv = webdriver.Chrome(service=Service(driver_path), options=options)
        drv.set_page_load_timeout(30)
        made.append((drv, profile))
        return drv

    yield make
    for drv, profile in made:
        try:
            drv.quit()
        finally:
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def browser(browser_factory):
    return browser_factory()


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
