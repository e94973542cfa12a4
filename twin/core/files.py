"""Files in and out: the one input boundary, and JSON written atomically.

Every file aign reads goes through :func:`read_text_bounded` (regular files only, at most
``max_bytes`` read, so ``/dev/zero`` or a FIFO never hang or fill memory) and every JSON
document through :func:`parse_json` (depth, integer-size, string and array limits; duplicate
keys, NaN, infinities and numbers that overflow refused). The CLI, the Python API and the app
all read through here, so the rules are the same everywhere.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twin.core.errors import AignError, InputError, Problem


@dataclass(frozen=True)
class JsonLimits:
    """What a JSON document may hold; past any limit it is refused before it is used."""

    max_bytes: int = 64_000_000  # file size, read no further
    max_depth: int = 32  # nesting of arrays and objects (aign's formats nest 3-4 deep)
    max_int_digits: int = 30  # integers longer than this are no count or index of ours
    max_string_chars: int = 100_000
    max_array_items: int = 10_000_000


DEFAULT_JSON_LIMITS = JsonLimits()
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def _fail(error: type[AignError], source: str, message: str, line: int | None = None):
    """``error`` for ``source``: with a located problem for input errors, else a sentence."""
    if issubclass(error, InputError):
        return error([Problem(source, line, "", message)])
    return error(f"{source}{'' if line is None else f':{line}'}: {message}")


def read_bytes_bounded(
    path: str | os.PathLike, max_bytes: int, error: type[AignError], what: str = "file"
) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; anything else is refused.

    The file is opened without blocking (a FIFO does not wait for a writer) and checked to
    be a regular file before a byte is read; at most ``max_bytes + 1`` bytes are read, so a
    device or a file that grows cannot exhaust memory.
    """
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise _fail(error, source, f"cannot read file: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a directory" if stat.S_ISDIR(info.st_mode) else
                    "not a regular file (FIFOs, devices and sockets are refused)")  # fmt: skip
            raise _fail(error, source, f"cannot read {what}: {kind}")
        if info.st_size > max_bytes:
            raise _fail(
                error, source, f"file is {info.st_size} bytes; a {what} is limited to "
                               f"{max_bytes} bytes",
            )  # fmt: skip
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise _fail(error, source, f"file is over {max_bytes} bytes; a {what} is limited "
                                       f"to {max_bytes} bytes")  # fmt: skip
        return b"".join(chunks)
    except OSError as exc:
        raise _fail(error, source, f"cannot read file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_text_bounded(
    path: str | os.PathLike, max_bytes: int, error: type[AignError], what: str = "file"
) -> str:
    """:func:`read_bytes_bounded`, decoded as UTF-8 text without NUL bytes."""
    raw = read_bytes_bounded(path, max_bytes, error, what)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(error, str(path), "not a UTF-8 text file") from None
    if "\x00" in text:
        raise _fail(error, str(path), "not a text file (contains NUL bytes)")
    return text


def read_json(
    path: str | os.PathLike,
    error: type[AignError],
    limits: JsonLimits = DEFAULT_JSON_LIMITS,
    what: str = "file",
) -> Any:
    """Read and parse a JSON file under ``limits``; every failure is a located ``error``."""
    text = read_text_bounded(path, limits.max_bytes, error, what)
    return parse_json(text, str(path), error, limits)


def parse_json(
    text: str | bytes,
    source: str,
    error: type[AignError],
    limits: JsonLimits = DEFAULT_JSON_LIMITS,
) -> Any:
    """Parse JSON text under ``limits``: depth, size and type rules checked in linear time."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise _fail(error, source, "not UTF-8 text") from None
    if not isinstance(text, str):
        raise _fail(error, source, f"expected JSON text, got {type(text).__name__}")
    if len(text) > limits.max_bytes:
        raise _fail(error, source, f"JSON text over the limit of {limits.max_bytes} bytes")
    depth = _max_depth(text)
    if depth > limits.max_depth:
        raise _fail(error, source, f"JSON nested {depth} levels deep; the limit is "
                                   f"{limits.max_depth}")  # fmt: skip
    try:
        data = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int(limits.max_int_digits),
        )
    except json.JSONDecodeError as exc:
        raise _fail(error, source, f"invalid JSON: {exc.msg}", exc.lineno) from None
    except _Refused as exc:
        raise _fail(error, source, str(exc)) from None
    except (RecursionError, ValueError) as exc:  # belt and braces: depth was checked above
        raise _fail(error, source, f"invalid JSON: {exc}") from None
    problem = _oversized(data, limits)
    if problem:
        if issubclass(error, InputError):
            raise error([Problem(source, None, problem[0], problem[1])])
        raise error(f"{source}: {problem[0] or '<root>'}: {problem[1]}")
    return data


class _Refused(ValueError):
    """A value the JSON rules refuse (raised from the parser's hooks)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"duplicate key {key[:80]!r} (JSON would silently keep the last)")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number aign accepts (values must be finite)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"number {text[:40]} is out of range (values must be finite)")
    return value


def _bounded_int(max_digits: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if len(text.lstrip("-")) > max_digits:
            raise _Refused(f"integer of {len(text)} digits; the limit is {max_digits} digits")
        return int(text)

    return parse


def _max_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` outside strings, in one vectorized pass."""
    bare = _STRING.sub("", text) if '"' in text else text
    codes = np.frombuffer(bare.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    opens = (codes == ord("[")) | (codes == ord("{"))
    closes = (codes == ord("]")) | (codes == ord("}"))
    if not opens.any():
        return 0
    step = opens.astype(np.int64) - closes.astype(np.int64)
    return int(np.cumsum(step).max())


def _oversized(data: Any, limits: JsonLimits) -> tuple[str, str] | None:
    """The first string or array over its limit, as ``(path, message)``; iterative walk."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if len(node) > limits.max_string_chars:
                return path, (f"text of {len(node)} characters; the limit is "
                              f"{limits.max_string_chars}")  # fmt: skip
        elif isinstance(node, list):
            if len(node) > limits.max_array_items:
                return path, (f"list of {len(node)} items; the limit is "
                              f"{limits.max_array_items}")  # fmt: skip
            if any(isinstance(v, str | list | dict) for v in node):  # numbers need no walk
                stack.extend((v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(node))
        elif isinstance(node, dict):
            for key, value in node.items():
                if len(key) > limits.max_string_chars:
                    return path, "a key is too long"
                stack.append((value, f"{path}.{key}" if path else key))
    return None


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write JSON through a temporary file and rename, so no half-written output is left."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
