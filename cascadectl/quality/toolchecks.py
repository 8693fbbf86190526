"""Hard checks on a draft's tool calls: offered tool, complete arguments valid
against the tool's JSON Schema, and a tool call when tool_choice requires one."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Mapping

from cascadectl.quality.checks import CheckResult, Options
from cascadectl.quality.draft import Draft, DecisionContext, DraftToolCall


def tool_calls(draft: Draft, ctx: DecisionContext, opts: Options) -> CheckResult:
    problem = _choice_problem(draft, ctx) or _first_call_problem(draft, ctx) or _repeat_problem(draft, ctx)
    value = problem or f"{len(draft.tool_calls)} valid call(s)"
    return CheckResult("tool_calls", "hard", problem is None, None, value)


def _choice_problem(draft: Draft, ctx: DecisionContext) -> str | None:
    mode = getattr(ctx.tool_choice, "mode", None)
    name = getattr(ctx.tool_choice, "name", None)
    if mode in ("required", "function") and not draft.tool_calls:
        return "answered in prose but tool_choice requires a tool call"
    if mode == "function" and any(call.name != name for call in draft.tool_calls):
        return f"tool_choice requires {name!r}"
    if mode == "none" and draft.tool_calls:
        return "called a tool although tool_choice is 'none'"
    return None


def _first_call_problem(draft: Draft, ctx: DecisionContext) -> str | None:
    for call in draft.tool_calls:
        problem = _call_problem(call, ctx.tools)
        if problem:
            return f"{call.name or '<unnamed>'}: {problem}"
    return None


def call_key(name: Any, arguments: Any) -> str:
    """One call's identity across steps: its name and arguments, keys sorted."""
    from cascadectl.tools.canned import canonical

    return canonical([name, arguments])


def _repeat_problem(draft: Draft, ctx: DecisionContext) -> str | None:
    """In the tool loop, a call the earlier steps already made, with the same arguments,
    brings nothing new: a drafter that loops on it is escalated."""
    for call in draft.tool_calls:
        if ctx.made_calls and call_key(call.name, call.arguments) in ctx.made_calls:
            args = json.dumps(call.arguments, sort_keys=True, ensure_ascii=False)
            return f"repeats {call.name}({args}), already called in an earlier step (its result is in the conversation)"
    return None


def _call_problem(call: DraftToolCall, tools: Mapping[str, Mapping[str, Any]]) -> str | None:
    if call.name not in tools:
        offered = ", ".join(sorted(tools)) or "none"
        return f"unknown tool (offered: {offered})"
    if not call.complete:
        return f"arguments incomplete ({call.parse_error or 'stream ended mid-JSON'})"
    if not isinstance(call.arguments, dict):
        return f"arguments must be a JSON object, got {type(call.arguments).__name__}"
    return schema_problem(tools[call.name], call.arguments)


def schema_problem(schema: Mapping[str, Any], value: Any) -> str | None:
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    first = errors[0]
    where = ".".join(str(p) for p in first.absolute_path) or "arguments"
    return f"{where}: {first.message}"


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(schema_json))
