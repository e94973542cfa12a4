"""The one scenario loader: YAML text -> validated :class:`Scenario`, errors with file and line.

YAML goes through PyYAML's safe loader only. Anchors/aliases are refused (they let a small
file expand into a huge document), as are duplicate keys (YAML would silently keep the last),
keys that are not text (``~:``, ``3:``, merge keys ``<<:``) and nesting deeper than
:data:`MAX_NESTING` (PyYAML's composer recurses once per level).
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from twin.core.errors import Problem, ScenarioError
from twin.scenario.schema import Scenario

MAX_SCENARIO_BYTES = 2_000_000
MAX_NESTING = 32  # a scenario nests 4 deep (channel.gains rows); PyYAML recurses per level
SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
_PATH_PREFIX = re.compile(r"^(?:Value error, )?@([A-Za-z0-9_.]+): (.*)$", re.S)


ScenarioLike = Scenario | str | os.PathLike


def as_scenario(scenario: ScenarioLike) -> Scenario:
    """A scenario as given, or loaded from a name or path."""
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def resolve_scenario_path(name_or_path: str | os.PathLike) -> Path:
    """A path as given, or a shipped scenario by name (``default`` -> scenarios/default.yaml)."""
    path = Path(name_or_path)
    if path.exists() or path.suffix in (".yaml", ".yml") or os.sep in str(name_or_path):
        return path
    shipped = SCENARIO_DIR / f"{name_or_path}.yaml"
    return shipped if shipped.exists() else path


def shipped_scenarios() -> list[str]:
    """Names of the scenarios that ship with the project."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | os.PathLike) -> Scenario:
    """Read and validate a scenario file (or a shipped scenario by name)."""
    path = resolve_scenario_path(name_or_path)
    source = str(name_or_path)
    try:
        size = path.stat().st_size
        if size > MAX_SCENARIO_BYTES:
            raise ScenarioError(
                [Problem(source, None, "", f"file is {size} bytes; scenarios are limited to "
                                           f"{MAX_SCENARIO_BYTES} bytes")]
            )  # fmt: skip
        raw = path.read_bytes()
    except OSError as exc:
        hint = (
            f" (shipped scenarios: {', '.join(shipped_scenarios())})" if not path.exists() else ""
        )
        message = f"cannot read file: {exc.strerror}{hint}"
        raise ScenarioError([Problem(source, None, "", message)]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError([Problem(source, None, "", "not a UTF-8 text file")]) from None
    return parse_scenario(text, source=source)


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate scenario YAML text; raise :class:`ScenarioError` listing every problem."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SCENARIO_BYTES:
        raise ScenarioError([Problem(source, None, "", "scenario text is too large")])
    if "\x00" in text:
        raise ScenarioError([Problem(source, None, "", "not a text file (contains NUL bytes)")])
    root, data = _compose(text, source)
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        line = root.start_mark.line + 1 if root is not None else None
        raise ScenarioError(
            [Problem(source, line, "", f"a scenario must be a mapping of fields, got {kind}")]
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError([_locate(e, root, data, source) for e in err.errors()]) from None


def _compose(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """Parse once into a node tree (for line numbers) and construct plain data from it."""
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise ScenarioError(
                    [Problem(source, event.start_mark.line + 1, "",
                             "YAML aliases (*name) are not supported in scenarios; "
                             "write the value out")]
                )  # fmt: skip
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_NESTING:
                    raise ScenarioError(
                        [Problem(source, event.start_mark.line + 1, "",
                                 f"YAML nested more than {MAX_NESTING} levels deep")]
                    )  # fmt: skip
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None, None
            _check_duplicate_keys(root, source)
            return root, loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:  # carries a character offset, not a line
        line = text.count("\n", 0, exc.position) + 1
        message = f"invalid YAML: character #x{exc.character:04x} is not allowed in YAML text"
        raise ScenarioError([Problem(source, line, "", message)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        msg = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise ScenarioError([Problem(source, line, "", f"invalid YAML: {msg}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(source, None, "", f"invalid YAML: {exc}")]) from None


def _check_duplicate_keys(node: yaml.Node, source: str) -> None:
    problems = []
    stack: list[tuple[yaml.Node, str]] = [(node, "")]
    while stack:
        current, path = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in current.value:
                name = str(key.value)
                child = f"{path}.{name}" if path else name
                if key.tag != "tag:yaml.org,2002:str":  # e.g. `~:`, `3:`, `2020-01-01:`
                    problems.append(
                        Problem(source, key.start_mark.line + 1, child,
                                "field names must be text (quote it if you mean it)")
                    )  # fmt: skip
                elif name in seen:
                    problems.append(
                        Problem(source, key.start_mark.line + 1, child, "duplicate key")
                    )
                seen.add(name)
                stack.append((value, child))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((v, f"{path}.{i}") for i, v in enumerate(current.value))
    if problems:
        raise ScenarioError(sorted(problems, key=lambda p: p.line or 0))


def _locate(error: dict, root: yaml.Node | None, data: Any, source: str) -> Problem:
    """Turn one pydantic error into ``FILE:LINE: field.path: message``."""
    loc = _field_loc(error["loc"], data)
    message = error["msg"]
    match = _PATH_PREFIX.match(message)
    if match:  # a cross-field check that names its own field path
        loc = [int(p) if p.isdigit() else p for p in match.group(1).split(".")]
        message = match.group(2)
    elif error["type"] == "extra_forbidden":
        message = _unknown_field_message(loc)
    elif error["type"] == "missing":
        message = "is required"
    else:
        message = message.removeprefix("Value error, ")
    line = _line_of(root, loc)
    return Problem(source, line, ".".join(str(p) for p in loc), message)


def _field_loc(loc: tuple[str | int, ...], data: Any) -> list[str | int]:
    """``loc`` without the union members pydantic inserts; a key present in the data is a field
    even when it looks like a member (a user may write ``float:`` or ``x[:``)."""
    out: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        elif _is_union_tag(part):
            continue
        else:
            node = None
        out.append(part)
    return out


def _is_union_tag(part: str | int) -> bool:
    # pydantic puts the union member it tried into loc (e.g. "float", "tuple[float, float]").
    return isinstance(part, str) and (
        "[" in part
        or part in {"float", "int", "str", "bool", "list", "dict"}
        or part.startswith("function-")
    )


def _unknown_field_message(loc: list[str | int]) -> str:
    name = str(loc[-1])
    model: type[BaseModel] | None = Scenario
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        model = _model_of(field.annotation) if field else None
    if model is None:
        return "unknown field"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown field{hint}; allowed: {', '.join(allowed)}"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _line_of(root: yaml.Node | None, loc: list[str | int]) -> int | None:
    """Line of the deepest node along ``loc`` that exists in the file (1-based)."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario format, for editor completion and validation."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "aign scenario"
    return schema
