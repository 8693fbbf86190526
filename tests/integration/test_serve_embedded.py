"""`cascadectl serve` in front of the embedded cascade (cascades/small.yaml): the
official OpenAI SDK as the client, real models behind, no network.

Texts are not asserted (they belong to the models); the wire is: a streamed answer
with its finish reason, usage and `cascade` object, a whole one with the
`x-cascade-*` headers, and whole trace lines for both once the server stopped.
"""
from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from cascadectl.serve.app import app_from_settings
from cascadectl.serve.settings import ServeSettings
from cascadectl.traces import trace_line_problems
from tests.serve.support import LiveServer

SMALL = Path(__file__).resolve().parents[2] / "cascades" / "small.yaml"
MODELS = {"smollm2-135m-instruct", "gemma3-270m"}
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
pytestmark = pytest.mark.usefixtures("local_models")


def test_the_embedded_cascade_answers_the_openai_sdk_streamed_and_whole(tmp_path: Path) -> None:
    traces = tmp_path / "traces"
    live = LiveServer(app_from_settings(ServeSettings(cascades=(str(SMALL),), trace_dir=str(traces)))).start()
    try:
        client = openai.OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list()] == ["small"]
        chunks = list(client.chat.completions.create(model="small", messages=QUESTION, max_tokens=24, stream=True,
                                                     stream_options={"include_usage": True}))
        raw = client.chat.completions.with_raw_response.create(model="small", messages=QUESTION, max_tokens=24)
    finally:
        live.stop()  # the trace's last batch is written at shutdown

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    final = chunks[-1]
    assert text.strip() and finishes in (["stop"], ["length"])
    assert final.usage is not None and final.usage.completion_tokens > 0
    assert final.usage.total_tokens == final.usage.prompt_tokens + final.usage.completion_tokens
    streamed = final.model_extra["cascade"]
    assert streamed["model"] in MODELS and streamed["total_cost"] > 0
    assert [t["status"] for t in streamed["tiers"]][-1] in ("accepted", "answered")

    whole = raw.parse()
    assert whole.choices[0].message.content.strip()
    assert raw.headers["x-cascade-model"] == whole.model_extra["cascade"]["model"] in MODELS
    assert raw.headers["x-cascade-draft-accepted"] == str(whole.model_extra["cascade"]["draft_accepted"]).lower()

    lines = [json.loads(line) for path in traces.glob("*.jsonl") for line in path.read_text().splitlines()]
    assert lines and all(trace_line_problems(line) == [] for line in lines)
    assert {final.id, whole.id} <= {line["query_id"] for line in lines if line["type"] == "complete"}
