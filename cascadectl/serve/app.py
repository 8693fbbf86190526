"""The Starlette app: POST /v1/chat/completions, GET /v1/models[/{id}], GET /health.

The server holds the agents (one per cascade, by name) and this worker's trace
writer, nothing else between requests; both are closed at shutdown, after uvicorn
has let in-flight requests finish, so traces end in whole lines.
"""
from __future__ import annotations

import contextlib
import gc
import os
import time
from typing import TYPE_CHECKING, AsyncIterator, Iterator, Mapping

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cascadectl.errors import CascadeError
from cascadectl.serve.errors import APIError, http_error, internal_error, unknown_model
from cascadectl.serve.limits import BearerAuth, InFlight, InFlightLimit, read_body
from cascadectl.serve.relay import ASGIApp, ChatResponse, Receive, Scope, Send, send_error
from cascadectl.serve.responses import new_ids
from cascadectl.serve.settings import SETTINGS_ENV, ServeSettings, client_key, load_agents, trace_writer
from cascadectl.serve.wire import library_error, parse_body, parse_chat

if TYPE_CHECKING:
    from cascadectl.cascade.agent import CascadeAgent
    from cascadectl.traces.writer import TraceWriter

CHAT_PATH = "/v1/chat/completions"
CLEANUP_TIMEOUT = 5.0  # seconds cancelled requests get to clean up at shutdown


class CascadeServer:
    """The endpoints, over the agents and the trace writer."""

    def __init__(self, agents: Mapping[str, CascadeAgent], settings: ServeSettings, trace: TraceWriter | None) -> None:
        self.agents = dict(agents)
        self.settings = settings
        self.trace = trace
        self.gauge = InFlight(settings.max_concurrency)
        self.created = int(time.time())

    async def chat_endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        """POST /v1/chat/completions, as an ASGI app that answers its own errors."""
        try:
            response = await self.chat(scope, receive)
        except APIError as exc:
            await send_error(scope, receive, send, exc)
            return
        await response(scope, receive, send)

    async def chat(self, scope: Scope, receive: Receive) -> ChatResponse:
        chat = parse_chat(parse_body(await read_body(scope, receive, self.settings.max_body_bytes)))
        agent = self.agent(chat.model)
        ids = new_ids(chat.model)
        live = self.settings.live_drafts and chat.stream
        try:
            events = agent.stream_events(
                **chat.stream_kwargs("live" if live else "buffered"), trace=self.trace, query_id=ids.id,
                trace_query_data={"cascade": chat.model, "endpoint": CHAT_PATH, "stream": chat.stream},
            )
        except CascadeError as exc:  # tools or tool_choice the library refuses
            raise library_error(exc) from None
        return ChatResponse(events, ids, chat.stream, chat.include_usage, live)

    def agent(self, model: str) -> CascadeAgent:
        agent = self.agents.get(model)
        if agent is None:
            raise unknown_model(model, sorted(self.agents))
        return agent

    async def models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [self._card(name) for name in sorted(self.agents)]})

    async def model(self, request: Request) -> Response:
        name = request.path_params["model"]
        self.agent(name)
        return JSONResponse(self._card(name))

    def _card(self, name: str) -> dict[str, object]:
        tiers = [{"name": t.name, "model": t.model, "provider": t.provider} for t in self.agents[name].config.tiers]
        return {"id": name, "object": "model", "created": self.created, "owned_by": "cascadectl", "cascade": {"tiers": tiers}}

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "models": sorted(self.agents), "in_flight": self.gauge.now,
                             "max_concurrency": self.gauge.limit})

    async def aclose(self) -> None:
        # uvicorn cancels what outlived the grace period but does not wait for it: let
        # those requests close their upstream streams and write their last trace lines.
        await self.gauge.drained(CLEANUP_TIMEOUT)
        for agent in self.agents.values():
            await agent.aclose()
        self.close_trace()

    def close_trace(self) -> None:
        if self.trace is not None:
            self.trace.close()


