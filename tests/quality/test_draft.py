from __future__ import annotations

import pytest

from cascadectl.quality.draft import Draft, fold
from tests.quality.builders import context


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Hello, World!", " hello  world  "),
        ("I don't KNOW", " i don't know "),
        ("I\u2019m\tnot\nsure", " i'm not sure "),
        ("route-66", " route 66 "),
        ("", "  "),
    ],
)
def test_fold_lowercases_and_turns_punctuation_into_spaces(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_draft_and_context_expose_folded_text() -> None:
    assert Draft("Maybe, yes.").folded == " maybe  yes  "
    assert context("Who is Ada?").folded_query == " who is ada  "
