"""`cascadectl stream` end to end against real HTTP on loopback."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cascadectl.cli.main import main
from cascadectl.traces import read_trace, trace_line_problems
from tests.support.sse_server import Scripted, json_response, sse_server  # noqa: F401
from tests.support.wire import anthropic_text, openai_text

CHAT = "/v1/chat/completions"
ANSWER = ["The ", "capital ", "of ", "France ", "is ", "Paris."]
HEDGE = ["I ", "think ", "maybe ", "it ", "is ", "Lyon, ", "not ", "sure."]


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_KEY", "sk-test-loopback-secret-0000")
    monkeypatch.setenv("ANTHROPIC_LOOP_KEY", "sk-ant-loopback-secret-1111")


def cascade(tmp_path: Path, url: str, verifier: str = "openai", mode: str = "live") -> Path:
    verifier_tier = (
        f"  - {{name: big, provider: anthropic, model: claude-x, base_url: '{url}', api_key_env: ANTHROPIC_LOOP_KEY,"
        " price: {input: 3, output: 15}, retries: 0}"
        if verifier == "anthropic"
        else f"  - {{name: big, provider: openai, model: big-model, base_url: '{url}/v1', api_key_env: LOOP_KEY,"
        " price: {input: 2.5, output: 10}, retries: 0}"
    )
    path = tmp_path / "loop.yaml"
    path.write_text(
        "version: 1\nname: loop\ntiers:\n"
        f"  - {{name: small, provider: openai, model: small-model, base_url: '{url}/v1', api_key_env: LOOP_KEY,"
        " price: {input: 0.15, output: 0.6}, retries: 0}\n"
        f"{verifier_tier}\n"
        f"quality: {{draft_mode: {mode}}}\n"
    )
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict]]:
    code = main(["stream", *args, "--json"])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]


def check_trace(path: Path) -> list[dict]:
    lines = list(read_trace(path))
    for line in lines:
        assert trace_line_problems(line) == [], line
    assert lines[0]["type"] == "query" and lines[-1]["type"] in ("complete", "error")
    assert [line["seq"] for line in lines] == list(range(len(lines)))
    return lines


def test_accepted_draft_over_openai(sse_server, tmp_path, capsys) -> None:
    sse_server.add(CHAT, openai_text(ANSWER))
    trace = tmp_path / "t.jsonl"
    code, events = run_json(capsys, str(cascade(tmp_path, sse_server.url)), "What is the capital of France?", "--trace", str(trace))
    assert code == 0
    assert [e["type"] for e in events] == ["routing"] + ["chunk"] * 6 + ["draft_decision", "complete"]
    result = events[-1]["data"]["result"]
    assert result["content"] == "".join(ANSWER) and result["draft_accepted"] is True
    assert result["tiers"][0]["input_tokens"] == 12 and result["tiers"][0]["tokens_estimated"] is False
    assert result["total_cost"] == pytest.approx((12 * 0.15 + 6 * 0.6) / 1e6)
    sent = sse_server.requests[0].json
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True} and sent["logprobs"] is True
    assert len(sse_server.requests) == 1
    lines = check_trace(trace)
    assert [l["type"] for l in lines][1:] == [e["type"] for e in events]
    assert "sk-test-loopback-secret" not in trace.read_text()


def test_rejected_draft_switches_to_anthropic_verifier(sse_server, tmp_path, capsys) -> None:
    sse_server.add(CHAT, openai_text(HEDGE, prob=0.3))
    sse_server.add("/v1/messages", anthropic_text(["Paris."]))
    trace = tmp_path / "t.jsonl"
    path = cascade(tmp_path, sse_server.url, verifier="anthropic")
    code, events = run_json(capsys, str(path), "What is the capital of France?", "--trace", str(trace))
    assert code == 0
    kinds = [e["type"] for e in events]
    assert kinds[-4:] == ["draft_decision", "switch", "chunk", "complete"]
    assert events[-4]["data"]["accepted"] is False
    assert events[-3]["data"]["retract"] is True
    result = events[-1]["data"]["result"]
    assert result["content"] == "Paris." and result["model_used"] == "claude-x"
    assert result["verifier_only_cost_estimated"] is False
    assert result["tiers"][1]["input_tokens"] == 15 and result["tiers"][1]["output_tokens"] == 1
    assert sse_server.requests[1].headers["x-api-key"] == "sk-ant-loopback-secret-1111"
    check_trace(trace)


def test_drafter_http_failure_escalates(sse_server, tmp_path, capsys) -> None:
    sse_server.add(CHAT, json_response(500, {"error": {"message": "boom", "type": "server_error"}}), openai_text(["Paris."]))
    code, events = run_json(capsys, str(cascade(tmp_path, sse_server.url)), "What is the capital of France?")
    assert code == 0
    switch = next(e for e in events if e["type"] == "switch")
    assert switch["data"]["kind"] == "provider_error" and "server" in switch["data"]["reason"]
    assert events[-1]["data"]["result"]["tiers"][0]["status"] == "failed"


def test_all_tiers_failing_exits_1_with_error_event(sse_server, tmp_path, capsys) -> None:
    fail = json_response(503, {"error": {"message": "overloaded", "type": "server_error"}})
    sse_server.add(CHAT, fail, fail)
    trace = tmp_path / "t.jsonl"
    code, events = run_json(capsys, str(cascade(tmp_path, sse_server.url)), "What is the capital of France?", "--trace", str(trace))
    assert code == 1
    assert events[-1]["type"] == "error" and len(events[-1]["data"]["errors"]) == 2
    assert check_trace(trace)[-1]["type"] == "error"


def test_buffered_mode_holds_the_draft(sse_server, tmp_path, capsys) -> None:
    sse_server.add(CHAT, openai_text(ANSWER))
    path = cascade(tmp_path, sse_server.url, mode="buffered")
    code, events = run_json(capsys, str(path), "What is the capital of France?")
    assert [e["type"] for e in events][:3] == ["routing", "draft_decision", "chunk"]


def test_human_output_puts_only_the_answer_on_stdout(sse_server, tmp_path, capsys) -> None:
    sse_server.add(CHAT, openai_text(HEDGE, prob=0.3), openai_text(["Paris."]))
    code = main(["stream", str(cascade(tmp_path, sse_server.url)), "What is the capital of France?"])
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out == "Paris.\n"  # the rejected draft was held back: stdout is not a terminal
    assert "draft rejected" in captured.err and "switch small → big" in captured.err
    assert "cost $" in captured.err and "TTFT" in captured.err


def test_query_from_stdin(sse_server, tmp_path, capsys, monkeypatch) -> None:
    import io

    sse_server.add(CHAT, openai_text(ANSWER))
    monkeypatch.setattr("sys.stdin", io.StringIO("What is the capital of France?\n"))
    code, events = run_json(capsys, str(cascade(tmp_path, sse_server.url)), "-")
    assert code == 0 and sse_server.requests[0].json["messages"][-1]["content"].startswith("What is the capital")


def test_missing_key_names_the_variable_and_sends_nothing(sse_server, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("LOOP_KEY")
    code = main(["stream", str(cascade(tmp_path, sse_server.url)), "hi"])
    assert code == 2
    assert "LOOP_KEY" in capsys.readouterr().err
    assert sse_server.requests == []


def test_bad_cascade_file_exits_2_with_location(tmp_path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\ntiers:\n  - name: a\n    provider: openai\n    model: m\n    temprature: 0.2\n")
    assert main(["stream", str(path), "hi"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:6:5" in err and "did you mean 'temperature'" in err
