"""Tools: the universal tool format, incremental JSON for streamed arguments,
and ToolConfig/ToolExecutor/ToolCall/ToolCallFormat as in the streaming/tools guide.

Importing this package stays light: jsonschema is imported only when a schema
is checked or arguments are validated.
"""
from __future__ import annotations

from cascadectl.tools.call import ToolCall, ToolCallError, ToolCallFormat
from cascadectl.tools.config import ToolConfig, tool
from cascadectl.tools.executor import ToolExecutor, ToolResult
from cascadectl.tools.jsonstream import IncompleteJSONError, IncrementalJSONParser, JSONStreamError
from cascadectl.tools.spec import ToolChoice, ToolSpec, normalize_tool_choice, normalize_tools

__all__ = [
    "IncompleteJSONError",
    "IncrementalJSONParser",
    "JSONStreamError",
    "ToolCall",
    "ToolCallError",
    "ToolCallFormat",
    "ToolChoice",
    "ToolConfig",
    "ToolExecutor",
    "ToolResult",
    "ToolSpec",
    "normalize_tool_choice",
    "normalize_tools",
    "tool",
]
