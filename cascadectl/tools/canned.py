"""Canned tool results: a tool executor that answers from a list instead of running code.

Evalset items carry them (`tool_results`), so multi-step tool tasks are scorable
without the tools themselves; a replay reads them back from a trace's TOOL_RESULT
and TOOL_ERROR lines, so a replayed task sees what the recorded one saw. A call
gets the first entry with its name whose `arguments`, when given, equal the call's.
A call nothing matches goes to `fallback` (a ToolExecutor) if there is one, else
is a tool error the model is told, naming what was canned.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from cascadectl.tools.executor import ToolResult


class CannedTools:
    def __init__(self, entries: Sequence[Mapping[str, Any]], fallback: Any = None) -> None:
        self.entries = [dict(e) for e in entries]
        self.fallback = fallback
        self.calls: list[dict[str, Any]] = []  # every call asked for, in order

    @property
    def tools(self) -> tuple[Any, ...]:
        return tuple(getattr(self.fallback, "tools", ()) or ())

    async def execute(self, call: Mapping[str, Any]) -> ToolResult:
        call_id, name = str(call.get("id") or ""), str(call.get("name") or "")
        arguments = call.get("arguments")
        self.calls.append({"id": call_id, "name": name, "arguments": arguments})
        entry = self._match(name, arguments)
        if entry is None:
            if self.fallback is not None:
                return await self.fallback.execute(call)
            return ToolResult(call_id, name, error=self._unmatched(name, arguments))
        if entry.get("error") is not None:
            return ToolResult(call_id, name, error=str(entry["error"]))
        return ToolResult(call_id, name, entry.get("result"))

    def _match(self, name: str, arguments: Any) -> dict[str, Any] | None:
        wanted = canonical(arguments)
        for entry in self.entries:
            if entry.get("name") == name and ("arguments" not in entry or canonical(entry["arguments"]) == wanted):
                return entry
        return None

    def _unmatched(self, name: str, arguments: Any) -> str:
        canned = [f"{e.get('name')}({canonical(e['arguments']) if 'arguments' in e else 'any arguments'})" for e in self.entries]
        return f"no result for {name}({canonical(arguments)}); results exist for: {', '.join(canned) or 'nothing'}"


def canonical(value: Any) -> str:
    """JSON with sorted keys: equal arguments, equal text."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
