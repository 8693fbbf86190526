"""The universal tool format {name, description, parameters} and tool_choice.

Users paste tools in whatever shape their last SDK used. The OpenAI-wrapped
form and Anthropic's `input_schema` form are accepted with a one-line notice;
anything else is refused with the tool's index and the field to fix.
Conversion to each provider's wire shape lives in the provider modules.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from cascadectl.errors import ConfigError

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UNIVERSAL_FIELDS = ("name", "description", "parameters")
_GOOD_SCHEMAS: set[str] = set()
_CHOICE_MODES = {"auto": "auto", "required": "required", "any": "required", "none": "none"}


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": copy.deepcopy(dict(self.parameters))}


@dataclass(frozen=True)
class ToolChoice:
    """mode is auto | required | none | function (then `name` says which)."""

    mode: str
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "name": self.name}


def normalize_tools(tools: Sequence[Any] | None, *, source: str = "tools") -> tuple[tuple[ToolSpec, ...], list[str]]:
    """Specs in universal form plus one notice per tool that had to be converted."""
    if tools is None:
        return (), []
    if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
        raise ConfigError(f"{source}: expected a list of tools, got {_kind(tools)}")
    specs: list[ToolSpec] = []
    notices: list[str] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(tools):
        spec, notice = _normalize_one(raw, f"{source}[{index}]")
        if spec.name in seen:
            raise ConfigError(f"{source}[{index}] {spec.name!r}: duplicate name (also {source}[{seen[spec.name]}])")
        seen[spec.name] = index
        specs.append(spec)
        if notice:
            notices.append(notice)
    return tuple(specs), notices


def _normalize_one(raw: Any, where: str) -> tuple[ToolSpec, str | None]:
    if isinstance(raw, ToolSpec):
        return raw, None
    if hasattr(raw, "to_spec"):  # a ToolConfig; spec.py must not import executor code
        return raw.to_spec(), None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping with name, description, parameters, got {_kind(raw)}")
    fields, form = _unwrap(raw, where)
    spec = _build(fields, where)
    if form is None:
        return spec, None
    return spec, f"{where} {spec.name!r}: {form} normalised to universal {{name, description, parameters}}"


def _unwrap(raw: Mapping[str, Any], where: str) -> tuple[dict[str, Any], str | None]:
    kind = raw.get("type")
    if kind == "function" and "function" in raw:
        return _openai_wrapped(raw, where), "OpenAI-wrapped form"
    if kind == "function":
        return _without(raw, "type"), "OpenAI Responses form"
    if kind is not None:
        raise ConfigError(
            f"{where}{_label(raw)}: unsupported tool type {kind!r}; only function tools are supported "
            "(use {name, description, parameters})"
        )
    if "input_schema" in raw:
        if "parameters" in raw:
            raise ConfigError(f"{where}{_label(raw)}: has both 'parameters' and 'input_schema'; keep one")
        fields = _without(raw, "input_schema")
        fields["parameters"] = raw["input_schema"]
        return fields, "Anthropic input_schema form"
    return dict(raw), None


def _openai_wrapped(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    extra = sorted(set(raw) - {"type", "function"})
    if extra:
        raise ConfigError(f"{where}: unknown field {extra[0]!r} beside 'function' in the OpenAI-wrapped form")
    inner = raw["function"]
    if not isinstance(inner, Mapping):
        raise ConfigError(f"{where}: 'function' must be a mapping with name, description, parameters, got {_kind(inner)}")
    return dict(inner)


def _build(fields: dict[str, Any], where: str) -> ToolSpec:
    name = _check_name(fields, where)
    label = f"{where} {name!r}"
    unknown = sorted(set(fields) - set(_UNIVERSAL_FIELDS))
    if unknown:
        raise ConfigError(f"{label}: unknown field {unknown[0]!r} (allowed: name, description, parameters)")
    description = fields.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{label}: 'description' must be a string, got {_kind(description)}")
    return ToolSpec(name, description, check_parameters(fields.get("parameters"), label, "parameters" in fields))


def _check_name(fields: Mapping[str, Any], where: str) -> str:
    if "name" not in fields:
        raise ConfigError(f"{where}: missing 'name'")
    return check_name(fields["name"], where)


def check_name(name: Any, where: str) -> str:
    # Both OpenAI and Anthropic refuse other names; say so before a request is made.
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: 'name' must be 1-64 letters, digits, '_' or '-', got {name!r}")
    return name


def check_parameters(parameters: Any, label: str, present: bool = True) -> dict[str, Any]:
    """A deep copy of `parameters` after checking it is an object JSON Schema."""
    if not present:
        raise ConfigError(
            f"{label}: missing 'parameters' (a JSON Schema with type 'object'; "
            "use {type: object, properties: {}} for a tool without arguments)"
        )
    if not isinstance(parameters, Mapping):
        raise ConfigError(f"{label}: parameters must be a JSON Schema object with type 'object', got {_kind(parameters)}")
    kind = parameters.get("type")
    if kind != "object":
        got = "no 'type'" if kind is None else repr(kind)
        hint = "; did you mean {type: object, properties: {...}}?" if kind is None else ""
        raise ConfigError(f"{label}: parameters must be a JSON Schema object with type 'object', got {got}{hint}")
    _check_schema(parameters, label)
    return copy.deepcopy(dict(parameters))


def _check_schema(schema: Mapping[str, Any], label: str) -> None:
    # Checking against the metaschema costs milliseconds and providers
    # normalise the same tools on every request: remember the good ones.
    key = json.dumps(schema, sort_keys=True, default=repr)
    if key in _GOOD_SCHEMAS:
        return
    from jsonschema import SchemaError, validators  # lazy: keeps `import cascadectl.tools` light

    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.absolute_path) or "(top)"
        raise ConfigError(f"{label}: parameters is not a valid JSON Schema at {path}: {exc.message}") from None
    if len(_GOOD_SCHEMAS) >= 1024:
        _GOOD_SCHEMAS.clear()
    _GOOD_SCHEMAS.add(key)


def normalize_tool_choice(choice: Any, tools: Iterable[Any] | None = None) -> ToolChoice | None:
    """None means 'not set' (the provider's default, which is auto)."""
    if choice is None:
        return None
    names = _tool_names(tools)
    result = _parse_choice(choice)
    if result.mode in ("required", "function") and not names:
        raise ConfigError(f"tool_choice {_show_choice(result)} needs at least one tool, but none were given")
    if result.mode == "function" and result.name not in names:
        offered = ", ".join(sorted(names))
        raise ConfigError(f"tool_choice: no tool named {result.name!r} (offered: {offered})")
    return result


def _parse_choice(choice: Any) -> ToolChoice:
    if isinstance(choice, ToolChoice):
        return choice
    if isinstance(choice, str):
        mode = _CHOICE_MODES.get(choice)
        return ToolChoice(mode) if mode else ToolChoice("function", choice)
    if isinstance(choice, Mapping):
        return _parse_choice_mapping(choice)
    raise ConfigError(f"tool_choice: expected a string or a mapping, got {_kind(choice)}")


def _parse_choice_mapping(choice: Mapping[str, Any]) -> ToolChoice:
    kind = choice.get("type", choice.get("mode"))
    name = choice.get("name")
    if kind == "function" and isinstance(choice.get("function"), Mapping):
        name = choice["function"].get("name")  # OpenAI {"type": "function", "function": {"name": ...}}
    if kind in ("function", "tool", None) and isinstance(name, str) and name:
        return ToolChoice("function", name)
    if isinstance(kind, str) and kind in _CHOICE_MODES and name is None:
        return ToolChoice(_CHOICE_MODES[kind])
    raise ConfigError(
        f"tool_choice: cannot read {dict(choice)!r}; use 'auto', 'required', 'none', a tool name, "
        '{"name": ...}, {"type": "function", "function": {"name": ...}} or {"type": "tool", "name": ...}'
    )


def _tool_names(tools: Iterable[Any] | None) -> set[str]:
    names: set[str] = set()
    for tool in tools or ():
        if isinstance(tool, str):
            names.add(tool)
        elif isinstance(tool, Mapping):
            names.add(str(tool.get("name") or (tool.get("function") or {}).get("name")))
        else:
            names.add(str(getattr(tool, "name")))
    return names


def _show_choice(choice: ToolChoice) -> str:
    return repr(choice.name) if choice.mode == "function" else repr(choice.mode)


def _label(raw: Mapping[str, Any]) -> str:
    name = raw.get("name")
    return f" {name!r}" if isinstance(name, str) else ""


def _without(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k != key}


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