class ChatFastPath:
    """POST /v1/chat/completions straight to its endpoint, past Starlette's exception
    middleware, router and request wrapper: about 0.1 ms of each request's latency
    that the endpoint (which answers its own errors) has no use for. An unexpected
    exception still reaches the server-error handler (`_crash`), outermost."""

    def __init__(self, app: ASGIApp, chat: ASGIApp) -> None:
        self.app = app
        self.chat = chat

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == CHAT_PATH and scope["method"] == "POST":
            await self.chat(scope, receive, send)
        else:
            await self.app(scope, receive, send)


@contextlib.contextmanager
def _startup_objects_frozen() -> Iterator[None]:
    """What is alive once the server is up (modules, agents, schemas) is kept out of
    the garbage collector's scans while it serves, and the youngest generation is
    collected every GC_YOUNG_THRESHOLD allocations rather than 700. Each request makes
    thousands of short-lived objects: with the frozen heap, the collector's share of a
    paced 48-token request fell from about 0.65 to 0.1 ms of CPU, the long gen-2 pauses
    with it; with the larger threshold most of a request's objects are gone before a
    collection looks (bench/serve.py's steady phases: about 300 collections and 0.25 s of
    collector time per 1,100 requests before, 6 and 0.015 s after)."""
    _FROZEN[0] += 1
    if _FROZEN[0] == 1:  # several apps in one process (tests, an embedding host): the first freezes...
        gc.collect()
        gc.freeze()
        young, *older = _SAVED_THRESHOLD[:] = gc.get_threshold()
        gc.set_threshold(max(young, GC_YOUNG_THRESHOLD), *older)
    try:
        yield
    finally:
        _FROZEN[0] -= 1
        if _FROZEN[0] == 0:  # ...and the last to stop thaws
            gc.unfreeze()
            gc.set_threshold(*_SAVED_THRESHOLD)


GC_YOUNG_THRESHOLD = 10_000
_FROZEN = [0]  # apps of this process inside _startup_objects_frozen
_SAVED_THRESHOLD: list[int] = []  # the collector's thresholds before the first app started


def create_app(
    agents: Mapping[str, CascadeAgent], settings: ServeSettings, api_key: str | None = None, trace: TraceWriter | None = None
) -> Starlette:
    server = CascadeServer(agents, settings, trace)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        with _startup_objects_frozen():
            try:
                yield
            finally:
                await server.aclose()

    chat = BearerAuth(InFlightLimit(server.chat_endpoint, server.gauge), api_key)
    routes = [
        Route(CHAT_PATH, chat, methods=["POST"]),  # what a method other than POST finds: 405
        Route("/v1/models", server.models, methods=["GET"]),
        Route("/v1/models/{model:path}", server.model, methods=["GET"]),
        Route("/health", server.health, methods=["GET"]),
    ]
    middleware = [Middleware(ChatFastPath, chat=chat), Middleware(BearerAuth, key=api_key)]
    handlers = {APIError: _api_error, HTTPException: _http_error, Exception: _crash}
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan)  # type: ignore[arg-type]
    app.state.server = server
    return app


def app_from_settings(settings: ServeSettings) -> Starlette:
    """Everything from the settings: agents, the client key and this process's trace file."""
    agents = load_agents(settings.cascades)
    key = client_key(settings, agents)
    return create_app(agents, settings, key, trace_writer(settings.trace_dir))


def app_from_env() -> Starlette:
    """The factory each `--workers N` worker process calls (uvicorn --factory)."""
    return app_from_settings(ServeSettings.from_json(os.environ[SETTINGS_ENV]))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return JSONResponse(exc.body(), exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return await _api_error(request, http_error(request.url.path, exc.status_code, str(exc.detail)))


async def _crash(request: Request, exc: Exception) -> Response:
    # Starlette re-raises after this, so uvicorn logs the traceback; the client gets no details.
    return await _api_error(request, internal_error())
