"""What building an agent checks, short of credentials, kept light (no httpx,
no asyncio) so that `cascadectl validate` can run it: a file validate passes is
one an agent accepts."""
from __future__ import annotations

from typing import Any, Sequence

from cascadectl.config.model import CascadeConfig
from cascadectl.quality.decision import Decider


def preflight(config: CascadeConfig) -> None:
    """Tools, validators, and each tier's provider and options; raises ConfigError."""
    normalize_tools_dicts(config.tools)
    Decider(config.quality)
    check_tiers(config)


def check_tiers(config: CascadeConfig) -> None:
    from cascadectl.providers import check_tier

    for tier in config.tiers:
        check_tier(tier)


def normalize_tools_dicts(tools: Sequence[Any]) -> tuple[dict[str, Any], ...]:
    if not tools:
        return ()
    from cascadectl.tools import normalize_tools

    specs, _notices = normalize_tools(list(tools))
    return tuple(spec.to_dict() for spec in specs)
