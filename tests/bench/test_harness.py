from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from bench import __main__ as bench_main
from bench import _machine, _render, harness
from bench._timing import interleaved, spread
from bench.harness import Module, Outcome


def _row(**fields: Any) -> dict[str, Any]:
    return {"name": "x", "value": 2.0, "baseline_value": 5.0, **fields}


@pytest.mark.parametrize(
    ("fields", "mark"),
    [
        ({"target": "<= 3"}, "pass"),
        ({"target": "<= 1"}, "miss"),
        ({"target": ">= 0.9", "ratio": 0.95}, "pass"),  # a ratio target reads the ratio
        ({"target": ">= 0.9", "ratio": 0.5}, "miss"),
        ({"target": "< baseline", "ratio": 9.0}, "pass"),  # a baseline target reads the value
        ({"target": "> baseline"}, "miss"),
        ({"target": "informational"}, ""),
        ({"target": "<= 3", "value": None}, ""),
        ({"target": "<= 1", "pass": True}, "pass"),
        ({"target": "<= 3 ms", "unit": "ms", "ratio": 9.0}, "pass"),  # a unit: the value, whatever the ratio
        ({"target": "<= 3 s", "unit": "ms"}, ""),  # a unit that is not the row's: no mark
        ({"target": "<= 3 µs", "unit": "µs/event"}, "pass"),
        ({"target": "< 20 s, < 2 GB", "unit": "s"}, ""),  # compound: the row must say pass itself
    ],
)
def test_judge(fields: dict[str, Any], mark: str) -> None:
    assert harness.judge(_row(**fields)) == mark


def test_discover_reads_group_without_importing(tmp_path: Path) -> None:
    (tmp_path / "alpha.py").write_text("import not_installed_anywhere\nGROUP = 'a-group'\ndef run(quick): return []\n")
    (tmp_path / "beta.py").write_text("def run(quick): return []\n")
    (tmp_path / "_helper.py").write_text("def run(quick): return []\n")
    (tmp_path / "gamma.py").write_text("def other(): pass\n")
    found = harness.discover(tmp_path)
    assert found == [Module("alpha", "a-group"), Module("beta", "beta")]
    assert harness.select(found, ["a-group"]) == [Module("alpha", "a-group")]
    assert harness.select(found, ["beta"]) == [Module("beta", "beta")]


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, run: Any) -> None:
    module = types.ModuleType(f"bench.{name}")
    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, f"bench.{name}", module)


