from __future__ import annotations

import pytest

from tests.providers.helpers import KEY
from tests.support.sse_server import sse_server  # noqa: F401  (the fixture)


@pytest.fixture(autouse=True)
def _test_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_KEY", KEY)
