"""The loopback OpenAI-compatible server the engine benchmarks talk to.

It runs in its own process (the shared test server, tests/support/sse_server.py)
so that serving never competes with the measured client for the GIL.

Each POST to /<name>/v1/chat/completions gets stream <name> of bench._streams.STREAMS,
its body written in one piece so the client's CPU sets the pace, or of
bench._streams.PACED, its events written on a schedule counted from the request's
arrival (deadlines, not sleeps in a row, so a late wake-up does not add up), the way a
hosted model streams.

    python -m bench._loopback      # prints its URL, serves until stdin closes
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
COPIES = 100_000  # scripted responses per path: more than any run asks for


def serve() -> None:
    from bench._streams import PACED, STREAMS, openai_body, openai_events
    from tests.support import sse_server
    from tests.support.sse_server import Scripted, SSEServer

    # Production servers (uvicorn, nginx) set TCP_NODELAY; without it a reused
    # keep-alive connection waits ~40 ms on Nagle + delayed ACK at every response.
    sse_server._Handler.disable_nagle_algorithm = True
    # socketserver's listen backlog is 5: a burst of new connections (bench/serve.py's
    # 100 concurrent clients) would overflow it and wait out a 1 s SYN retransmit.
    sse_server._Server.request_queue_size = 1024
    schedules = {}
    with SSEServer() as server:
        server._server.RequestHandlerClass = _paced_handler(sse_server._Handler, schedules)
        for name, tokens in STREAMS.items():
            script = Scripted(chunks=(openai_body(tokens()),))
            server.add(f"/{name}/v1/chat/completions", *([script] * COPIES))
        for name, (tokens, pace) in PACED.items():
            events = openai_events(tokens())
            count = len(tokens())  # the events up to the last token: role chunk, then one per token
            schedules[f"/{name}/v1/chat/completions"] = [pace.first_s + max(0, i - 1) * pace.gap_s for i in range(count + 1)]
            server.add(f"/{name}/v1/chat/completions", *([Scripted(chunks=tuple(events))] * COPIES))
        print(server.url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin


def _paced_handler(base: type, schedules: dict[str, list[float]]) -> type:
    """The test server's handler, holding each event of a paced path until its time
    (the events past the schedule, finish and usage and [DONE], leave at once)."""

    class Paced(base):  # type: ignore[misc, valid-type]
        def _respond(self, script: Any) -> None:
            self._schedule = schedules.get(self.path.split("?", 1)[0], ())
            self._arrived = time.perf_counter()
            super()._respond(script)

        def _before_chunk(self, script: Any, number: int) -> None:
            if number < len(self._schedule):
                wait = self._arrived + self._schedule[number] - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            super()._before_chunk(script, number)

    return Paced


class Loopback:
    """Start the server process; `base_url(name)` is the OpenAI base URL of a stream."""

    def __init__(self) -> None:
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def base_url(self, name: str) -> str:
        return f"{self.url}/{name}/v1"

    def __enter__(self) -> Loopback:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        args = [sys.executable, "-m", "bench._loopback"]
        self._process = subprocess.Popen(args, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.__exit__()
            raise RuntimeError("the loopback server did not start (see its stderr above)")
        return self

    def __exit__(self, *exc: object) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    serve()
