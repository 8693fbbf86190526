from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cascadectl.cli.eval import ProgressBar, format_progress
from cascadectl.cli.main import main
from cascadectl.evals.runner import Progress
from tests.support.eval_fakes import ITEMS, cascade_yaml, many_items, use_counting_provider, write_evalset

GATES = {"max_cost_increase": "10%", "max_quality_drop": 0.02, "max_error_rate": 0.5}


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return write_evalset(tmp_path / "set.jsonl"), cascade_yaml(tmp_path / "fakes.yaml", gates=GATES)


def eval_args(files: tuple[Path, Path], out: Path, *more: str) -> list[str]:
    return ["eval", str(files[0]), "--cascade", str(files[1]), "--out", str(out), *more]


def test_eval_writes_the_report_and_prints_a_summary(files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(eval_args(files, tmp_path / "out", "-j", "2", "--format", "md,csv"))
    out, err = capsys.readouterr()
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["queries.csv", "report.json", "report.md", "run.json", "traces.jsonl"]
    assert f"wrote {tmp_path / 'out' / 'report.md'}" in out
    assert "| queries run" in out and "acceptance 60.0%" in out
    # not a terminal: plain progress lines, the last one complete
    assert err.strip().splitlines()[-1].startswith(f"eval: {len(ITEMS)}/{len(ITEMS)} (100%)")
    assert "1 error" in err


def test_a_malformed_evalset_line_exits_2_naming_the_line(files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = files[0].read_text().splitlines()
    lines[2] = '{"id": "q3", "query": "x", "expected": "y"'
    files[0].write_text("\n".join(lines) + "\n")
    assert main(eval_args(files, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert f"{files[0]}:3:" in err and "not valid JSON" in err
    assert not (tmp_path / "out" / "traces.jsonl").exists()


def test_gates_from_the_cascade_yaml_apply_with_a_baseline(files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(eval_args(files, tmp_path / "base")) == 0
    capsys.readouterr()
    baseline = str(tmp_path / "base" / "report.json")
    assert main(eval_args(files, tmp_path / "now", "--baseline", baseline)) == 0
    out = capsys.readouterr().out
    assert "max_cost_increase" in out and "max_error_rate" in out and "min_acceptance" not in out
    assert main(eval_args(files, tmp_path / "stricter", "--baseline", baseline, "--min-acceptance", "0.9")) == 1
    assert "FAIL" in capsys.readouterr().out


@pytest.mark.parametrize("replay", [False, True])
def test_each_command_reads_its_cascade_file_once(
    files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay: bool
) -> None:
    from cascadectl.config import loader

    assert main(eval_args(files, tmp_path / "base", "--baselines", "verifier")) == 0
    reads: list[str] = []
    real = loader.check_cascade_file
    monkeypatch.setattr(loader, "check_cascade_file", lambda path, env=None: reads.append(str(path)) or real(path, env))
    base = str(tmp_path / "base" / "report.json")
    args = (["eval", str(tmp_path / "base"), "--replay", "--cascade", str(files[1]), "--out", str(tmp_path / "again")]
            if replay else eval_args(files, tmp_path / "again"))
    assert main([*args, "--baseline", base]) == 0
    assert reads == [str(files[1])]


def test_ctrl_c_exits_130_after_a_partial_report(files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    use_counting_provider(monkeypatch, name="fake", interrupt_at=4)
    write_evalset(files[0], many_items(20))
    assert main(eval_args(files, tmp_path / "out", "-j", "2")) == 130
    err = capsys.readouterr().err
    assert "--resume" in err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["counts"]["cascade"]["not_run"] >= 1


def test_resume_without_out_continues_the_latest_run(files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["eval", str(files[0]), "--cascade", str(files[1]), "--resume"]) == 2
    assert "no earlier run of set.jsonl" in capsys.readouterr().err
    earlier = tmp_path / "reports" / "set-20250101-000000"
    assert main(eval_args(files, earlier, "--limit", "2")) == 0
    capsys.readouterr()
    assert main(["eval", str(files[0]), "--cascade", str(files[1]), "--resume", "--limit", "2"]) == 0
    assert "2 done before" in capsys.readouterr().err


def test_replay_redecides_and_refuses_run_options(files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(eval_args(files, tmp_path / "rec", "--baselines", "verifier")) == 0
    strict = cascade_yaml(tmp_path / "strict.yaml", thresholds={"trivial": 0.999, "simple": 0.999, "moderate": 0.999})
    capsys.readouterr()
    args = ["eval", "--replay", str(tmp_path / "rec"), "--cascade", str(strict), "--out", str(tmp_path / "replay")]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "6 queries re-decided" in err and "3 decided differently" in err and "no model called" in err
    assert (tmp_path / "replay" / "report.md").exists()
    assert main([*args[:-1], str(tmp_path / "replay2"), "--limit", "3"]) == 2
    assert "--limit does not apply" in capsys.readouterr().err


def test_unknown_baseline_and_two_evalsets_are_usage_errors(files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(eval_args(files, tmp_path / "a", "--baselines", "oracle")) == 2
    assert "unknown baseline 'oracle'" in capsys.readouterr().err
    assert main(["eval", str(files[0]), str(files[0]), "--cascade", str(files[1])]) == 2
    assert "give one evalset" in capsys.readouterr().err


def progress(done: int, total: int = 10, **more: object) -> Progress:
    values = dict(skipped=0, errors=0, cost=0.0, cost_unknown=0, decided=0, accepted=0, elapsed_s=1.5)
    values.update(more)
    return Progress(done, total, **values)  # type: ignore[arg-type]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_redraws_in_place_on_a_terminal() -> None:
    stream, now = Terminal(), [0.0]
    bar = ProgressBar(stream, clock=lambda: now[0])
    for done in range(11):
        now[0] += 1.0
        bar(progress(done, decided=done, accepted=done // 2, cost=done * 1e-5))
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 11 and "\n" not in text[:-1] and text.endswith("\n")
    assert "[########################] 10/10 (100%)" in text and "accepted 50% (5/10)" in text


def test_progress_bar_prints_plain_lines_at_intervals_on_a_pipe() -> None:
    stream, now = io.StringIO(), [0.0]
    bar = ProgressBar(stream, clock=lambda: now[0], plain_every=5.0)
    for done in range(10):
        now[0] += 1.0
        bar(progress(done))
    bar.close()  # the last state (9/10) was throttled: close shows it
    lines = stream.getvalue().splitlines()
    assert [l.split(" · ")[0] for l in lines] == ["eval: 0/10 (0%)", "eval: 5/10 (50%)", "eval: 9/10 (90%)"]


def test_progress_text_mentions_unpriced_costs_and_resumed_work() -> None:
    text = format_progress(progress(3, cost=0.5, cost_unknown=2, errors=1, skipped=4), bar=False)
    assert text == "eval: 3/10 (30%) · cost $0.500000 (+2 unpriced) · accepted n/a · 1 error · 1.5s · 4 done before"


def test_validate_checks_evalsets_by_extension(files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(files[0])]) == 0
    assert f"ok: {files[0]} (evalset, {len(ITEMS)} items)" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "query": "q", "expected": "x", "scorer": "exactly"}\n')
    assert main(["validate", str(bad)]) == 2
    assert f"{bad}:1:" in capsys.readouterr().err


def test_a_missing_baseline_fails_before_any_query(files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(eval_args(files, tmp_path / "out", "--baseline", str(tmp_path / "nope.json"))) == 2
    assert "cannot read report" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
