"""`cascadectl serve` as a process: start-up errors, SIGTERM, traces per worker, and
`cascadectl report` over what the server recorded."""
from __future__ import annotations

import logging
import os
import re
import signal
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import httpx
import openai
import pytest

from cascadectl.cli.main import main
from cascadectl.serve.app import app_from_env, app_from_settings, create_app
from cascadectl.serve.settings import SETTINGS_ENV, ServeSettings
from cascadectl.traces import read_trace, trace_line_problems
from cascadectl.traces.writer import TraceWriter
from tests.serve.conftest import settings
from tests.serve.support import (
    CLIENT_KEY, HOLDS, WAIT, Hold, LiveServer, call, held_agent, openai_yaml, qa_yaml, sse_payloads, trace_lines,
    use_held_provider, user,
)


class Watch(logging.Handler):
    """Sets an event when the server logs a line matching a pattern."""

    def __init__(self) -> None:
        super().__init__()
        self.port: int | None = None
        self.listening, self.stopping = threading.Event(), threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        found = re.search(r"serving on http://127\.0\.0\.1:(\d+)/v1", message)
        if found:
            self.port = int(found.group(1))
            self.listening.set()
        if message.startswith("stopping:"):
            self.stopping.set()


@pytest.fixture
def watch() -> Iterator[Watch]:
    handler = Watch()
    logger = logging.getLogger("cascadectl.serve")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def whole_trace(directory: Path) -> list[dict[str, Any]]:
    (path,) = directory.glob("serve-*.jsonl")
    assert re.fullmatch(rf"serve-.+-{os.getpid()}\.jsonl", path.name)
    lines = list(read_trace(path))
    assert all(trace_line_problems(line) == [] for line in lines)
    return lines


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0_with_whole_traces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, watch: Watch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_held_provider(monkeypatch)
    HOLDS["sigterm"] = hold = Hold(after=1)
    monkeypatch.setenv("SERVE_KEY", CLIENT_KEY)
    cascade = qa_yaml(tmp_path / "qa.yaml", hold="sigterm")
    got: dict[str, Any] = {}

    def client() -> None:
        try:
            assert watch.listening.wait(WAIT)
            sdk = openai.OpenAI(base_url=f"http://127.0.0.1:{watch.port}/v1", api_key=CLIENT_KEY, max_retries=0)
            with ThreadPoolExecutor(1) as pool:
                answer = pool.submit(sdk.chat.completions.create, model="qa", messages=user("What is the capital of Germany?"))
                assert hold.reached.wait(WAIT)
                os.kill(os.getpid(), signal.SIGTERM)
                assert watch.stopping.wait(WAIT)  # shutting down, with the request still in flight
                hold.release()
                got["answer"] = answer.result(WAIT).choices[0].message.content
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            got["error"] = exc
            if watch.listening.is_set():  # the server's handler is in place: stop it
                os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=client)
    thread.start()
    code = main(["serve", str(cascade), "--port", "0", "--api-key-env", "SERVE_KEY", "--trace-dir", str(tmp_path / "traces")])
    thread.join(WAIT)
    assert "error" not in got, got.get("error")
    assert code == 0 and got["answer"] == "The capital of Germany is Berlin."
    lines = whole_trace(tmp_path / "traces")
    assert [line["type"] for line in lines][0] == "query" and lines[-1]["type"] == "complete"
    err = capsys.readouterr().err
    assert "serving on http://127.0.0.1:" in err and CLIENT_KEY not in err
    assert CLIENT_KEY not in (next((tmp_path / "traces").glob("*.jsonl"))).read_text()


