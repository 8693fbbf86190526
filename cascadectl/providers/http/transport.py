"""Shared HTTP machinery for the streaming providers: timeouts, retries, error
classification. (Which variable holds a tier's key is decided in credentials.py.)

Retries happen only before the first event of a body was handed out: once text
has reached the caller, retrying the call would duplicate it. Errors are
classified by HTTP status and the body's error type, never by message text.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import re
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping

import httpx

from cascadectl.config.model import TierConfig, Timeouts
from cascadectl.errors import ProviderError
from cascadectl.providers.http.pool import PooledClient, own_client
from cascadectl.providers.http.sse import DeadlineExceeded, Guard, SSEEvent, sse_batches

log = logging.getLogger("cascadectl.providers")

Sleep = Callable[[float], Awaitable[None]]

_STATUS_KINDS = {
    400: "bad_request", 401: "auth", 403: "auth", 404: "not_found", 408: "timeout",
    413: "bad_request", 422: "bad_request", 429: "rate_limit", 503: "overloaded", 529: "overloaded",
}
# Error types/codes that say more than the status does.
# A provider built without a shared client gets one of its own, with httpx's default limits.
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
_TYPE_KINDS = {"insufficient_quota": "auth", "overloaded_error": "overloaded"}
# Servers echo masked keys in 401 messages ("sk-abc***xyz"); never pass those on.
_KEY_LIKE = re.compile(r"\b(?:sk|key|gsk|xai|pk)[-_][A-Za-z0-9_\-*.]{4,}")
_MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class RetryPolicy:
    """Full-jitter exponential backoff: wait random() * min(max_delay, base * 2**attempt).
    A Retry-After longer than max_retry_after is not waited for: the error goes
    to the caller (the engine escalates to the next tier instead)."""

    retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def backoff(self, attempt: int, rand: Callable[[], float]) -> float:
        return rand() * min(self.max_delay, self.base_delay * 2**attempt)


def build_timeout(timeouts: Timeouts) -> httpx.Timeout:
    """httpx's own limits. Its read limit applies to every socket read, so it is
    set to the larger of read and stall as a backstop; the Guard enforces the
    exact header wait (read), gap between chunks (stall) and total."""
    return httpx.Timeout(
        connect=timeouts.connect,
        read=max(timeouts.read, timeouts.stall),
        write=timeouts.read,
        pool=timeouts.connect,
    )


def parse_retry_after(headers: httpx.Headers, now: Callable[[], datetime]) -> float | None:
    """Seconds to wait: `retry-after-ms` (OpenAI), else `retry-after` in seconds
    or as an HTTP-date. None when absent or unreadable."""
    milliseconds = _number(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return max(0.0, milliseconds / 1000)
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    return _seconds_until(value, now())


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def redact(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "[redacted]")
    return _KEY_LIKE.sub("[redacted]", text)


def error_fields(payload: Any) -> tuple[str, str]:
    """(type or code, message) from an OpenAI or Anthropic error body."""
    error = payload.get("error", payload) if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return "", ""
    code = error.get("code")
    label = code if isinstance(code, str) and code else error.get("type")
    message = error.get("message")
    return (label if isinstance(label, str) else ""), (message if isinstance(message, str) else "")


def kind_for_status(status: int, label: str) -> str:
    if label in _TYPE_KINDS:
        return _TYPE_KINDS[label]
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    return "server" if status >= 500 else "bad_request"


class APIErrorEvent(ProviderError):
    """An error the server sent inside a 200 stream; `payload` is its JSON."""

    def __init__(self, message: str, *, kind: str, payload: Any, provider: str) -> None:
        super().__init__(message, kind=kind, started=True, provider=provider)
        self.payload = payload


@dataclass(frozen=True)
class CallSite:
    """Who is calling, for messages: the tier name, provider name and the key to redact."""

    tier: str
    provider: str
    secret: str | None = field(default=None, repr=False)

    def error(self, message: str, *, kind: str, started: bool, status: int | None = None,
              retry_after: float | None = None) -> ProviderError:
        text = redact(f"tier {self.tier!r} ({self.provider}): {message}", self.secret)
        return ProviderError(text, kind=kind, status=status, retry_after=retry_after,
                             started=started, provider=self.provider)

    def stream_error(self, payload: Any, event: str) -> APIErrorEvent:
        label, message = error_fields(payload)
        kind = "overloaded" if label == "overloaded_error" else "api_error"
        text = f"tier {self.tier!r} ({self.provider}): error event after HTTP 200"
        text += f" ({label or event}): {message[:_MESSAGE_LIMIT] or json.dumps(payload)[:_MESSAGE_LIMIT]}"
        return APIErrorEvent(redact(text, self.secret), kind=kind, payload=payload, provider=self.provider)

    def protocol_error(self, problem: str) -> ProviderError:
        return self.error(f"malformed stream: {problem}", kind="protocol", started=True)

    def truncated(self, what: str) -> ProviderError:
        return self.error(f"the stream ended before {what} (connection closed early?)",
                          kind="connection", started=True)


def status_error(site: CallSite, response: httpx.Response, body: bytes, now: Callable[[], datetime]) -> ProviderError:
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = None
    label, message = error_fields(payload)
    if not message:
        message = body.decode("utf-8", "replace").strip() or response.reason_phrase
    kind = kind_for_status(response.status_code, label)
    text = f"HTTP {response.status_code} {kind}" + (f" ({label})" if label else "")
    return site.error(f"{text}: {message[:_MESSAGE_LIMIT]}", kind=kind, status=response.status_code,
                      retry_after=parse_retry_after(response.headers, now), started=False)


def transport_error(site: CallSite, exc: Exception, started: bool, in_body: bool) -> ProviderError:
    if isinstance(exc, DeadlineExceeded):
        return site.error(str(exc), kind=exc.kind, started=started)
    if isinstance(exc, httpx.DecodingError):
        return site.error(f"undecodable response body: {exc}", kind="protocol", started=started)
    if isinstance(exc, httpx.TimeoutException):
        kind = "stall" if in_body and isinstance(exc, httpx.ReadTimeout) else "timeout"
        return site.error(f"{type(exc).__name__}: {exc or 'timed out'}", kind=kind, started=started)
    where = "while reading the response" if in_body else "before a response arrived"
    return site.error(f"connection failed {where}: {type(exc).__name__}: {exc}", kind="connection", started=started)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")


@dataclass(frozen=True)
class Hooks:
    """Injectable time and randomness, so tests check exact retry delays without waiting."""

    sleep: Sleep | None = None
    rand: Callable[[], float] | None = None
    now: Callable[[], datetime] | None = None


class HTTPStream:
    """A provider's HTTP side: borrows the agent's client or owns one, and runs
    streaming calls with the tier's timeouts and retries."""

    def __init__(
        self,
        tier: TierConfig,
        client: httpx.AsyncClient | None,
        site: CallSite,
        hooks: Hooks | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        hooks = hooks or Hooks()
        self._timeouts = tier.timeout
        self._timeout = build_timeout(tier.timeout)
        self._owns_client = client is None
        self._client = client if client is not None else own_client(self._timeout, _LIMITS)
        self._site = site
        self._policy = policy or RetryPolicy(retries=max(0, tier.retries))
        self._sleep: Sleep = hooks.sleep or asyncio.sleep
        self._rand = hooks.rand or random.random
        self._now = hooks.now or _utcnow

    def __repr__(self) -> str:
        return f"HTTPStream(tier={self._site.tier!r}, provider={self._site.provider!r})"

    async def events(
        self,
        url: str,
        headers: Mapping[str, str],
        body: Mapping[str, Any],
        final: Callable[[SSEEvent], bool] | None = None,
    ) -> AsyncIterator[list[SSEEvent]]:
        """POST `body` and yield the response's events in batches (see sse_batches),
        retrying failures that happen before the first event was handed out. (One
        generator for the attempts and their events: a layer less per body chunk.)"""
        guard = Guard(self._timeouts.total)
        try:
            for attempt in itertools.count():
                response: httpx.Response | None = None
                started = False
                try:
                    response = await self._open(url, headers, body, guard)
                    async with aclosing(sse_batches(response, guard, self._timeouts.stall, final)) as batches:
                        async for batch in batches:
                            started = True
                            yield batch
                    return
                except (httpx.HTTPError, DeadlineExceeded) as exc:
                    error = transport_error(self._site, exc, started, in_body=response is not None)
                    error.__cause__, error.__suppress_context__ = exc, True
                except ProviderError as exc:
                    error = exc
                finally:
                    if response is not None:
                        await response.aclose()
                try:
                    await self._before_retry(error, attempt, guard)
                finally:
                    del error  # not kept alive (with its traceback and response) through the next attempt
        finally:
            guard.close()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _open(
        self, url: str, headers: Mapping[str, str], body: Mapping[str, Any], guard: Guard
    ) -> httpx.Response:
        response = await guard.wait(self._send(url, headers, body), self._timeouts.read, "read")
        if response.is_success and not _is_json(response):
            return response
        try:
            content = await guard.wait(response.aread(), self._timeouts.read, "read")
        finally:
            await response.aclose()
        if response.is_success:
            shown = content[:_MESSAGE_LIMIT].decode("utf-8", "replace")
            raise self._site.error(f"expected an event stream but got application/json: {shown}",
                                   kind="protocol", started=False)
        raise status_error(self._site, response, content, self._now)

    async def _send(self, url: str, headers: Mapping[str, str], body: Mapping[str, Any]) -> httpx.Response:
        if isinstance(self._client, PooledClient):
            return await self._client.post_stream(url, headers, body, self._timeout)
        request = self._client.build_request("POST", url, headers=headers, json=body, timeout=self._timeout)
        return await self._client.send(request, stream=True)

    async def _before_retry(self, error: ProviderError, attempt: int, guard: Guard) -> None:
        delay = self._delay(error, attempt)
        if delay is None or delay >= guard.remaining():
            raise error
        log.info("%s; retry %d of %d in %.2fs", error, attempt + 1, self._policy.retries, delay)
        await self._sleep(delay)

    def _delay(self, error: ProviderError, attempt: int) -> float | None:
        if not error.retryable or attempt >= self._policy.retries:
            return None
        if error.retry_after is None:
            return self._policy.backoff(attempt, self._rand)
        return error.retry_after if error.retry_after <= self._policy.max_retry_after else None
