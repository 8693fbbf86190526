"""Checks the schema cannot express: names that must exist or be unique,
regular expressions that must compile, options that belong to one validator type.

They run even when the schema found problems, so a user sees every problem at
once; that is why every access here checks the type it expects first.
"""
from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from cascadectl.config.issues import WARNING, Finding, JsonPath
from cascadectl.config.messages import Context, suggest
from cascadectl.config.schema import schema_problems

# Options each validator type takes besides `type` and `weight`.
VALIDATOR_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "non_empty": (),
    "refusal": (),
    "format": ("regex", "json_schema"),
    "tool_calls": (),
    "confidence": (),
    "hedging": (),
    "length": ("min_chars", "max_chars"),
    "alignment": (),
    "likelihood": ("tier", "stat", "read_above", "read_below"),
    "judge": ("tier", "prompt"),
}
_COMMON_OPTIONS = ("type", "weight")
_JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")


def semantic_findings(data: Mapping[str, Any], ctx: Context) -> list[Finding]:
    tiers = _tier_names(data)
    findings = list(_tier_problems(data, ctx))
    findings += _routing_problems(_section(data, "routing"), tiers, ctx)
    findings += _validator_problems(_section(data, "quality"), tiers, ctx)
    findings += _tier_threshold_problems(_section(data, "quality"), tiers, ctx)
    findings += _tool_problems(data, ctx)
    return findings


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _mappings(value: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    items = value if isinstance(value, list) else []
    return ((i, item) for i, item in enumerate(items) if isinstance(item, dict))


def _tier_names(data: Mapping[str, Any]) -> list[str]:
    return [t["name"] for _, t in _mappings(data.get("tiers")) if isinstance(t.get("name"), str)]


def _tier_problems(data: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    first: dict[str, int] = {}
    for i, tier in _mappings(data.get("tiers")):
        name, path = tier.get("name"), ("tiers", i, "name")
        if isinstance(name, str) and name in first:
            yield Finding(path, f"duplicate tier name {ctx.got(path, name)} (also tiers[{first[name]}])")
        elif isinstance(name, str):
            first[name] = i
    if isinstance(data.get("tiers"), list) and len(data["tiers"]) == 1:
        message = "only one tier: every query goes to it and nothing is cascaded; add a cheaper or stronger tier"
        yield Finding(("tiers",), message, severity=WARNING)


def _unknown_tier(path: JsonPath, name: Any, tiers: list[str], ctx: Context) -> Iterator[Finding]:
    if not isinstance(name, str) or name in tiers:
        return
    guess = None if ctx.hidden(path) else suggest(name, tiers)
    known = ", ".join(dict.fromkeys(tiers)) or "none"
    hint = f"did you mean {guess!r}?" if guess else f"tiers: {known}"
    yield Finding(path, f"unknown tier {ctx.got(path, name)} ({hint})")


def _routing_problems(routing: Mapping[str, Any], tiers: list[str], ctx: Context) -> Iterator[Finding]:
    yield from _unknown_tier(("routing", "direct_tier"), routing.get("direct_tier"), tiers, ctx)
    for i, rule in _mappings(routing.get("rules")):
        path = ("routing", "rules", i)
        yield from _unknown_tier(path + ("tier",), rule.get("tier"), tiers, ctx)
        yield from _regex_problems(path + ("query_regex",), rule.get("query_regex"))
        if "tier" in rule and rule.get("route") == "cascade":
            yield Finding(path, "'tier' applies only to route: direct (a cascade starts at the first tier)", key="tier")


def _regex_problems(path: JsonPath, pattern: Any) -> Iterator[Finding]:
    if not isinstance(pattern, str):
        return
    try:
        re.compile(pattern)
    except re.error as exc:
        yield Finding(path, f"invalid regular expression: {exc.msg} at position {exc.pos}")


def _tier_threshold_problems(quality: Mapping[str, Any], tiers: list[str], ctx: Context) -> Iterator[Finding]:
    per_tier = quality.get("tier_thresholds")
    if isinstance(per_tier, Mapping):
        for name in per_tier:
            if name not in tiers:
                yield Finding(("quality", "tier_thresholds"), f"unknown tier {name!r} (tiers: {', '.join(tiers)})", key=str(name))


def _validator_problems(quality: Mapping[str, Any], tiers: list[str], ctx: Context) -> Iterator[Finding]:
    for i, spec in _mappings(quality.get("validators")):
        path: JsonPath = ("quality", "validators", i)
        kind = spec.get("type")
        if not isinstance(kind, str) or kind not in VALIDATOR_OPTIONS:
            continue  # the schema reports it
        yield from _option_problems(path, kind, spec)
        yield from _regex_problems(path + ("regex",), spec.get("regex"))
        yield from _json_schema_problems(path + ("json_schema",), spec.get("json_schema"), ctx)
        yield from _unknown_tier(path + ("tier",), spec.get("tier"), tiers, ctx)


def _option_problems(path: JsonPath, kind: str, spec: Mapping[str, Any]) -> Iterator[Finding]:
    allowed = VALIDATOR_OPTIONS[kind]
    for key in spec:
        if key not in allowed and key not in _COMMON_OPTIONS:
            takes = f"its options: {', '.join(allowed)}" if allowed else "it takes only 'weight'"
            yield Finding(path, f"{key!r} does not apply to a {kind!r} validator ({takes})", key=key)
    if kind == "format" and ("regex" in spec) == ("json_schema" in spec):
        yield Finding(path, "a 'format' validator needs exactly one of 'regex' or 'json_schema'")
    low, high = spec.get("min_chars"), spec.get("max_chars")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        yield Finding(path + ("max_chars",), f"expected max_chars >= min_chars ({low}), got {high}")


def _json_schema_problems(path: JsonPath, schema: Any, ctx: Context) -> Iterator[Finding]:
    if not isinstance(schema, dict):
        return
    for error in schema_problems(schema):
        where = path + tuple(error.absolute_path)
        detail = "" if ctx.hides_inside(path) else f": {_schema_detail(error)}"
        yield Finding(where, f"not a valid JSON Schema{detail}")


def _schema_detail(error: Any) -> str:
    # The meta-schema's own wording for a mistyped type name is unhelpful.
    value, where = error.instance, tuple(error.absolute_path)
    if not (where and where[-1] == "type" and isinstance(value, str)):
        return str(error.message)
    guess = suggest(value, _JSON_TYPES)
    hint = f"did you mean {guess!r}?" if guess else f"expected one of: {', '.join(_JSON_TYPES)}"
    return f"unknown type {value!r} ({hint})"


def _tool_problems(data: Mapping[str, Any], ctx: Context) -> Iterator[Finding]:
    first: dict[str, int] = {}
    for i, tool in _mappings(data.get("tools")):
        name_path, params_path = _tool_paths(i, tool)
        params = _get(data, params_path)
        if isinstance(params, dict) and params.get("type") == "object":  # else the schema says so
            yield from _json_schema_problems(params_path, params, ctx)
        name = _get(data, name_path)
        if isinstance(name, str) and name in first:
            yield Finding(name_path, f"duplicate tool name {ctx.got(name_path, name)} (also tools[{first[name]}])")
        elif isinstance(name, str):
            first[name] = i


def _tool_paths(i: int, tool: Mapping[str, Any]) -> tuple[JsonPath, JsonPath]:
    """Where the name and the parameter schema sit in each accepted tool shape."""
    if "function" in tool:
        return ("tools", i, "function", "name"), ("tools", i, "function", "parameters")
    if "input_schema" in tool:
        return ("tools", i, "name"), ("tools", i, "input_schema")
    return ("tools", i, "name"), ("tools", i, "parameters")


def _get(data: Any, path: JsonPath) -> Any:
    for part in path:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data
