"""``unibase demo``: a bundled scenario copied into a fresh git repository."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import git


class DemoError(ValueError):
    pass


def scenarios() -> list[str]:
    root = resources.files("unibase.fixtures")
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "scenario.toml").is_file())


def prepare(name: str, where: Path | None = None) -> Path:
    """Copy scenario ``name`` to ``where`` (or a new temporary directory) and commit it."""
    available = scenarios()
    if name not in available:
        raise DemoError(f"no bundled scenario {name!r}; choose one of: {', '.join(available)}")
    source = resources.files("unibase.fixtures") / name
    if where is None:
        where = Path(tempfile.mkdtemp(prefix="unibase-demo-")) / name
    elif where.exists() and any(where.iterdir()):
        raise DemoError(f"{where} is not empty; pass a new or empty directory with --dir")
    with resources.as_file(source) as src:
        shutil.copytree(src, where, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
    repo = git.Repo.init(where, initial_branch="main")
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "unibase demo")
        cw.set_value("user", "email", "demo@unibase.invalid")
    repo.git.add("-A")
    repo.git.commit("-q", "-m", f"{name}: the project before unibase")
    return where


@dataclass(frozen=True)
class TestRun:
    """The bundled project's own tests, run once: how it ended and what failed."""

    command: str
    returncode: int | None  # None: pytest is not installed here
    summary: str  # pytest's last line ("3 failed, 20 passed in 1.2s")
    failures: tuple[str, ...]  # "tests/x.py::test_y - NoReferencedTableError: ..."


def test_command() -> str | None:
    """The command that runs a demo project's tests with this interpreter (None without pytest)."""
    if importlib.util.find_spec("pytest") is None:
        return None
    return f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider -rf --tb=no"


def run_tests(project: Path) -> TestRun:
    command = test_command()
    if command is None:
        return TestRun("", None, "", ())
    # the outer pytest's settings (a demo run from a test suite) are not the project's
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["COLUMNS"] = "1000"  # pytest cuts its summary lines to the terminal's width
    proc = subprocess.run(shlex.split(command), cwd=project, capture_output=True, text=True, errors="replace",
                          env=env, stdin=subprocess.DEVNULL)
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    failures = tuple(line.removeprefix("FAILED ") for line in lines if line.startswith("FAILED "))
    return TestRun(command, proc.returncode, lines[-1].strip("= ") if lines else "", failures)


def exception_name(failure: str) -> str:
    """``sqlalchemy.exc.NoReferencedTableError: ...`` in a failure line -> ``NoReferencedTableError``."""
    match = re.search(r" - (?:[\w.]+\.)?(\w+(?:Error|Exception))\b", failure)
    return match.group(1) if match else "an error"


# --- the command ------------------------------------------------------------------------------------


def run(scenario: str, keep: Path | None) -> None:
    """The whole of ``unibase demo``: the project's tests, plan, apply and verify, printed."""
    from dataclasses import replace

    import typer

    from . import api, gitops, runner
    from .cli_inputs import make_plan, settings_for
    from .output import count, fail, lines, out, print_checks, print_plan, progress, wrap_plain

    try:
        project = prepare(scenario, keep)
    except DemoError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot make the demo project in {keep} ({exc.strerror}); pass a new or empty directory with --dir")
    out.print(f"demo project: {project}", markup=False)
    settings = settings_for(project)
    before = run_tests(project)
    print_demo_tests(before, "before the merge")
    the_plan = make_plan(settings)
    print_plan(the_plan)
    if the_plan.unresolved:
        fail("this scenario has conflicts that need a decision; see `unibase plan` there", 1)
    if before.command:  # verify runs the same tests on the merged branch
        settings = replace(settings, test_cmd=before.command)
    out.print("")
    try:
        result = api.apply_plan(settings, the_plan, describe=lambda op: op.describe(), run_verify=True, progress=progress)
    except (runner.ApplyError, gitops.GitError) as exc:
        fail(str(exc))
    report = result.verify_report
    if report is not None:
        out.print("")
        print_checks(report)
        tests = next((c for c in report.checks if c.name == "tests"), None)
        if tests is not None and before.command:
            after = "pass" if tests.status == "pass" else "still fail"
            failed = f"{count(len(before.failures), 'test')} failed before the merge" if before.returncode else \
                "the tests passed before the merge too"
            lines(wrap_plain(f"\nthe project's own tests: {failed}; after it, on {settings.branch}, they {after} "
                             f"({tests.detail.rsplit(': ', 1)[-1]})."))
    out.print(f"\nlook at it: cd {project} && git log --stat {settings.branch}", markup=False)
    if report is not None and not report.ok:
        raise typer.Exit(1)


def print_demo_tests(run, when: str) -> None:
    from .output import lines, wrap_plain

    if run.returncode is None:
        lines(wrap_plain(f"{when}: the project's own tests are not run here (pytest is not installed; "
                         "`pip install pytest` to see them fail before the merge and pass after it)"))
        return
    if run.returncode == 0:
        lines(wrap_plain(f"{when}, the project's own tests pass ({run.summary})"))
        return
    causes = sorted({exception_name(f) for f in run.failures})
    lines(wrap_plain(f"{when}, the project's own tests fail with {', '.join(causes) or 'errors'} ({run.summary}):"))
    for f in run.failures:
        lines(wrap_plain(f"  {f.split(' - ', 1)[0]}: {exception_name(f)}"))
