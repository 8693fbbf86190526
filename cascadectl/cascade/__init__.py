"""The engine: routing, drafting, deciding, switching, accounting."""
from __future__ import annotations

from typing import Any

_LAZY = {
    "CascadeAgent": "cascadectl.cascade.agent",
    "ModelConfig": "cascadectl.cascade.agent",
    "StreamingManager": "cascadectl.cascade.agent",
    "CascadeResult": "cascadectl.cascade.result",
}
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    # Lazy: `cascadectl validate` imports cascade.preflight without the engine.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cascadectl.cascade' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
