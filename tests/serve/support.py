"""Helpers for the server tests: uvicorn on a loopback socket in a thread, fake
cascades, and a fake upstream that holds its stream until the test lets it go on
(and records whether it was closed before it finished)."""
from __future__ import annotations

import asyncio
import json
import socket
import threading
from pathlib import Path
from typing import Any, AsyncIterator, Iterator, Mapping

import httpx
import uvicorn

from cascadectl import CascadeAgent, ModelConfig
from cascadectl.providers.base import ProviderRequest
from cascadectl.providers.fake import FakeProvider, FakeScript
from cascadectl.streaming.deltas import Delta, TextDelta

WAIT = 10.0  # seconds: only ever a guard against a hung test, never a pause
CLIENT_KEY = "sk-client-test-0123456789"
WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Current weather in a city",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
}
WEATHER_CALL = {"id": "call_w1", "name": "get_weather", "arguments": {"city": "Paris"},
                "fragments": ['{"city"', ': "Par', 'is"}']}
# The drafter knows France and the weather, hedges on Germany (a rejected draft whose
# text says "Lyon"), and fails on "boom"; the verifier fails on "boom" and "midway".
DRAFTER = [
    {"match": "France", "text": "The capital of France is Paris.", "logprob": -0.01, "usage": {"input": 10, "output": 7}},
    {"match": "weather", "text": "", "tool_calls": [WEATHER_CALL], "usage": {"input": 30, "output": 9}},
    {"match": "boom", "error": {"kind": "server", "status": 500, "message": "scripted outage"}},
]
DRAFTER_DEFAULT = {"text": "I think maybe it is Lyon, not sure.", "logprob": -2.5, "usage": {"input": 10, "output": 9}}
VERIFIER = [
    {"match": "boom", "error": {"kind": "overloaded", "status": 529, "message": "scripted overload"}},
    {"match": "midway", "text": "Half an answer and then", "error": {"kind": "connection", "after_chunks": 2}},
    {"match": "long", "text": "This answer runs out of", "finish_reason": "length"},
]
VERIFIER_DEFAULT = {"text": "The capital of Germany is Berlin.", "logprob": -0.01, "usage": {"input": 10, "output": 6}}


def qa_agent(drafter: FakeScript | None = None, verifier: FakeScript | None = None) -> CascadeAgent:
    """Two fake tiers answering from the rules above; the scripts record requests."""
    return CascadeAgent(models=[
        ModelConfig(name="small", provider="fake", input_price=1.0, output_price=2.0, tier_name="drafter",
                    options={"script": drafter or FakeScript(), "responses": DRAFTER, "default": DRAFTER_DEFAULT}),
        ModelConfig(name="big", provider="fake", input_price=10.0, output_price=20.0, tier_name="verifier",
                    options={"script": verifier or FakeScript(), "responses": VERIFIER, "default": VERIFIER_DEFAULT}),
    ])


def qa_yaml(path: Path, name: str = "qa", verifier_provider: str = "fake", **verifier_options: Any) -> Path:
    """The same cascade as a file (JSON is YAML)."""
    tiers = [
        {"name": "drafter", "provider": "fake", "model": "small", "price": {"input": 1.0, "output": 2.0},
         "options": {"responses": DRAFTER, "default": DRAFTER_DEFAULT}},
        {"name": "verifier", "provider": verifier_provider, "model": "big", "price": {"input": 10.0, "output": 20.0},
         "options": {"responses": VERIFIER, "default": VERIFIER_DEFAULT, **verifier_options}},
    ]
    path.write_text(json.dumps({"version": 1, "name": name, "tiers": tiers}), encoding="utf-8")
    return path


def openai_yaml(path: Path, url: str, key_env: str, name: str = "loop") -> Path:
    """Two `provider: openai` tiers at an OpenAI-compatible server (the loopback SSE fake)."""
    tiers = [{"name": tier, "provider": "openai", "model": model, "base_url": f"{url}/v1", "api_key_env": key_env,
              "price": {"input": price, "output": 4 * price}, "retries": 0}
             for tier, model, price in (("drafter", "small-model", 0.15), ("verifier", "big-model", 2.5))]
    path.write_text(json.dumps({"version": 1, "name": name, "tiers": tiers}), encoding="utf-8")
    return path


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


