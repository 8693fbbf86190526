"""A native crash under the CLI says where it happened: faulthandler prints the Python stack."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import REPO

CRASH_AFTER_MAIN = (
    "import faulthandler, sys\n"
    "from cascadectl.cli.main import main\n"
    "main(['--version'])\n"
    "def in_llama_cpp():\n"
    "    faulthandler._sigsegv()\n"
    "in_llama_cpp()\n"
)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONFAULTHANDLER", "PYTEST_CURRENT_TEST")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=REPO)


def test_a_fatal_signal_under_the_cli_prints_the_python_stack() -> None:
    done = _python(CRASH_AFTER_MAIN)
    assert done.returncode < 0 or done.returncode == 139  # killed by SIGSEGV
    assert "Fatal Python error: Segmentation fault" in done.stderr
    assert 'line 5 in in_llama_cpp' in done.stderr  # the frame that crashed, by name


def test_without_the_cli_entry_point_the_same_crash_is_silent() -> None:
    # The control: proves the stack above comes from main(), not from Python's defaults.
    done = _python(CRASH_AFTER_MAIN.replace("main(['--version'])\n", ""))
    assert done.returncode < 0 or done.returncode == 139
    assert "in_llama_cpp" not in done.stderr
