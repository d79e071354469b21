"""``unibase check``: the plan's findings as a linter prints them, ``path:line:col: CODE message``,
as JSON, or as GitHub workflow annotations; exit 1 while there is one."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import typer

from .output import count, err, fail, out

OUTPUT_FORMATS = ("text", "json", "github")


def run(path: Path, output_format: str, quiet: bool, cache: bool = True) -> None:
    """Print the findings of the project at ``path`` in ``output_format``; exit 1 if there are any."""
    from . import api
    from .cli_inputs import make_plan, settings_for

    if output_format not in OUTPUT_FORMATS:
        fail(f"unknown output format {output_format!r}; use one of: {', '.join(OUTPUT_FORMATS)}")
    settings = settings_for(path, cache)
    the_plan = make_plan(settings, quiet or output_format != "text")
    findings = api.check_plan(the_plan) if api.bases_under(the_plan) else []
    shown = [replace(f, file=shown_path(settings.root, f.file)) for f in findings]
    if output_format == "json":
        sys.stdout.write(json.dumps([{"code": f.code, "name": rule_name(f.code), "file": f.file, "line": f.line,
                                      "col": f.col, "message": f.message} for f in shown], indent=2) + "\n")
    for f in shown if output_format != "json" else ():
        if output_format == "github":
            sys.stdout.write(f"::error file={gh(f.file, True)},line={f.line},col={f.col},"
                             f"title={f.code} {rule_name(f.code)}::{gh(f'{f.code} {f.message}')}\n")
        else:
            out.print(f"{f.file}:{f.line}:{f.col}: {f.code} {f.message}", markup=False)
    if not findings:
        if output_format == "text" and not quiet:
            out.print("one declarative base in scope" if api.bases_under(the_plan)
                      else f"no declarative base found under {path}", markup=False)
        return
    second = sum(f.code == "UB101" for f in findings)
    if second:
        err.print(f"{count(len(findings), 'finding')}: {second + 1} declarative bases are in scope; "
                  "run `unibase plan` to see how to merge them.", markup=False)
    else:
        codes = sorted({f.code for f in findings})
        what = "a possible declarative base is not understood" if codes == ["UB105"] else "one base is not proven"
        err.print(f"{count(len(findings), 'finding')}: {what}; `unibase explain {codes[0]}` says how to fix it.",
                  markup=False)
    raise typer.Exit(1)


def rule_name(code: str) -> str:
    from .rules import rule

    found = rule(code)
    return found.name if found else ""


def shown_path(root: Path, file: str) -> str:
    """A finding's path as linters print it: relative to the current directory when the file is
    under it (so editors and CI annotations find it), else relative to the project root."""
    if not file:
        return file
    try:
        return (root / file).relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return file


def gh(text: str, prop: bool = False) -> str:
    """Escape a workflow-command value (GitHub's rules: %, CR, LF; also : and , in properties)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text
