from __future__ import annotations

import json

import pytest

from cascadectl.cli import schema as schema_command
from cascadectl.cli.main import main
from cascadectl.config import schema_text


def test_schema_prints_the_cascade_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.rstrip("\n") == schema_text().rstrip("\n")
    assert json.loads(out)["title"] == "cascadectl cascade"


def test_trace_schema_when_shipped(capsys: pytest.CaptureFixture[str]) -> None:
    package, name = schema_command.TRACE_SCHEMA
    from importlib import resources

    if not resources.files(package).joinpath(name).is_file():
        pytest.skip("the trace-line schema is not in the package yet")
    assert main(["schema", "--trace"]) == 0
    assert "$schema" in json.loads(capsys.readouterr().out)


def test_missing_trace_schema_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(schema_command, "TRACE_SCHEMA", ("cascadectl.traces", "no-such.schema.json"))
    assert main(["schema", "--trace"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "cascadectl: error: the trace-line schema cascadectl/traces/no-such.schema.json "
        "is missing from the installation; reinstall cascadectl\n"
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("cascadectl ")
