"""ToolExecutor: runs a model's tool calls, only when the caller asks.

Arguments are checked against the tool's JSON Schema before the function is
called; sync functions run in a worker thread, async ones are awaited; every
call has a timeout; failures come back as a ToolResult with `error` set.
"""
from __future__ import annotations

import inspect
import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from cascadectl.errors import ConfigError
from cascadectl.tools.call import ToolCall, ToolCallError, ToolCallFormat, resolve_format
from cascadectl.tools.config import ToolConfig

__all__ = ["ToolCall", "ToolCallFormat", "ToolConfig", "ToolExecutor", "ToolResult"]


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    name: str
    result: Any = None
    error: str | None = None
    execution_time_ms: float = 0.0

    @property
    def success(self) -> bool:
        return self.error is None

    @property
    def tool_name(self) -> str:
        return self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "name": self.name,
            "result": self.result,
            "error": self.error,
            "execution_time_ms": self.execution_time_ms,
        }

    def content_text(self) -> str:
        """What the model reads back: text as is, anything else as JSON."""
        if self.error is not None:
            return f"Error: {self.error}"
        if isinstance(self.result, str):
            return self.result
        return json.dumps(self.result, ensure_ascii=False, default=str)

    def to_provider_message(self, provider: ToolCallFormat | str) -> dict[str, Any]:
        if resolve_format(provider) is ToolCallFormat.ANTHROPIC:
            block = {"type": "tool_result", "tool_use_id": self.call_id, "content": self.content_text()}
            if self.error is not None:
                block["is_error"] = True
            return {"role": "user", "content": [block]}
        return {"role": "tool", "tool_call_id": self.call_id, "name": self.name, "content": self.content_text()}


class _Failed:
    """A failed run, told apart from any value a tool may return."""

    def __init__(self, message: str) -> None:
        self.message = message


