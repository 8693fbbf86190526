"""Incremental JSON parser for streamed tool-call arguments.

Fed fragments of any size, it keeps the partial value as live containers that
it mutates in place, so both `feed()` and reading `.value` cost time in
proportion to the new input (plus the open string or number, which is the only
thing rebuilt on a read). Nothing is ever re-parsed from the start.

`.value` returns the live object: later feeds keep updating it. Use
`snapshot()` for a copy that stays put.

For a caller that cuts the raw text itself (e.g. one member's value out of a
wrapper object), `path` tells where the parser is and `on_bracket` reports the
offset of every bracket, so it never has to track strings and escapes again.
"""
from __future__ import annotations

import re
from typing import Any, Callable, NoReturn, Union

from cascadectl.tools import _jsonlex as lex
from cascadectl.tools._jsonlex import IncompleteJSONError, JSONStreamError
from cascadectl.tools._jsonscalars import Handler, ScalarStates

__all__ = ["BracketHook", "IncrementalJSONParser", "JSONStreamError", "IncompleteJSONError", "parse_complete"]

Container = Union[dict, list]
# Called for each `{`, `[`, `}`, `]` outside strings with the depth after it and
# its absolute offset: an opening at depth d and the next closing back to d - 1
# bound one container's text.
BracketHook = Callable[[int, int], None]
_WS = lex.WS


