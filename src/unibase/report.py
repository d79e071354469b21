"""``apply --report PATH.md``: the merge as a reviewer reads it in a pull request.

One Markdown document: the plan's summary line and its bases, the Mermaid diagram before and
after (GitHub renders ```` ```mermaid ```` blocks), each phase with its commit and its files,
what verify proved ("schema identical: 26 tables compared"), every ``# TODO(unibase)`` line apply
wrote (where it is on the branch), the schema changes the plan declared, and the migrations.
Nothing here reads the disk or prints: the text is made from the plan and apply's result.
"""

from __future__ import annotations

import ast
import re

from .plan import Plan, WriteMigration

TODO = "TODO(unibase)"
TODO_COMMENT = re.compile(r"#\s*TODO\(unibase\)")


def render(plan: Plan, result, project: str) -> str:
    """The report of ``result`` (an ``api.ApplyResult``) for ``plan``, about ``project`` (its name)."""
    from . import graph
    from .screens import summary

    out = [f"# unibase: one declarative base for {project}", "", summary(plan).line() + ".", ""]
    if result.branch:
        base = (result.base or "")[:10]
        out += [f"Branch `{result.branch}` from `{base}`; review it with `git log -p {base}..{result.branch}`.", ""]
    elif result.dry_run:
        out += ["A dry run: nothing was written or committed.", ""]
    out += _bases(plan)
    out += ["## Before", "", "```mermaid", graph.mermaid(graph.build(plan)).rstrip(), "```", ""]
    out += ["## After", "", "```mermaid", graph.mermaid(graph.build(plan, after=True)).rstrip(), "```", ""]
    out += _phases(result)
    out += _verification(result)
    out += _todos(result)
    out += _declared(plan)
    out += _migrations(plan)
    return "\n".join(out).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _bases(plan: Plan) -> list[str]:
    out = ["## Bases", "", "| role | base | file | models | strategy |", "| --- | --- | --- | ---: | --- |"]
    for b in plan.bases:
        out.append(f"| {b.role} | `{b.name}` | `{b.file}:{b.line}` | {len(b.models)} | {_cell(b.strategy or '-')} |")
    return out + [""]


def _phases(result) -> list[str]:
    from .steps import step

    out = ["## Phases", ""]
    if result.committed:
        out += ["| step | commit | subject | files |", "| --- | --- | --- | ---: |"]
        for c in result.committed:
            name = step(c.step).name if step(c.step) else ""
            sha = f"`{c.sha[:10]}`" if c.sha else "written in place"
            out.append(f"| {c.step} {name} | {sha} | {_cell(c.subject)} | {len(c.files)} |")
        for c in result.committed:
            out += ["", f"<details><summary>{c.step}: {len(c.files)} file{'s' if len(c.files) != 1 else ''}"
                        "</summary>", ""] + [f"- `{f}`" for f in c.files] + ["", "</details>"]
    else:
        changing = [p for p in result.phases if p.changes]
        out += ["| step | files |", "| --- | ---: |"]
        out += [f"| {p.step.code} {p.step.name} | {len(p.changes)} |" for p in changing]
    return out + [""]


def schema_proof(check) -> str:
    """``schema identical: N tables compared`` from verify's schema check, or what it found."""
    found = re.search(r"(\d[\d,]*) table", check.detail or "")
    if check.status != "pass" or not found:
        return f"schema {check.status}: {check.detail}"
    n = found[1]
    tables = f"{n} table{'' if n == '1' else 's'} compared"
    if "declared difference" in check.detail:
        return f"schema identical but for the declared changes: {tables}"
    return f"schema identical: {tables}"


def _verification(result) -> list[str]:
    out = ["## Verification", ""]
    report = result.verify_report
    if report is None:
        why = "a dry run" if result.dry_run else "apply ran with --no-verify: run `unibase verify` on the branch"
        return out + [f"Not verified ({why}).", ""]
    schema = report.check("schema")
    if schema is not None:
        out += [f"**{schema_proof(schema)}**", ""]
    for c in report.checks:
        first = (c.detail or "").split("\n", 1)[0]
        out.append(f"- {c.status} **{c.name}**" + (f": {first}" if first else ""))
    verdict = "verified" if report.ok else "verification FAILED: the branch is left for inspection"
    return out + ["", verdict + (f" (compared with `{report.against[:10]}`)." if report.against else "."), ""]


def todo_lines(phases) -> list[tuple[str, int, str]]:
    """Every ``# TODO(unibase)`` line the phases wrote: (file, line on the result, text), a line
    the file already had before apply left out."""
    first: dict[str, bytes] = {}
    final: dict[str, bytes] = {}
    for phase in phases:
        for c in phase.changes:
            first.setdefault(c.path, c.before)
            final[c.path] = c.after
    out = []
    for path in sorted(final):
        before = [line for line in _text(first[path]).splitlines() if TODO_COMMENT.search(line)]
        for n, line in enumerate(_text(final[path]).splitlines(), 1):
            if not TODO_COMMENT.search(line):
                continue
            if line in before:
                before.remove(line)
                continue
            out.append((path, n, line.strip()))
    return out


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _todos(result) -> list[str]:
    found = todo_lines(result.phases)
    out = [f"## To review: {len(found)} `# {TODO}` line{'s' if len(found) != 1 else ''}", ""]
    if not found:
        return out + ["apply wrote none.", ""]
    out += [f"- `{path}:{line}`: `{_code(text)}`" for path, line, text in found]
    return out + [""]


def _code(text: str) -> str:
    return text.replace("`", "'")


def _declared(plan: Plan) -> list[str]:
    from .verify import declared_from_plan

    declared = declared_from_plan(plan)
    out = ["## Declared changes", ""]
    if not declared:
        return out + ["None: the merged schema must be the same schema.", ""]
    out += [f"- `{d.table}` ({d.kind}): {_cell(d.detail)}" for d in declared]
    return out + [""]


def migration_account(content: str, table: str | None = None) -> tuple[str, ...]:
    """What a migration unibase wrote does (its docstring's account); with ``table``, only the
    lines about that table."""
    try:
        doc = ast.get_docstring(ast.parse(content)) or ""
    except SyntaxError:
        return ()
    lines = doc.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("What it does")), None)
    if start is None:
        return ()
    account = []
    for line in lines[start:]:
        if line.startswith("Downgrade"):
            break
        account.append(line)
    while account and not account[-1].strip():
        account.pop()
    if table is None:
        return tuple(account)
    block = []
    for i, line in enumerate(account):
        if line == f"  {table}":
            block = [line]
            for more in account[i + 1:]:
                if not more.startswith("    "):
                    break
                block.append(more)
    return tuple(block)


def _migrations(plan: Plan) -> list[str]:
    migrations = [op for op in plan.operations if isinstance(op, WriteMigration)]
    out = ["## Migrations", ""]
    if not migrations:
        return out + ["None: no table changes definition.", ""]
    for op in migrations:
        out += [f"`{op.file}` (run it on each database made before the merge, after reviewing it):", "", "```text"]
        out += list(migration_account(op.content)) or ["(see the file)"]
        out += ["```", ""]
    return out
