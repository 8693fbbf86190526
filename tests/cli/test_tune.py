"""`cascadectl tune` end to end on recorded fake-model traces."""
from __future__ import annotations

from pathlib import Path

import pytest

from cascadectl.cli.main import main
from tests.evals.test_tune import ITEMS, _yaml
from tests.support.eval_fakes import write_evalset


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, Path]:
    cascade = tmp_path / "synthetic.yaml"
    cascade.write_text(_yaml(), encoding="utf-8")
    evalset = write_evalset(tmp_path / "set.jsonl", ITEMS)
    assert main(["eval", str(evalset), "--cascade", str(cascade), "--baselines", "verifier", "--out", str(tmp_path / "rec")]) == 0
    return cascade, tmp_path / "rec"


def test_tune_prints_the_frontier_and_writes_a_file_that_validates(
    recorded: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cascade, run = recorded
    capsys.readouterr()
    out = tmp_path / "tuned.yaml"
    assert main(["tune", str(run), "--cascade", str(cascade), "--target", "quality-drop=0", "--folds", "3", "--out", str(out)]) == 0
    printed, err = capsys.readouterr()
    assert "30 items, labels: reference" in printed and "out-of-sample (3-fold cross-validation)" in printed
    assert "| target quality-drop=0 " in printed and "| tuned file, in-sample " in printed
    assert f"wrote {out}" in err
    assert main(["validate", str(out)]) == 0
    assert out.read_text().startswith("# Tuned by `cascadectl tune` from synthetic.yaml: target quality-drop=0")


def test_a_bad_target_or_missing_traces_exit_2(recorded: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cascade, run = recorded
    assert main(["tune", str(run), "--cascade", str(cascade), "--target", "speed=1"]) == 2
    assert "--target: expected one of quality-drop=N, saving=N, acceptance=N" in capsys.readouterr().err
    assert main(["tune", str(tmp_path / "nowhere"), "--cascade", str(cascade)]) == 2
    assert "no trace file there" in capsys.readouterr().err
