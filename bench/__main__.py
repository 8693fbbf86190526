"""`python -m bench`: run every benchmark and write results.md and results.json.

    python -m bench                      # full run: bench/results.md, bench/results.json
    python -m bench --quick              # smoke run: writes to a temporary directory
    python -m bench --only engine cascadeflow --out /tmp/run1

Exit codes: 0 every module ran (a figure missing its target is reported, never
an error), 1 a module crashed, 2 bad arguments.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

from bench import _machine, _render
from bench.harness import BENCH, Module, Outcome, discover, run_module, select


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run cascadectl's benchmarks.")
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run (results go to a temp dir)")
    parser.add_argument("--only", nargs="+", action="extend", default=[], metavar="GROUP",
                        help="run only these groups or modules")
    parser.add_argument("--out", help="where to write: a directory (existing, or ending in /), or a path stem "
                        "such as bench/results")
    parser.add_argument("--list", action="store_true", help="list the benchmark modules and exit")
    return parser.parse_args(list(argv))


def out_stem(out: str | None, quick: bool) -> Path:
    """The path stem results.md/.json are written to."""
    if out is None:
        return Path(tempfile.mkdtemp(prefix="cascadectl-bench-")) / "results" if quick else BENCH / "results"
    path = Path(out)
    if path.is_dir() or out.endswith(("/", os.sep)):
        return path / "results"
    return path.with_suffix("") if path.suffix in (".md", ".json") else path


def _log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run_all(modules: Sequence[Module], quick: bool) -> list[Outcome]:
    outcomes = []
    for module in modules:
        _log(f"running {module.name} ({'quick' if quick else 'full'}) ...")
        outcome = run_module(module, quick)
        _log(f"{module.name}: {outcome.status}, {len(outcome.rows)} rows in {outcome.seconds:.1f} s")
        outcomes.append(outcome)
    return outcomes


def write(stem: Path, machine: dict[str, Any], outcomes: Sequence[Outcome], command: str, quick: bool) -> None:
    rows = [row for outcome in outcomes for row in outcome.rows]
    modules = [{"name": o.module.name, "group": o.module.group, "status": o.status, "seconds": round(o.seconds, 2)}
               for o in outcomes]
    payload = {"command": command, "quick": quick, "machine": machine, "modules": modules, "rows": rows}
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    stem.with_suffix(".md").write_text(_render.markdown(machine, rows, command) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    found = discover()
    if args.list:
        print("\n".join(f"{m.name} (group {m.group})" for m in found))
        return 0
    modules = select(found, args.only)
    if not modules:
        known = ", ".join(sorted({m.group for m in found} | {m.name for m in found}))
        print(f"bench: error: no benchmark matches {' '.join(args.only)} (known: {known})", file=sys.stderr)
        return 2
    machine = _machine.describe()
    outcomes = run_all(modules, args.quick)
    machine["load_average_end"] = _machine.load_average()
    stem = out_stem(args.out, args.quick)
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else list(argv))
    write(stem, machine, outcomes, command.strip(), args.quick)
    print(stem.with_suffix(".md").read_text(encoding="utf-8"))
    _log(f"wrote {stem.with_suffix('.md')} and {stem.with_suffix('.json')}")
    crashed = [o.module.name for o in outcomes if o.status == "crashed"]
    if crashed:
        _log(f"crashed: {', '.join(crashed)}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