class IncrementalJSONParser(ScalarStates):
    __slots__ = (
        "_base", "_stack", "_keys", "_key", "_root", "_state", "_parts", "_high", "_esc",
        "_on_bracket", "_is_key", "_num", "_num_state", "_num_ok", "_num_len", "_lit", "_lit_at",
        "_leaf_shown", "_dirty", "_error", "_h_value", "_h_obj_open", "_h_key",
        "_h_colon", "_h_after", "_h_arr_open", "_h_string", "_h_number",
        "_h_literal", "_h_trailing",
    )

    def __init__(self, on_bracket: BracketHook | None = None) -> None:
        self._base = 0  # characters fed before the current fragment
        self._stack: list[Container] = []
        self._keys: list[str | int] = []  # where each open container but the root sits in its parent
        self._on_bracket = on_bracket
        self._key: str | None = None  # pending key of the innermost object
        self._root: Any = None
        self._parts: list[str] = []
        self._high = ""  # a \uD8xx escape waiting for its low half
        self._esc = ""  # an escape sequence split across fragments
        self._is_key = False
        self._num: list[str] = []
        self._num_state = self._num_ok = self._num_len = 0
        self._lit, self._lit_at = "", 0
        self._leaf_shown = False  # the open leaf was appended to a list by a read
        self._dirty = False
        self._error: JSONStreamError | None = None
        self._bind_handlers()
        self._state = self._h_value

    def _bind_handlers(self) -> None:
        # Bound once, so that dispatch is one attribute load and `is` works.
        self._h_value, self._h_obj_open = self._value, self._obj_open
        self._h_key, self._h_colon, self._h_after = self._members, self._colon, self._after
        self._h_arr_open, self._h_string = self._arr_open, self._string
        self._h_number, self._h_literal = self._number, self._literal
        self._h_trailing = self._trailing

    # ----- public surface -------------------------------------------------
    def feed(self, fragment: str) -> None:
        if self._error is not None:
            raise self._error
        if not isinstance(fragment, str):
            raise TypeError(f"feed() takes str, got {type(fragment).__name__}")
        pos, end = 0, len(fragment)
        try:
            while pos < end:
                pos = self._state(fragment, pos)
        except JSONStreamError as exc:
            self._error = exc  # a broken stream stays broken
            raise
        self._base += end
        self._dirty = True

    @property
    def value(self) -> Any:
        if self._dirty:
            self._dirty = False
            self._show_leaf()
        return self._root

    def snapshot(self) -> Any:
        import copy

        return copy.deepcopy(self.value)

    @property
    def started(self) -> bool:
        return bool(self._stack) or self._state is not self._h_value

    @property
    def complete(self) -> bool:
        if self._state is self._h_trailing:
            return True
        # A top-level number is whole once the input may end after it.
        return self._state is self._h_number and not self._stack and self._num_state in lex.NUM_ACCEPT

    @property
    def offset(self) -> int:
        return self._base

    @property
    def depth(self) -> int:
        return len(self._stack)

    @property
    def path(self) -> tuple[str | int, ...]:
        """Keys and indices from the root to the value being read: the open
        containers, then the member (from its ':') or element being read."""
        if not self._stack or not self._in_value():
            return tuple(self._keys)
        top = self._stack[-1]
        # In a list, an open leaf that a read has shown is already the last item.
        slot = self._key if type(top) is dict else len(top) - self._leaf_shown
        return (*self._keys, slot)  # type: ignore[arg-type]  # _key is set once a ':' is read

    def _in_value(self) -> bool:
        state = self._state
        if state is self._h_string:
            return not self._is_key
        return state is self._h_value or state is self._h_number or state is self._h_literal

    def finish(self) -> Any:
        if self._error is not None:
            raise self._error
        if not self.complete:
            raise IncompleteJSONError(f"input ended {self._where()}", self._base)
        if self._state is self._h_number:
            self._end_number(0)
        self._dirty = False
        return self._root

    def _where(self) -> str:
        if not self.started:
            return "before any JSON value"
        state = self._state
        if state is self._h_string:
            where = "inside an object key" if self._is_key else "inside a string"
        elif state is self._h_number:
            where = "inside a number"
        elif state is self._h_literal:
            where = f"inside {self._lit!r}"
        else:
            where = "between tokens"
        kinds = " > ".join("object" if type(c) is dict else "array" for c in self._stack)
        return f"{where}; still open: {kinds}" if kinds else where

    # ----- placing values ---------------------------------------------------
    def _fail(self, message: str, pos: int) -> NoReturn:
        raise JSONStreamError(message, self._base + pos)

    def _attach(self, value: Any) -> None:
        stack = self._stack
        if not stack:
            self._root = value
            return
        top = stack[-1]
        if type(top) is dict:
            top[self._key] = value
        elif self._leaf_shown:
            top[-1] = value
        else:
            top.append(value)
        self._leaf_shown = False

    def _scalar(self, value: Any) -> None:
        self._attach(value)
        self._state = self._h_after if self._stack else self._h_trailing

    def _open(self, container: Container, handler: Handler, pos: int) -> int:
        stack = self._stack
        if stack:  # where it will sit: no leaf is open, so a list's next index is its length
            top = stack[-1]
            self._keys.append(self._key if type(top) is dict else len(top))  # type: ignore[arg-type]
        self._attach(container)  # attached now, so that reads show it while open
        stack.append(container)
        self._state = handler
        if self._on_bracket is not None:
            self._on_bracket(len(stack), self._base + pos)
        return pos + 1

    def _close(self, pos: int) -> int:
        stack = self._stack
        stack.pop()
        if stack:
            self._keys.pop()
        self._state = self._h_after if stack else self._h_trailing
        if self._on_bracket is not None:
            self._on_bracket(len(stack), self._base + pos)
        return pos + 1

    def _show_leaf(self) -> None:
        state = self._state
        if state is self._h_string and not self._is_key:
            text = "".join(self._parts)
            self._parts = [text]  # so the next read joins two pieces, not all of them
            self._show(text)
        elif state is self._h_number and self._num_ok:
            self._show(self._number_prefix())

    def _show(self, value: Any) -> None:
        stack = self._stack
        if not stack:
            self._root = value
        elif type(stack[-1]) is dict:
            stack[-1][self._key] = value
        elif self._leaf_shown:
            stack[-1][-1] = value
        else:
            stack[-1].append(value)
            self._leaf_shown = True

    def _plain_scalar(self, m: re.Match[str], first: int) -> Any:
        # `first` is the group of the plain string; the next ones are number,
        # true, false, null (see _jsonlex.member / element).
        which = (m.lastindex or 0) - first
        if which == 0:
            return m.group(first)
        if which == 1:
            return self._convert(m.group(first + 1), m.start(first + 1))
        return lex.SCALAR_CONSTANTS[which - 2]

    # ----- structural states -------------------------------------------------
    def _value(self, buf: str, pos: int) -> int:
        c = buf[pos]
        if c in _WS:
            pos = lex.skip_ws(buf, pos)
            if pos == len(buf):
                return pos
            c = buf[pos]
        if c == '"':
            m = lex.plain_str(buf, pos)
            if m is not None:
                self._scalar(m.group(1))
                return m.end()
            return self._open_string(pos + 1, False)
        if c == "{":
            return self._open({}, self._h_obj_open, pos)
        if c == "[":
            return self._open([], self._h_arr_open, pos)
        if c == "-" or "0" <= c <= "9":
            return self._start_number(buf, pos)
        if c in lex.LITERALS:
            return self._start_literal(buf, pos, c)
        self._fail(f"expected a JSON value, got {c!r}", pos)

    def _obj_open(self, buf: str, pos: int) -> int:
        pos = lex.skip_ws(buf, pos)
        if pos == len(buf):
            return pos
        if buf[pos] == "}":
            return self._close(pos)
        if buf[pos] != '"':
            self._fail(f"expected an object key or '}}', got {buf[pos]!r}", pos)
        self._state = self._h_key
        return self._members(buf, pos)

    def _members(self, buf: str, pos: int) -> int:
        # Fast lane: whole `"key": scalar` members in one regex match each.
        obj: dict = self._stack[-1]  # type: ignore[assignment]
        m = lex.member(buf, pos)
        while m is not None:
            obj[m.group(1)] = self._plain_scalar(m, 2)
            pos = m.end()
            if buf[pos] == "}":
                return self._close(pos)
            m = lex.member(buf, pos + 1)
            pos += 1
        return self._key_slow(buf, pos)

    def _key_slow(self, buf: str, pos: int) -> int:
        m = lex.key_colon(buf, pos)
        if m is not None:
            self._key = m.group(1)
            self._state = self._h_value
            return m.end()
        pos = lex.skip_ws(buf, pos)
        if pos == len(buf):
            return pos
        if buf[pos] != '"':
            self._fail(f"expected a string object key, got {buf[pos]!r}", pos)
        return self._open_string(pos + 1, True)

    def _colon(self, buf: str, pos: int) -> int:
        pos = lex.skip_ws(buf, pos)
        if pos == len(buf):
            return pos
        if buf[pos] != ":":
            self._fail(f"expected ':' after an object key, got {buf[pos]!r}", pos)
        self._state = self._h_value
        return pos + 1

    def _arr_open(self, buf: str, pos: int) -> int:
        pos = lex.skip_ws(buf, pos)
        if pos == len(buf):
            return pos
        if buf[pos] == "]":
            return self._close(pos)
        self._state = self._h_value
        return self._elements(buf, pos)

    def _elements(self, buf: str, pos: int) -> int:
        # Fast lane for arrays of scalars, as _members is for objects.
        arr: list = self._stack[-1]  # type: ignore[assignment]
        m = lex.element(buf, pos)
        while m is not None:
            arr.append(self._plain_scalar(m, 1))
            pos = m.end()
            if buf[pos] == "]":
                return self._close(pos)
            m = lex.element(buf, pos + 1)
            pos += 1
        return self._value(buf, pos) if pos < len(buf) else pos

    def _after(self, buf: str, pos: int) -> int:
        c = buf[pos]
        if c in _WS:
            pos = lex.skip_ws(buf, pos)
            if pos == len(buf):
                return pos
            c = buf[pos]
        is_obj = type(self._stack[-1]) is dict
        if c == ",":
            self._state = self._h_key if is_obj else self._h_value
            return self._members(buf, pos + 1) if is_obj else self._elements(buf, pos + 1)
        closer = "}" if is_obj else "]"
        if c == closer:
            return self._close(pos)
        self._fail(f"expected ',' or '{closer}', got {c!r}", pos)

    def _trailing(self, buf: str, pos: int) -> int:
        pos = lex.skip_ws(buf, pos)
        if pos < len(buf):
            self._fail(f"unexpected {buf[pos]!r} after the complete JSON value", pos)
        return pos


def parse_complete(text: str) -> Any:
    """Parse one whole document with the same rules and errors as streaming."""
    parser = IncrementalJSONParser()
    parser.feed(text)
    return parser.finish()
