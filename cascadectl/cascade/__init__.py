from __future__ import annotations

from cascadectl.cascade.agent import CascadeAgent, ModelConfig, StreamingManager
from cascadectl.cascade.result import CascadeResult

__all__ = ["CascadeAgent", "CascadeResult", "ModelConfig", "StreamingManager"]
