"""The `cascadectl` command: parse, dispatch, and map failures to exit codes.

Exit codes: 0 ok, 1 gate failed or the work itself failed (every tier failed),
2 usage/config/input error, 3 unexpected crash, 4 eval stopped at --max-cost, 130 interrupted.
"""
from __future__ import annotations

import faulthandler
import os
import sys
import traceback
from typing import Optional, Sequence

import typer

from cascadectl import __version__
from cascadectl.errors import CascadeError

# Usage errors derive from click's ClickException: click's own before typer 0.26,
# typer's vendored copy since. Found through a public typer class so that
# neither `import click` (not installed with typer >= 0.26, and ~10 ms of
# startup) nor typer's private modules are needed.
_ClickException: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")

app = typer.Typer(
    name="cascadectl",
    help="Model cascades for LLMs: draft with a cheap model, verify with a strong one only when needed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cascadectl {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Optional[bool] = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    pass


def _register() -> None:
    from cascadectl.cli import commands

    for name, func in commands.COMMANDS:
        app.command(name)(func)


_register()


def enable_crash_report() -> None:
    """A fatal signal (a native crash in llama.cpp, say) prints every thread's Python
    stack to stderr instead of dying silently. Traces stay whole regardless: they are
    written in whole lines, flushed per event batch."""
    if not faulthandler.is_enabled():  # pytest and PYTHONFAULTHANDLER enable their own
        faulthandler.enable(file=sys.stderr, all_threads=True)


def main(argv: Sequence[str] | None = None) -> int:
    enable_crash_report()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="cascadectl", standalone_mode=False)
    except CascadeError as exc:
        print(f"cascadectl: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except typer.Exit as exc:  # click's Exit before typer 0.26
        return exc.exit_code
    except typer.Abort:
        print("cascadectl: interrupted", file=sys.stderr)
        return 130
    except _ClickException as exc:
        exc.show(file=sys.stderr)  # type: ignore[attr-defined]
        return 2
    except KeyboardInterrupt:
        print("cascadectl: interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - the one place unexpected errors are reported
        if os.environ.get("CASCADECTL_DEBUG") or "PYTEST_CURRENT_TEST" in os.environ:
            raise
        print("cascadectl: unexpected crash (please report it):", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return 3
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
