"""The ``unibase`` command's entry point, kept light: a run :mod:`unibase.memo` can replay
starts neither Typer nor Rich nor the planner."""

from __future__ import annotations

import sys


def main() -> None:
    from .memo import run_cli

    run_cli(_typer_app, sys.argv[1:])


def _typer_app() -> None:
    from .cli import app

    app(prog_name="unibase")
