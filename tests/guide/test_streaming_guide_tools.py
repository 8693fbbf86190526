"""The tool snippets of cascadeflow's docs/guides/streaming.md (Quick Start, Tool
Streaming, Tool Execution, Custom Event Handlers), run as the guide writes them
against a loopback OpenAI endpoint that streams real tool-call chunks. Only the
import lines differ; where the guide elides, the minimum is filled in."""
from __future__ import annotations

import asyncio
from typing import Dict

import pytest

from cascadectl import CascadeAgent, ModelConfig
from cascadectl.streaming import StreamEventType, ToolStreamEventType
from cascadectl.tools import ToolCall, ToolCallFormat, ToolConfig, ToolExecutor
from tests.guide.helpers import PATH, models_called, openai_tool_call, run_with_agent
from tests.support.sse_server import SSEServer
from tests.support.wire import openai_text

PARIS = {"location": "Paris"}


def tools_sent(server: SSEServer) -> list[str]:
    return [tool["function"]["name"] for tool in server.requests[0].json["tools"]]


# --- Quick Start: Tool Streaming (10 Lines) ------------------------------------------

async def quick_start_tools(agent: CascadeAgent) -> None:
    tools = [{"name": "get_weather", "description": "...", "parameters": {  # the guide's {...}: one argument
        "type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}]  # Universal format

    # ✅ CORRECT: Use stream_events() with tools
    async for event in agent.stream_events(
        "What's the weather in Paris?",
        tools=tools
    ):
        if event.type == ToolStreamEventType.TOOL_CALL_COMPLETE:
            tool = event.data.get('tool_call', {})
            print(f"Tool: {tool.get('name')}")


def test_quick_start_tools(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    openai.add(PATH, openai_tool_call(PARIS))
    run_with_agent(quick_start_tools)
    assert capsys.readouterr().out == "Tool: get_weather\n"
    assert models_called(openai) == ["gpt-4o-mini"] and tools_sent(openai) == ["get_weather"]


# --- Tool Streaming: Basic Usage -----------------------------------------------------

# ✅ CORRECT: Define tools in universal format
tools = [{
    "name": "get_weather",
    "description": "Get current weather for a location",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "City name"}
        },
        "required": ["location"]
    }
}]


async def main():
    # Setup agent with 2+ models (REQUIRED!)
    agent = CascadeAgent(models=[
        ModelConfig(name="gpt-4o-mini", provider="openai", cost=0.00015),
        ModelConfig(name="gpt-4o", provider="openai", cost=0.00625),
    ])

    # ✅ CORRECT: Check tool streaming availability
    if not agent.tool_streaming_manager:
        print("Tool streaming not available (need 2+ models)")
        return

    # ✅ CORRECT: Use agent.stream_events() with tools
    async for event in agent.stream_events(
        "What's the weather in Paris?",
        tools=tools
    ):
        match event.type:
            case ToolStreamEventType.TEXT_CHUNK:
                # Regular text
                print(event.content, end='', flush=True)

            case ToolStreamEventType.TOOL_CALL_START:
                # Tool call detected
                print(f"\n🔧 Tool call starting...")

            case ToolStreamEventType.TOOL_CALL_COMPLETE:
                # ✅ CORRECT: Access via event.data
                tool = event.data.get('tool_call', {})
                print(f"🔧 Tool: {tool.get('name')}({tool.get('arguments')})")

            case ToolStreamEventType.COMPLETE:
                # All done
                print("\n✅ Done")


def test_tool_streaming_draft_call_accepted(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    openai.add(PATH, openai_tool_call(PARIS, text="Let me check."))
    asyncio.run(main())
    assert capsys.readouterr().out == (
        "Let me check.\n🔧 Tool call starting...\n🔧 Tool: get_weather({'location': 'Paris'})\n\n✅ Done\n"
    )
    assert models_called(openai) == ["gpt-4o-mini"]
    assert openai.requests[0].json["tools"][0]["function"]["parameters"] == tools[0]["parameters"]


def test_tool_streaming_bad_draft_call_cascades(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    # The draft leaves out the required location: the tool_calls hard check fails
    # and gpt-4o makes the call (live drafts: the rejected call was shown first).
    openai.add(PATH, openai_tool_call({"city": "Paris"}, call_id="call_draft"), openai_tool_call(PARIS))
    asyncio.run(main())
    assert capsys.readouterr().out == (
        "\n🔧 Tool call starting...\n🔧 Tool: get_weather({'city': 'Paris'})\n"
        "\n🔧 Tool call starting...\n🔧 Tool: get_weather({'location': 'Paris'})\n\n✅ Done\n"
    )
    assert models_called(openai) == ["gpt-4o-mini", "gpt-4o"]


# --- Tool Streaming: Tool Execution ("Example with actual execution") ----------------

async def tool_execution(agent: CascadeAgent, query: str) -> None:
    """The snippet whole; `agent` and `query` are the ones it leaves to the reader."""
    # Define tools with executable functions
    def get_weather(location: str, unit: str = "celsius") -> str:
        # Your actual implementation
        return f"{location}: 22°C, sunny"

    tool_configs = [
        ToolConfig(
            name="get_weather",
            description="Get weather",
            parameters={
                "type": "object",
                "properties": {
                    "location": {"type": "string"},
                    "unit": {"type": "string"}
                },
                "required": ["location"]
            },
            function=get_weather  # ← Actual function
        )
    ]

    # Create executor
    executor = ToolExecutor(tool_configs)

    # Define tools for model (universal format)
    tools = [{
        "name": "get_weather",
        "description": "Get weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},  # the guide's {...}
    }]

    # Stream and execute
    async for event in agent.stream_events(query, tools=tools):
        if event.type == ToolStreamEventType.TOOL_CALL_COMPLETE:
            tool_call_data = event.data.get('tool_call', {})

            # Create ToolCall object
            tc = ToolCall(
                id=tool_call_data.get('id', 'call_0'),
                name=tool_call_data['name'],
                arguments=tool_call_data['arguments'],
                provider_format=ToolCallFormat.OPENAI
            )

            # Execute the tool
            result = await executor.execute(tc)
            print(f"Result: {result.result}")


def test_tool_execution_runs_the_streamed_call(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    openai.add(PATH, openai_tool_call(PARIS))
    run_with_agent(lambda agent: tool_execution(agent, "What's the weather in Paris?"))
    assert capsys.readouterr().out == "Result: Paris: 22°C, sunny\n"
    assert models_called(openai) == ["gpt-4o-mini"]


def test_tool_execution_passes_every_argument(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    # Fragments split mid-key and mid-value still arrive as one dict for the function.
    openai.add(PATH, openai_tool_call({"location": "Oslo", "unit": "fahrenheit"}, pieces=7))
    run_with_agent(lambda agent: tool_execution(agent, "What's the weather in Oslo?"))
    assert capsys.readouterr().out == "Result: Oslo: 22°C, sunny\n"


# --- Advanced Usage: Custom Event Handlers -------------------------------------------

class MyStreamHandler:
    """Custom streaming handler with callbacks."""

    def __init__(self):
        self.chunks = []
        self.tools_called = []

    async def on_chunk(self, content: str):
        """Handle text chunks."""
        self.chunks.append(content)
        print(content, end='', flush=True)

    async def on_tool_call(self, tool_call: Dict):
        """Handle tool calls."""
        self.tools_called.append(tool_call['name'])
        print(f"\nCalling: {tool_call['name']}")

    async def handle_stream(self, agent, query, tools=None):
        """Process stream with custom logic."""
        async for event in agent.stream_events(query, tools=tools):
            if event.type in (StreamEventType.CHUNK, ToolStreamEventType.TEXT_CHUNK):
                await self.on_chunk(event.content)
            elif event.type == ToolStreamEventType.TOOL_CALL_COMPLETE:
                tool = event.data.get('tool_call', {})
                await self.on_tool_call(tool)


async def handler_usage(agent: CascadeAgent, weather_tools: list[dict[str, object]]) -> MyStreamHandler:
    # Usage
    handler = MyStreamHandler()
    await handler.handle_stream(agent, "What's the weather?", tools=weather_tools)
    return handler


def test_custom_handler_sees_text_and_tool_calls(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    openai.add(PATH, openai_tool_call(PARIS, text="Checking Paris."))
    handler = run_with_agent(lambda agent: handler_usage(agent, tools))
    assert handler.chunks == ["Checking Paris."] and handler.tools_called == ["get_weather"]
    assert capsys.readouterr().out == "Checking Paris.\nCalling: get_weather\n"
    assert models_called(openai) == ["gpt-4o-mini"] and tools_sent(openai) == ["get_weather"]


def test_custom_handler_without_tools_gets_text_chunks(openai: SSEServer, capsys: pytest.CaptureFixture[str]) -> None:
    openai.add(PATH, openai_text(["It", " is", " sunny", "."]))
    handler = MyStreamHandler()
    run_with_agent(lambda agent: handler.handle_stream(agent, "What's the weather?"))
    assert handler.chunks == ["It", " is", " sunny", "."] and handler.tools_called == []
    assert capsys.readouterr().out == "It is sunny."
    assert "tools" not in openai.requests[0].json
