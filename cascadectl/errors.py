"""One base exception for expected failures; each carries the exit code the CLI uses."""
from __future__ import annotations

from typing import Any, Mapping


class CascadeError(Exception):
    """An expected failure, with a message written for the user."""

    exit_code = 2


class UsageError(CascadeError):
    """Bad command-line input or bad input file (exit 2)."""


class ConfigError(CascadeError):
    """An invalid cascade file, evalset or tool definition (exit 2)."""


class MissingAPIKeyError(ConfigError):
    def __init__(self, variable: str, tier: str) -> None:
        super().__init__(
            f"tier {tier!r}: environment variable {variable} is not set "
            f"(it must hold the API key; export {variable}=...)"
        )
        self.variable = variable


class ProviderError(CascadeError):
    """A model call failed. `kind` classifies it; `started` says output had begun.

    kind is one of: rate_limit, overloaded, server, auth, bad_request, not_found,
    timeout, stall, connection, protocol, api_error, cancelled.
    """

    exit_code = 1
    retryable_kinds = frozenset({"rate_limit", "overloaded", "server", "timeout", "connection"})

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        status: int | None = None,
        retry_after: float | None = None,
        started: bool = False,
        provider: str = "",
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.started = started
        self.provider = provider

    @property
    def retryable(self) -> bool:
        return not self.started and self.kind in self.retryable_kinds

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ProviderError:
        """The error as `to_dict()` recorded it (a replay re-raises recorded failures)."""
        return cls(
            str(raw.get("message") or ""), kind=str(raw.get("kind") or "api_error"), status=raw.get("status"),
            retry_after=raw.get("retry_after"), started=bool(raw.get("started")), provider=str(raw.get("provider") or ""),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "message": str(self),
            "status": self.status,
            "retry_after": self.retry_after,
            "started": self.started,
            "provider": self.provider,
        }


class NotReplayableError(CascadeError):
    """A recorded query cannot be replayed under the config at hand: the trace lacks a
    call the config makes (say, a tier the recorded run never reached), with the reason."""


class AllTiersFailedError(CascadeError):
    """Every tier failed for a query; `run()` raises this (exit 1)."""

    exit_code = 1

    def __init__(self, message: str, errors: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.errors = errors


class GateFailedError(CascadeError):
    exit_code = 1
