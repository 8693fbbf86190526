"""cascadectl: model cascades for LLMs."""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "CascadeAgent": "cascadectl.cascade.agent",
    "ModelConfig": "cascadectl.cascade.agent",
    "CascadeResult": "cascadectl.cascade.result",
    "StreamEvent": "cascadectl.streaming.events",
    "StreamEventType": "cascadectl.streaming.events",
    "ToolStreamEvent": "cascadectl.streaming.events",
    "ToolStreamEventType": "cascadectl.streaming.events",
    "CascadeError": "cascadectl.errors",
    "ConfigError": "cascadectl.errors",
    "ProviderError": "cascadectl.errors",
    "AllTiersFailedError": "cascadectl.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    # Lazy so that `cascadectl --help` does not import the engine.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cascadectl' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
