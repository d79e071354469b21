"""`unibase graph`: the Mermaid output is parsed back and compared with the plan."""

from __future__ import annotations

import json
import re

import pytest

from conftest import make_repo, unibase
from test_check import DB, MODELS, NOTES
from test_cli import write


def parse_mermaid(text: str) -> dict:
    """A reader for the flowchart subset unibase writes: nested ``subgraph id["label"]`` ... ``end``,
    nodes ``id["label"]``, edges ``a -->|"label"| b`` (solid) and ``a -.->|"label"| b`` (dotted),
    ``linkStyle i,j ...`` and ``style id ...``. Anything else is an error."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    groups: dict[str, dict] = {}
    stack: list[str] = []
    nodes: dict[str, str] = {}
    node_group: dict[str, str] = {}
    edges: list[dict] = []
    styled: set[int] = set()
    styles: dict[str, str] = {}
    for line in lines[1:]:
        line = line.strip()
        if m := re.fullmatch(r'subgraph (\w+)\["([^"]*)"\]', line):
            groups[m[1]] = {"label": m[2].replace("<br/>", "\n"), "parent": stack[-1] if stack else None}
            stack.append(m[1])
        elif line == "end":
            stack.pop()
        elif m := re.fullmatch(r'(\w+)\["([^"]*)"\]', line):
            nodes[m[1]] = m[2].replace("<br/>", "\n")
            node_group[m[1]] = stack[-1]
        elif m := re.fullmatch(r'(\w+) (-->|-\.->)\|"([^"]*)"\| (\w+)', line):
            edges.append({"source": m[1], "target": m[4], "dotted": m[2] == "-.->",
                          "label": m[3].replace("<br/>", "\n")})
        elif m := re.fullmatch(r"linkStyle ([\d,]+) (.+)", line):
            styled |= {int(i) for i in m[1].split(",")}
        elif m := re.fullmatch(r"style (\w+) (.+)", line):
            styles[m[1]] = m[2]
        else:
            raise AssertionError(f"not Mermaid unibase writes: {line!r}")
    assert not stack, "a subgraph is not closed"
    assert all(e["source"] in nodes and e["target"] in nodes for e in edges)
    return {"groups": groups, "nodes": nodes, "node_group": node_group, "edges": edges, "styled": styled,
            "styles": styles}


def clusters(g: dict) -> dict[str, set[str]]:
    """The first line of each base's cluster label -> the labels of its nodes."""
    out: dict[str, set[str]] = {}
    for node, group in g["node_group"].items():
        out.setdefault(g["groups"][group]["label"].split("\n")[0], set()).add(g["nodes"][node])
    return out


@pytest.fixture
def linted(tmp_path):
    project = write(tmp_path / "proj", {"app/__init__.py": "", "app/models.py": MODELS, "app/notes.py": NOTES,
                                        "app/db.py": DB})
    make_repo(project)
    return project


def test_mermaid_before_the_merge(linted):
    plan = json.loads(unibase("plan", str(linted), "--json", check=0).stdout)
    g = parse_mermaid(unibase("graph", str(linted), check=0).stdout)
    want = {f"{b['role']}: {b['name']}": {f"{m['name']}\n{m['table']}" for m in b["models"]} for b in plan["bases"]}
    assert clusters(g) == want
    for group in {g["node_group"][n] for n in g["nodes"]}:  # every base's cluster names its file
        file = g["groups"][group]["label"].split("\n")[1]
        assert any(b["file"] == file for b in plan["bases"])
    crossing = [(r["source"], r["target"]) for r in plan["cross_references"]]
    assert len(crossing) == 2 and len(g["edges"]) == 2
    for i, e in enumerate(g["edges"]):
        assert e["dotted"] and i in g["styled"] and "broken: another base" in e["label"]
        assert g["groups"][g["node_group"][e["source"]]]["label"].startswith("merge: NotesBase")
        assert g["groups"][g["node_group"][e["target"]]]["label"].startswith("canonical: Base")
        assert g["nodes"][e["source"]] == "Note\nnotes" and g["nodes"][e["target"]] == "User\nusers"
    assert {e["label"].split("\n")[0] for e in g["edges"]} == {
        "FK notes.user_id -> users.id", "relationship Note.author -> User"}


def test_mermaid_after_the_merge(linted):
    g = parse_mermaid(unibase("graph", str(linted), "--after", check=0).stdout)
    # one base holds every model; the duplicate Team of app/notes.py is gone (it becomes an alias)
    assert clusters(g) == {"one base after the merge: Base": {"User\nusers", "Team\nteams", "Note\nnotes"}}
    assert len(g["edges"]) == 2 and not any(e["dotted"] for e in g["edges"]) and not g["styled"]


def test_separate_bases_are_drawn_apart(tmp_path):
    from test_roles import roles, two_settings

    project = two_settings(tmp_path / "p")
    plan = json.loads(unibase("plan", str(project), "--json", check=0).stdout)
    assert roles(plan)["app/audit/db.py:AuditBase"] == "separate"
    for args in ((), ("--after",)):
        g = parse_mermaid(unibase("graph", str(project), *args, check=0).stdout)
        top = {name: group["label"] for name, group in g["groups"].items() if group["parent"] is None}
        assert top == {"merged": "database being merged", "apart": "left as they are"}
        audit = next(k for k, v in g["groups"].items() if v["label"].startswith("separate: AuditBase"))
        assert g["groups"][audit]["parent"] == "apart" and "stroke-dasharray" in g["styles"]["apart"]
        main = next(k for k, v in g["groups"].items() if "Base\napp/db.py" in v["label"])
        assert g["groups"][main]["parent"] == "merged"


def test_dot(linted):
    text = unibase("graph", str(linted), "--format", "dot", check=0).stdout
    assert text.startswith("digraph unibase {\n") and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    assert len(re.findall(r"^  subgraph cluster_merged\d ", text, re.M)) == 0
    assert len(re.findall(r"^    subgraph cluster_merged\d \{ label=\"", text, re.M)) == 2
    assert len(re.findall(r"-> \w+ \[label=\"[^\"]+\", color=red", text)) == 2


def test_unknown_graph_format(linted):
    proc = unibase("graph", str(linted), "--format", "png")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: unknown graph format 'png'; use one of: mermaid, dot"
