"""Run the ``aign`` CLI in-process on mutated inputs and judge the outcome.

A run is *clean* when it exits 0 (or 3: ran, design not accepted) or with a one-line error
(exit 1, argparse's 2), with no traceback, no internal error (exit 70, the last-resort
guard) and a bounded peak of traced memory. Mutations that break a documented rule (a bool
or text where a number is expected, NaN, an unknown key, a tag) must be refused: accepting
one is counted as *wrongly accepted*.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import tracemalloc
from collections.abc import Iterator
from typing import Any

import yaml
from hypothesis import strategies as st

from twin.scenario.loader import _LOADER
from ui.cli.main import INTERNAL_ERROR, main

MAX_PEAK_BYTES = 512 * 2**20
# Budgets that keep each twin run of the fuzz small (refusals are part of what is tested).
# paper-fig3 (31 events) runs whole; the larger shipped networks are refused by the budget
# unless a mutation shrinks them (duration_s 3.5, 1 user, ...), which is part of the test.
SMALL_RUNS = {"AIGN_MAX_EVENTS": "400", "AIGN_MAX_LINK_UPDATES": "1e6",
              "AIGN_MAX_MEMORY_MB": "300"}  # fmt: skip
COUNTS: dict[str, int] = {"inputs": 0, "runs": 0, "accepted": 0, "refused": 0,
                          "tracebacks": 0, "wrongly_accepted": 0, "over_memory": 0,
                          "simulated": 0, "deployed": 0, "rolled_back_by_hand": 0}  # fmt: skip


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_cli(*argv: str) -> tuple[int, str, str]:
    """Run one command; assert it ended cleanly within the memory bound."""
    out, err = io.StringIO(), io.StringIO()
    tracemalloc.start()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse: usage error
                code = exc.code if isinstance(exc.code, int) else 2
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    COUNTS["runs"] += 1
    text = out.getvalue() + err.getvalue()
    if code == INTERNAL_ERROR or "Traceback" in text:
        COUNTS["tracebacks"] += 1
        raise AssertionError(f"aign {' '.join(argv)}: not a clean error (exit {code}):\n{text}")
    if peak > MAX_PEAK_BYTES:
        COUNTS["over_memory"] += 1
        raise AssertionError(f"aign {' '.join(argv)}: peak traced memory {peak >> 20} MB")
    assert code in (0, 1, 2, 3), (code, text)
    return code, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------------- mutations
def leaves(data: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every scalar in a nested structure of dicts and lists."""
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in leaves(v, (*path, k))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in leaves(v, (*path, i))]
    return [path]


def get(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def put(data: Any, path: tuple, value: Any) -> None:
    get(data, path[:-1])[path[-1]] = value


FREE_FORM = {"predicted", "provenance", "meta"}  # free-form records: any JSON is allowed


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Values of the wrong type for a number: every one must be refused.
NOT_NUMBERS = st.sampled_from([True, False, "1e-10", "3", "", [1.0], {"x": 1}, math.nan,
                               math.inf, -math.inf])  # fmt: skip
# Numbers out of every plausible range: refused, or accepted and then run within budget.
EXTREMES = st.sampled_from([0, -1, 1e-300, -1e308, 1e308, 1e9, 10**7, 2**63, -(2**63), 3.5,
                            1e-9, 10**40])  # fmt: skip
ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=30), st.lists(st.floats(allow_nan=False), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=2),
)  # fmt: skip
# Text that YAML or JSON parsers handle in their own ways.
TOKENS = st.sampled_from(["!!int ", "!!float ", "!!binary ", "!!set ", "!!timestamp ", "&a ",
                          "*a", "<<: ", "? ", "{", "[", "\t", "--- ", "%YAML 1.1\n",
                          "!!python/object/apply:os.getcwd ", "\x00", "\ud7ff", "~", "'",
                          '"', "9" * 50, "1e999", "-.inf", ".nan", "0x1F", "1:30"])  # fmt: skip


@st.composite
def mutated(draw, data: Any) -> tuple[Any, bool]:
    """``data`` with one to three mutations; True when the result breaks a documented rule.

    The rule-breaking mutations are tracked by path: a later mutation that overwrites or
    deletes one (or its parent) takes it back. Drawn values are copied, so that no mutation
    changes a value the strategies share between examples.
    """
    import copy

    data = copy.deepcopy(data)
    broken: set[tuple] = set()

    def touch(path: tuple) -> None:  # what was at ``path`` (and below) is gone
        for old in [b for b in broken if b[: len(path)] == path]:
            broken.discard(old)

    for _ in range(draw(st.integers(1, 3))):
        paths = leaves(data)
        if not paths or not paths[0]:
            break
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["not_number", "extreme", "any", "delete", "unknown",
                                     "duplicate_list"]))  # fmt: skip
        value = get(data, path)
        free = bool(FREE_FORM.intersection(p for p in path if isinstance(p, str)))
        if kind == "not_number" and is_number(value):
            touch(path)
            put(data, path, copy.deepcopy(draw(NOT_NUMBERS)))
            if not free:
                broken.add(path)
        elif kind in ("extreme", "not_number") and is_number(value):
            touch(path)
            put(data, path, draw(EXTREMES))
        elif kind == "any":
            touch(path)
            put(data, path, copy.deepcopy(draw(ANY_VALUE)))
        elif kind == "delete" and isinstance(path[-1], str):
            touch(path)
            del get(data, path[:-1])[path[-1]]
        elif kind == "unknown" and isinstance(get(data, path[:-1]), dict):
            key = draw(st.sampled_from(["extra", "sed", "Seed", "count "]))
            touch((*path[:-1], key))
            get(data, path[:-1])[key] = 1
            if not free:
                broken.add((*path[:-1], key))
        elif kind == "duplicate_list" and isinstance(path[-1], int):
            items = get(data, path[:-1])
            items.extend(copy.deepcopy(items[: draw(st.integers(1, 3))]))
    return data, bool(broken)


@st.composite
def text_mutated(draw, text: str) -> str:
    """``text`` with a token inserted at a line start or a span deleted."""
    lines = text.splitlines(keepends=True)
    index = draw(st.integers(0, max(0, len(lines) - 1)))
    if draw(st.booleans()):
        line = lines[index]
        cut = line.find(":") + 2 if ":" in line else 0
        lines[index] = line[:cut] + draw(TOKENS) + line[cut:]
    else:
        start = draw(st.integers(0, max(0, len(text) - 1)))
        return text[:start] + text[start + draw(st.integers(1, 40)):]
    return "".join(lines)


class _Dumper(yaml.SafeDumper):
    """Quotes text that the scenario loader would read as a number (``1e-10``: YAML 1.1 text,
    but a plain exponent number for the loader), so a mutation to text stays text."""


for _first, _resolvers in _LOADER.yaml_implicit_resolvers.items():
    for _tag, _regexp in _resolvers:
        if _tag.endswith(":float"):
            _Dumper.add_implicit_resolver(_tag, _regexp, [_first])


def dump_yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
