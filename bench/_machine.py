"""What the figures were measured on: machine, OS, Python, package versions, date."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("cascadectl", "httpx", "typer", "click", "jsonschema", "pandas", "llama_cpp_python", "cascadeflow")


def cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
            return value.strip()
    return platform.processor() or platform.machine()


def memory_gib(meminfo: str) -> float | None:
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024**2, 1)  # the kernel reports kB
    return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return _source_version(name)


def _source_version(name: str) -> str | None:
    """cascadectl run from a checkout without being installed: read its __version__."""
    if name != "cascadectl":
        return None
    for line in _read(str(REPO / "cascadectl" / "__init__.py")).splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'") + " (checkout)"
    return None


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def describe() -> dict[str, Any]:
    return {
        "date": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "cpu": cpu_model(_read("/proc/cpuinfo")),
        "cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "memory_gib": memory_gib(_read("/proc/meminfo")),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
        "packages": {name: package_version(name) for name in PACKAGES},
        "git_commit": git_commit(),
        "load_average_start": load_average(),
    }
