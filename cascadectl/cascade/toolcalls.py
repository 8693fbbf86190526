"""Assembles streamed tool-call fragments into calls, one incremental JSON parser per call."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cascadectl.streaming.deltas import ToolCallDelta
from cascadectl.quality.draft import DraftToolCall
from cascadectl.tools.jsonstream import IncrementalJSONParser, JSONStreamError


@dataclass
class _Slot:
    index: int
    id: str
    name: str
    parser: IncrementalJSONParser = field(default_factory=IncrementalJSONParser)
    raw: list[str] = field(default_factory=list)
    error: str | None = None
    announced_complete: bool = False

    def feed(self, fragment: str) -> None:
        self.raw.append(fragment)
        if self.error is None and fragment:
            try:
                self.parser.feed(fragment)
            except JSONStreamError as exc:
                self.error = f"invalid JSON: {exc}"

    @property
    def complete(self) -> bool:
        return self.error is None and self.parser.complete

    def partial(self) -> Any:
        return self.parser.value

    def as_call(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.parser.value}

    def as_draft(self) -> DraftToolCall:
        raw = "".join(self.raw)
        if not raw.strip() and self.error is None:
            # Some servers send no argument text at all for a tool without parameters.
            return DraftToolCall(self.id, self.name, {}, raw, True)
        error = self.error or (None if self.parser.complete else "arguments cut off mid-JSON")
        return DraftToolCall(self.id, self.name, self.parser.value, raw, error is None, error)


class ToolCallAssembler:
    """Feed ToolCallDeltas; `feed` returns (slot, started) so the engine can emit
    TOOL_CALL_START / TOOL_CALL_DELTA / TOOL_CALL_COMPLETE."""

    def __init__(self) -> None:
        self.slots: dict[int, _Slot] = {}

    def feed(self, delta: ToolCallDelta) -> tuple[_Slot, bool]:
        slot = self.slots.get(delta.index)
        started = slot is None
        if slot is None:
            slot = _Slot(delta.index, delta.id or f"call_{delta.index}", delta.name or "")
            self.slots[delta.index] = slot
        elif delta.name and not slot.name:
            slot.name = delta.name
        slot.feed(delta.arguments)
        return slot, started

    def drafts(self) -> list[DraftToolCall]:
        return [slot.as_draft() for slot in self.slots.values()]

    def pending_complete(self) -> list[dict[str, Any]]:
        """At the end of the stream: complete calls not yet announced, as call dicts."""
        calls = []
        for slot in self.slots.values():
            draft = slot.as_draft()
            if not slot.announced_complete and draft.complete:
                slot.announced_complete = True
                calls.append({"id": draft.id, "name": draft.name, "arguments": draft.arguments})
        return calls
