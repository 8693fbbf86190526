"""The engine: routing, drafting, deciding, switching, accounting."""
from __future__ import annotations

from cascadectl._lazy import lazy_getattr

_LAZY = {
    "CascadeAgent": "cascadectl.cascade.agent",
    "ModelConfig": "cascadectl.cascade.agent",
    "StreamingManager": "cascadectl.cascade.agent",
    "CascadeResult": "cascadectl.cascade.result",
}
__all__ = list(_LAZY)


# Lazy: `cascadectl validate` imports cascade.preflight without the engine.
__getattr__ = lazy_getattr(__name__, _LAZY)
