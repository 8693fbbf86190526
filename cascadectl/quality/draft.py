"""What a validator sees: a draft's text, tool calls and token logprobs, and the query."""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping, Sequence

# Lower-case letters and digits kept, everything else a space: lets checks find
# whole words with `" word " in padded`, which is far faster than regexes.
_FOLD = str.maketrans(
    string.ascii_uppercase + string.punctuation.replace("'", "") + "\t\n\r\u2019",
    string.ascii_lowercase + " " * (len(string.punctuation) - 1) + "   '",
)


def fold(text: str) -> str:
    return " " + text.translate(_FOLD) + " "


@dataclass(frozen=True)
class DraftToolCall:
    id: str
    name: str
    arguments: Any  # parsed value (a dict when complete and valid), else the best partial value
    raw_arguments: str
    complete: bool
    parse_error: str | None = None


@dataclass(frozen=True)
class Draft:
    text: str
    logprobs: Sequence[float] = ()
    tool_calls: Sequence[DraftToolCall] = ()
    finish_reason: str | None = None
    refusal: str | None = None

    @cached_property
    def folded(self) -> str:
        return fold(self.text)


@dataclass(frozen=True)
class ScoredText:
    """Another model's reading of the draft: its log-probability of each draft token,
    given the same conversation (the `likelihood` signal)."""

    tier: str
    logprobs: Sequence[float]


@dataclass(frozen=True)
class DecisionContext:
    query: str
    complexity: str
    threshold: float
    tools: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name -> parameters schema
    tool_choice: Any = None  # None or a ToolChoice (mode: auto|required|none|function, name)
    signals: Mapping[str, ScoredText] = field(default_factory=dict)  # measured by other models
    made_calls: frozenset[str] = frozenset()  # the tool loop: toolchecks.call_key of every earlier step's call

    @cached_property
    def folded_query(self) -> str:
        return fold(self.query)
