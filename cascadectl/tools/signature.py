"""A JSON Schema for a typed Python function's keyword arguments."""
from __future__ import annotations

import collections.abc as abc
import inspect
import json
import re
import types
import typing
from typing import Any, Callable, Literal, Union

from cascadectl.errors import ConfigError

_SIMPLE: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
_ARRAYS = (list, set, frozenset, abc.Sequence, abc.Set, abc.Iterable)
_OBJECTS = (dict, abc.Mapping)
_SUPPORTED = "str, int, float, bool, list[X], tuple[X, ...], dict[str, X], X | None, Literal[...], Any"
_ARG_HEADERS = re.compile(r"^(Args|Arguments|Parameters|Params):\s*$")
_SPHINX_PARAM = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+):\s*(.*)$")
_GOOGLE_PARAM = re.compile(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def function_schema(fn: Callable[..., Any]) -> tuple[str, dict[str, Any]]:
    """(description, parameters schema) from type hints, defaults and docstring."""
    label = f"function {getattr(fn, '__name__', fn)!r}"
    hints = _hints(fn, label)
    doc = inspect.getdoc(fn) or ""
    params = _param_docs(doc)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in inspect.signature(fn).parameters.values():
        where = f"{label}, parameter {param.name!r}"
        _check_kind(param, where)
        properties[param.name] = _property(param, hints.get(param.name, Any), params.get(param.name), where)
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    # The function would reject unknown keywords anyway; say so up front.
    schema["additionalProperties"] = False
    return _summary(doc), schema


def _hints(fn: Callable[..., Any], label: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception as exc:  # unresolvable string annotations
        raise ConfigError(f"{label}: cannot resolve type hints ({exc})") from None


def _check_kind(param: inspect.Parameter, where: str) -> None:
    if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
        raise ConfigError(f"{where}: *args/**kwargs cannot be described as tool arguments")
    if param.kind is param.POSITIONAL_ONLY:
        raise ConfigError(f"{where}: positional-only parameters cannot receive tool arguments by name")


def _property(param: inspect.Parameter, hint: Any, doc: str | None, where: str) -> dict[str, Any]:
    schema = type_schema(hint, where)
    if doc:
        schema["description"] = doc
    if param.default is not inspect.Parameter.empty and _is_json(param.default):
        schema["default"] = param.default
    return schema


def type_schema(hint: Any, where: str) -> dict[str, Any]:
    if hint is Any or hint is inspect.Parameter.empty:
        return {}
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return _enum(list(args))
    if origin is Union or (hasattr(types, "UnionType") and origin is getattr(types, "UnionType")):
        return _union(args, where)
    if hint in _ARRAYS or origin in _ARRAYS or hint is tuple or origin is tuple:
        return _array(hint, origin, args, where)
    if hint in _OBJECTS or origin in _OBJECTS:
        return _object(args, where)
    raise ConfigError(f"{where}: cannot express {hint!r} as JSON Schema (supported: {_SUPPORTED})")


def _array(hint: Any, origin: Any, args: tuple[Any, ...], where: str) -> dict[str, Any]:
    if (hint is tuple or origin is tuple) and args and not (len(args) == 2 and args[1] is Ellipsis):
        raise ConfigError(f"{where}: fixed-length tuples are not supported; use list[X] or tuple[X, ...]")
    schema: dict[str, Any] = {"type": "array"}
    item = type_schema(args[0], where) if args else {}
    if item:
        schema["items"] = item
    return schema


def _object(args: tuple[Any, ...], where: str) -> dict[str, Any]:
    if args and args[0] is not str:
        raise ConfigError(f"{where}: JSON object keys are strings; use dict[str, X]")
    schema: dict[str, Any] = {"type": "object"}
    value = type_schema(args[1], where) if len(args) == 2 else {}
    if value:
        schema["additionalProperties"] = value
    return schema


def _union(args: tuple[Any, ...], where: str) -> dict[str, Any]:
    nullable = type(None) in args
    options = [type_schema(a, where) for a in args if a is not type(None)]
    if len(options) == 1 and not nullable:
        return options[0]
    if len(options) == 1 and isinstance(options[0].get("type"), str):
        return {**options[0], "type": [options[0]["type"], "null"]}
    if nullable:
        options.append({"type": "null"})
    return {"anyOf": options}


def _enum(values: list[Any]) -> dict[str, Any]:
    kinds = {_SIMPLE.get(type(v)) for v in values}
    if len(kinds) == 1 and None not in kinds:
        return {"type": kinds.pop(), "enum": values}
    return {"enum": values}


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _summary(doc: str) -> str:
    lines: list[str] = []
    for line in doc.splitlines():
        stripped = line.strip()
        if not stripped or _ARG_HEADERS.match(stripped) or stripped.startswith(":"):
            break
        lines.append(stripped)
    return " ".join(lines)


def _param_docs(doc: str) -> dict[str, str]:
    """Per-parameter text from Google-style `Args:` sections or `:param x:` lines."""
    lines = doc.splitlines()
    found: dict[str, str] = {}
    for index, line in enumerate(lines):
        stripped = line.strip()
        sphinx = _SPHINX_PARAM.match(stripped)
        if sphinx:
            found[sphinx.group(1)] = sphinx.group(2).strip()
        elif _ARG_HEADERS.match(stripped):
            found.update(_google_section(lines[index + 1 :]))
    return found


def _google_section(lines: list[str]) -> dict[str, str]:
    # Entries share the first line's indent; deeper lines continue an entry.
    found: dict[str, str] = {}
    indent, last = -1, ""
    for line in lines:
        width = len(line) - len(line.lstrip())
        if not line.strip() or width == 0 or width < indent:
            break
        indent = width if indent < 0 else indent
        entry = _GOOGLE_PARAM.match(line.strip())
        if width == indent and entry:
            last = entry.group(1)
            found[last] = entry.group(2).strip()
        elif last:
            found[last] = f"{found[last]} {line.strip()}".strip()
    return found
