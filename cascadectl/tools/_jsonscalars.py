"""String, number and literal states of the incremental JSON parser.

A mixin so that the structural states (jsonstream.py) and these stay small;
both share the parser's slots.
"""
from __future__ import annotations

from typing import Any, Callable, NoReturn

from cascadectl.tools import _jsonlex as lex

Handler = Callable[[str, int], int]


class ScalarStates:
    __slots__ = ()

    _state: Handler
    _h_string: Handler
    _h_number: Handler
    _h_literal: Handler
    _h_colon: Handler
    _key: str | None
    _parts: list[str]
    _high: str
    _esc: str
    _is_key: bool
    _num: list[str]
    _num_state: int
    _num_ok: int
    _num_len: int
    _lit: str
    _lit_at: int

    def _fail(self, message: str, pos: int) -> NoReturn:
        raise NotImplementedError

    def _scalar(self, value: Any) -> None:
        raise NotImplementedError

    # ----- strings ---------------------------------------------------------
    def _open_string(self, pos: int, is_key: bool) -> int:
        self._is_key = is_key
        self._parts = []
        self._state = self._h_string
        return pos

    def _string(self, buf: str, pos: int) -> int:
        if self._esc:
            return self._escape(buf, pos)
        m = lex.str_run(buf, pos)
        if m is not None:
            if self._high:
                self._flush_high()
            self._parts.append(m.group())
            pos = m.end()
            if pos == len(buf):
                return pos
        c = buf[pos]
        if c == '"':
            self._end_string()
            return pos + 1
        if c == "\\":
            self._esc = "\\"
            return self._escape(buf, pos + 1)
        self._fail(f"control character {c!r} must be escaped inside a string", pos)

    def _end_string(self) -> None:
        if self._high:
            self._flush_high()
        text = "".join(self._parts)
        self._parts = []
        if self._is_key:
            self._key = text
            self._state = self._h_colon
        else:
            self._scalar(text)

    def _escape(self, buf: str, pos: int) -> int:
        if self._esc == "\\" and lex.hex_escape(buf, pos) is not None:
            self._esc = ""
            self._push_char(chr(int(buf[pos + 1 : pos + 5], 16)))
            return pos + 5
        # An escape split across fragments: one character at a time.
        end = len(buf)
        while self._esc and pos < end:
            self._escape_step(buf[pos], pos)
            pos += 1
        return pos

    def _escape_step(self, c: str, pos: int) -> None:
        esc = self._esc
        if esc == "\\":
            simple = lex.ESCAPES.get(c)
            if simple is None and c != "u":
                self._fail(f"invalid escape '\\{c}' in string", pos)
            self._esc = "" if simple is not None else "\\u"
            if simple is not None:
                self._push_char(simple)
            return
        if c not in lex.HEX:
            self._fail(f"invalid \\u escape: {c!r} is not a hex digit", pos)
        esc += c
        self._esc = "" if len(esc) == 6 else esc
        if len(esc) == 6:
            self._push_char(chr(int(esc[2:], 16)))

    def _push_char(self, ch: str) -> None:
        # A surrogate pair arrives as two \u escapes; keep the high half until
        # the next character decides whether it pairs (as json.loads does).
        if "\ud800" <= ch <= "\udbff":
            if self._high:
                self._flush_high()
            self._high = ch
            return
        if self._high and "\udc00" <= ch <= "\udfff":
            ch, self._high = lex.join_surrogates(self._high, ch), ""
        elif self._high:
            self._flush_high()
        self._parts.append(ch)

    def _flush_high(self) -> None:
        self._parts.append(self._high)
        self._high = ""

    # ----- numbers ---------------------------------------------------------
    def _start_number(self, buf: str, pos: int) -> int:
        m = lex.num_run(buf, pos)
        end = m.end()  # type: ignore[union-attr]  # buf[pos] is '-' or a digit
        text = m.group()  # type: ignore[union-attr]
        if end < len(buf) and lex.num_full(text) is not None:
            self._scalar(self._convert(text, pos))
            return end
        # Split across fragments or malformed: the DFA path finds the exact offset.
        self._num, self._num_state, self._num_ok, self._num_len = [], 0, 0, 0
        self._state = self._h_number
        return self._number(buf, pos)

    def _number(self, buf: str, pos: int) -> int:
        m = lex.num_run(buf, pos)
        if m is not None:
            self._feed_number(m.group(), pos)
            pos = m.end()
            if pos == len(buf):
                return pos
        return self._end_number(pos)

    def _feed_number(self, text: str, pos: int) -> None:
        state, ok, length = self._num_state, self._num_ok, self._num_len
        for i, c in enumerate(text):
            state = lex.NUM_DFA[state].get(c, -1)
            if state < 0:
                self._fail(f"invalid number: unexpected {c!r}", pos + i)
            if state in lex.NUM_ACCEPT:
                ok = length + i + 1
        self._num_state, self._num_ok, self._num_len = state, ok, length + len(text)
        self._num.append(text)

    def _end_number(self, pos: int) -> int:
        text = "".join(self._num)
        if self._num_state not in lex.NUM_ACCEPT:
            self._fail(f"number {text!r} ends early", pos)
        self._num = []
        self._scalar(self._convert(text, pos))
        return pos

    def _number_prefix(self) -> int | float | None:
        # The longest prefix that is a number on its own ("1.5e" shows 1.5).
        if not self._num_ok:
            return None
        return lex.to_number("".join(self._num)[: self._num_ok])

    def _convert(self, text: str, pos: int) -> int | float:
        try:
            return lex.to_number(text)
        except ValueError:  # e.g. Python's limit on digits in an int
            self._fail(f"number {text[:20]!r}... is too long to convert", pos)

    # ----- literals --------------------------------------------------------
    def _start_literal(self, buf: str, pos: int, first: str) -> int:
        word, value = lex.LITERALS[first]
        if buf.startswith(word, pos):
            self._scalar(value)
            return pos + len(word)
        self._lit, self._lit_at = word, 0
        self._state = self._h_literal
        return self._literal(buf, pos)

    def _literal(self, buf: str, pos: int) -> int:
        word, i, end = self._lit, self._lit_at, len(buf)
        while i < len(word) and pos < end:
            if buf[pos] != word[i]:
                self._fail(f"invalid literal: expected {word!r}, got {buf[pos]!r}", pos)
            i, pos = i + 1, pos + 1
        self._lit_at = i
        if i == len(word):
            self._scalar(lex.LITERALS[word[0]][1])
        return pos
