"""The command table: one module per command, each a function returning an exit code."""
from __future__ import annotations

from typing import Callable

from cascadectl.cli.check import check
from cascadectl.cli.eval import eval_command
from cascadectl.cli.report import report
from cascadectl.cli.schema import schema
from cascadectl.cli.serve import serve
from cascadectl.cli.stream import stream
from cascadectl.cli.tune import tune_command
from cascadectl.cli.validate import validate

COMMANDS: list[tuple[str, Callable[..., int]]] = [
    ("validate", validate),
    ("schema", schema),
    ("stream", stream),
    ("report", report),
    ("check", check),
    ("eval", eval_command),
    ("tune", tune_command),
    ("serve", serve),
]
