"""The app under uvicorn: one process, or `--workers N` processes that each build
their own app (agents, and a trace file of their own) from the settings.

SIGTERM or Ctrl-C: uvicorn stops accepting connections, lets in-flight requests
finish for up to the grace period, cancels what is left (closing its upstream
streams), then runs the app's shutdown, which closes the agents and the trace file.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from contextlib import contextmanager
from typing import Any, Iterator, NamedTuple, TextIO

import uvicorn

from cascadectl.errors import UsageError
from cascadectl.serve.app import app_from_settings
from cascadectl.serve.settings import SETTINGS_ENV, ServeSettings, client_key, load_agents

log = logging.getLogger("cascadectl.serve")


class Listen(NamedTuple):
    host: str
    port: int
    graceful_timeout: float
    workers: int = 1
    log_level: str = "info"


class ReportingServer(uvicorn.Server):
    """uvicorn's server, saying where it listens once it does (the real port for --port 0)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        for server in getattr(self, "servers", ()):
            for sock in server.sockets or ():
                host, port = sock.getsockname()[:2]
                log.info("serving on http://%s:%d/v1 (pid %d)", host, port, os.getpid())

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        in_flight, grace = len(self.server_state.tasks), self.config.timeout_graceful_shutdown
        log.info("stopping: no new connections; %d request(s) in flight get %s to finish", in_flight,
                 "as long as they need" if grace is None else f"{grace:g} s")
        await super().shutdown(sockets)


def serve(settings: ServeSettings, listen: Listen) -> int:
    _log_to_stderr()
    # No access log: every request is already a query in the traces, and formatting a
    # log line per request costs a measurable share of the server's time per request.
    options: dict[str, Any] = dict(host=listen.host, port=listen.port, lifespan="on", log_level=listen.log_level,
                                   timeout_graceful_shutdown=listen.graceful_timeout, access_log=False)
    with _sigterm_is_a_clean_stop():
        if listen.workers > 1:
            client_key(settings, load_agents(settings.cascades))  # fail here once, not in every worker
            os.environ[SETTINGS_ENV] = settings.to_json()
            uvicorn.run("cascadectl.serve.app:app_from_env", factory=True, workers=listen.workers, **options)
            return 0
        app = app_from_settings(settings)
        log.info("models: %s", ", ".join(sorted(app.state.server.agents)))
        server = ReportingServer(uvicorn.Config(app, **options))
        try:
            server.run()
        except SystemExit:  # uvicorn's way of saying it could not start
            pass
        finally:
            app.state.server.close_trace()  # closed by the app's shutdown already, unless that was skipped
        if not server.started:
            raise UsageError(f"the server did not start on {listen.host}:{listen.port} (see the error above)")
    return 0


@contextmanager
def _sigterm_is_a_clean_stop() -> Iterator[None]:
    """uvicorn re-raises the signal it stopped on once it is done; a graceful stop on
    SIGTERM is then the end of a normal run (exit 0), not a kill."""
    try:
        previous = signal.signal(signal.SIGTERM, lambda *_: None)
    except ValueError:  # not the main thread: nothing to restore
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a line is logged."""

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def _log_to_stderr() -> None:
    if not any(isinstance(handler, _Stderr) for handler in log.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("cascadectl serve: %(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
