"""``apply --report FILE.md`` through the real CLI on a real git repository: the report is read
back and checked against the branch apply made (its commits, files and TODO lines), the plan's
summary and ``unibase graph``; its Mermaid blocks are parsed back.

The project: ``shop/models.py`` (canonical ``Base``: ``Customer``, ``Order``) and
``legacy/models.py`` (``LegacyBase``: ``Order`` again, differently, and ``Invoice`` with a
foreign key to the shop's ``customers``, which raises ``NoReferencedTableError`` until merged).
The decision for ``orders`` is kept in ``pyproject.toml``.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import git, make_project, unibase
from test_duplicate_decisions import FILES

DECIDED = FILES["pyproject.toml"] + """
[tool.unibase]
target = "shop/models.py"

[tool.unibase.decisions.orders]
winner = "shop/models.py:Order"
mode = "union"
renames = [["customer_ref", "customer_id"]]
"""

PROJECT = {
    **FILES,
    "pyproject.toml": DECIDED,
    "shop/customers.py": """\
        from sqlalchemy import Column, Integer, String

        from shop.models import Base


        class Customer(Base):
            __tablename__ = "customers"
            id = Column(Integer, primary_key=True)
            name = Column(String(80))
        """,
    "legacy/invoices.py": """\
        from sqlalchemy import Column, ForeignKey, Integer

        from legacy.models import LegacyBase


        class Invoice(LegacyBase):
            __tablename__ = "invoices"
            id = Column(Integer, primary_key=True)
            customer_id = Column(Integer, ForeignKey("customers.id"))
        """,
    "app.py": FILES["app.py"].replace("from legacy.report import new_order  # noqa: F401\n",
                                      "from legacy.report import new_order  # noqa: F401\n"
                                      "        import shop.customers  # noqa: F401\n"
                                      "        import legacy.invoices  # noqa: F401\n"),
}


def mermaid_blocks(text: str) -> dict[str, str]:
    """The ```mermaid block under each ``## heading``."""
    return dict(re.findall(r"^## (\w+)\n\n```mermaid\n(.*?)```", text, re.S | re.M))


def parse_mermaid(text: str) -> dict:
    """A flowchart as data: the clusters (label -> node ids), node labels, edges (source, target,
    dotted); every line must be one of the forms graph.py writes, subgraphs balanced."""
    lines = text.strip("\n").splitlines()
    assert lines[0] == "flowchart LR"
    stack: list[str] = []
    clusters: dict[str, list[str]] = {}
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, bool]] = []
    for line in lines[1:]:
        s = line.strip()
        if m := re.fullmatch(r'subgraph (\w+)\["([^"]*)"\]', s):
            stack.append(m[2])
            clusters[m[2]] = []
        elif s == "end":
            assert stack, "end without subgraph"
            stack.pop()
        elif m := re.fullmatch(r'(\w+)\["([^"]*)"\]', s):
            nodes[m[1]] = m[2]
            clusters[stack[-1]].append(m[1])
        elif m := re.fullmatch(r'(\w+) (-\.->|-->)\|"([^"]*)"\| (\w+)', s):
            edges.append((m[1], m[4], m[2] == "-.->"))
        else:
            assert re.fullmatch(r"(linkStyle [\d,]+|style \w+) .+", s), f"not a flowchart line: {line!r}"
    assert not stack, "subgraph not closed"
    assert all(a in nodes and b in nodes for a, b, _ in edges)
    return {"clusters": clusters, "nodes": nodes, "edges": edges}


def test_the_report_says_what_the_branch_holds(tmp_path):
    root = make_project(tmp_path / "proj", PROJECT)
    (tmp_path / "review").mkdir()
    summary = unibase("plan", "proj", cwd=tmp_path, check=0).stdout.strip().splitlines()[-1]
    before_graph = unibase("graph", "proj", cwd=tmp_path, check=0).stdout
    after_graph = unibase("graph", "proj", "--after", cwd=tmp_path, check=0).stdout

    proc = unibase("apply", "proj", "--report", "review/merge.md", cwd=tmp_path, check=0)  # relative to cwd
    assert "report written to review/merge.md" in proc.stdout
    report = (tmp_path / "review" / "merge.md").read_text()
    assert report.startswith("# unibase: one declarative base for proj\n\n" + summary + ".\n")

    # the diagrams, as `unibase graph` draws them, parsed back
    blocks = mermaid_blocks(report)
    assert blocks == {"Before": before_graph, "After": after_graph}
    before, after = parse_mermaid(blocks["Before"]), parse_mermaid(blocks["After"])
    bases_before = [label for label in before["clusters"] if label.startswith(("canonical:", "merge:"))]
    assert len(bases_before) == 2
    assert sorted(before["nodes"][n].split("<br/>")[0] for n in before["clusters"][
        "merge: LegacyBase<br/>legacy/models.py"]) == ["Invoice", "Order"]
    assert [(before["nodes"][a].split("<br/>")[0], before["nodes"][b].split("<br/>")[0], dotted)
            for a, b, dotted in before["edges"]] == [("Invoice", "Customer", True)]
    (one,) = [label for label in after["clusters"] if label.startswith("one base after the merge")]
    assert sorted(after["nodes"][n].split("<br/>")[0] for n in after["clusters"][one]) == ["Customer", "Invoice", "Order"]
    assert [dotted for *_, dotted in after["edges"]] == [False]

    # the phases: one row per commit of the branch, with its subject and its number of files
    commits = git(root, "log", "--reverse", "--format=%H %s", "main..unibase/merge-bases").splitlines()
    rows = re.findall(r"^\| (UB\d{3}) [\w-]+ \| `(\w+)` \| (.+?) \| (\d+) \|$", report, re.M)
    assert len(rows) == len(commits) == 5
    for (code, sha, subject, files), commit in zip(rows, commits):
        full, commit_subject = commit.split(" ", 1)
        assert full.startswith(sha) and subject == commit_subject
        changed = git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", full).split()
        assert int(files) == len(changed)

    # the schema proof from verify
    assert "**schema identical but for the declared changes: 3 tables compared**" in report

    # every TODO(unibase) line apply wrote, where it is on the branch
    todos = re.findall(r"^- `([^`:]+):(\d+)`: `(.*)`$", report, re.M)
    added = [line for line in git(root, "diff", "main", "unibase/merge-bases").splitlines()
             if line.startswith("+") and "# TODO(unibase)" in line]
    assert len(todos) == len(added) >= 1
    for file, line, text in todos:
        assert git(root, "show", f"unibase/merge-bases:{file}").splitlines()[int(line) - 1].strip() == text
    assert "## To review: 1 `# TODO(unibase)` line" in report

    # the declared change and the migration, which is on the branch
    assert re.search(r"^- `orders` \(duplicate-table\): keep shop/models.py:Order \(union\)", report, re.M)
    migration = re.search(r"^`(migrations/\S+\.py)` \(run it", report, re.M)[1]
    assert git(root, "ls-tree", "--name-only", "unibase/merge-bases", migration).strip() == migration
    assert "    - renames customer_ref -> customer_id" in report


def test_a_report_in_a_missing_directory_is_refused_before_anything_is_done(tmp_path):
    root = make_project(tmp_path / "proj", PROJECT)
    proc = unibase("apply", "--report", "nowhere/merge.md", cwd=root)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == ("error: --report nowhere/merge.md: no such directory nowhere; pass a path in an "
                                   "existing directory")
    assert git(root, "branch", "--list", "unibase/merge-bases") == ""


def test_a_dry_run_report_lists_the_phases_and_says_nothing_was_verified(tmp_path):
    root = make_project(tmp_path / "proj", PROJECT)
    unibase("apply", "--dry-run", "--report", "dry.md", cwd=root, check=0)
    report = (root / "dry.md").read_text()
    assert "A dry run: nothing was written or committed." in report
    assert re.findall(r"^\| (UB\d{3}) [\w-]+ \| (\d+) \|$", report, re.M)[0] == ("UB001", "3")
    assert "Not verified (a dry run)." in report
    assert git(root, "branch", "--list", "unibase/merge-bases") == ""
    assert Path(root / "dry.md").is_file() and git(root, "status", "--porcelain") == "?? dry.md\n"
