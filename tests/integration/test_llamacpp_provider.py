"""The llamacpp provider on the two embedded models, for real (greedy decoding)."""
from __future__ import annotations

import asyncio
import json
import math
import threading
from typing import Any, AsyncIterator

import pytest

from cascadectl.config.model import TierConfig
from cascadectl.errors import ConfigError, ProviderError
from cascadectl.providers.base import ProviderRequest
from cascadectl.streaming.deltas import Delta, FinishDelta, TextDelta, ToolCallDelta, UsageDelta
from cascadectl.providers.llamacpp.provider import LlamaCppProvider
from cascadectl.providers.llamacpp.generate import WorkerExit
from tests.integration.conftest import gemma_tier, smollm2_tier

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("local_models")]

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
STORY = [{"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]


def _request(messages: list[dict[str, Any]], **fields: Any) -> ProviderRequest:
    fields.setdefault("temperature", 0.0)
    fields.setdefault("max_tokens", 24)
    return ProviderRequest(model="local", messages=messages, **fields)


async def _collect(stream: AsyncIterator[Delta]) -> list[Delta]:
    return [delta async for delta in stream]


def _run(provider: LlamaCppProvider, request: ProviderRequest) -> list[Delta]:
    return asyncio.run(_collect(provider.stream(request)))


def _text(deltas: list[Delta]) -> str:
    return "".join(d.text for d in deltas if isinstance(d, TextDelta))


def _logprobs(deltas: list[Delta]) -> list[float]:
    return [lp.logprob for d in deltas if isinstance(d, TextDelta) for lp in d.logprobs or ()]


def _one(deltas: list[Delta], kind: type) -> Any:
    found = [d for d in deltas if isinstance(d, kind)]
    assert len(found) == 1, deltas
    return found[0]


def test_smollm2_chat_streams_tokens_with_logprobs_and_exact_usage(smollm2: TierConfig) -> None:
    provider = LlamaCppProvider(smollm2)
    messages = [{"role": "system", "content": "Answer in one short sentence."}, *FRANCE]
    deltas = _run(provider, _request(messages, logprobs=True))
    assert "Paris" in _text(deltas)
    lps = _logprobs(deltas)
    assert lps and all(-math.inf <= lp <= 0.0 for lp in lps)
    usage, finish = _one(deltas, UsageDelta), _one(deltas, FinishDelta)
    assert finish.reason == "stop" and usage.output_tokens == len(lps)
    model = asyncio.run(provider.model())
    reference = model.llm.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0)
    assert usage.input_tokens == reference["usage"]["prompt_tokens"]


def test_gemma_completion_answers_through_the_few_shot_template(gemma: TierConfig) -> None:
    deltas = _run(LlamaCppProvider(gemma), _request(FRANCE, logprobs=True))
    text = _text(deltas)
    assert text.strip() == text and "Paris" in text and "Question" not in text
    assert all(-math.inf <= lp <= 0.0 for lp in _logprobs(deltas))
    assert _one(deltas, FinishDelta).reason == "stop"
    assert isinstance(deltas[-1], FinishDelta) and isinstance(deltas[-2], UsageDelta)


def test_max_tokens_ends_with_length_and_counts_every_token(smollm2: TierConfig) -> None:
    deltas = _run(LlamaCppProvider(smollm2), _request(STORY, max_tokens=5, logprobs=True))
    assert _one(deltas, FinishDelta).reason == "length"
    assert _one(deltas, UsageDelta).output_tokens == 5 == len(_logprobs(deltas))


def test_no_logprobs_unless_asked(smollm2: TierConfig) -> None:
    deltas = _run(LlamaCppProvider(smollm2), _request(STORY, max_tokens=4))
    assert _text(deltas) and all(d.logprobs is None for d in deltas if isinstance(d, TextDelta))


def test_stop_sequence_cuts_the_text_and_reports_stop() -> None:
    tier = gemma_tier(prompt_template="{query}", stop=[])
    request = _request([{"role": "user", "content": "1, 2, 3, 4, 5,"}], max_tokens=24, stop=[" 8"])
    free = _text(_run(LlamaCppProvider(tier), _request(request.messages, max_tokens=24)))
    assert " 8" in free  # without the stop sequence the count goes on
    deltas = _run(LlamaCppProvider(tier), request)
    assert _text(deltas) == free[: free.index(" 8")].lstrip()
    assert _one(deltas, FinishDelta).reason == "stop"


def test_closing_the_stream_early_stops_the_worker_and_frees_the_model(smollm2: TierConfig) -> None:
    provider = LlamaCppProvider(smollm2)
    exits: list[WorkerExit] = []
    ended = threading.Event()
    provider.on_worker_exit = lambda report: (exits.append(report), ended.set())

    async def read_two_then_close() -> None:
        stream = provider.stream(_request(STORY, max_tokens=400))
        assert isinstance(await stream.__anext__(), TextDelta)
        assert isinstance(await stream.__anext__(), TextDelta)
        await stream.aclose()

    asyncio.run(read_two_then_close())
    assert ended.wait(timeout=60), "the worker thread did not end after the stream was closed"
    assert exits[0].reason == "cancelled" and exits[0].tokens < 400
    model = asyncio.run(provider.model())
    assert not model.lock.locked()
    assert _one(_run(provider, _request(FRANCE, max_tokens=3)), FinishDelta).reason in ("stop", "length")


def test_two_concurrent_streams_share_one_model_and_both_complete() -> None:
    first, second = LlamaCppProvider(smollm2_tier("a")), LlamaCppProvider(smollm2_tier("b"))
    ticks = 0

    async def heartbeat(done: asyncio.Event) -> None:
        nonlocal ticks
        while not done.is_set():  # proves the loop keeps running while models generate
            ticks += 1
            await asyncio.sleep(0.01)

    async def both() -> list[list[Delta]]:
        done = asyncio.Event()
        beat = asyncio.create_task(heartbeat(done))
        request = _request(FRANCE, max_tokens=12)
        results = await asyncio.gather(_collect(first.stream(request)), _collect(second.stream(request)))
        done.set()
        await beat
        assert await first.model() is await second.model()
        return list(results)

    a, b = asyncio.run(both())
    assert _text(a) and _text(a) == _text(b)
    assert _one(a, FinishDelta).reason == _one(b, FinishDelta).reason
    assert ticks > 2


def test_conversation_history_is_honoured_in_completion_mode(gemma: TierConfig) -> None:
    messages = [
        {"role": "user", "content": "My name is Zorblax. What is 2 plus 2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "What is my name?"},
    ]
    assert "Zorblax" in _text(_run(LlamaCppProvider(gemma), _request(messages)))


def test_required_tool_choice_constrains_output_to_a_tool_call(smollm2: TierConfig) -> None:
    tools = [{
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }]
    request = _request([{"role": "user", "content": "What is the weather in Paris?"}], max_tokens=40,
                       tools=tools, tool_choice="required")
    deltas = _run(LlamaCppProvider(smollm2), request)
    calls = [d for d in deltas if isinstance(d, ToolCallDelta)]
    assert (calls[0].id, calls[0].name, calls[0].index) == ("call_0", "get_weather", 0)
    arguments = json.loads("".join(c.arguments for c in calls))
    assert isinstance(arguments.get("city"), str)
    assert _one(deltas, FinishDelta).reason == "tool_calls" and not _text(deltas)


def test_chat_mode_on_a_model_without_chat_template_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no chat template; use options.mode: completion"):
        _run(LlamaCppProvider(gemma_tier(mode="chat")), _request(FRANCE))


def test_prompt_longer_than_the_context_is_a_bad_request() -> None:
    provider = LlamaCppProvider(smollm2_tier(n_ctx=64))
    with pytest.raises(ProviderError) as info:
        _run(provider, _request([{"role": "user", "content": "word " * 200}]))
    assert info.value.kind == "bad_request" and "n_ctx" in str(info.value)


def test_logprobs_equal_llama_cpp_own_logits_all_figures() -> None:
    import llama_cpp

    tier = smollm2_tier(mode="completion", prompt_template="{query}", stop=[])
    provider = LlamaCppProvider(tier)
    prompt = "The capital of France is"
    deltas = _run(provider, _request([{"role": "user", "content": prompt}], max_tokens=4, logprobs=True))
    path = asyncio.run(provider.model()).path
    reference = llama_cpp.Llama(str(path), n_ctx=256, logits_all=True, verbose=False)
    expected = reference.create_completion(prompt, max_tokens=4, temperature=0.0, logprobs=1)["choices"][0]
    assert _text(deltas) == expected["text"].lstrip()
    assert _logprobs(deltas) == pytest.approx([float(x) for x in expected["logprobs"]["token_logprobs"]], abs=1e-3)


@pytest.mark.parametrize("setting", ["on", "off"])
def test_extra_buffers_reach_the_real_model_params_and_the_model_still_answers(
    smollm2: TierConfig, setting: str
) -> None:
    from dataclasses import replace

    from cascadectl.providers.llamacpp import runtime as llamacpp_runtime

    tier = replace(smollm2, options={**smollm2.options, "extra_buffers": setting})
    provider = LlamaCppProvider(tier)
    messages = [{"role": "system", "content": "Answer in one short sentence."}, *FRANCE]
    assert "Paris" in _text(_run(provider, _request(messages)))
    model = asyncio.run(provider.model())
    assert model.llm.model_params.use_extra_bufts is (setting == "on")
    assert provider.runtime is not None and provider.runtime["extra_buffers"] is (setting == "on")
    assert provider.runtime["extra_buffers_setting"] == setting
    assert model in llamacpp_runtime.loaded_models()


def test_auto_on_a_faked_amx_cpu_loads_the_real_model_without_extra_buffers(
    smollm2: TierConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cascadectl.providers.llamacpp import cpu as llamacpp_cpu

    amx = frozenset({"avx512f", "amx_tile", "amx_int8", "amx_bf16"})
    monkeypatch.setattr(llamacpp_cpu, "machine_flags", lambda: amx)
    provider = LlamaCppProvider(smollm2)  # extra_buffers: auto
    _run(provider, _request(FRANCE, max_tokens=4))
    assert asyncio.run(provider.model()).llm.model_params.use_extra_bufts is False
    assert provider.runtime is not None and "amx_int8" in provider.runtime["extra_buffers_reason"]


def test_score_reads_a_given_answer_and_prefers_the_right_one(smollm2: TierConfig) -> None:
    provider = LlamaCppProvider(smollm2)
    messages = [{"role": "system", "content": "Answer in one short sentence."}, *FRANCE]
    before = _text(_run(provider, _request(messages)))

    async def read(text: str) -> Any:
        return await provider.score(_request(messages), text)

    right, wrong = asyncio.run(read("The capital of France is Paris.")), asyncio.run(read("The capital of France is Berlin."))
    model = asyncio.run(provider.model())
    assert len(right.logprobs) == len(model.llm.tokenize(b"The capital of France is Paris.", add_bos=False))
    assert all(lp <= 0.0 for lp in right.logprobs) and right.input_tokens > len(right.logprobs)
    assert right.logprobs[:-2] == pytest.approx(wrong.logprobs[:-2], abs=1e-3)  # same words, same context
    assert min(right.logprobs) > min(wrong.logprobs)  # "Paris" is far likelier than "Berlin"
    # The read leaves the cache consistent: the same question answers the same way after it.
    assert _text(_run(provider, _request(messages))) == before
