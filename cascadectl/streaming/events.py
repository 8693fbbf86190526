"""Stream events: the names of the streaming guide our users follow.

Events are plain data: `to_dict()` gives the dict a trace line carries and
`from_dict()` reads it back.
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Mapping


class StreamEventType(str, Enum):
    ROUTING = "routing"
    CHUNK = "chunk"
    DRAFT_DECISION = "draft_decision"
    SWITCH = "switch"
    COMPLETE = "complete"
    ERROR = "error"


class ToolStreamEventType(str, Enum):
    ROUTING = "routing"
    TEXT_CHUNK = "text_chunk"
    TOOL_CALL_START = "tool_call_start"
    TOOL_CALL_DELTA = "tool_call_delta"
    TOOL_CALL_COMPLETE = "tool_call_complete"
    TOOL_EXECUTING = "tool_executing"  # the tool loop: a call of the accepted answer starts running
    TOOL_RESULT = "tool_result"  # ... and returned; its result goes back to the model
    TOOL_ERROR = "tool_error"  # ... or failed (raised, timed out, invalid arguments); the model is told
    DRAFT_DECISION = "draft_decision"
    SWITCH = "switch"
    COMPLETE = "complete"
    ERROR = "error"


PHASES = ("draft", "verify", "direct")
_EMPTY: Mapping[str, Any] = {}


class StreamEvent:
    """type, content (text for chunks), data, the model and phase it belongs to, and
    its step: 0, or in the tool loop the index of the model call it belongs to."""

    __slots__ = ("type", "content", "data", "model", "phase", "step")

    def __init__(
        self,
        type: StreamEventType,
        content: str = "",
        data: dict[str, Any] | None = None,
        model: str | None = None,
        phase: str | None = None,
        step: int = 0,
    ) -> None:
        self.type = type
        self.content = content
        self.data = data if data is not None else {}
        self.model = model
        self.phase = phase
        self.step = step

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(type={self.type.name}, content={self.content!r}, "
            f"model={self.model!r}, phase={self.phase!r}, step={self.step}, data={self.data!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StreamEvent):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type._value_,
            "content": self.content,
            "model": self.model,
            "phase": self.phase,
            "step": self.step,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> StreamEvent:
        return cls(
            StreamEventType(raw["type"]),
            raw.get("content", ""),
            dict(raw.get("data") or {}),
            raw.get("model"),
            raw.get("phase"),
            int(raw.get("step") or 0),
        )


class ToolStreamEvent(StreamEvent):
    """A tool-stream event; `delta` is the raw argument fragment of TOOL_CALL_DELTA."""

    __slots__ = ("delta",)

    def __init__(
        self,
        type: ToolStreamEventType,  # type: ignore[override]
        content: str = "",
        data: dict[str, Any] | None = None,
        model: str | None = None,
        phase: str | None = None,
        delta: str | None = None,
        step: int = 0,
    ) -> None:
        super().__init__(type, content, data, model, phase, step)  # type: ignore[arg-type]
        self.delta = delta

    @property
    def tool_call(self) -> dict[str, Any] | None:
        return self.data.get("tool_call")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.delta is not None:
            out["delta"] = self.delta
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ToolStreamEvent:
        return cls(
            ToolStreamEventType(raw["type"]),
            raw.get("content", ""),
            dict(raw.get("data") or {}),
            raw.get("model"),
            raw.get("phase"),
            raw.get("delta"),
            int(raw.get("step") or 0),
        )
