"""What building an agent checks, short of credentials, kept light (no httpx,
no asyncio) so that `cascadectl validate` can run it: a file validate passes is
one an agent accepts."""
from __future__ import annotations

from typing import Any, Sequence

from cascadectl.config.model import CascadeConfig
from cascadectl.errors import ConfigError
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
    check_readers(config)


def check_readers(config: CascadeConfig) -> None:
    """A `likelihood` validator needs a reading tier whose provider can score a text it
    did not write; say which before any request."""
    from cascadectl.cascade.signals import reader_index
    from cascadectl.providers import SCORING_PROVIDERS

    for spec in config.quality.validators:
        if spec.type != "likelihood":
            continue
        for drafting in range(len(config.tiers) - 1):
            reader = config.tiers[reader_index(config, spec, drafting)]
            if reader.provider not in SCORING_PROVIDERS:
                raise ConfigError(
                    f"quality.validators: likelihood: tier {reader.name!r} (provider {reader.provider}) cannot score "
                    f"a text it did not write, which this signal needs; the reading tier must use one of: "
                    f"{', '.join(sorted(SCORING_PROVIDERS))} (set the validator's `tier`, or drop the validator)"
                )


def normalize_tools_dicts(tools: Sequence[Any]) -> tuple[dict[str, Any], ...]:
    if not tools:
        return ()
    from cascadectl.tools import normalize_tools

    specs, _notices = normalize_tools(list(tools))
    return tuple(spec.to_dict() for spec in specs)
