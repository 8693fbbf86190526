"""The app's lifespan: what it sets up for serving, and undoes at shutdown."""
from __future__ import annotations

import asyncio
import gc

from cascadectl.serve.app import GC_YOUNG_THRESHOLD, create_app
from cascadectl.serve.settings import ServeSettings
from tests.serve.support import qa_agent


def test_the_heap_alive_at_startup_is_frozen_while_serving_and_thawed_at_shutdown() -> None:
    app = create_app({"qa": qa_agent()}, ServeSettings(cascades=()))
    before = gc.get_freeze_count()

    async def go() -> int:
        async with app.router.lifespan_context(app):
            return gc.get_freeze_count()

    during = asyncio.run(go())
    assert during > before + 1000  # modules, agents, schemas: out of the collector's scans
    assert gc.get_freeze_count() == 0


def test_the_youngest_generation_waits_for_more_objects_while_serving_and_is_restored() -> None:
    app = create_app({"qa": qa_agent()}, ServeSettings(cascades=()))
    before = gc.get_threshold()

    async def go() -> tuple[int, ...]:
        async with app.router.lifespan_context(app):
            return gc.get_threshold()

    during = asyncio.run(go())
    assert during == (max(before[0], GC_YOUNG_THRESHOLD), *before[1:]) and during[0] > 700
    assert gc.get_threshold() == before


def test_two_apps_in_one_process_thaw_only_when_the_last_stops() -> None:
    first, second = (create_app({"qa": qa_agent()}, ServeSettings(cascades=())) for _ in range(2))

    async def go() -> tuple[int, int]:
        async with first.router.lifespan_context(first):
            async with second.router.lifespan_context(second):
                pass
            still = gc.get_freeze_count()  # the second stopped, the first still serves
        return still, gc.get_freeze_count()

    still, after = asyncio.run(go())
    assert still > 1000 and after == 0