def _child(tmp_path: Path, name: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "rows.json"
    code = harness.child_main([name, str(out), "--quick"])
    return code, json.loads(out.read_text())


def test_child_reports_rows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_module(monkeypatch, "fake_ok", lambda quick: [{"name": "n", "value": 1.0, "quick": quick}])
    assert _child(tmp_path, "fake_ok") == (0, {"status": "ok", "rows": [{"name": "n", "value": 1.0, "quick": True}]})


def test_child_skips_when_an_optional_package_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def run(quick: bool) -> list[dict[str, Any]]:
        raise ModuleNotFoundError("No module named 'llama_cpp'", name="llama_cpp")

    _fake_module(monkeypatch, "fake_skip", run)
    code, payload = _child(tmp_path, "fake_skip")
    assert (code, payload["status"]) == (0, "skipped")
    assert payload["rows"][0]["note"] == "skipped: the optional package 'llama_cpp' is not installed"


def test_child_skip_exception(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def run(quick: bool) -> list[dict[str, Any]]:
        raise harness.SkipBenchmark("no GPU here")

    _fake_module(monkeypatch, "fake_skip2", run)
    assert _child(tmp_path, "fake_skip2")[1]["rows"][0]["note"] == "skipped: no GPU here"


@pytest.mark.parametrize(
    "error",
    [ModuleNotFoundError("No module named 'cascadectl.gone'", name="cascadectl.gone"), ValueError("boom")],
)
def test_child_crash(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error: Exception) -> None:
    def run(quick: bool) -> list[dict[str, Any]]:
        raise error

    _fake_module(monkeypatch, "fake_crash", run)
    code, payload = _child(tmp_path, "fake_crash")
    assert code == 1
    assert payload["error"].startswith(type(error).__name__)


def test_child_rejects_rows_that_are_not_dicts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_module(monkeypatch, "fake_bad", lambda quick: ["not a row"])
    code, payload = _child(tmp_path, "fake_bad")
    assert code == 1 and payload["error"].startswith("TypeError")


def _spawn_writing(payload: dict[str, Any] | None, code: int | None) -> Any:
    def spawn(args: list[str], timeout: float) -> int | None:
        if payload is not None:
            Path(args[4]).write_text(json.dumps(payload))
        return code

    return spawn


@pytest.mark.parametrize(
    ("payload", "code", "status", "note"),
    [
        ({"status": "ok", "rows": [{"name": "r", "value": 1.0, "target": "<= 2"}]}, 0, "ok", ""),
        ({"error": "ValueError: boom"}, 1, "crashed", "crashed: ValueError: boom"),
        (None, None, "crashed", "crashed: timed out"),
        (None, -11, "crashed", "crashed: the process exited with code -11"),
    ],
)
def test_run_module(
    monkeypatch: pytest.MonkeyPatch, payload: dict[str, Any] | None, code: int | None, status: str, note: str
) -> None:
    monkeypatch.setattr(harness, "_spawn", _spawn_writing(payload, code))
    outcome = harness.run_module(Module("m", "g"), quick=True)
    assert outcome.status == status
    assert outcome.rows[0]["group"] == "g" and outcome.rows[0]["module"] == "m"
    assert outcome.rows[0]["note"] == note
    if status == "ok":
        assert outcome.rows[0]["mark"] == "pass"


def _outcome(status: str) -> Outcome:
    note = "" if status == "ok" else f"{status}: why"
    return Outcome(Module("m", "g"), [harness.normalize({"name": "r", "value": 1.0, "note": note}, Module("m", "g"))],
                   status, 0.1)


@pytest.mark.parametrize(("status", "code"), [("ok", 0), ("skipped", 0), ("crashed", 1)])
def test_main_exit_code_and_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, status: str, code: int
) -> None:
    monkeypatch.setattr(bench_main, "discover", lambda: [Module("m", "g")])
    monkeypatch.setattr(bench_main, "run_module", lambda module, quick: _outcome(status))
    assert bench_main.main(["--quick", "--out", str(tmp_path / "run")]) == code
    results = json.loads((tmp_path / "run.json").read_text())
    assert results["modules"][0]["status"] == status and results["quick"] is True
    assert "## g" in (tmp_path / "run.md").read_text()


def test_main_unknown_group(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bench_main, "discover", lambda: [Module("m", "g")])
    assert bench_main.main(["--only", "nope"]) == 2
    assert "no benchmark matches nope (known: g, m)" in capsys.readouterr().err


def test_out_stem(tmp_path: Path) -> None:
    assert bench_main.out_stem(str(tmp_path), quick=False) == tmp_path / "results"
    assert bench_main.out_stem(f"{tmp_path}/new/", quick=False) == tmp_path / "new" / "results"
    assert bench_main.out_stem(str(tmp_path / "x.md"), quick=False) == tmp_path / "x"
    assert bench_main.out_stem(str(tmp_path / "x"), quick=False) == tmp_path / "x"
    assert bench_main.out_stem(None, quick=False) == harness.BENCH / "results"
    assert bench_main.out_stem(None, quick=True).name == "results"
    assert bench_main.out_stem(None, quick=True).parent != harness.BENCH  # quick runs never dirty the repo


def test_machine_parsing() -> None:
    cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: fpu\n"
    assert _machine.cpu_model(cpuinfo) == "AMD EPYC 7B13"
    assert _machine.memory_gib("MemTotal:       24684132 kB\nMemFree: 1 kB\n") == 23.5
    assert _machine.memory_gib("") is None


@pytest.mark.parametrize(
    ("value", "text"), [(None, "—"), (1234.5, "1,234"), (12.345, "12.3"), (1.2345, "1.23"), (0.012345, "0.0123")]
)
def test_number_format(value: float | None, text: str) -> None:
    assert _render.number(value) == text


def test_table_line_escapes_and_marks() -> None:
    line = _render.table_line({"name": "a|b", "value": 2.0, "unit": "ms", "spread": 0.25, "target": "<= 3",
                               "mark": "pass", "baseline_name": "raw", "baseline_value": 1.5, "note": "n"})
    assert line == "| a\\|b | 2.00 ms | ±25% | raw | 1.50 ms | <= 3 | ✅ pass | n |"


def test_spread_is_relative_interquartile_range() -> None:
    assert spread([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(1.0)  # quartiles 1.5 and 4.5 over median 3
    assert spread([2.0, 4.0]) == pytest.approx(2 / 3)  # few runs: range over median
    assert spread([0.0, 0.0, 0.0, 0.0]) == 0.0


def test_interleaved_rotates_order_and_drops_warmup() -> None:
    import asyncio

    calls: list[str] = []

    def runner(name: str) -> Any:
        async def once() -> Any:
            calls.append(name)
            return len(calls)

        return once

    out = asyncio.run(interleaved([runner("a"), runner("b")], repeats=2, warmup=1))
    assert calls == ["a", "b", "a", "b", "b", "a"]
    assert out == [[3, 6], [4, 5]]
