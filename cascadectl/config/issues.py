"""Problems found in a config file: where they are and what is wrong."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Tuple, Union

JsonPath = Tuple[Union[str, int], ...]
Pos = Tuple[int, int]  # 1-based (line, column)

ERROR = "error"
WARNING = "warning"

_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


@dataclass(frozen=True, order=True)
class ConfigIssue:
    """One problem, printed as `file:line:col: json.path: message`.

    line and col are 1-based; line 0 means the problem has no position
    (the file could not be read at all)."""

    file: str
    line: int
    col: int
    path: str
    message: str
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        parts = [f"{self.file}:{self.line}:{self.col}" if self.line else self.file]
        if not self.is_error:
            parts.append(self.severity)
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


@dataclass(frozen=True)
class Finding:
    """A problem located by JSON path, before it is mapped to a file position.

    With `key` set, the problem is that key of the mapping at `path` (an
    unknown key, say), so it is reported at the key rather than the value."""

    path: JsonPath
    message: str
    key: str | None = None
    pos: Pos | None = None
    severity: str = ERROR


def format_path(path: JsonPath) -> str:
    """`tiers[1].price.input`; keys that are not plain words are quoted."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text