def test_past_the_grace_period_what_is_left_is_cancelled_and_the_trace_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    use_held_provider(monkeypatch)
    hold = Hold(after=1)
    writer = TraceWriter(tmp_path / "serve.jsonl")
    live = LiveServer(create_app({"qa": held_agent(hold)}, settings(), trace=writer), graceful_timeout=0.2).start()
    with ThreadPoolExecutor(1) as pool:
        stuck = pool.submit(httpx.post, f"{live.url}/v1/chat/completions", timeout=WAIT,
                            json={"model": "qa", "messages": user("What is the capital of Germany?"), "stream": True})
        assert hold.reached.wait(WAIT)
        live.stop()  # never released: uvicorn cancels the request once the grace period is over
        assert hold.closed.is_set() and not hold.finished.is_set()
        cut = stuck.result(WAIT)  # the answer so far, then an in-stream error, never passed off as whole
    payloads = list(sse_payloads(cut.text))
    assert payloads[1]["choices"][0]["delta"] == {"content": "The "}
    assert payloads[-1]["error"]["code"] == "shutting_down" and "[DONE]" not in payloads
    assert writer._file.closed  # type: ignore[attr-defined]
    # Closed only after the cancelled request wrote its last lines (the chunk it got so far).
    lines = trace_lines(tmp_path / "serve.jsonl")
    assert lines[0]["type"] == "query" and lines[-1] == {**lines[-1], "type": "chunk", "content": "The ", "model": "big"}
    assert not [r for r in caplog.records if r.name.startswith("cascadectl") and r.levelno >= logging.ERROR]


def test_report_summarises_what_the_server_traced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    traces = tmp_path / "traces"
    app = app_from_settings(ServeSettings(cascades=(str(qa_yaml(tmp_path / "qa.yaml")),), trace_dir=str(traces)))
    with LiveServer(app) as live:
        sdk = openai.OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0)
        for question in ("What is the capital of France?", "What is the capital of Germany?"):
            sdk.chat.completions.create(model="qa", messages=user(question))
        with pytest.raises(openai.InternalServerError):
            sdk.chat.completions.create(model="qa", messages=user("boom"))
    assert len(whole_trace(traces)) > 6
    capsys.readouterr()
    assert main(["report", *map(str, traces.glob("serve-*.jsonl"))]) == 0
    out = capsys.readouterr().out
    assert re.search(r"queries run\s*\|\s*3/3", out) and re.search(r"errors\s*\|\s*1 \(33\.3%\)", out)
    assert re.search(r"acceptance rate\s*\|\s*50\.0% \(1 of 2 drafts\)", out)


def test_each_worker_builds_its_app_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given = ServeSettings(cascades=(str(qa_yaml(tmp_path / "qa.yaml")),), max_concurrency=3, trace_dir=str(tmp_path / "t"))
    monkeypatch.setenv(SETTINGS_ENV, given.to_json())
    app = app_from_env()
    assert app.state.server.settings == given
    assert call(app, "GET", "/health").json() == {"status": "ok", "models": ["qa"], "in_flight": 0, "max_concurrency": 3}
    app.state.server.close_trace()
    assert [p.name for p in (tmp_path / "t").iterdir()] == [f"serve-{socket.gethostname()}-{os.getpid()}.jsonl"]


def two_cascades(tmp_path: Path) -> list[str]:
    return [str(qa_yaml(tmp_path / "a.yaml", name="same")), str(qa_yaml(tmp_path / "b.yaml", name="same"))]


@pytest.mark.parametrize(("args", "says"), [
    (["--api-key-env", "NOT_SET_ANYWHERE"], "NOT_SET_ANYWHERE is not set"),
    (["--api-key-env", "UPSTREAM_KEY"], "tier 'drafter''s upstream API key"),
    (["--max-concurrency", "0"], "--max-concurrency"),
])
def test_bad_options_exit_2_before_listening(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str], args: list[str], says: str) -> None:
    monkeypatch.setenv("UPSTREAM_KEY", "sk-upstream-secret-42")
    cascade = openai_yaml(tmp_path / "loop.yaml", "http://127.0.0.1:9", "UPSTREAM_KEY")
    assert main(["serve", str(cascade), *args]) == 2
    err = capsys.readouterr().err
    assert says in err and "sk-upstream-secret-42" not in err


def test_bad_cascades_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", *two_cascades(tmp_path)]) == 2
    assert "cascade name 'same'" in capsys.readouterr().err
    assert main(["serve", str(tmp_path / "missing.yaml")]) == 2


def test_a_port_in_use_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code = main(["serve", str(qa_yaml(tmp_path / "qa.yaml")), "--port", str(taken.getsockname()[1])])
    assert code == 2 and "did not start" in capsys.readouterr().err