class Hold:
    """Where a held upstream stream stops: before its `after`-th text chunk. One-shot:
    once released, later streams pass."""

    def __init__(self, after: int = 1) -> None:
        self.after = after
        self.reached = threading.Event()  # the stream is waiting
        self.closed = threading.Event()  # the stream was closed before it finished
        self.finished = threading.Event()
        self._go: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def wait(self) -> None:
        if self._go is not None and self._go.is_set():
            return
        self._loop, self._go = asyncio.get_running_loop(), asyncio.Event()
        self.reached.set()
        await self._go.wait()

    def release(self) -> None:
        assert self.reached.wait(WAIT) and self._loop is not None and self._go is not None
        self._loop.call_soon_threadsafe(self._go.set)


HOLDS: dict[str, Hold] = {}  # for cascades in files: options.hold names one


class HeldProvider(FakeProvider):
    """The fake provider, holding its stream at options.hold when a tier has one."""

    async def stream(self, request: ProviderRequest) -> AsyncIterator[Delta]:
        hold = self.tier.options.get("hold")
        if hold is None:
            async for delta in super().stream(request):
                yield delta
            return
        hold = HOLDS[hold] if isinstance(hold, str) else hold
        shown = 0
        try:
            async for delta in super().stream(request):
                if type(delta) is TextDelta:
                    if shown == hold.after:
                        await hold.wait()
                    shown += 1
                yield delta
            hold.finished.set()
        finally:
            if not hold.finished.is_set():
                hold.closed.set()


def use_held_provider(monkeypatch: Any) -> None:
    """`provider: fake` tiers become HeldProviders (the same, plus options.hold)."""
    import cascadectl.providers as providers

    monkeypatch.setitem(providers._REGISTRY, "fake", ("tests.serve.support", "HeldProvider"))


def held_agent(hold: Hold, text: str = "The capital of Germany is Berlin.") -> CascadeAgent:
    """A rejected draft, then a verifier that holds its stream."""
    return CascadeAgent(models=[
        ModelConfig(name="small", provider="fake", input_price=1.0, output_price=2.0, tier_name="drafter",
                    options={"default": DRAFTER_DEFAULT}),
        ModelConfig(name="big", provider="fake", input_price=10.0, output_price=20.0, tier_name="verifier",
                    options={"default": {"text": text}, "hold": hold}),
    ])


class ObservedServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.stopping = threading.Event()

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    async def shutdown(self, sockets: Any = None) -> None:
        self.stopping.set()
        await super().shutdown(sockets)


class LiveServer:
    """An app under uvicorn on a free 127.0.0.1 port, in a background thread."""

    def __init__(self, app: Any, graceful_timeout: float | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False,
                                timeout_graceful_shutdown=graceful_timeout)
        self.server = ObservedServer(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def start(self) -> LiveServer:
        self.thread.start()
        assert self.server.ready.wait(WAIT), "uvicorn did not start"
        return self

    def stop(self) -> None:
        self.server.should_exit = True  # what uvicorn's SIGTERM handler does
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "uvicorn did not stop"

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def sse_payloads(body: str) -> Iterator[Mapping[str, Any] | str]:
    """The `data:` payloads of an SSE body: JSON objects, or the string [DONE]."""
    for block in body.split("\n\n"):
        if block.startswith("data: "):
            data = block[len("data: "):]
            yield data if data == "[DONE]" else json.loads(data)


def trace_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def call(app: Any, method: str, path: str, raise_app_exceptions: bool = True, **kwargs: Any) -> httpx.Response:
    """One request to an app in process (httpx's ASGI transport: no socket). An
    exception the app lets out (after its 500, as under uvicorn) is raised here,
    unless `raise_app_exceptions` is False."""
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as http:
            return await http.request(method, path, **kwargs)

    return asyncio.run(go())
