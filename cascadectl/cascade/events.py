"""Event construction for one query: plain StreamEvents, or ToolStreamEvents when tools are in play."""
from __future__ import annotations

from typing import Any

from cascadectl.streaming.events import StreamEvent, StreamEventType, ToolStreamEvent, ToolStreamEventType

S, T = StreamEventType, ToolStreamEventType


class EventMaker:
    __slots__ = ("tool_mode", "cls", "routing", "chunk", "decision", "switch", "complete", "error")

    def __init__(self, tool_mode: bool) -> None:
        self.tool_mode = tool_mode
        kinds = T if tool_mode else S
        self.cls = ToolStreamEvent if tool_mode else StreamEvent
        self.routing = kinds.ROUTING
        self.chunk = T.TEXT_CHUNK if tool_mode else S.CHUNK
        self.decision = kinds.DRAFT_DECISION
        self.switch = kinds.SWITCH
        self.complete = kinds.COMPLETE
        self.error = kinds.ERROR

    def make(self, type: Any, data: dict[str, Any], model: str | None, phase: str | None) -> StreamEvent:
        return self.cls(type, "", data, model, phase)

    def text(self, text: str, model: str, phase: str) -> StreamEvent:
        return self.cls(self.chunk, text, None, model, phase)

    def tool(self, type: ToolStreamEventType, data: dict[str, Any], model: str, phase: str, delta: str | None = None) -> StreamEvent:
        return ToolStreamEvent(type, "", data, model, phase, delta)
