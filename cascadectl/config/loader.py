"""Load a cascade YAML file: parse, interpolate ${VAR}, check, build typed config.

Every problem in a file is collected and reported with its file:line:col,
never just the first.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, NamedTuple

from cascadectl.config.build import build_cascade, build_tier
from cascadectl.config.interpolate import interpolate
from cascadectl.config.issues import ERROR, ConfigIssue, Finding, format_path
from cascadectl.config.messages import Context, describe_errors, kind_of
from cascadectl.config.model import CascadeConfig, TierConfig
from cascadectl.config.schema import schema_errors
from cascadectl.config.semantic import semantic_findings
from cascadectl.config.yamlsource import Document, YamlSyntaxError, parse_yaml
from cascadectl.errors import ConfigError

DEFAULT_SOURCE = "<string>"


class InvalidCascadeError(ConfigError):
    """A cascade file with problems; `issues` holds every one."""

    def __init__(self, issues: tuple[ConfigIssue, ...]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = issues


class CascadeCheck(NamedTuple):
    issues: tuple[ConfigIssue, ...]  # errors and warnings, in file order
    config: CascadeConfig | None  # None when there are errors

    @property
    def errors(self) -> tuple[ConfigIssue, ...]:
        return tuple(issue for issue in self.issues if issue.is_error)


def load_cascade(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> CascadeConfig:
    """Raises InvalidCascadeError (a ConfigError, exit 2) listing every problem."""
    return _require(check_cascade_file(path, env))


def load_cascade_text(
    text: str, source: str = DEFAULT_SOURCE, env: Mapping[str, str] | None = None
) -> CascadeConfig:
    return _require(check_cascade_text(text, source, env))


def validate_cascade_file(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> list[ConfigIssue]:
    return list(check_cascade_file(path, env).issues)


def check_cascade_file(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> CascadeCheck:
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return CascadeCheck((ConfigIssue(source, 0, 0, "", _read_problem(exc)),), None)
    return check_cascade_text(text, source, env, default_name=Path(source).stem)


def check_cascade_text(
    text: str, source: str = DEFAULT_SOURCE, env: Mapping[str, str] | None = None, default_name: str = "cascade"
) -> CascadeCheck:
    try:
        doc = parse_yaml(text)
    except YamlSyntaxError as exc:
        return CascadeCheck((ConfigIssue(source, *exc.pos, "", exc.message),), None)
    findings = doc.findings + _check_data(doc, os.environ if env is None else env)
    issues = tuple(sorted({_locate(doc, source, f) for f in findings}))
    if any(issue.is_error for issue in issues):
        return CascadeCheck(issues, None)
    return CascadeCheck(issues, build_cascade(doc.data, source, default_name))


def load_tier(data: Mapping[str, Any], where: str) -> TierConfig:
    """A tier given as plain data rather than in a cascade file (a ModelConfig, an
    evalset's inline judge): the same schema and checks as a tier in YAML, and the
    same builder, so that every setting means the same wherever a tier comes from.
    ConfigError naming `where` and each problem's field otherwise."""
    doc = {"tiers": [dict(data)]}
    ctx = Context({})
    findings = describe_errors(schema_errors(doc), ctx) + semantic_findings(doc, ctx)
    problems = sorted({_tier_problem(f) for f in findings if f.severity == ERROR})
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return build_tier(doc["tiers"][0])


def _tier_problem(finding: Finding) -> str:
    path = format_path(finding.path[2:])
    return f"{path}: {finding.message}" if path else finding.message


def _require(check: CascadeCheck) -> CascadeConfig:
    if check.config is None:
        raise InvalidCascadeError(check.errors)
    return check.config


def _read_problem(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"cannot read: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
    if isinstance(exc, FileNotFoundError):
        return "cannot read: no such file"
    if isinstance(exc, IsADirectoryError):
        return "cannot read: it is a directory"
    return f"cannot read: {exc.strerror or exc}"


def _check_data(doc: Document, env: Mapping[str, str]) -> list[Finding]:
    if doc.data is None:
        return [Finding((), "the file is empty; expected a mapping with at least 'tiers'")]
    if not isinstance(doc.data, dict):
        return [Finding((), f"expected a mapping at the top level, got {kind_of(doc.data)}")]
    findings = interpolate(doc, env)
    ctx = Context(doc.secrets)
    findings += [f for f in describe_errors(schema_errors(doc.data), ctx) if f.path not in doc.broken]
    findings += semantic_findings(doc.data, ctx)
    return findings


def _locate(doc: Document, source: str, finding: Finding) -> ConfigIssue:
    if finding.pos is not None:
        line, col = finding.pos
    elif finding.key is not None:
        line, col = doc.locate_key(finding.path, finding.key)
    else:
        line, col = doc.locate(finding.path)
    return ConfigIssue(source, line, col, format_path(finding.path), finding.message, finding.severity)