class ToolExecutor:
    def __init__(
        self,
        configs: Iterable[ToolConfig],
        timeout_s: float = 30.0,
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if timeout_s <= 0:
            raise ConfigError(f"ToolExecutor: timeout_s must be positive, got {timeout_s}")
        self.timeout_s = timeout_s
        self._clock = clock
        self._tools = _index(configs)
        self._validators: dict[str, Any] = {}

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(self._tools)

    @property
    def tools(self) -> tuple[ToolConfig, ...]:
        """The tools it runs: what the tool loop offers the model when given no `tools`."""
        return tuple(self._tools.values())

    async def execute(self, call: ToolCall | Mapping[str, Any], *, timeout_s: float | None = None) -> ToolResult:
        started = self._clock()
        try:
            call = call if isinstance(call, ToolCall) else ToolCall.from_dict(call)
        except ToolCallError as exc:
            return ToolResult(_raw_id(call), _raw_name(call), error=str(exc))
        problem = self._precheck(call)
        if problem is not None:
            return self._result(call, started, error=problem)
        outcome = await self._run(self._tools[call.name], call.arguments, timeout_s or self.timeout_s)
        if isinstance(outcome, _Failed):
            return self._result(call, started, error=outcome.message)
        return self._result(call, started, result=outcome)

    async def execute_many(
        self, calls: Sequence[ToolCall | Mapping[str, Any]], *, max_parallel: int | None = None
    ) -> list[ToolResult]:
        """Run concurrently (at most `max_parallel` at once); results in call order."""
        import asyncio  # lazy: asyncio pulls in ssl, slow for `cascadectl --help`

        if max_parallel is None:
            return list(await asyncio.gather(*(self.execute(c) for c in calls)))
        gate = asyncio.Semaphore(max(1, max_parallel))

        async def gated(call: ToolCall | Mapping[str, Any]) -> ToolResult:
            async with gate:
                return await self.execute(call)

        return list(await asyncio.gather(*(gated(c) for c in calls)))

    async def execute_parallel(
        self, calls: Sequence[ToolCall | Mapping[str, Any]], max_parallel: int = 5
    ) -> list[ToolResult]:
        return await self.execute_many(calls, max_parallel=max_parallel)

    def execute_sync(self, call: ToolCall | Mapping[str, Any], *, timeout_s: float | None = None) -> ToolResult:
        if _loop_running():
            raise RuntimeError("execute_sync() cannot run inside an event loop; use `await executor.execute(call)`")
        import asyncio

        # Not asyncio.run: that waits for executor threads, so a timed-out
        # sync tool would still hold the caller.
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(self.execute(call, timeout_s=timeout_s))
        finally:
            loop.close()

    def _precheck(self, call: ToolCall) -> str | None:
        if call.name not in self._tools:
            available = ", ".join(sorted(self._tools)) or "none"
            return f"tool {call.name!r} not found (available: {available})"
        if not isinstance(call.arguments, Mapping):
            return f"invalid arguments for {call.name!r}: expected a JSON object, got {type(call.arguments).__name__}"
        problem = self._schema_problem(call.name, call.arguments)
        return None if problem is None else f"invalid arguments for {call.name!r}: {problem}"

    def _schema_problem(self, name: str, arguments: Mapping[str, Any]) -> str | None:
        from jsonschema.exceptions import best_match  # lazy: heavy import

        error = best_match(self._validator(name).iter_errors(dict(arguments)))
        if error is None:
            return None
        path = _json_path(error.absolute_path)
        return f"at {path}: {error.message}" if path else error.message

    def _validator(self, name: str) -> Any:
        if name not in self._validators:
            from jsonschema import validators

            schema = dict(self._tools[name].parameters)
            self._validators[name] = validators.validator_for(schema)(schema)
        return self._validators[name]

    async def _run(self, config: ToolConfig, arguments: Mapping[str, Any], timeout_s: float) -> Any:
        import asyncio

        try:
            return await asyncio.wait_for(_invoke(config.function, dict(arguments)), timeout_s)
        except asyncio.TimeoutError:
            # A sync function's thread cannot be stopped; it is a daemon thread,
            # so it blocks neither the caller nor interpreter exit, and its
            # eventual result is dropped.
            return _Failed(f"tool {config.name!r} timed out after {timeout_s:g} s")

    def _result(self, call: ToolCall, started: float, *, result: Any = None, error: str | None = None) -> ToolResult:
        elapsed_ms = (self._clock() - started) * 1000.0
        return ToolResult(call.id, call.name, result, error, round(elapsed_ms, 3))


async def _invoke(function: Callable[..., Any] | None, arguments: dict[str, Any]) -> Any:
    assert function is not None  # _index refuses tools without a function
    try:
        if _is_async(function):
            return await function(**arguments)
        value = await _in_thread(function, arguments)
        if inspect.isawaitable(value):  # e.g. a lambda returning a coroutine
            value = await value
        return value
    except Exception as exc:  # the tool's own failure (even a TimeoutError) goes in the result
        return _Failed(f"{type(exc).__name__}: {exc}")


async def _in_thread(function: Callable[..., Any], arguments: dict[str, Any]) -> Any:
    """Like asyncio.to_thread, but on a daemon thread of its own: a hung tool
    must not hold a pool worker or keep the process (or asyncio.run) waiting."""
    import asyncio
    import threading

    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    name = f"tool-{getattr(function, '__name__', 'call')}"
    threading.Thread(target=_runner(loop, future, function, arguments), name=name, daemon=True).start()
    return await future


def _runner(loop: Any, future: Any, function: Callable[..., Any], arguments: dict[str, Any]) -> Callable[[], None]:
    import contextvars

    context = contextvars.copy_context()  # as asyncio.to_thread does

    def run() -> None:
        try:
            outcome: tuple[BaseException | None, Any] = (None, context.run(function, **arguments))
        except BaseException as exc:  # handed to the awaiting side, which decides
            outcome = (exc, None)
        try:
            loop.call_soon_threadsafe(_settle, future, *outcome)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    return run


def _settle(future: Any, error: BaseException | None, value: Any) -> None:
    if future.done():  # cancelled by the timeout
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _is_async(function: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(getattr(function, "__call__", None))


def _index(configs: Iterable[ToolConfig]) -> dict[str, ToolConfig]:
    tools: dict[str, ToolConfig] = {}
    for config in configs:
        if not isinstance(config, ToolConfig):
            raise ConfigError(f"ToolExecutor: expected ToolConfig objects, got {type(config).__name__}")
        if config.function is None:
            raise ConfigError(f"ToolExecutor: tool {config.name!r} has no function to run")
        if config.name in tools:
            raise ConfigError(f"ToolExecutor: duplicate tool name {config.name!r}")
        tools[config.name] = config
    return tools


def _json_path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"'{text}'" if text else ""


def _loop_running() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _raw_id(raw: Any) -> str:
    value = raw.get("id") if isinstance(raw, Mapping) else None
    return value if isinstance(value, str) else ""


def _raw_name(raw: Any) -> str:
    value = raw.get("name") if isinstance(raw, Mapping) else None
    return value if isinstance(value, str) else ""

