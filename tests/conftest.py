from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.fakes import Fakes

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


# Copied byte for byte from shared/fixtures/provider-streams (see its README and manifest).
PROVIDER_STREAMS = FIXTURES / "provider-streams"


@pytest.fixture(autouse=True)
def _no_home_writes(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG dirs at a throwaway directory so that no test can
    write to the user's real home."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    # The SDKs' endpoint variables redirect the HTTP providers: none may leak in from the machine.
    for variable in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(variable, raising=False)
    return home


@pytest.fixture
def fakes() -> Fakes:
    """Scripts for fake models that belong to this test alone."""
    from tests.support.fakes import Fakes

    return Fakes()
