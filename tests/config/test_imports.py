"""The config path stays light: `cascadectl validate` must start fast."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import json, sys
import cascadectl.config.loader, cascadectl.cli.validate
before = sorted(m for m in ("jsonschema",) if m in sys.modules)
from cascadectl.config import load_cascade
load_cascade("cascades/openai.yaml")
heavy = sorted(m for m in ("httpx", "pandas", "llama_cpp") if m in sys.modules)
print(json.dumps({"before": before, "heavy": heavy}))
"""


def test_loading_a_cascade_imports_nothing_heavy() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == {"before": [], "heavy": []}
