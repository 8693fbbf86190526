"""OpenAI-style errors: `{"error": {"message", "type", "param", "code"}}` with an HTTP status."""
from __future__ import annotations

from typing import Any, Mapping, Sequence, TypedDict


class ErrorDetail(TypedDict):
    message: str
    type: str
    param: str | None
    code: str | None


class APIError(Exception):
    """A request the server answers with an error; `extra` adds top-level fields to the body."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",  # noqa: A002 - OpenAI's field name
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.detail = ErrorDetail(message=message, type=type, param=param, code=code)
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        return {"error": dict(self.detail), **self.extra}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def unauthorized(message: str) -> APIError:
    return APIError(401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


def too_large(limit: int) -> APIError:
    return APIError(413, f"request body is larger than this server's limit of {limit} bytes (--max-body-bytes)",
                    code="request_too_large")


def too_many(limit: int) -> APIError:
    # The SDKs retry 429 after Retry-After on their own.
    return APIError(429, f"this server already has {limit} requests in flight (--max-concurrency); retry shortly",
                    type="rate_limit_error", code="rate_limit_exceeded", headers={"Retry-After": "1"})


def unknown_model(model: str, served: Sequence[str]) -> APIError:
    names = ", ".join(served)
    return APIError(404, f"the model {model!r} does not exist on this server; it serves: {names}",
                    param="model", code="model_not_found")


def shutting_down() -> APIError:
    return APIError(503, "the server is shutting down; retry the request", type="server_error", code="shutting_down",
                    headers={"x-should-retry": "true"})


def internal_error() -> APIError:
    return APIError(500, "the server hit an unexpected error (see its log)", type="server_error", code="internal_error")


def http_error(path: str, status: int, detail: str) -> APIError:
    if status == 404:
        return APIError(404, f"no such endpoint: {path} (this server has /v1/chat/completions, /v1/models, /health)",
                        code="not_found")
    if status == 405:
        return APIError(405, f"method not allowed on {path}", code="method_not_allowed")
    return APIError(status, detail)
