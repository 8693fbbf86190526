"""The embedded `llamacpp` provider: GGUF models run in-process by llama-cpp-python.

Loading and generation run on the process's llama thread (see runtime.py),
which hands each delta to the event loop with `loop.call_soon_threadsafe`, so the
loop never blocks on the model. Closing the stream sets a flag the generation
checks before each token, so an aborted draft stops at once and releases the
model for the next caller.

Tier options: model_path | package, mode (chat | completion), prompt_template,
turn_template, stop, n_ctx, n_threads (default: half the usable cores, see
llamacpp_runtime.default_threads), seed, top_k, top_p, min_p, repeat_penalty,
verbose, extra_buffers (auto | on | off, see cpu.py). See docs and cascades/default.yaml.

Tools: when a request offers tools and tool_choice is not "none", decoding is
constrained by a grammar to one `{"name": ..., "arguments": {...}}` object, streamed
as ToolCallDelta fragments. "auto" is constrained too: models this small almost
never produce a well-formed call unprompted, and a cascade that offers tools
expects one; the validators and the next tier judge whether the call was right.
"""
from __future__ import annotations

import asyncio
import json
import threading
from typing import Any, AsyncIterator, Callable

import httpx

from cascadectl.config.model import TierConfig
from cascadectl.errors import CascadeError, ConfigError, ProviderError
from cascadectl.providers.llamacpp import assets
from cascadectl.providers.base import ProviderRequest, Scored
from cascadectl.streaming.deltas import Delta
from cascadectl.providers.llamacpp.generate import Job, Sampling, WorkerExit, run_job, score_text
from cascadectl.providers.llamacpp.cpu import ExtraBuffers
from cascadectl.providers.llamacpp.runtime import LLAMA_THREAD, SharedModel, choose_extra_buffers, shared_model
from cascadectl.providers.llamacpp.options import LlamaCppOptions, parse_options
from cascadectl.providers.llamacpp.text import (
    CompletionTemplate,
    chat_messages,
    tool_call_schema,
    tool_note,
)

DEFAULT_MAX_TOKENS = 256
DEFAULT_TEMPERATURE = 0.8  # llama.cpp's own default, used when neither tier nor request sets one
_END = object()




