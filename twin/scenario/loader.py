"""The one scenario loader: YAML text -> validated :class:`Scenario`, errors with file and line.

YAML goes through PyYAML's safe loader only. Anchors/aliases are refused (they let a small
file expand into a huge document), as are duplicate keys (YAML would silently keep the last),
keys that are not text (``~:``, ``3:``, merge keys ``<<:``), nesting deeper than
:data:`MAX_NESTING` (PyYAML's composer recurses once per level), documents of more than
:data:`MAX_NODES` values, tags other than the plain ones (``!!binary``, ``!!set``, dates) and
values their tag cannot hold (``!!int 3.5``), each with its line. Files are read through the
one input boundary (:func:`twin.core.files.read_text_bounded`). At most :data:`MAX_PROBLEMS`
problems are reported, each located in constant time, so a file of 40,000 unknown keys is
refused as fast as one with a single typo.
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
from twin.core.files import read_text_bounded
from twin.scenario.schema import Scenario

MAX_SCENARIO_BYTES = 2_000_000
MAX_NESTING = 32  # a scenario nests 4 deep (channel.gains rows); PyYAML recurses per level
MAX_NODES = 400_000  # values in one document (100,000 listed users take 300,000)
MAX_PROBLEMS = 50  # problems reported; the rest are counted
MAX_INT_DIGITS = 30


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (libyaml's when present: 10x faster), with YAML 1.2's plain exponent
    numbers: ``1.0e6`` and ``1e6`` are floats (YAML 1.1 reads them as text, which the strict
    schema would refuse). Quoted scalars stay text."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
_LOADER = _Loader
_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null",
                                                  "seq", "map")}  # fmt: skip
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
    if not path.exists() and not path.is_symlink():
        message = f"cannot read file: No such file or directory (shipped scenarios: " \
                  f"{', '.join(shipped_scenarios())})"  # fmt: skip
        raise ScenarioError([Problem(source, None, "", message)])
    try:
        text = read_text_bounded(path, MAX_SCENARIO_BYTES, ScenarioError, "scenario file")
    except ScenarioError as err:  # name the file as the user gave it
        raise ScenarioError([Problem(source, p.line, p.path, p.message)
                             for p in err.problems]) from None  # fmt: skip
    return parse_scenario(text, source=source)


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate scenario YAML text; raise :class:`ScenarioError` listing every problem."""
    if not isinstance(text, str):
        raise ScenarioError([Problem(source, None, "", "a scenario is YAML text, got "
                                                       f"{type(text).__name__}")])  # fmt: skip
    too_long = len(text) > MAX_SCENARIO_BYTES
    if too_long or len(text.encode("utf-8", "surrogatepass")) > MAX_SCENARIO_BYTES:
        raise ScenarioError([Problem(source, None, "", "scenario text is too large")])
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ScenarioError([Problem(source, None, "", "not valid Unicode text (lone "
                                                       "surrogates)")]) from None  # fmt: skip
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
        errors = err.errors()
        problems = [_locate(e, root, data, source) for e in errors[:MAX_PROBLEMS]]
        raise ScenarioError(_capped(problems, len(errors), source)) from None


