"""`cascadectl serve CASCADE.yaml...`: the cascades behind an OpenAI-compatible API."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from cascadectl.errors import UsageError

SERVE_EXTRA = "pip install 'cascadectl[serve]'"


def serve(
    cascades: List[Path] = typer.Argument(..., metavar="CASCADE.yaml...", help="Cascade files; clients pick one by its `name` as the model.", show_default=False),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on (0: any free port, printed at start)."),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", metavar="VAR", help="Require 'Authorization: Bearer <$VAR>' on /v1/*."),
    max_concurrency: int = typer.Option(32, "--max-concurrency", min=1, help="Chat completions in flight per worker; past it, 429."),
    max_body_bytes: int = typer.Option(1 << 20, "--max-body-bytes", min=1, help="Largest request body; past it, 413."),
    trace_dir: Optional[Path] = typer.Option(None, "--trace-dir", help="Trace every request into DIR/serve-<host>-<pid>.jsonl."),
    live_drafts: bool = typer.Option(False, "--live-drafts", help="Stream drafts before they are judged (a rejected one is retracted in-stream)."),
    graceful_timeout: float = typer.Option(30.0, "--graceful-timeout", min=0.0, help="Seconds in-flight requests get to finish on SIGTERM."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes (each with its own trace file)."),
) -> int:
    """Serve cascades over OpenAI's Chat Completions API (POST /v1/chat/completions, GET /v1/models)."""
    from cascadectl.serve.settings import ServeSettings

    settings = ServeSettings(
        cascades=tuple(str(path) for path in cascades), api_key_env=api_key_env, max_concurrency=max_concurrency,
        max_body_bytes=max_body_bytes, trace_dir=None if trace_dir is None else str(trace_dir), live_drafts=live_drafts,
    )
    try:  # starlette and uvicorn load only here: `cascadectl --help` stays fast
        from cascadectl.serve.run import Listen, serve as run
    except ImportError as exc:
        raise UsageError(f"cascadectl serve needs the serve extra ({exc.name} is missing): {SERVE_EXTRA}") from None
    return run(settings, Listen(host, port, graceful_timeout, workers))

