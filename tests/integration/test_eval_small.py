"""`cascadectl eval evalsets/qa.jsonl --limit 5` on the embedded default cascade, for real."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from cascadectl.cli.main import main
from cascadectl.traces.reader import read_trace, trace_line_problems

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs llama_cpp (pip install -e '.[local]')"),
]


def test_eval_five_qa_items_on_the_default_cascade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    args = ["eval", str(REPO / "evalsets" / "qa.jsonl"), "--cascade", str(REPO / "cascades" / "small.yaml")]
    assert main([*args, "--limit", "5", "--out", str(out), "-j", "2"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out / 'report.md'}" in printed
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    counts = report["counts"]["cascade"]
    assert (counts["queries"], counts["run"], counts["errors"]) == (5, 5, 0)
    metrics = report["metrics"]["cascade"]
    assert 0.0 <= metrics["quality"] <= 1.0
    assert metrics["drafted"] + metrics["direct"] == 5
    lines = list(read_trace(out / "traces.jsonl"))
    assert not [p for line in lines for p in trace_line_problems(line)]
    assert sorted(l["query_id"] for l in lines if l["type"] == "score") == sorted(
        json.loads(line)["id"] for line in (REPO / "evalsets" / "qa.jsonl").read_text(encoding="utf-8").splitlines()[:5]
    )
