"""What every command reads before it acts: its settings (options over ``[tool.unibase]``,
files given relative to the current directory), the plan (made now, or read from a file), and
the errors that end it with one sentence."""

from __future__ import annotations

import atexit
import functools
import gc
from dataclasses import replace
from pathlib import Path

import typer

from .output import err, fail, out
from .plan import Plan, PlanFormatError
from .settings import SettingsError, load_settings


def bad_input_errors() -> tuple[type[Exception], ...]:
    """What ends a command with exit 2 and one sentence (the planner is imported when it plans)."""
    from .planning import PlanError

    return SettingsError, PlanError, PlanFormatError


def no_collection_at_exit() -> None:
    """A command is a process of its own: what it made is freed with it, and the cyclic garbage
    collector need not walk all of it once more when the interpreter ends (on a large tree, a
    fifth of a second). Registered once, however many commands a process runs (tests)."""
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


def reports_interrupt(command):
    """Ctrl-C ends the command with exit 130 and one line saying what was left (no traceback)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt as exc:
            from .api import Interrupted

            left = str(exc) if isinstance(exc, Interrupted) else "nothing was changed"
            err.print(f"interrupted: {left}", markup=False)
            raise typer.Exit(130) from None

    return run


def write_file(path: Path, text: str, what: str) -> None:
    try:
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        fail(f"cannot write the {what} to {path} ({exc.strerror}); pass a path in an existing, writable directory")


def settings_for(path: Path, cache: bool = True, **overrides):
    """The settings of the project at ``path``; ``cache``: reuse the facts of unchanged files
    (``--no-cache`` turns it off)."""
    try:
        settings = replace(load_settings(path, **overrides), cache=cache)
    except SettingsError as exc:
        fail(str(exc))
    # a file given on the command line is relative to the current directory (pyproject.toml's
    # are relative to the root): one the current directory has is named from the root
    given = {k: v for k, v in overrides.items() if k in ("target", "merge", "separate", "prefer") and v}
    settings = replace(settings, **{k: _from_cwd(v, settings.root) if isinstance(v, str)
                                    else tuple(_from_cwd(x, settings.root) for x in v) for k, v in given.items()})
    for prefer in settings.prefer:
        if _looks_like_path(prefer) and not _exists_in(settings.root, prefer):
            fail(f"--prefer {prefer}: no such file in {settings.root}; pass a file of the project "
                 "(relative to its root) or a dotted module name")
    return settings


def _from_cwd(spec: str, root: Path) -> str:
    """``FILE[:NAME]`` with FILE relative to the current directory, as a path from ``root``
    (unchanged when the current directory has no such file under ``root``)."""
    file, colon, name = spec.rpartition(":")
    if not colon or "/" in name:
        file, colon, name = spec, "", ""
    here = (Path.cwd() / file).resolve()
    if not here.is_file() or not here.is_relative_to(root):
        return spec
    return here.relative_to(root).as_posix() + colon + name


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or value.endswith(".py")


def _exists_in(root: Path, value: str) -> bool:
    rel = value.strip().strip("/")
    here = (Path.cwd() / value).resolve()
    if (root / rel).exists() or (here.exists() and here.is_relative_to(root)):
        return True
    return next(root.glob("**/" + rel), None) is not None  # a path's tail (`chat/models.py`) matches too


def make_plan(settings, quiet: bool = False) -> Plan:
    from . import api

    try:
        if out.is_terminal and not quiet:
            from rich.progress import Progress

            with Progress(transient=True, console=err) as progress:
                task = progress.add_task("scanning", total=None)
                return api.plan_project(settings, lambda i, n: progress.update(task, completed=i, total=n))
        return api.plan_project(settings)
    except bad_input_errors() as exc:
        fail(str(exc))


def load_plan(settings, plan_file: Path | None, quiet: bool = False) -> Plan:
    if plan_file is None:
        return make_plan(settings, quiet)
    try:
        text = plan_file.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read the plan {plan_file} ({exc.strerror}); pass the path of a plan written by `unibase plan --out`")
    try:
        the_plan = Plan.from_json(text)
    except PlanFormatError as exc:
        fail(f"{plan_file}: {exc}; write a fresh one with `unibase plan --out`")
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        fail(f"{plan_file}: the plan is malformed ({type(exc).__name__}: {exc}); write a fresh one with `unibase plan --out`")
    if not isinstance(the_plan.root, str):
        fail(f"{plan_file}: the plan's root is not a path; write a fresh one with `unibase plan --out`")
    if Path(the_plan.root).resolve() != settings.root:
        fail(f"the plan {plan_file} was made for {the_plan.root}, not {settings.root}; plan this project again")
    return the_plan


def git_errors() -> tuple[type[BaseException], ...]:
    import git

    return (git.GitCommandError,)


def git_message(exc) -> str:
    lines = [line.strip() for line in str(getattr(exc, "stderr", "") or exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__).removeprefix("stderr: ").strip("'")
