"""`cascadectl validate FILE...`: check files, report every problem in every file."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, List, NamedTuple, Sequence

import typer

from cascadectl.config.issues import ConfigIssue


class FileCheck(NamedTuple):
    issues: Sequence[ConfigIssue]
    summary: str | None  # what the file holds, shown when it is valid


def validate(
    files: List[Path] = typer.Argument(
        ..., metavar="FILE", help="Files to check: cascades (.yaml, .yml), evalsets (.jsonl).", show_default=False
    ),
) -> int:
    """Check files; print each problem as file:line:col: path: message. Exit 2 if any."""
    failed = [file for file in files if not _report(file, check_file(file))]
    return 2 if failed else 0


def check_file(file: Path) -> FileCheck:
    checker = _CHECKERS.get(file.suffix.lower())
    if checker is None:
        kind = f"'{file.suffix}' files" if file.suffix else "files without an extension"
        message = f"cannot check {kind} (expected: {', '.join(_CHECKERS)})"
        return FileCheck([ConfigIssue(str(file), 0, 0, "", message)], None)
    return checker(file)


def _check_cascade(file: Path) -> FileCheck:
    from cascadectl.config.loader import check_cascade_file

    check = check_cascade_file(file)
    if check.config is None:
        return FileCheck(check.issues, None)
    problem = _preflight(check.config)
    if problem:
        return FileCheck([*check.issues, ConfigIssue(str(file), 0, 0, "", problem)], None)
    names = " -> ".join(tier.name for tier in check.config.tiers)
    count = len(check.config.tiers)
    return FileCheck(check.issues, f"{count} tier{'' if count == 1 else 's'}: {names}")


def _preflight(config: object) -> str | None:
    """What the agent would still refuse in a file the schema accepts."""
    from cascadectl.cascade.preflight import preflight
    from cascadectl.errors import ConfigError

    try:
        preflight(config)  # type: ignore[arg-type]
    except ConfigError as exc:
        return str(exc)
    return None


def _check_evalset(file: Path) -> FileCheck:
    from cascadectl.evals.evalset import check_evalset

    check = check_evalset(file)
    count = len(check.items)
    return FileCheck(check.issues, f"evalset, {count} item{'' if count == 1 else 's'}")


# By file extension.
_CHECKERS: dict[str, Callable[[Path], FileCheck]] = {
    ".yaml": _check_cascade,
    ".yml": _check_cascade,
    ".jsonl": _check_evalset,
}


def _report(file: Path, check: FileCheck) -> bool:
    for issue in check.issues:
        print(issue, file=sys.stderr)
    ok = not any(issue.is_error for issue in check.issues)
    if ok:
        print(f"ok: {file} ({check.summary})" if check.summary else f"ok: {file}")
    return ok
