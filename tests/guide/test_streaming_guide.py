"""The text snippets of cascadeflow's docs/guides/streaming.md, run as the guide
writes them against a loopback OpenAI endpoint: only the import lines differ
(`cascadeflow` -> `cascadectl`), and where the guide elides (`[...]`) the agent is
its own two tiers. The tool snippets are in test_streaming_guide_tools.py."""
from __future__ import annotations

import asyncio
import re
from dataclasses import replace

import pytest

from cascadectl import CascadeAgent, ModelConfig
from cascadectl.streaming import StreamEventType
from tests.guide.helpers import PATH, models_called, run_with_agent, server_error
from tests.support.sse_server import Scripted, SSEServer
from tests.support.wire import openai_text

ANSWER = ["Python", " is", " a", " readable,", " general-purpose", " programming", " language", "."]
UNSURE = ["Python", " is", " a", " snake", "."]  # said with token probability 0.05


# --- Prerequisites -------------------------------------------------------------------

def test_prerequisites_streaming_needs_two_models(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    # ✅ Streaming available (2+ models)
    agent = CascadeAgent(models=[
        ModelConfig(name="gpt-4o-mini", provider="openai", cost=0.00015),
        ModelConfig(name="gpt-4o", provider="openai", cost=0.00625),
    ])

    # Check availability
    if agent.text_streaming_manager:
        print("✅ Text streaming available")

    if agent.tool_streaming_manager:
        print("✅ Tool streaming available")

    # ❌ No streaming (single model)
    agent = CascadeAgent(models=[
        ModelConfig(name="gpt-4o", provider="openai"),
    ])
    # agent.text_streaming_manager == None
    # agent.tool_streaming_manager == None

    assert agent.text_streaming_manager is None and agent.tool_streaming_manager is None
    assert capsys.readouterr().out == "✅ Text streaming available\n✅ Tool streaming available\n"
    assert openai.requests == []  # building agents calls no model


# --- Quick Start: Text Streaming (5 Lines) -------------------------------------------

async def quick_start_text() -> None:
    agent = CascadeAgent(models=[
        ModelConfig(name="gpt-4o-mini", provider="openai", cost=0.00015),
        ModelConfig(name="gpt-4o", provider="openai", cost=0.00625),
    ])  # 2+ models

    # ✅ CORRECT: Use stream_events()
    async for event in agent.stream_events("Hello"):
        if event.type == StreamEventType.CHUNK:
            print(event.content, end='', flush=True)


def test_quick_start_text(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    openai.add(PATH, openai_text(["Hello", "!", " How", " can", " I", " help?"]))
    asyncio.run(quick_start_text())
    assert capsys.readouterr().out == "Hello! How can I help?"
    assert models_called(openai) == ["gpt-4o-mini"]


# --- Text Streaming: Basic Usage -----------------------------------------------------

async def main():
    # Setup agent with 2+ models (required)
    agent = CascadeAgent(models=[
        ModelConfig(name="gpt-4o-mini", provider="openai", cost=0.00015),
        ModelConfig(name="gpt-4o", provider="openai", cost=0.00625),
    ])

    # ✅ CORRECT: Check streaming availability
    if not agent.text_streaming_manager:
        print("Streaming not available (need 2+ models)")
        return

    # ✅ CORRECT: Use stream_events()
    async for event in agent.stream_events(
        "Explain Python in one sentence.",
        max_tokens=100,
        temperature=0.7
    ):
        match event.type:
            case StreamEventType.CHUNK:
                # Real-time text output
                print(event.content, end='', flush=True)

            case StreamEventType.DRAFT_DECISION:
                # Quality check result
                if event.data['accepted']:
                    print(f"\n✓ Draft accepted")
                else:
                    print(f"\n✗ Rejected: {event.data['reason']}")

            case StreamEventType.SWITCH:
                # Model switching
                print(f"\n⤴️ Cascading to {event.data['to_model']}")

            case StreamEventType.COMPLETE:
                # Final result
                result = event.data['result']
                print(f"\n💰 ${result['total_cost']:.6f}")


def test_text_streaming_draft_accepted(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    openai.add(PATH, openai_text(ANSWER))
    asyncio.run(main())
    # 12 prompt + 8 answer tokens at the blended $0.00015 per 1K.
    answer = "Python is a readable, general-purpose programming language."
    assert capsys.readouterr().out == f"{answer}\n✓ Draft accepted\n\n💰 $0.000003\n"
    assert models_called(openai) == ["gpt-4o-mini"]  # the verifier was never called
    sent = openai.requests[0].json
    assert sent["max_tokens"] == 100 and sent["temperature"] == 0.7
    assert sent["messages"] == [{"role": "user", "content": "Explain Python in one sentence."}]


@pytest.mark.parametrize(
    ("draft", "shown", "reason", "cost"),  # reason: a pattern
    [
        # Empty: the non_empty hard check fails. 12 + 0 tokens, then gpt-4o's 12 + 8.
        (openai_text([]), "", re.escape("rejected: non_empty (0)"), "$0.000127"),
        # Low token confidence: the soft score falls under the moderate threshold.
        (openai_text(UNSURE, prob=0.05), "Python is a snake.",
         r"rejected: score 0\.[0-5]\d < 0\.65 \(weakest: confidence 0\.05\)", "$0.000128"),
    ],
    ids=["empty", "unsure"],
)
def test_text_streaming_draft_rejected_cascades(
    openai: SSEServer, capsys: pytest.CaptureFixture[str], draft: Scripted, shown: str, reason: str, cost: str
) -> None:
    openai.add(PATH, draft, openai_text(ANSWER))
    asyncio.run(main())
    answer = "Python is a readable, general-purpose programming language."
    expected = re.escape(f"{shown}\n✗ Rejected: ") + reason + re.escape(f"\n\n⤴️ Cascading to gpt-4o\n{answer}\n💰 {cost}\n")
    assert re.fullmatch(expected, capsys.readouterr().out)
    assert models_called(openai) == ["gpt-4o-mini", "gpt-4o"]


# --- Advanced Usage: Collecting Stream Results ---------------------------------------

async def collect_stream_content(agent, query):
    """Collect all content from stream."""
    chunks = []

    async for event in agent.stream_events(query):
        if event.type == StreamEventType.CHUNK:
            chunks.append(event.content)
        elif event.type == StreamEventType.COMPLETE:
            return ''.join(chunks), event.data['result']

    return ''.join(chunks), None


async def collect_usage(agent: CascadeAgent) -> tuple[str, dict[str, object]]:
    # Usage
    content, result = await collect_stream_content(agent, "Explain AI")
    print(f"Content: {content}")
    print(f"Cost: ${result['total_cost']:.6f}")
    return content, result


def test_collecting_stream_results(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    openai.add(PATH, openai_text(["AI", " is", " software", " that", " learns", "."]))
    content, result = run_with_agent(collect_usage)
    assert content == result["content"] == "AI is software that learns."
    assert result["model_used"] == "gpt-4o-mini" and result["draft_accepted"] is True
    assert capsys.readouterr().out == "Content: AI is software that learns.\nCost: $0.000003\n"


def test_collecting_keeps_the_rejected_draft_s_chunks(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    # Drafts stream live (the default): a rejected draft's chunks were shown before
    # SWITCH said to retract them, and this snippet, ignoring SWITCH, keeps them.
    openai.add(PATH, openai_text(["AI", " is", " magic", "."], prob=0.05),
               openai_text(["AI", " is", " software", " that", " learns", "."]))
    content, result = run_with_agent(collect_usage)
    assert result["content"] == "AI is software that learns." and result["model_used"] == "gpt-4o"
    assert content == "AI is magic." + "AI is software that learns."
    # 12 + 4 tokens at $0.15 per 1M, 12 + 6 at $6.25 per 1M.
    assert capsys.readouterr().out == f"Content: {content}\nCost: $0.000115\n"


# --- Advanced Usage: Timeout Handling ------------------------------------------------

async def stream_with_timeout(agent, query, timeout=30):
    """Stream with timeout protection."""
    try:
        async with asyncio.timeout(timeout):
            async for event in agent.stream_events(query):
                if event.type == StreamEventType.CHUNK:
                    print(event.content, end='', flush=True)
                elif event.type == StreamEventType.COMPLETE:
                    return event.data['result']

    except asyncio.TimeoutError:
        print(f"\n⚠️  Streaming timeout after {timeout}s")
        return None


def test_timeout_returns_the_result_when_the_stream_ends_in_time(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    openai.add(PATH, openai_text(ANSWER))
    result = run_with_agent(lambda agent: stream_with_timeout(agent, "Explain Python in one sentence."))
    assert result is not None and result["content"] == "Python is a readable, general-purpose programming language."
    assert capsys.readouterr().out == result["content"]


def test_timeout_gives_up_on_a_stalled_stream(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    # The role chunk and two words arrive, then the server stalls (released at teardown).
    openai.add(PATH, replace(openai_text(ANSWER), stall_after=3))
    result = run_with_agent(lambda agent: stream_with_timeout(agent, "Explain Python in one sentence.", timeout=0.1))
    assert result is None
    assert openai.stalled.is_set()
    assert capsys.readouterr().out == "Python is\n⚠️  Streaming timeout after 0.1s\n"
    assert models_called(openai) == ["gpt-4o-mini"]


# --- Advanced Usage: Error Recovery --------------------------------------------------

async def stream_with_retry(agent, query, max_retries=3):
    """Stream with automatic retry on failure."""
    for attempt in range(max_retries):
        try:
            async for event in agent.stream_events(query):
                if event.type == StreamEventType.ERROR:
                    print(f"\n⚠️  Attempt {attempt + 1} failed: {event.data['error']}")
                    break

                if event.type == StreamEventType.CHUNK:
                    print(event.content, end='', flush=True)

                if event.type == StreamEventType.COMPLETE:
                    return event.data['result']

        except Exception as e:
            if attempt < max_retries - 1:
                print(f"\n⚠️  Retrying... ({attempt + 1}/{max_retries})")
                await asyncio.sleep(2 ** attempt)  # Exponential backoff
            else:
                raise

    return None


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """asyncio.sleep records instead of waiting: the snippet's own backoff (1 s, 2 s)
    must never run, and the tiers' retries wait the server's `retry-after: 0`."""
    waited: list[float] = []

    async def record(seconds: float, result: object = None) -> object:
        waited.append(seconds)
        return result

    monkeypatch.setattr(asyncio, "sleep", record)
    return waited


# Every tier tries three times (retries=2, ModelConfig's default) before the next takes over.
ALL_TIERS_FAIL = [server_error()] * 6
FAILED = ("\n⚠️  Attempt {n} failed: every tier failed; last: provider error (server): "
          "tier 'gpt-4o' (openai): HTTP 500 server (server_error): upstream exploded\n")


def test_error_recovery_retries_after_an_error_event(
    openai: SSEServer, capsys: pytest.CaptureFixture[str], sleeps: list[float]
) -> None:
    openai.add(PATH, *ALL_TIERS_FAIL, openai_text(ANSWER))
    result = run_with_agent(lambda agent: stream_with_retry(agent, "Explain Python in one sentence."))
    assert result is not None and result["model_used"] == "gpt-4o-mini"
    assert capsys.readouterr().out == FAILED.format(n=1) + result["content"]
    assert models_called(openai) == ["gpt-4o-mini"] * 3 + ["gpt-4o"] * 3 + ["gpt-4o-mini"]
    assert sleeps == [0.0] * 4  # two retries per tier, as retry-after: 0 says; no snippet backoff


def test_error_recovery_gives_up_after_max_retries(
    openai: SSEServer, capsys: pytest.CaptureFixture[str], sleeps: list[float]
) -> None:
    openai.add(PATH, *ALL_TIERS_FAIL * 3)
    assert run_with_agent(lambda agent: stream_with_retry(agent, "Explain Python in one sentence.")) is None
    assert capsys.readouterr().out == "".join(FAILED.format(n=n) for n in (1, 2, 3))
    assert len(openai.requests) == 18
    assert sleeps == [0.0] * 12
