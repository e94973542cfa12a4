"""``aign ui`` as a process: a production WSGI server, quiet by default, honest at start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START_S = 60


def _aign_ui(home: Path, port: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "AIGN_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "ui", "--port", str(port), *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as r:
        r.read()
        return r.status


def _serve_and_fetch(home: Path, *extra: str) -> tuple[str, str]:
    port = _free_port()
    proc = _aign_ui(home, port, *extra)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_S
    try:
        while True:
            try:
                _get(f"{url}/healthz")
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "aign ui did not start"
                time.sleep(0.3)
        for path in ("/", "/_dash-layout", "/_dash-dependencies", "/healthz"):
            assert _get(url + path) == 200
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    return out, err


def test_a_busy_port_is_one_error_and_nothing_says_serving(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _aign_ui(tmp_path, port)
        out, err = proc.communicate(timeout=START_S)
    assert proc.returncode == 1
    assert "serving" not in out + err
    assert err.strip() == (f"aign ui: error: port {port} on 127.0.0.1 is in use (another aign "
                           "ui?): stop that server or choose another port with --port")


def test_requests_are_not_logged_by_default_and_no_development_server(tmp_path):
    out, err = _serve_and_fetch(tmp_path)
    lines = [line for line in (out + err).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("aign ui: serving scenario 'default' on http://")
    assert "development server" not in out + err and "Traceback" not in out + err


def test_access_log_on_request_logs_one_line_per_request(tmp_path):
    _, err = _serve_and_fetch(tmp_path, "--access-log")
    requests = [line for line in err.splitlines() if " GET " in line]
    assert any(line.endswith(" GET /_dash-layout 200") for line in requests), err
