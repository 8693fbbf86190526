from __future__ import annotations

import asyncio
import threading
from typing import Any, Iterator

import pytest

from cascadectl.errors import ConfigError
from cascadectl.tools import ToolCall, ToolConfig, ToolExecutor, ToolResult

SCHEMA = {
    "type": "object",
    "properties": {"location": {"type": "string"}, "days": {"type": "array", "items": {"type": "integer"}}},
    "required": ["location"],
    "additionalProperties": False,
}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.threads: list[int] = []

    def __call__(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        self.threads.append(threading.get_ident())
        return {"temp": 22, **kwargs}


def ticking_clock(step: float = 0.25) -> Any:
    ticks: Iterator[float] = iter(range(0, 10_000))
    return lambda: next(ticks) * step


def executor_for(*configs: ToolConfig, **kwargs: Any) -> ToolExecutor:
    return ToolExecutor(list(configs), **kwargs)


def weather(fn: Any) -> ToolConfig:
    return ToolConfig("get_weather", "Weather", SCHEMA, fn)


def test_sync_function_runs_in_a_worker_thread() -> None:
    recorder = Recorder()
    ex = executor_for(weather(recorder), clock=ticking_clock())
    result = asyncio.run(ex.execute(ToolCall("c1", "get_weather", {"location": "Paris"})))
    assert result == ToolResult("c1", "get_weather", {"temp": 22, "location": "Paris"}, None, 250.0)
    assert result.success
    assert recorder.threads[0] != threading.get_ident()


def test_async_function_is_awaited() -> None:
    async def lookup(location: str) -> str:
        await asyncio.sleep(0)
        return f"sunny in {location}"

    ex = executor_for(ToolConfig.from_function(lookup))
    result = ex.execute_sync({"id": "c1", "name": "lookup", "arguments": {"location": "Oslo"}})
    assert result.result == "sunny in Oslo" and result.error is None


def test_invalid_arguments_are_rejected_before_the_call() -> None:
    recorder = Recorder()
    ex = executor_for(weather(recorder))
    bad = [
        ({"days": [1]}, "invalid arguments for 'get_weather': 'location' is a required property"),
        ({"location": "Paris", "days": [1, "two"]}, "invalid arguments for 'get_weather': at 'days[1]': 'two' is not of type 'integer'"),
        ({"location": 3}, "at 'location': 3 is not of type 'string'"),
        ({"location": "Paris", "extra": 1}, "Additional properties are not allowed ('extra' was unexpected)"),
    ]
    for arguments, message in bad:
        result = ex.execute_sync(ToolCall("c", "get_weather", arguments))
        assert not result.success
        assert message in (result.error or "")
    assert recorder.calls == []


def test_non_object_arguments_are_rejected() -> None:
    recorder = Recorder()
    result = executor_for(weather(recorder)).execute_sync(ToolCall("c", "get_weather", ["Paris"]))  # type: ignore[arg-type]
    assert result.error == "invalid arguments for 'get_weather': expected a JSON object, got list"
    assert recorder.calls == []


def test_unknown_tool_is_an_error_result() -> None:
    result = executor_for(weather(Recorder())).execute_sync(ToolCall("c9", "get_wether", {}))
    assert result == ToolResult("c9", "get_wether", None, "tool 'get_wether' not found (available: get_weather)", result.execution_time_ms)


def test_exceptions_are_captured_as_message_not_traceback() -> None:
    def explode(location: str) -> None:
        raise ValueError(f"no station near {location}")

    result = executor_for(weather(explode)).execute_sync(ToolCall("c", "get_weather", {"location": "Mars"}))
    assert result.error == "ValueError: no station near Mars"
    assert "Traceback" not in result.error


def test_a_tool_raising_timeouterror_is_not_reported_as_our_timeout() -> None:
    def slow(location: str) -> None:
        raise TimeoutError("upstream API timed out")

    result = executor_for(weather(slow)).execute_sync(ToolCall("c", "get_weather", {"location": "x"}))
    assert result.error == "TimeoutError: upstream API timed out"


def test_async_timeout_gives_an_error_result() -> None:
    never = asyncio.Event

    async def hang(location: str) -> None:
        await never().wait()

    ex = executor_for(weather(hang), timeout_s=30.0)
    result = asyncio.run(ex.execute(ToolCall("c", "get_weather", {"location": "x"}), timeout_s=0.01))
    assert result.error == "tool 'get_weather' timed out after 0.01 s"


def test_sync_timeout_gives_an_error_result_and_leaves_the_thread() -> None:
    release = threading.Event()
    finished = threading.Event()

    def block(location: str) -> str:
        release.wait(5)
        finished.set()
        return "late"

    ex = executor_for(weather(block), timeout_s=0.01)
    try:
        result = ex.execute_sync(ToolCall("c", "get_weather", {"location": "x"}))
        assert not finished.is_set()  # the caller did not wait for the hung thread
    finally:
        release.set()
    assert result.error == "tool 'get_weather' timed out after 0.01 s"
    assert result.result is None
    assert finished.wait(5)


def test_execute_many_runs_calls_concurrently_and_keeps_order() -> None:
    async def scenario() -> list[ToolResult]:
        a_ready, b_ready = asyncio.Event(), asyncio.Event()

        async def first(location: str) -> str:
            a_ready.set()
            await b_ready.wait()  # only returns if `second` runs at the same time
            return "first"

        async def second(location: str) -> str:
            b_ready.set()
            await a_ready.wait()
            return "second"

        ex = ToolExecutor([ToolConfig.from_function(first), ToolConfig.from_function(second)], timeout_s=5)
        calls = [ToolCall("1", "first", {"location": "a"}), ToolCall("2", "second", {"location": "b"})]
        return await ex.execute_many(calls)

    results = asyncio.run(scenario())
    assert [(r.call_id, r.result, r.error) for r in results] == [("1", "first", None), ("2", "second", None)]


def test_max_parallel_bounds_concurrency() -> None:
    state = {"now": 0, "peak": 0}

    async def work(n: int) -> int:
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        for _ in range(3):
            await asyncio.sleep(0)  # yield to the other tasks
        state["now"] -= 1
        return n * 2

    ex = ToolExecutor([ToolConfig.from_function(work)])
    calls = [ToolCall(str(n), "work", {"n": n}) for n in range(6)]
    results = asyncio.run(ex.execute_parallel(calls, max_parallel=2))
    assert [r.result for r in results] == [0, 2, 4, 6, 8, 10]
    assert state["peak"] == 2


def test_malformed_call_mapping_becomes_an_error_result() -> None:
    recorder = Recorder()
    result = executor_for(weather(recorder)).execute_sync({"id": "c7", "name": "get_weather", "arguments": '{"location": "Pa'})
    assert result.call_id == "c7" and result.name == "get_weather"
    assert "arguments are incomplete JSON" in (result.error or "")
    assert recorder.calls == []


def test_execute_sync_refuses_to_run_inside_an_event_loop() -> None:
    ex = executor_for(weather(Recorder()))

    async def inside() -> None:
        ex.execute_sync(ToolCall("c", "get_weather", {"location": "x"}))

    with pytest.raises(RuntimeError, match="use `await executor.execute"):
        asyncio.run(inside())


def test_nothing_runs_until_asked() -> None:
    recorder = Recorder()
    ex = executor_for(weather(recorder))
    assert ex.tool_names == ("get_weather",)
    assert recorder.calls == []


@pytest.mark.parametrize(
    ("configs", "kwargs", "message"),
    [
        ([weather(Recorder()), weather(Recorder())], {}, "duplicate tool name 'get_weather'"),
        ([ToolConfig("get_weather", "", SCHEMA)], {}, "tool 'get_weather' has no function to run"),
        ([{"name": "get_weather"}], {}, "expected ToolConfig objects, got dict"),
        ([], {"timeout_s": 0}, "timeout_s must be positive, got 0"),
    ],
)
def test_bad_executor_setup_is_a_config_error(configs: list[Any], kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ToolExecutor(configs, **kwargs)


def test_result_messages_for_providers() -> None:
    ok = ToolResult("call_1", "get_weather", {"temp": 22, "city": "Zürich"})
    failed = ToolResult("toolu_1", "get_weather", None, "ValueError: boom")
    assert ok.to_provider_message("openai") == {
        "role": "tool",
        "tool_call_id": "call_1",
        "name": "get_weather",
        "content": '{"temp": 22, "city": "Zürich"}',
    }
    assert failed.to_provider_message("anthropic") == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Error: ValueError: boom", "is_error": True}],
    }
    assert ToolResult("c", "t", "plain text").content_text() == "plain text"
    assert ok.tool_name == "get_weather"
    assert failed.to_dict()["error"] == "ValueError: boom"
