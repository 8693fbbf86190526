"""Lexical pieces of the incremental JSON parser: errors, regexes, the number DFA."""
from __future__ import annotations

import re
from typing import Any


class JSONStreamError(ValueError):
    """Malformed JSON; `offset` is the absolute character offset of the fault."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at offset {offset})")
        self.message = message
        self.offset = offset


class IncompleteJSONError(JSONStreamError):
    """The input stopped before one whole JSON value was read (e.g. max_tokens)."""


WS = " \t\n\r"
HEX = frozenset("0123456789abcdefABCDEF")
ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
LITERALS: dict[str, tuple[str, Any]] = {"t": ("true", True), "f": ("false", False), "n": ("null", None)}
SCALAR_CONSTANTS = (True, False, None)

# Regexes skip whole runs in C; the Python state machine only sees token edges.
_S = r"[ \t\n\r]*"
_PLAIN = r'"([^"\\\x00-\x1f]*)"'  # a string without escapes, closed
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_SCALAR = rf"(?:{_PLAIN}|({_NUMBER})|(true)|(false)|(null))"

_ws_run = re.compile(_S).match
str_run = re.compile(r'[^"\\\x00-\x1f]+').match
plain_str = re.compile(_PLAIN).match
key_colon = re.compile(rf"{_S}{_PLAIN}{_S}:{_S}").match
num_run = re.compile(r"[-+.eE0-9]+").match
num_full = re.compile(_NUMBER).fullmatch
hex_escape = re.compile(r"u[0-9a-fA-F]{4}").match
# A whole `"key": scalar` member (groups 1 key, 2..6 value) or array element
# (groups 1..5), only when the delimiter after it is already here, so that a
# number cannot grow any more.
member = re.compile(rf"{_S}{_PLAIN}{_S}:{_S}{_SCALAR}{_S}(?=[,}}])").match
element = re.compile(rf"{_S}{_SCALAR}{_S}(?=[,\]])").match


def _number_table() -> tuple[dict[str, int], ...]:
    # States: 0 start, 1 '-', 2 '0', 3 int, 4 '.', 5 frac, 6 'e', 7 exp sign, 8 exp.
    table: tuple[dict[str, int], ...] = tuple({} for _ in range(9))
    for d in "0123456789":
        for src, dst in ((3, 3), (4, 5), (5, 5), (6, 8), (7, 8), (8, 8)):
            table[src][d] = dst
        for src in (0, 1):
            table[src][d] = 2 if d == "0" else 3
    table[0]["-"] = 1
    for src in (2, 3):
        table[src]["."] = 4
    for src in (2, 3, 5):
        table[src]["e"] = table[src]["E"] = 6
    table[6]["+"] = table[6]["-"] = 7
    return table


NUM_DFA = _number_table()
NUM_ACCEPT = frozenset({2, 3, 5, 8})


def skip_ws(buf: str, pos: int) -> int:
    return _ws_run(buf, pos).end()  # type: ignore[union-attr]  # `*` always matches


def join_surrogates(high: str, low: str) -> str:
    return chr(0x10000 + ((ord(high) - 0xD800) << 10) + (ord(low) - 0xDC00))


def to_number(text: str) -> int | float:
    # Same types as json.loads: int unless there is a fraction or exponent.
    if "." in text or "e" in text or "E" in text:
        return float(text)
    return int(text)
