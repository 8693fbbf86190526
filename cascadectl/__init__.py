"""cascadectl: model cascades for LLMs."""
from __future__ import annotations

from cascadectl._lazy import lazy_getattr

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


# Lazy so that `cascadectl --help` does not import the engine.
__getattr__ = lazy_getattr(__name__, _LAZY)
