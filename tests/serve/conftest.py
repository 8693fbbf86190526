from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, NamedTuple

import pytest

from cascadectl.providers.fake import FakeScript
from cascadectl.serve.app import create_app
from cascadectl.serve.settings import ServeSettings
from cascadectl.traces.writer import TraceWriter
from tests.serve.support import LiveServer, qa_agent


class Served(NamedTuple):
    url: str
    drafter: FakeScript  # records the requests the drafter got
    trace: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for a module's SDK tests: the `qa` cascade over fake tiers, buffered drafts."""
    drafter = FakeScript()
    trace = tmp_path_factory.mktemp("serve-traces") / "serve.jsonl"
    app = create_app({"qa": qa_agent(drafter)}, ServeSettings(cascades=()), trace=TraceWriter(trace))
    with LiveServer(app) as live:
        yield Served(live.url, drafter, trace)


def settings(**kwargs: Any) -> ServeSettings:
    return ServeSettings(cascades=(), **kwargs)
