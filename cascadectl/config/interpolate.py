"""`${VAR}` and `${VAR:-default}` in string values, expanded after parsing.

Expanding after parsing means a variable can never change the YAML structure.
An unquoted value that was wholly or partly a reference is typed as YAML would
type the result (so `max_tokens: ${MAX_TOKENS:-256}` is a number); a quoted one
stays a string. `$${` is a literal `${`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

import yaml

from cascadectl.config.issues import Finding, JsonPath
from cascadectl.config.yamlsource import Document

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_EXPR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)
_SYNTAX_HELP = "expected ${NAME} or ${NAME:-default}; write $${ for a literal ${"


class InterpolationError(ValueError):
    pass


@dataclass(frozen=True)
class Expanded:
    text: str
    variables: tuple[str, ...]  # names referenced; empty if nothing was expanded


def expand(text: str, env: Mapping[str, str]) -> Expanded:
    """Raises InterpolationError naming the variable or the bad reference."""
    out: list[str] = []
    names: list[str] = []
    end = 0
    for match in _TOKEN.finditer(text):
        out.append(text[end : match.start()])
        out.append(_replace(match, env, names))
        end = match.end()
    out.append(text[end:])
    return Expanded("".join(out), tuple(names))


def _replace(match: re.Match[str], env: Mapping[str, str], names: list[str]) -> str:
    token = match.group(0)
    if token == "$${":
        return "${"
    if match.group(1) is None:
        raise InterpolationError(f"unclosed '${{' ({_SYNTAX_HELP})")
    expr = _EXPR.fullmatch(match.group(1))
    if expr is None:
        raise InterpolationError(f"invalid variable reference {token!r} ({_SYNTAX_HELP})")
    name, default = expr.group(1), expr.group(2)
    names.append(name)
    value = env.get(name)
    if default is not None:
        return value if value else default  # like the shell: unset or empty
    if value is None:
        raise InterpolationError(f"environment variable {name} is not set (or write ${{{name}:-default}})")
    return value


def interpolate(doc: Document, env: Mapping[str, str]) -> list[Finding]:
    """Expands every string value of `doc.data` in place."""
    findings: list[Finding] = []
    doc.data = _walk(doc, doc.data, (), env, findings)
    return findings


def _walk(doc: Document, value: Any, path: JsonPath, env: Mapping[str, str], findings: list[Finding]) -> Any:
    if isinstance(value, dict):
        return {k: _walk(doc, v, path + (k,), env, findings) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(doc, v, path + (i,), env, findings) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        return _expand_at(doc, value, path, env, findings)
    return value


def _expand_at(doc: Document, text: str, path: JsonPath, env: Mapping[str, str], findings: list[Finding]) -> Any:
    try:
        result = expand(text, env)
    except InterpolationError as exc:
        findings.append(Finding(path, str(exc)))
        doc.broken.add(path)
        return text
    if result.variables:
        doc.secrets[path] = result.variables
    return _retype(result.text) if path in doc.plain else result.text


def _retype(text: str) -> Any:
    # Only scalars that YAML would type as numbers or booleans change type; an
    # empty result stays "" rather than becoming null.
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (bool, int, float)) else text
