"""Turns JSON Schema errors on an evalset line into (field, problem) a person can act on."""
from __future__ import annotations

import difflib
import json
from typing import Any, Callable, Mapping

from cascadectl.config.issues import format_path

_TYPE_NAMES = {
    "string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
    "object": "a JSON object", "array": "a JSON array", "null": "null",
}
_ONE_OF = {
    "": "give exactly one of 'query' or 'messages'",
    "tolerance": "expected a number >= 0 (absolute) or a percentage string such as '1%' (relative)",
    "judge": "expected a tier name of the cascade, or {\"provider\": ..., \"model\": ...}",
}
_PATTERN = {
    "id": "must not be empty",
    "query": "must not be empty",
    "judge": "must not be empty",
}


def describe_schema_error(error: Any, raw: Mapping[str, Any]) -> tuple[str, str]:
    path = format_path(tuple(error.absolute_path))
    describe = _DESCRIBERS.get(error.validator, _default)
    return describe(error, path, raw)


def _required(error: Any, path: str, raw: Mapping[str, Any]) -> tuple[str, str]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    missing = [name for name in error.validator_value if name not in instance]
    name = missing[0] if missing else "?"
    return (f"{path}.{name}" if path else name), "missing (required)"


def _additional(error: Any, path: str, raw: Mapping[str, Any]) -> tuple[str, str]:
    known = sorted(error.schema.get("properties", {}))
    extra = sorted(set(error.instance) - set(known))
    name = extra[0] if extra else "?"
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
    return (f"{path}.{name}" if path else name), f"unknown field ({hint})"


def _enum(error: Any, path: str, raw: Mapping[str, Any]) -> tuple[str, str]:
    allowed = ", ".join(str(v) for v in error.validator_value)
    return path, f"expected one of {allowed}; got {json.dumps(error.instance)}"


def _type(error: Any, path: str, raw: Mapping[str, Any]) -> tuple[str, str]:
    wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
    names = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
    got = _TYPE_NAMES.get(_kind(error.instance), "something else")
    why = f" for the {raw.get('scorer')} scorer" if path == "expected" else ""
    return path, f"expected {names}{why}; got {got}"


def _one_of(error: Any, path: str, raw: Mapping[str, Any]) -> tuple[str, str]:
    if path == "expected":
        return path, f"expected a string or a number, or a list of alternatives, for the {raw.get('scorer')} scorer"
    return path, _ONE_OF.get(path, error.message)


def _pattern(error: Any, path: str, raw: Mapping[str, Any]) -> tuple[str, str]:
    if path.startswith("tags"):
        return path, f"a tag is one word without commas or spaces; got {error.instance!r}"
    return path, _PATTERN.get(path, f"does not match {error.validator_value}")


def _contains(error: Any, path: str, raw: Mapping[str, Any]) -> tuple[str, str]:
    return path, "needs at least one message with role 'user'"


def _bound(error: Any, path: str, raw: Mapping[str, Any]) -> tuple[str, str]:
    return path, f"must be at least {error.validator_value}; got {json.dumps(error.instance)}"


def _unique(error: Any, path: str, raw: Mapping[str, Any]) -> tuple[str, str]:
    return path, "repeats an entry"


def _default(error: Any, path: str, raw: Mapping[str, Any]) -> tuple[str, str]:
    return path, str(error.message)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    kinds = {str: "string", list: "array", dict: "object", type(None): "null"}
    return kinds.get(type(value), "?")


_DESCRIBERS: dict[str, Callable[[Any, str, Mapping[str, Any]], tuple[str, str]]] = {
    "required": _required,
    "additionalProperties": _additional,
    "enum": _enum,
    "type": _type,
    "oneOf": _one_of,
    "pattern": _pattern,
    "contains": _contains,
    "minimum": _bound,
    "minItems": _bound,
    "uniqueItems": _unique,
}
