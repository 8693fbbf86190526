"""OpenAI requests -> stream_events arguments, and the 400/404 answers to bad ones."""
from __future__ import annotations

from typing import Any

import pytest

from cascadectl.serve.app import create_app
from cascadectl.serve.errors import APIError
from cascadectl.serve.wire import parse_chat
from tests.serve.conftest import settings
from tests.serve.support import WEATHER_TOOL, call, qa_agent, user

CHAT = "/v1/chat/completions"


def app() -> Any:
    return create_app({"qa": qa_agent(), "other": qa_agent()}, settings())


def test_messages_and_parameters_map_onto_stream_events() -> None:
    chat = parse_chat({
        "model": "qa", "max_tokens": 9, "max_completion_tokens": 12, "temperature": 0.3, "stream": True,
        "stream_options": {"include_usage": True}, "tools": [WEATHER_TOOL], "tool_choice": "required",
        "cascade": {"complexity_hint": "hard", "force_direct": True},
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Weather"}, {"type": "text", "text": "in Paris?"}]},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ],
    })
    kwargs = chat.stream_kwargs("buffered")
    assert kwargs["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather\nin Paris?"},
        {"role": "assistant", "content": "",
         "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
    ]
    assert (kwargs["max_tokens"], kwargs["temperature"], kwargs["draft_mode"]) == (12, 0.3, "buffered")
    assert (kwargs["tools"], kwargs["tool_choice"]) == ([WEATHER_TOOL], "required")
    assert (kwargs["complexity_hint"], kwargs["force_direct"]) == ("hard", True)
    assert chat.stream and chat.include_usage


def test_include_usage_only_counts_when_streaming() -> None:
    assert not parse_chat({"model": "qa", "messages": user("hi"), "stream_options": {"include_usage": True}}).include_usage


@pytest.mark.parametrize(("body", "param", "says"), [
    ({"messages": user("hi")}, "model", "'model' is required"),
    ({"model": "qa"}, "messages", "'messages' is required"),
    ({"model": "qa", "messages": []}, "messages", "non-empty"),
    ({"model": "qa", "messages": "hi"}, "messages", "array"),
    ({"model": "qa", "messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role", "one of"),
    ({"model": "qa", "messages": [{"role": "user"}]}, "messages[0].content", "string or an array"),
    ({"model": "qa", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]},
     "messages[0].content[0]", "only text"),
    ({"model": "qa", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id", "required"),
    ({"model": "qa", "messages": user("hi"), "n": 2}, "n", "'n' must be 1"),
    ({"model": "qa", "messages": user("hi"), "max_tokens": 0}, "max_tokens", "positive integer"),
    ({"model": "qa", "messages": user("hi"), "temperature": 3}, "temperature", "0 to 2"),
    ({"model": "qa", "messages": user("hi"), "stream": "yes"}, "stream", "true or false"),
    ({"model": "qa", "messages": user("hi"), "tools": {"name": "x"}}, "tools", "array"),
    ({"model": "qa", "messages": user("hi"), "cascade": {"complexity_hint": "easy"}}, "cascade.complexity_hint", "one of"),
])
def test_bad_requests_are_400_naming_the_field(body: dict[str, Any], param: str, says: str) -> None:
    with pytest.raises(APIError) as caught:
        parse_chat(body)
    assert caught.value.status == 400 and caught.value.detail["param"] == param and says in str(caught.value)
    response = call(app(), "POST", CHAT, json=body)
    assert response.status_code == 400 and response.json()["error"]["param"] == param


@pytest.mark.parametrize("raw", [b"{bad json", b"\xff\xfe", b"[1, 2]", b""])
def test_a_body_that_is_not_a_json_object_is_400(raw: bytes) -> None:
    response = call(app(), "POST", CHAT, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


def test_tools_the_library_refuses_are_400_with_its_message() -> None:
    bad_tool = {"model": "qa", "messages": user("hi"), "tools": [{"type": "function", "function": {"description": "no name"}}]}
    response = call(app(), "POST", CHAT, json=bad_tool)
    assert response.status_code == 400 and response.json()["error"]["param"] == "tools"
    unknown = {"model": "qa", "messages": user("hi"), "tools": [WEATHER_TOOL], "tool_choice": "get_time"}
    response = call(app(), "POST", CHAT, json=unknown)
    assert response.status_code == 400 and "get_time" in response.json()["error"]["message"]
    assert response.json()["error"]["param"] == "tool_choice"


def test_an_unknown_model_is_404_listing_the_served_names() -> None:
    response = call(app(), "POST", CHAT, json={"model": "gpt-4o", "messages": user("hi")})
    error = response.json()["error"]
    assert response.status_code == 404 and error["code"] == "model_not_found" and error["param"] == "model"
    assert "'gpt-4o'" in error["message"] and "other, qa" in error["message"]
    assert call(app(), "GET", "/v1/models/gpt-4o").status_code == 404


def test_unknown_paths_and_methods_answer_in_openai_shape() -> None:
    assert call(app(), "GET", "/v1/completions").json()["error"]["code"] == "not_found"
    wrong = call(app(), "GET", CHAT)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_an_unexpected_failure_before_the_answer_is_a_500_in_openai_shape() -> None:
    agent = qa_agent()

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("a bug, with a secret: sk-should-not-leak")

    agent.stream_events = broken  # type: ignore[method-assign]
    response = call(create_app({"qa": agent}, settings()), "POST", CHAT, raise_app_exceptions=False,
                    json={"model": "qa", "messages": user("Hi")})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error" and "sk-should-not-leak" not in response.text
