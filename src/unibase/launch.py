"""The ``unibase`` command's entry point, kept light: a run :mod:`unibase.memo` can replay
starts neither Typer nor Rich nor the planner, and ``check`` (a pre-commit hook, run on every
commit) runs without Typer's parsing when its arguments are plain (:func:`check_arguments`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    from . import process
    from .memo import run_cli

    process.one_command = True

    run_cli(_app, sys.argv[1:])


def _app() -> None:
    plain = check_arguments(sys.argv[1:])
    if plain is not None:
        _check(*plain)
    _typer_app()


def _typer_app() -> None:
    from .cli import app

    app(prog_name="unibase")


def check_arguments(argv: list[str]) -> tuple[str, str, bool, bool] | None:
    """``(path, output format, quiet, no cache)`` when ``argv`` is ``check`` with only what it is
    commonly given: at most one path and ``--output-format FORMAT``, ``-q``/``--quiet`` or
    ``--no-cache``, each as Typer reads them. None for anything else (help, a typo, a second
    path, an option's value that looks like an option, shell completion): Typer then parses it
    and says what is wrong, as always."""
    if not argv or argv[0] != "check" or any(k.startswith(("_UNIBASE_COMPLETE", "_TYPER_COMPLETE")) for k in os.environ):
        return None
    path, output_format, quiet, no_cache = None, "text", False, False
    rest = iter(argv[1:])
    for arg in rest:
        if arg == "--output-format":
            value = next(rest, None)
            if value is None or value.startswith("-"):
                return None
            output_format = value
        elif arg.startswith("--output-format="):
            output_format = arg.partition("=")[2]
        elif arg in ("-q", "--quiet"):
            quiet = True
        elif arg == "--no-cache":
            no_cache = True
        elif arg and not arg.startswith("-") and path is None:
            path = arg
        else:
            return None
    return path or ".", output_format, quiet, no_cache


def _check(path: str, output_format: str, quiet: bool, no_cache: bool) -> None:
    """``unibase check`` as the Typer command runs it (:func:`unibase.cli.check`), and its exit.
    A failure that is not the command's own (a bug) is left to Typer, which runs the command
    again and reports it as it reports any other."""
    import typer

    from .cli_inputs import no_collection_at_exit, reports_interrupt
    from .lint import run

    no_collection_at_exit()  # as the Typer app's callback does
    try:
        reports_interrupt(run)(Path(path), output_format, quiet, cache=not no_cache)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except Exception:  # noqa: BLE001 - reported by Typer's run below
        return
    raise SystemExit(0)
