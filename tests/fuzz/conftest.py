"""The fuzz suite's bookkeeping: how many inputs were tried, how many gave a traceback or an
internal error, how many were wrongly accepted. ``AIGN_FUZZ_REPORT=FILE`` writes the counts
as JSON at the end of the session (benchmarks/RESULTS.md records a large run)."""

from __future__ import annotations

import json
import os

import pytest

from tests.fuzz.harness import COUNTS


@pytest.fixture(scope="session", autouse=True)
def fuzz_report():
    yield
    path = os.environ.get("AIGN_FUZZ_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(COUNTS, fh, indent=2, sort_keys=True)
            fh.write("\n")
