"""Renders stream events for a person: the answer on stdout, everything else on stderr."""
from __future__ import annotations

import json
import os
import sys
from typing import IO, Any

from cascadectl.streaming.events import StreamEvent

_COLOURS = {"dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36", "bold": "1"}


def use_colour(stream: IO[str]) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


class Renderer:
    """Draft text goes to stdout live only on a terminal; when stdout is a file or
    a pipe the draft is held until accepted, so `> answer.txt` gets the answer alone."""

    def __init__(self, out: IO[str] | None = None, err: IO[str] | None = None, loop: bool = False) -> None:
        """`loop`: the tool loop runs the calls, so a call is a step on stderr (its
        `⚙ name(arguments)` line), not part of the answer on stdout."""
        self.loop = loop
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.live_out = self.out.isatty()
        self.colour_out = use_colour(self.out)
        self.colour_err = use_colour(self.err)
        self.held: list[str] = []
        self.at_line_start = True
        self.tool_line_open = False
        self.result: dict[str, Any] | None = None
        self.failed = False

    def paint(self, text: str, colour: str, on_err: bool = True) -> str:
        enabled = self.colour_err if on_err else self.colour_out
        return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m" if enabled else text

    def note(self, text: str, colour: str = "dim") -> None:
        self._end_tool_line()
        if not self.at_line_start and self.live_out:
            self.out.write("\n")
            self.out.flush()
            self.at_line_start = True
        self.err.write(self.paint(text, colour) + "\n")
        self.err.flush()

    def handle(self, event: StreamEvent) -> None:
        handler = getattr(self, "on_" + event.type.value, None)
        if handler is not None:
            handler(event)

    def _write_answer(self, text: str, draft: bool) -> None:
        if not text:
            return
        if draft and not self.live_out:
            self.held.append(text)
            return
        self.out.write(self.paint(text, "dim", on_err=False) if draft else text)
        self.out.flush()
        self.at_line_start = text.endswith("\n")

    def on_chunk(self, event: StreamEvent) -> None:
        self._write_answer(event.content, event.phase == "draft")

    on_text_chunk = on_chunk

    def on_routing(self, event: StreamEvent) -> None:
        d = event.data
        step = f"step {event.step} " if event.step else ""
        self.note(f"→ {step}route: {d['strategy']} to {d['tier']} · complexity {d['complexity']} ({d['complexity_source']}) · {d['reason']}")

    def on_tool_executing(self, event: StreamEvent) -> None:
        call = event.data["tool_call"]
        self.note(f"▶ running {call['name']}({json.dumps(call.get('arguments'), ensure_ascii=False)})", "cyan")

    def on_tool_result(self, event: StreamEvent) -> None:
        d = event.data
        self.note(f"◀ {d['name']} returned {_short(d['content'])} in {d['execution_time_ms']:.0f} ms", "cyan")

    def on_tool_error(self, event: StreamEvent) -> None:
        d = event.data
        self.note(f"✗ {d['name']} failed: {d['error']} (the model is told)", "yellow")

    def on_draft_decision(self, event: StreamEvent) -> None:
        d = event.data
        if d["accepted"]:
            self.note(f"✓ draft accepted by {d['tier']}: score {d['score']:.2f} ≥ {d['threshold']:.2f}", "green")
            self._write_answer("".join(self.held), draft=False)
        else:
            self.note(f"✗ draft rejected: {d['reason']}", "yellow")
        self.held = []

    def on_switch(self, event: StreamEvent) -> None:
        d = event.data
        retract = " · the draft shown above is retracted" if d.get("retract") and self.live_out else ""
        self.note(f"↪ switch {d['from_tier']} → {d['to_tier']} ({d['kind']}){retract}", "magenta")

    def on_tool_call_start(self, event: StreamEvent) -> None:
        self._end_tool_line()
        self.err.write(self.paint(f"⚙ {event.data['name']}(", "cyan"))
        self.tool_line_open = True

    def on_tool_call_delta(self, event: StreamEvent) -> None:
        self.err.write(self.paint(getattr(event, "delta", "") or "", "cyan"))
        self.err.flush()

    def on_tool_call_complete(self, event: StreamEvent) -> None:
        self._end_tool_line(")")
        if self.loop:
            return
        line = json.dumps(event.data["tool_call"], ensure_ascii=False)
        if event.phase == "draft" and not self.live_out:
            self.held.append(line + "\n")
        else:
            self._write_answer(line + "\n", draft=False)

    def _end_tool_line(self, close: str = "") -> None:
        if self.tool_line_open:
            self.err.write(self.paint(close, "cyan") + "\n")
            self.tool_line_open = False

    def on_complete(self, event: StreamEvent) -> None:
        self.result = event.data["result"]
        if not self.at_line_start:
            self.out.write("\n")
            self.out.flush()
            self.at_line_start = True
        self.note(summary_line(self.result), "blue")

    def on_error(self, event: StreamEvent) -> None:
        self.failed = True
        self.note(f"✗ {event.data['error']}", "red")


def summary_line(result: dict[str, Any]) -> str:
    by_step: dict[int, list[str]] = {}
    for t in result["tiers"]:
        by_step.setdefault(int(t.get("step") or 0), []).append(f"{t['tier']}:{t['status']}")
    tiers = " | ".join(" → ".join(names) for names in by_step.values())
    parts = [f"{tiers}", f"cost {_usd(result['total_cost'])}"]
    if result.get("steps"):
        parts.insert(0, f"{len(result['steps'])} steps ({result.get('stop_reason')})")
    if result.get("budget_exhausted"):
        parts.append("budget exhausted: best answer so far")
    baseline = result.get("verifier_only_cost")
    if baseline is not None:
        marker = " est." if result.get("verifier_only_cost_estimated") else ""
        saved = result.get("savings")
        saved_text = "" if saved is None else f", saved {saved * 100:.0f}%"
        parts.append(f"verifier-only {_usd(baseline)}{marker}{saved_text}")
    parts.append(f"latency {result['latency_ms']:.0f} ms")
    if result.get("ttft_ms") is not None:
        parts.append(f"TTFT {result['ttft_ms']:.0f} ms")
    est = " est." if result.get("tokens_estimated") else ""
    parts.append(f"tokens {result['input_tokens']} in / {result['output_tokens']} out{est}")
    return "■ " + " · ".join(parts)


def _short(text: str, limit: int = 70) -> str:
    one = " ".join(str(text).split())
    return repr(one if len(one) <= limit else one[: limit - 3] + "...")


def _usd(value: float | None) -> str:
    return "unknown (no price)" if value is None else f"${value:.6f}"
