"""What a merge writes is what a reviewer would accept: no file unibase touched gains an import
that nothing uses (a linter's F401), and comments that speak of the separate base are marked.

Runs the real ``unibase apply`` on bundled scenarios whose modules keep code of their own beside
the models that move (so they become partial shims), then looks at every changed file.
"""

from __future__ import annotations

import ast
import re

import pytest

from conftest import copy_project, git, unibase


def unused_imports(source: str) -> set[str]:
    """Names bound by module-level imports that the module never uses, the way pyflakes/ruff
    count them: ``X as X`` and names listed in ``__all__`` are re-exports, not unused."""
    tree = ast.parse(source)
    bound: dict[str, str] = {}
    lines = source.splitlines()
    for node in tree.body:
        if "# noqa: F401" in lines[(node.end_lineno or node.lineno) - 1]:
            continue  # a linter would not count it either
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not (
                isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            for a in node.names:
                if a.name == "*" or (a.asname and a.asname == a.name):
                    continue
                bound[a.asname or a.name.split(".")[0]] = a.name
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            used.update(re.findall(r"[A-Za-z_]\w*", n.value))  # __all__ entries, string annotations
    return set(bound) - used


@pytest.mark.parametrize("name", ["aimagain", "chatsynth", "genesis", "knowledge_chipper"])
def test_no_touched_file_gains_an_unused_import(name, tmp_path):
    project = copy_project(name, tmp_path / name)
    base = git(project, "rev-parse", "HEAD").strip()
    unibase("apply", str(project), "--branch", "merged", "--no-verify", check=0)
    changed = [f for f in git(project, "diff", "--name-only", base, "merged", "--", "*.py").split() if f]
    assert changed
    gained = {}
    for rel in changed:
        after = git(project, "show", f"merged:{rel}")
        try:
            before = git(project, "show", f"{base}:{rel}")
        except Exception:  # a file the merge created
            before = ""
        new = unused_imports(after) - (unused_imports(before) if before else set())
        if new:
            gained[rel] = sorted(new)
    assert gained == {}


def test_comments_about_the_separate_base_are_marked(tmp_path):
    project = copy_project("aimagain", tmp_path / "aimagain")
    unibase("apply", str(project), "--branch", "merged", "--no-verify", check=0)
    shim = git(project, "show", "merged:app/models/notification.py")
    lines = shim.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("# Separate base to avoid conflicts"))
    assert lines[at - 1].startswith("# TODO(unibase): the comment below speaks of a separate base")
