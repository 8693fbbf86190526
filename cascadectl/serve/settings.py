"""What the server is given: cascades, limits, keys and where traces go. No web
imports here, so the CLI can check everything before starlette or uvicorn load."""
from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from cascadectl.errors import UsageError

if TYPE_CHECKING:
    from cascadectl.cascade.agent import CascadeAgent
    from cascadectl.traces.writer import TraceWriter

SETTINGS_ENV = "CASCADECTL_SERVE_SETTINGS"  # how `--workers N` hands the settings to each worker
DEFAULT_MAX_BODY = 1 << 20
# Trace lines are written in batches this often, off the requests' path (traces/writer.py);
# a SIGTERM writes what is left, a SIGKILL loses at most this much.
TRACE_FLUSH_INTERVAL = 0.05


@dataclass(frozen=True)
class ServeSettings:
    cascades: tuple[str, ...]
    api_key_env: str | None = None
    max_concurrency: int = 32
    max_body_bytes: int = DEFAULT_MAX_BODY
    trace_dir: str | None = None
    live_drafts: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        raw = json.loads(text)
        return cls(**{**raw, "cascades": tuple(raw["cascades"])})


def load_agents(paths: Sequence[str]) -> dict[str, CascadeAgent]:
    """One agent per cascade file, by the cascade's name (the model clients ask for)."""
    from cascadectl.cascade.agent import CascadeAgent

    if not paths:
        raise UsageError("give at least one cascade file")
    agents: dict[str, CascadeAgent] = {}
    for path in paths:
        agent = CascadeAgent.from_yaml(path)
        name = agent.config.name
        if name in agents:
            raise UsageError(f"{path}: cascade name {name!r} is also the name of {agents[name].config.source}; "
                             "each served cascade needs its own `name:` (clients pick one by it)")
        agents[name] = agent
    return agents


def client_key(settings: ServeSettings, agents: Mapping[str, CascadeAgent]) -> str | None:
    """The key clients must send, read from the variable --api-key-env names."""
    variable = settings.api_key_env
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise UsageError(f"--api-key-env {variable}: the environment variable {variable} is not set "
                         f"(export {variable}=<the key clients must send as 'Authorization: Bearer ...'>)")
    _refuse_upstream_key(variable, agents)
    return value


def _refuse_upstream_key(variable: str, agents: Mapping[str, CascadeAgent]) -> None:
    # Clients would hold the upstream provider's key: never what anyone wants.
    from cascadectl.providers.http.credentials import key_env

    for agent in agents.values():
        for tier in agent.config.tiers:
            if key_env(tier) == variable:
                raise UsageError(f"--api-key-env {variable}: that variable holds tier {tier.name!r}'s upstream API key; "
                                 "give clients a key of their own in another variable")


def trace_writer(trace_dir: str | None) -> TraceWriter | None:
    """This worker process's own trace file, so workers and replicas never share one."""
    if trace_dir is None:
        return None
    from cascadectl.traces.writer import TraceWriter

    return TraceWriter(Path(trace_dir) / trace_file_name(), flush_interval=TRACE_FLUSH_INTERVAL)


def trace_file_name() -> str:
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
    return f"serve-{host}-{os.getpid()}.jsonl"
