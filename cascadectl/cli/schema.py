"""`cascadectl schema`: print the cascade JSON Schema (or the trace-line one)."""
from __future__ import annotations

import sys
from importlib import resources

import typer

from cascadectl.errors import ConfigError

TRACE_SCHEMA = ("cascadectl.traces", "trace-line.schema.json")


def schema(
    trace: bool = typer.Option(
        False, "--trace", help="Print the JSON Schema of one trace line instead of the cascade file's."
    ),
) -> int:
    """Print a JSON Schema. Editors can validate cascades with
    `# yaml-language-server: $schema=<path to the saved schema>`."""
    text = trace_schema_text() if trace else _cascade_schema_text()
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _cascade_schema_text() -> str:
    from cascadectl.config.schema import schema_text

    return schema_text()


def trace_schema_text() -> str:
    package, name = TRACE_SCHEMA
    resource = resources.files(package).joinpath(name)
    if not resource.is_file():
        where = f"{package.replace('.', '/')}/{name}"
        raise ConfigError(f"the trace-line schema {where} is missing from the installation; reinstall cascadectl")
    return resource.read_text(encoding="utf-8")
