from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from syrupy.assertion import SnapshotAssertion

from cascadectl.cli.main import main
from tests.conftest import FIXTURES, REPO

GOOD = """\
tiers:
  - {name: drafter, provider: fake, model: small}
  - {name: verifier, provider: fake, model: large}
"""


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("CASCADECTL_TEST_MODEL", raising=False)
    monkeypatch.delenv("CASCADECTL_TEST_HOST", raising=False)


def test_example_cascades_pass(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p.relative_to(REPO)) for p in (REPO / "cascades").glob("*.yaml"))
    assert main(["validate", *files]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "ok: cascades/openai.yaml (2 tiers: drafter -> verifier)" in out.splitlines()
    assert len(out.splitlines()) == len(files)


def test_every_problem_in_every_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yml"
    good.write_text(GOOD)
    bad = "tests/fixtures/bad-cascades/unknown-key.yaml"
    worse = "tests/fixtures/bad-cascades/tier-references.yaml"
    assert main(["validate", bad, str(good), worse]) == 2
    out, err = capsys.readouterr()
    assert out == f"ok: {good} (2 tiers: drafter -> verifier)\n"
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == [bad] * 2 + [worse] * 5
    assert lines[0] == f"{bad}:5:5: tiers[0]: unknown key 'temprature' (did you mean 'temperature'?)"


def test_warning_goes_to_stderr_and_still_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    single = tmp_path / "single.yaml"
    single.write_text("tiers:\n  - {name: only, provider: fake, model: m}\n")
    assert main(["validate", str(single)]) == 0
    out, err = capsys.readouterr()
    assert out == f"ok: {single} (1 tier: only)\n"
    assert err.startswith(f"{single}:2:3: warning: tiers: only one tier")


def test_missing_file_and_unknown_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert main(["validate", str(tmp_path / "nope.yaml"), str(notes)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{tmp_path / 'nope.yaml'}: cannot read: no such file",
        f"{notes}: cannot check '.txt' files (expected: .yaml, .yml, .jsonl)",
    ]


def test_no_files_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 2
    assert "FILE" in capsys.readouterr().err


@pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="YAML syntax messages come from libyaml")
def test_bad_cascades_transcript(capsys: pytest.CaptureFixture[str], snapshot: SnapshotAssertion) -> None:
    files = sorted(str(p.relative_to(REPO)) for p in (FIXTURES / "bad-cascades").glob("*.yaml"))
    assert main(["validate", *files]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == snapshot


def test_validate_refuses_what_an_agent_would_refuse(tmp_path, capsys) -> None:
    from cascadectl.cli.main import main

    bad_option = tmp_path / "opt.yaml"
    bad_option.write_text(
        "version: 1\ntiers:\n"
        "  - {name: a, provider: openai, model: gpt-4o-mini, options: {temprature: 1}}\n"
        "  - {name: b, provider: openai, model: gpt-4o}\n"
    )
    judge = tmp_path / "judge.yaml"
    judge.write_text(
        "version: 1\ntiers:\n  - {name: a, provider: fake, model: x}\n  - {name: b, provider: fake, model: y}\n"
        "quality:\n  validators: [{type: judge}]\n"
    )
    assert main(["validate", str(bad_option), str(judge)]) == 2
    err = capsys.readouterr().err
    assert "unknown option 'temprature' for provider 'openai'" in err
    assert "'judge' validator is not available" in err