class LlamaCppProvider:
    name = "llamacpp"

    def __init__(self, tier: TierConfig, client: httpx.AsyncClient | None = None) -> None:
        self.tier = tier
        self.options = parse_options(tier)
        # Test and benchmark hook: called on the llama thread as each generation ends.
        self.on_worker_exit: Callable[[WorkerExit], None] | None = None
        self._model: SharedModel | None = None
        self._buffers: ExtraBuffers | None = None  # this tier's choice, made when it loads
        self._cancels: set[threading.Event] = set()

    async def stream(self, request: ProviderRequest) -> AsyncIterator[Delta]:
        model = await self.model()
        job = build_job(model, self.options, self.tier, request)
        channel = _Channel(asyncio.get_running_loop())
        self._cancels.add(channel.cancel)
        LLAMA_THREAD.submit(lambda: self._work(model, job, channel))
        try:
            while (item := await channel.queue.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            channel.cancel.set()
            self._cancels.discard(channel.cancel)

    @property
    def runtime(self) -> dict[str, Any] | None:
        """How the loaded model runs, for the tier record in traces."""
        if self._model is None or self._buffers is None:
            return None
        return {"n_threads": self._model.llm.n_threads, **self._buffers.to_dict()}

    async def score(self, request: ProviderRequest, text: str) -> Scored:
        """The model's log-probability of each token of `text` as its reply to the
        request's conversation (the `likelihood` signal), in one prefill."""
        model = await self.model()
        prompt, add_bos, _stop = _prompt(model, self.options, self.tier, request, "")
        try:
            return await asyncio.wrap_future(LLAMA_THREAD.submit(lambda: score_text(model, prompt, add_bos, text)))
        except CascadeError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed read is reported, the query goes on
            message = f"llamacpp: scoring failed: {type(exc).__name__}: {exc}"
            raise ProviderError(message, kind="api_error", provider=self.name) from None

    async def model(self) -> SharedModel:
        """The loaded model; the first call resolves, assembles and loads it off the loop."""
        if self._model is None:
            self._model = await asyncio.wrap_future(LLAMA_THREAD.submit(self._load))
        return self._model

    def _load(self) -> SharedModel:
        source = {"model_path": self.options.model_path, "package": self.options.package}
        path = assets.resolve_model(source)
        options = self.options
        self._buffers = choose_extra_buffers(options.extra_buffers)
        model = shared_model(path, options.n_ctx, options.n_threads, options.verbose, self._buffers)
        if self.options.mode == "chat":
            model.ensure_chat_formatter()
        return model

    def _work(self, model: SharedModel, job: Job, channel: _Channel) -> None:
        ended = WorkerExit(0, "error")
        try:
            ended = run_job(model, job, channel.send, channel.cancel)
        except CascadeError as exc:
            channel.send(exc)
        except Exception as exc:  # noqa: BLE001 - reported to the consumer, not lost in a thread
            message = f"llamacpp: generation failed: {type(exc).__name__}: {exc}"
            channel.send(ProviderError(message, kind="api_error", started=channel.started, provider=self.name))
        finally:
            channel.send(_END)
            if self.on_worker_exit is not None:
                self.on_worker_exit(ended)

    async def aclose(self) -> None:
        # Stop every running generation; the shared model stays loaded for other tiers.
        for cancel in list(self._cancels):
            cancel.set()


class _Channel:
    """Llama-thread-to-loop hand-off: the generation never blocks, the loop never polls."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.cancel = threading.Event()
        self.started = False

    def send(self, item: Any) -> None:
        self.started = self.started or not isinstance(item, BaseException)
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancel.set()


def build_job(model: SharedModel, options: LlamaCppOptions, tier: TierConfig, request: ProviderRequest) -> Job:
    if not request.messages:
        raise ProviderError("llamacpp: the request has no messages", kind="bad_request", provider="llamacpp")
    tools = list(request.tools or ()) if request.tool_choice != "none" else []
    note = tool_note(tools) if tools else ""
    prompt, add_bos, extra_stop = _prompt(model, options, tier, request, note)
    stops = tuple(dict.fromkeys(options.stop + tuple(request.stop or ()) + extra_stop))
    schema = json.dumps(tool_call_schema(tools, request.tool_choice)) if tools else None
    return Job(prompt, add_bos, _sampling(options, tier, request), stops, options.mode == "completion", schema)


def _prompt(
    model: SharedModel, options: LlamaCppOptions, tier: TierConfig, request: ProviderRequest, note: str
) -> tuple[str, bool, tuple[str, ...]]:
    if options.mode == "completion":
        template = CompletionTemplate(options.prompt_template, options.turn_template)
        return template.render(request.messages, note), True, ()
    if model.chat_formatter is None:
        raise ConfigError(
            f"tier {tier.name!r}: {model.path.name} has no chat template; use options.mode: completion"
        )
    try:
        result = model.chat_formatter(messages=chat_messages(request.messages, note))
    except Exception as exc:  # noqa: BLE001 - templates raise anything, e.g. on role order
        message = f"llamacpp: the chat template rejected the messages: {exc}"
        raise ProviderError(message, kind="bad_request", provider="llamacpp") from None
    stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
    return result.prompt, not result.added_special, tuple(stop)


def _sampling(options: LlamaCppOptions, tier: TierConfig, request: ProviderRequest) -> Sampling:
    max_tokens = request.max_tokens or tier.max_tokens or DEFAULT_MAX_TOKENS
    temperature = next(
        (t for t in (request.temperature, tier.temperature) if t is not None), DEFAULT_TEMPERATURE
    )
    return Sampling(
        max_tokens, float(temperature), options.top_k, options.top_p, options.min_p,
        options.repeat_penalty, options.seed, request.logprobs,
    )
