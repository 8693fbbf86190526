"""Benchmark: how long `cascadectl --help` and `cascadectl validate` take from a
fresh process, against a bare `python -c pass` measured in the same rounds.

The command runs exactly as the installed console script does (import
cascadectl.cli.main, call main()), so a checkout needs no install. A second
probe records which heavy packages each command imported: httpx, pandas and
llama_cpp belong to the commands that call models or build reports, never here.

    python -m bench.cli_startup [--quick]
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple, Sequence

from bench._timing import row, spread

GROUP = "cli"
REPO = Path(__file__).resolve().parent.parent
CASCADE = "cascades/default.yaml"
ENTRY = "import sys; from cascadectl.cli.main import main; sys.exit(main())"
HEAVY = ("httpx", "pandas", "llama_cpp", "jsonschema", "yaml", "rich", "pydantic", "click", "asyncio", "numpy")
# What each command may import; anything else from HEAVY is reported.
ALLOWED = {"help": (), "validate": ("yaml", "jsonschema")}
PROBE = (
    "import sys, json, atexit\n"
    "from cascadectl.cli.main import main\n"
    "heavy = {heavy!r}\n"
    "def dump():\n"
    "    found = sorted({{m.split('.')[0] for m in sys.modules}} & set(heavy))\n"
    "    open({out!r}, 'w').write(json.dumps(found))\n"
    "atexit.register(dump)\n"
    "sys.exit(main())\n"
)


class Command(NamedTuple):
    key: str
    label: str
    args: tuple[str, ...]
    target: float  # ms


COMMANDS = (
    Command("help", "cascadectl --help", ("--help",), 150.0),
    Command("validate", f"cascadectl validate {CASCADE}", ("validate", CASCADE), 300.0),
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def wall_ms(argv: Sequence[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(list(argv), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = (time.perf_counter() - start) * 1e3
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[3:]) or argv[-1]} exited with {done.returncode}: {done.stderr.strip()[-300:]}")
    return elapsed


def argv_for(command: Command | None) -> list[str]:
    if command is None:
        return [sys.executable, "-c", "pass"]
    return [sys.executable, "-c", ENTRY, *command.args]


def measure(commands: Sequence[Command], rounds: int) -> dict[str, list[float]]:
    """Rotating rounds of bare python and each command; the first round only warms the file cache."""
    sides: list[Command | None] = [None, *commands]
    times: dict[str, list[float]] = {"bare": [], **{c.key: [] for c in commands}}
    for i in range(rounds + 1):
        for k in range(len(sides)):
            side = sides[(i + k) % len(sides)]
            elapsed = wall_ms(argv_for(side))
            if i:
                times["bare" if side is None else side.key].append(elapsed)
    return times


def imported(command: Command) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="cascadectl-bench-") as tmp:
        out = Path(tmp) / "modules.json"
        code = PROBE.format(heavy=HEAVY, out=str(out))
        subprocess.run([sys.executable, "-c", code, *command.args], cwd=REPO, env=_env(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return json.loads(out.read_text()) if out.exists() else ["(probe failed)"]


def time_row(command: Command, times: dict[str, list[float]]) -> dict[str, Any]:
    mine, bare = times[command.key], times["bare"]
    above = statistics.median(mine) - statistics.median(bare)
    return row(GROUP, f"{command.label} (wall time)", statistics.median(mine), "ms", baseline_name="python -c pass",
               baseline_value=statistics.median(bare), target=f"<= {command.target:g}", spread=spread(mine),
               note=f"fresh process, median of {len(mine)}; {above:.0f} ms above bare python")


def import_row(command: Command) -> dict[str, Any]:
    found = imported(command)
    unwanted = [m for m in found if m not in ALLOWED[command.key]]
    note = f"imports {', '.join(found) or 'none'} of: {', '.join(HEAVY)}"
    if unwanted:
        note += f"; not needed by this command: {', '.join(unwanted)}"
    return row(GROUP, f"{command.label}: heavy packages imported", float(len(unwanted)), "", target="<= 0",
               note=note)


def _available(commands: Sequence[Command]) -> list[Command]:
    """The commands to time; validate falls back to another example cascade
    while cascades/default.yaml does not exist (the row's name says which)."""
    usable = []
    for command in commands:
        if command.key == "validate" and not (REPO / CASCADE).exists():
            others = sorted((REPO / "cascades").glob("*.yaml"))
            if not others:
                continue
            stand_in = f"cascades/{others[0].name}"
            command = command._replace(label=f"cascadectl validate {stand_in}", args=("validate", stand_in))
        usable.append(command)
    return usable


def run(quick: bool) -> list[dict[str, Any]]:
    commands = _available(COMMANDS)
    times = measure(commands, 3 if quick else 15)
    return [time_row(c, times) for c in commands] + [import_row(c) for c in commands]


def main(argv: list[str]) -> int:
    for item in run(quick="--quick" in argv):
        print(f"{item['name']:<58} {item['value']} {item['unit']}  (baseline {item['baseline_value']})  {item['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
