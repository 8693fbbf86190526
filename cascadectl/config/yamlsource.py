"""YAML to plain data, remembering where every value and key was written.

PyYAML's constructor forgets node marks, so we compose the node tree and build
the values ourselves, recording each JSON path's position on the way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from cascadectl.config.issues import Finding, JsonPath, Pos

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlSyntaxError(Exception):
    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


@dataclass
class Document:
    """Parsed data plus what the later steps need to report on it."""

    data: Any = None
    values: dict[JsonPath, Pos] = field(default_factory=dict)
    keys: dict[JsonPath, Pos] = field(default_factory=dict)
    plain: set[JsonPath] = field(default_factory=set)  # strings written without quotes
    findings: list[Finding] = field(default_factory=list)
    # Paths whose value came from ${VAR}: the variable names (values are never shown).
    secrets: dict[JsonPath, tuple[str, ...]] = field(default_factory=dict)
    broken: set[JsonPath] = field(default_factory=set)  # failed interpolation

    def locate(self, path: JsonPath) -> Pos:
        while path and path not in self.values:
            path = path[:-1]
        return self.values.get(path, (1, 1))

    def locate_key(self, path: JsonPath, key: str) -> Pos:
        return self.keys.get(path + (key,)) or self.locate(path)


def parse_yaml(text: str) -> Document:
    """Raises YamlSyntaxError for anything YAML itself rejects."""
    loader = _Loader(text)
    try:
        doc = Document()
        node = loader.get_single_node()
        if node is not None:
            doc.data = _Walker(loader, doc).value(node, ())
        return doc
    except yaml.MarkedYAMLError as exc:
        pos = _mark_pos(exc.problem_mark or exc.context_mark)
        raise YamlSyntaxError(pos, _describe(exc) + _tab_hint(text, pos)) from None
    except yaml.reader.ReaderError as exc:
        where = _offset_pos(text, exc.position)
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise YamlSyntaxError(where, f"invalid YAML: {exc.reason} (character {char})") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError((1, 1), f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def _offset_pos(text: str, offset: int) -> Pos:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _mark_pos(mark: Any) -> Pos:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _describe(exc: yaml.MarkedYAMLError) -> str:
    # `context` says what the parser was doing ("while parsing a block mapping");
    # `problem` says what it found. Both together read best.
    parts = [p for p in (exc.context, exc.problem) if p]
    message = "invalid YAML: " + (", ".join(parts) if parts else "syntax error")
    # Nearly every block-structure complaint is a line indented one step wrong.
    return message + " (check the indentation)" if "while parsing a block" in message else message


def _tab_hint(text: str, pos: Pos) -> str:
    lines = text.splitlines()
    line = lines[pos[0] - 1] if 0 < pos[0] <= len(lines) else ""
    if line[pos[1] - 1 : pos[1]] == "\t":
        return " (a tab: YAML indents with spaces only)"
    return ""


def _pos(node: yaml.Node) -> Pos:
    return _mark_pos(node.start_mark)


class _Walker:
    def __init__(self, loader: Any, doc: Document) -> None:
        self.loader = loader
        self.doc = doc
        self.active: set[int] = set()  # nodes being built: an alias back to one is a cycle
        self.own_keys: dict[int, set[int]] = {}  # key nodes written in a mapping (not merged)

    def value(self, node: yaml.Node, path: JsonPath) -> Any:
        self.doc.values[path] = _pos(node)
        if id(node) in self.active:
            raise YamlSyntaxError(_pos(node), "invalid YAML: an alias refers to its own parent (recursive data)")
        self.active.add(id(node))
        try:
            return self._build(node, path)
        finally:
            self.active.discard(id(node))

    def _build(self, node: yaml.Node, path: JsonPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, path + (i,)) for i, item in enumerate(node.value)]
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, str) and not node.style:  # libyaml says '' for plain, PyYAML None
            self.doc.plain.add(path)
        return value

    def mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        own = self.own_keys.setdefault(id(node), {id(k) for k, _ in node.value})
        self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        result: dict[str, Any] = {}
        seen: dict[str, tuple[Pos, bool]] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, path)
            if key is None:
                continue
            written = id(key_node) in own
            self._check_duplicate(path, key, _pos(key_node), written, seen)
            seen[key] = (_pos(key_node), written)
            self.doc.keys[path + (key,)] = _pos(key_node)
            result[key] = self.value(value_node, path + (key,))
        return result

    def _check_duplicate(
        self, path: JsonPath, key: str, pos: Pos, written: bool, seen: dict[str, tuple[Pos, bool]]
    ) -> None:
        # A key written in the mapping may override one merged in from an anchor.
        if key in seen and written and seen[key][1]:
            first = seen[key][0][0]
            self.doc.findings.append(Finding(path, f"duplicate key {key!r} (first at line {first})", pos=pos))

    def key(self, node: yaml.Node, path: JsonPath) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            message = "expected a plain key, got a mapping or list as a key"
            self.doc.findings.append(Finding(path, message, pos=_pos(node)))
            return None
        key = self.loader.construct_object(node, deep=True)
        if isinstance(key, int) and not isinstance(key, bool):
            return str(key)  # JSON object keys are strings; e.g. logit_bias token ids
        if not isinstance(key, str):
            self.doc.findings.append(Finding(path, _bad_key(node.value), pos=_pos(node)))
            return None
        return key


def _bad_key(raw: str) -> str:
    return (
        f"expected a string key, got {raw!r} "
        "(YAML reads yes/no/on/off/true/false/null and numbers as non-strings; quote the key)"
    )
