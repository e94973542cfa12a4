"""Command-line options from an ``@dataclass Args`` (CleanRL style): one ``--flag`` per field,
its help the docstring written under the field. Shared by the benchmark scripts; standard
library only, so that it also runs in mobile-env's own venv."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import textwrap
from typing import Any, TypeVar

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """The string literal under each annotated field of ``cls``, by field name."""
    (class_def,) = ast.parse(textwrap.dedent(inspect.getsource(cls))).body
    assert isinstance(class_def, ast.ClassDef)
    body = class_def.body
    docs = {}
    for node, after in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def parse_dataclass_args(
    cls: type[T],
    argv: list[str] | None,
    description: str,
    special: dict[str, dict[str, Any]] | None = None,
) -> T:
    """Parse ``argv`` into ``cls``. Fields annotated ``bool`` become ``--x/--no-x``; ``int``
    and ``float`` are converted; others are strings unless ``special[name]`` gives the
    ``add_argument`` keywords (e.g. ``nargs``, ``choices``)."""
    parser = argparse.ArgumentParser(description=description)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        kwargs: dict[str, Any] = {"default": f.default, "help": docs.get(f.name)}
        if special and f.name in special:
            kwargs.update(special[f.name])
        elif str(f.type) == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = {"int": int, "float": float}.get(str(f.type), str)
        parser.add_argument(flag, **kwargs)
    return cls(**vars(parser.parse_args(argv)))