def _compose(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """Parse once into a node tree (for line numbers) and construct plain data from it."""
    try:
        depth = nodes = 0
        for event in yaml.parse(text, Loader=_LOADER):
            nodes += isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent)
            if nodes > MAX_NODES:
                raise ScenarioError(
                    [Problem(source, event.start_mark.line + 1, "",
                             f"YAML document of more than {MAX_NODES} values; no scenario "
                             "needs so many")]
                )  # fmt: skip
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
        loader = _LOADER(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None, None
            _check_nodes(root, source)
            try:
                return root, loader.construct_document(root)
            except (ValueError, TypeError, KeyError, OverflowError, AttributeError) as exc:
                # _check_nodes constructs every tagged scalar first; this is the last resort
                raise ScenarioError(
                    [Problem(source, None, "", f"invalid YAML value: {exc}")]
                ) from None
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


def _check_nodes(node: yaml.Node, source: str) -> None:
    """Keys (text, unique), tags (plain only) and scalar values (constructible, integers of
    at most :data:`MAX_INT_DIGITS` digits) of the whole document, each problem with its line.

    One pass over the nodes; a node's field path is only spelled out for a problem."""
    problems: list[Problem] = []
    count = 0
    # (node, parent index in `trail`, key or index): paths are rebuilt only when needed
    trail: list[tuple[int, str | int]] = []
    stack: list[tuple[yaml.Node, int]] = [(node, -1)]

    def path_of(index: int) -> str:
        parts: list[str] = []
        while index >= 0:
            index, key = trail[index]
            parts.append(str(key))
        return ".".join(reversed(parts))[:200]

    def add(at: yaml.Node, index: int, message: str) -> None:
        nonlocal count
        count += 1
        if len(problems) < MAX_PROBLEMS:
            problems.append(Problem(source, at.start_mark.line + 1, path_of(index), message))

    while stack:
        current, index = stack.pop()
        if current.tag not in _PLAIN_TAGS:
            tag = current.tag.replace("tag:yaml.org,2002:", "!!")
            what = "dates are" if tag == "!!timestamp" else f"the YAML tag {tag} is"
            add(current, index, f"{what} not supported in scenarios; write a plain value "
                                "(quote it for text)")  # fmt: skip
        elif isinstance(current, yaml.ScalarNode):
            message = _scalar_problem(current)
            if message is not None:
                add(current, index, message)
        elif isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in current.value:
                name = str(key.value)
                trail.append((index, name))
                child = len(trail) - 1
                if key.tag != "tag:yaml.org,2002:str":  # e.g. `~:`, `3:`, `2020-01-01:`
                    add(key, child, "field names must be text (quote it if you mean it)")
                elif name in seen:
                    add(key, child, "duplicate key")
                seen.add(name)
                stack.append((value, child))
        elif isinstance(current, yaml.SequenceNode):
            for i, value in enumerate(current.value):
                trail.append((index, i))
                stack.append((value, len(trail) - 1))
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise ScenarioError(_capped(problems, count, source))


def _implicit(tag: str) -> re.Pattern:
    """The resolver's own pattern for plain scalars of ``tag`` (YAML 1.1 forms)."""
    for resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.values():
        for found, regexp in resolvers:
            if found == f"tag:yaml.org,2002:{tag}":
                return regexp
    raise LookupError(tag)


_IMPLICIT = {tag: _implicit(tag) for tag in ("int", "float", "bool")}
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _scalar_problem(node: yaml.ScalarNode) -> str | None:
    """Why a scalar cannot be the value its tag says (``!!int 3.5``), or None."""
    tag = node.tag.rsplit(":", 1)[-1]
    if tag in ("str", "null"):
        return None
    if tag == "int" and len(node.value.lstrip("+-").replace("_", "")) > MAX_INT_DIGITS:
        return f"an integer of more than {MAX_INT_DIGITS} digits"
    if _IMPLICIT[tag].match(node.value):  # the form the resolver gives this tag: constructible
        return None
    try:  # an explicit tag on a value of another form
        _CONSTRUCTOR.construct_object(node, deep=True)
    except (ValueError, TypeError, KeyError, OverflowError, yaml.YAMLError):
        return f"{node.value[:40]!r} is not a valid {tag}"
    finally:
        _CONSTRUCTOR.constructed_objects.clear()
    return None


def _capped(problems: list[Problem], total: int, source: str) -> list[Problem]:
    """The first :data:`MAX_PROBLEMS` problems, and how many more there were."""
    problems = problems[:MAX_PROBLEMS]
    if total > len(problems):
        problems.append(
            Problem(source, None, "", f"... and {total - len(problems)} more problems "
                                      "(fix the ones above first)")
        )  # fmt: skip
    return problems


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


def field_line(text: str, path: str) -> int | None:
    """Line (1-based) of the dotted field ``path`` in scenario YAML ``text``, or of its deepest
    ancestor written there; ``None`` when the text does not parse. For problems found after
    validation (names resolved at run time) to be located like the schema's own."""
    try:
        root, _ = _compose(text, "<scenario>")
    except ScenarioError:
        return None
    return _line_of(root, [int(p) if p.isdigit() else p for p in path.split(".")])


def parse_scalar(token: str) -> Any:
    """One value as a scenario file would read it (``20``, ``1.0e6``, ``true``, ``wmmse``);
    text that is not a plain YAML value (a tag it cannot hold, a syntax error) stays text."""
    if len(token) > 1000 or "!" in token or "&" in token or "*" in token:
        return token
    try:
        return yaml.load(token, Loader=_Loader)  # noqa: S506 (the safe loader)
    except (yaml.YAMLError, ValueError, TypeError, KeyError, OverflowError):
        return token


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario format, for editor completion and validation."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "aign scenario"
    return schema
