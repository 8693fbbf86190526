"""`cascadectl stream CASCADE QUERY`: one query through the cascade, live."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from cascadectl.errors import UsageError


def stream(
    cascade: Path = typer.Argument(..., help="Cascade YAML file, e.g. cascades/default.yaml."),
    query: str = typer.Argument(..., help="The query; '-' reads it from stdin."),
    json_out: bool = typer.Option(False, "--json", help="Print every event as one JSON line on stdout."),
    trace: Optional[Path] = typer.Option(None, "--trace", help="Append every event to this JSONL trace."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=1),
    temperature: Optional[float] = typer.Option(None, "--temperature", min=0.0),
    complexity_hint: Optional[str] = typer.Option(None, "--complexity-hint", help="trivial|simple|moderate|hard|expert"),
    force_direct: bool = typer.Option(False, "--force-direct", help="Skip drafting: go to the direct tier."),
    system: Optional[str] = typer.Option(None, "--system", help="System prompt."),
    live: Optional[bool] = typer.Option(None, "--live/--buffered", help="Stream drafts live, or hold them until accepted."),
    tools: Optional[str] = typer.Option(None, "--tools", help="A YAML/JSON file listing tools to offer, or module:attr naming a ToolExecutor (or ToolConfigs, functions) to run the tool loop with."),
    tool_choice: Optional[str] = typer.Option(None, "--tool-choice", help="auto|required|none|<tool name>"),
    max_steps: int = typer.Option(8, "--max-steps", min=1, help="The tool loop's cap on model calls."),
    budget: Optional[float] = typer.Option(None, "--budget", min=0.0, help="USD this query may spend (overrides budget_usd)."),
) -> int:
    """Stream one query through a cascade: answer on stdout, decisions and costs on stderr."""
    from cascadectl.cascade.agent import CascadeAgent
    from cascadectl.traces.writer import TraceWriter

    text = sys.stdin.read() if query == "-" else query
    if not text.strip():
        raise UsageError("the query is empty")
    agent = CascadeAgent.from_yaml(cascade)
    offered, executor = _tools_option(tools)
    kwargs: dict[str, Any] = dict(
        max_tokens=max_tokens,
        temperature=temperature,
        complexity_hint=complexity_hint,
        force_direct=force_direct,
        tools=offered,
        tool_choice=tool_choice,
        system=system,
        draft_mode=None if live is None else ("live" if live else "buffered"),
        budget_usd=budget,
    )
    if executor is not None:
        kwargs.update(tool_executor=executor, max_steps=max_steps)
    writer = TraceWriter(trace) if trace else None
    try:
        import asyncio  # here, not at the top: `cascadectl --help` should not pay for it

        return asyncio.run(_run(agent, text, kwargs, json_out, writer, loop=executor is not None))
    finally:
        if writer is not None:
            writer.close()


async def _run(agent: Any, text: str, kwargs: dict[str, Any], json_out: bool, writer: Any, loop: bool = False) -> int:
    from cascadectl.cli.render import Renderer

    renderer = Renderer(loop=loop)
    failed = False
    try:
        async for event in agent.stream_events(text, trace=writer, **kwargs):
            if json_out:
                sys.stdout.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")
                sys.stdout.flush()
                failed = failed or event.type.value == "error"
            else:
                renderer.handle(event)
    finally:
        await agent.aclose()
    return 1 if failed or renderer.failed else 0


def _tools_option(value: str | None) -> tuple[list[Any] | None, Any]:
    """(tools to offer, executor): a file of tool schemas, or module:attr for the tool loop."""
    if value is None:
        return None, None
    path = Path(value)
    if path.exists() or ":" not in value or path.suffix.lower() in (".yaml", ".yml", ".json"):
        return load_tools_file(path), None
    from cascadectl.tools.loading import load_tools

    return None, load_tools(value)


def load_tools_file(path: Path) -> list[Any]:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read tools file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise UsageError(f"{path}{where}: not valid YAML/JSON ({getattr(exc, 'problem', exc)})") from None
    if isinstance(raw, dict) and "tools" in raw:
        raw = raw["tools"]
    if not isinstance(raw, list):
        raise UsageError(f"{path}: expected a list of tools (or a mapping with a 'tools' list)")
    return raw
