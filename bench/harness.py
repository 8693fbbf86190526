"""Runs benchmark modules, each in a fresh process, and collects their rows.

A benchmark module is any `bench/<name>.py` (not starting with "_") with a
top-level `run(quick: bool) -> list[dict]`. Its rows look like
{group, name, value, unit, baseline_name, baseline_value, ratio?, target,
spread, note}. `target` is one comparison: "<= X" / ">= X" (against `ratio`
when the row has one, else `value`), "<= X unit" (against `value`, in the
row's unit), "< baseline" / "> baseline" (`value` against `baseline_value`);
anything else ("informational", compound targets) gets no mark unless the row
says "pass": true/false itself.

Each module runs in its own interpreter so that one module's imports, heap and
threads never colour another's timings, and a crash (even a segfault in a
native library) is reported instead of ending the run. A module that needs an
optional package that is not installed (llama_cpp, cascadeflow) yields a
"skipped: ..." row; any other failure is a crash.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, NamedTuple, Sequence

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OURS = ("cascadectl", "bench", "tests")  # a missing module of ours is a bug, not a skip
FIELDS: dict[str, Any] = {
    "group": "", "name": "", "value": None, "unit": "", "baseline_name": "", "baseline_value": None,
    "target": "", "spread": None, "note": "",
}
# One comparison, optionally with a unit: "<= 3", ">= 0.9", "<= 150 ms", "< baseline".
_TARGET = re.compile(r"^\s*(<=|>=|<|>)\s*(baseline|[-+]?\d+(?:\.\d+)?)\s*(\S*)\s*$")
TIMEOUT = {True: 300.0, False: 3600.0}  # seconds per module: quick, full


class SkipBenchmark(Exception):
    """Raise from a module's run() when it cannot run here; the message says why."""


class Module(NamedTuple):
    name: str
    group: str


class Outcome(NamedTuple):
    module: Module
    rows: list[dict[str, Any]]
    status: str  # ok | skipped | crashed
    seconds: float


def discover(bench: Path = BENCH) -> list[Module]:
    found = []
    for path in sorted(bench.glob("*.py")):
        if path.stem.startswith("_") or path.stem == "harness":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        if any(isinstance(node, ast.FunctionDef) and node.name == "run" for node in tree.body):
            found.append(Module(path.stem, _group(tree) or path.stem))
    return found


def _group(tree: ast.Module) -> str | None:
    """The module's GROUP constant, read without importing it (its imports may fail)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "GROUP" for t in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
    return None


def select(modules: Sequence[Module], only: Sequence[str]) -> list[Module]:
    wanted = set(only)
    return [m for m in modules if not wanted or m.name in wanted or m.group in wanted]


def judge(row: dict[str, Any]) -> str:
    """'pass', 'miss' or '' (no target, or nothing measured)."""
    if isinstance(row.get("pass"), bool):
        return "pass" if row["pass"] else "miss"
    match = _TARGET.match(str(row.get("target") or ""))
    if match is None or row.get("value") is None:
        return ""  # no target, a compound one (the row should then say "pass"), or nothing measured
    op, bound_text, unit = match.groups()
    if bound_text == "baseline":  # "< baseline": our value against the baseline's
        subject, bound = row["value"], row.get("baseline_value")
    elif unit:  # "<= 150 ms": the value, in the row's unit
        if not str(row.get("unit") or "").startswith(unit):
            return ""
        subject, bound = row["value"], float(bound_text)
    else:  # "<= 3": the ratio when the row has one, else the value
        subject = row["ratio"] if row.get("ratio") is not None else row["value"]
        bound = float(bound_text)
    if bound is None:
        return ""
    return "pass" if _compare(float(subject), op, float(bound)) else "miss"


def _compare(subject: float, op: str, bound: float) -> bool:
    return {"<=": subject <= bound, ">=": subject >= bound, "<": subject < bound, ">": subject > bound}[op]


def normalize(row: dict[str, Any], module: Module) -> dict[str, Any]:
    out = {**FIELDS, "group": module.group, **row, "module": module.name}
    out["mark"] = judge(out)
    return out


def status_row(module: Module, status: str, note: str) -> dict[str, Any]:
    return normalize({"name": module.name, "note": f"{status}: {note}"}, module)


def run_module(module: Module, quick: bool) -> Outcome:
    """Run one module in a child interpreter; its stdout and stderr go to our stderr."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cascadectl-bench-") as tmp:
        result = Path(tmp) / "rows.json"
        args = [sys.executable, "-m", "bench.harness", module.name, str(result)] + (["--quick"] if quick else [])
        code = _spawn(args, TIMEOUT[quick])
        payload = json.loads(result.read_text(encoding="utf-8")) if result.exists() else {}
    seconds = time.perf_counter() - start
    if code == 0 and "rows" in payload:
        rows = [normalize(r, module) for r in payload["rows"]]
        return Outcome(module, rows, payload.get("status", "ok"), seconds)
    why = payload.get("error") or ("timed out" if code is None else f"the process exited with code {code}")
    return Outcome(module, [status_row(module, "crashed", why)], "crashed", seconds)


def _spawn(args: list[str], timeout: float) -> int | None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with subprocess.Popen(args, cwd=REPO, env=env, stdout=sys.stderr, stderr=sys.stderr) as process:
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return None


# ---- the child side: import one module, run it, write its rows ----

def _optional_missing(exc: ModuleNotFoundError) -> str | None:
    name = (exc.name or "").split(".")[0]
    return None if not name or name in OURS else name


def child_rows(name: str, quick: bool) -> dict[str, Any]:
    import importlib

    try:
        module = importlib.import_module(f"bench.{name}")
        return {"status": "ok", "rows": _checked(module.run(quick))}
    except SkipBenchmark as exc:
        return {"status": "skipped", "rows": [{"name": name, "note": f"skipped: {exc}"}]}
    except ModuleNotFoundError as exc:
        missing = _optional_missing(exc)
        if missing is None:
            raise
        note = f"skipped: the optional package {missing!r} is not installed"
        return {"status": "skipped", "rows": [{"name": name, "note": note}]}


def _checked(rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list) or not all(isinstance(r, dict) and r.get("name") for r in rows):
        raise TypeError(f"run() must return a list of dicts with a 'name'; got {type(rows).__name__}")
    return rows


def child_main(argv: Sequence[str]) -> int:
    name, out = argv[0], Path(argv[1])
    try:
        payload = child_rows(name, "--quick" in argv)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as a crash, with the traceback
        traceback.print_exc()
        out.write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:500]}), encoding="utf-8")
        return 1
    out.write_text(json.dumps(payload, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    # Through the package, so modules that import bench.harness share its classes.
    from bench.harness import child_main as _child_main

    sys.exit(_child_main(sys.argv[1:]))
