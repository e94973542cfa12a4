"""Files in and out: JSON read with located errors, written atomically.

Every file aign reads or writes goes through here, so the rules are the same for the CLI,
the Python API and the app.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from twin.core.errors import InputError, Problem


def read_json(path: str | os.PathLike, error: type[InputError]) -> Any:
    """Parse a JSON file, turning I/O and syntax errors into located problems."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error([Problem(source, None, "", f"cannot read file: {exc}")]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error([Problem(source, exc.lineno, "", f"invalid JSON: {exc.msg}")]) from None


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
