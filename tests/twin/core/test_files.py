"""The one input boundary: regular files only, bounded reads, strict JSON."""

import json
import os
import threading
import time

import pytest

from twin.core.errors import AignError, InstanceError
from twin.core.files import JsonLimits, parse_json, read_json, read_text_bounded


def refused(text: str, limits: JsonLimits = JsonLimits()) -> str:
    with pytest.raises(InstanceError) as err:
        parse_json(text, "x.json", InstanceError, limits)
    return str(err.value)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_devices_are_refused_without_reading_them(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(InstanceError, match="not a regular file"):
        read_json(device, InstanceError)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(InstanceError, match="a directory"):
        read_json(tmp_path, InstanceError)


def test_a_fifo_is_refused_at_once_instead_of_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    done: list[str] = []

    def read() -> None:
        try:
            read_json(fifo, InstanceError)
        except InstanceError as err:
            done.append(str(err))

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # unblock the hung reader before failing
        with open(fifo, "w"):
            pass
        pytest.fail("reading a FIFO hung")
    assert done and "not a regular file" in done[0]


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path):
    sparse = tmp_path / "huge.json"
    with open(sparse, "wb") as fh:  # 1 GB that takes no disk: refused by its size alone
        fh.truncate(1 << 30)
    start = time.monotonic()
    with pytest.raises(InstanceError, match=r"1073741824 bytes; a file is limited to 64000000"):
        read_json(sparse, InstanceError)
    assert time.monotonic() - start < 1.0


def test_text_must_be_utf8_without_nul(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(InstanceError, match="not a UTF-8 text file"):
        read_text_bounded(path, 100, InstanceError)
    path.write_bytes(b'{"a": 1}\x00')
    with pytest.raises(InstanceError, match="NUL"):
        read_text_bounded(path, 100, InstanceError)


def test_deep_nesting_is_refused_without_recursion():
    assert "nested 100000 levels deep; the limit is 32" in refused("[" * 100_000 + "]" * 100_000)
    # brackets inside strings do not count
    assert parse_json(json.dumps({"a": "[" * 1000}), "x", InstanceError) == {"a": "[" * 1000}


def test_long_integers_are_refused():
    assert "integer of 5000 digits; the limit is 30" in refused("1" * 5000)
    assert parse_json("1" * 30, "x", InstanceError) == int("1" * 30)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", '{"noise_mw": Infinity}'])
def test_non_finite_constants_are_refused(text):
    assert "must be finite" in refused(text)


def test_numbers_that_overflow_are_refused():
    assert "out of range" in refused('{"price": 1e999}')


def test_duplicate_keys_are_refused():
    assert "duplicate key 'price'" in refused('{"price": 1, "price": 2}')


def test_strings_and_arrays_are_bounded():
    limits = JsonLimits(max_string_chars=10, max_array_items=3)
    assert "text of 11 characters; the limit is 10" in refused('{"s": "' + "x" * 11 + '"}', limits)
    assert "list of 4 items; the limit is 3" in refused("[[1, 2, 3, 4]]", limits)


def test_other_error_kinds_get_a_sentence():
    with pytest.raises(AignError, match=r"^cfg:1: invalid JSON"):
        parse_json("{", "cfg", AignError)
