from __future__ import annotations

from cascadectl.streaming.events import (
    PHASES,
    StreamEvent,
    StreamEventType,
    ToolStreamEvent,
    ToolStreamEventType,
)

__all__ = ["PHASES", "StreamEvent", "StreamEventType", "ToolStreamEvent", "ToolStreamEventType"]
