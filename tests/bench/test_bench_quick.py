"""`python -m bench --quick` end to end: every benchmark module runs and reports.

It fails only when a benchmark crashes (or reports nothing), never on timing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.harness import REPO, discover

HANG_LIMIT = 900  # seconds: only so a hung benchmark cannot hang the suite


def test_quick_run_reports_every_group(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=HANG_LIMIT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    groups = {row["group"] for row in results["rows"]}
    expected = {module.group for module in discover()}
    assert expected <= groups
    assert {m["status"] for m in results["modules"]} <= {"ok", "skipped"}
    assert all(row["name"] and "mark" in row for row in results["rows"])
    markdown = (tmp_path / "results.md").read_text(encoding="utf-8")
    assert all(f"## {group}" in markdown for group in expected)
    assert results["machine"]["python"] and results["machine"]["cpu"]
