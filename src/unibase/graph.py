"""``unibase graph``: the plan as a picture (Mermaid or Graphviz DOT), as text.

Each declarative base is a cluster of its models; the references that cross from one base to
another (the ones that raise ``NoReferencedTableError`` or fail to find a class) are red dashed
edges. Bases unibase leaves as they are (separate databases, scripts, test-local...) are drawn
inside a cluster of their own, apart from the database being merged. ``after=True`` draws the
planned result: every merged base's models in the canonical base, the crossing edges resolved.
Only references that cross bases are known to the plan, so only those are drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from .plan import Plan

MERGED_ROLES = ("canonical", "merge")


@dataclass(frozen=True)
class Cluster:
    key: str  # "file:Name" of the base
    label: str
    merged: bool  # on the database being merged (else left as it is)
    nodes: tuple[tuple[str, str], ...]  # (node id, label)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    crossing: bool  # between two bases: broken until merged


@dataclass(frozen=True)
class Graph:
    clusters: tuple[Cluster, ...]
    edges: tuple[Edge, ...]


def build(plan: Plan, after: bool = False) -> Graph:
    """Clusters, nodes and edges of the plan, before the merge or (``after``) as planned."""
    from .plan import MoveModels

    canonical = f"{plan.canonical.file}:{plan.canonical.name}" if plan.canonical else None
    # after the merge, a duplicate of a table is gone: its class is an alias of the one kept
    dropped = {(o.source, d[0]): d[1] for o in plan.operations if isinstance(o, MoveModels) for d in o.drop} \
        if after else {}
    ids: dict[tuple[str, str], str] = {}  # (base key, model name or table) -> node id
    members: dict[str, list[tuple[str, str]]] = {}
    home_of: dict[str, str] = {}
    for i, b in enumerate(plan.bases):
        key = f"{b.file}:{b.name}"
        home = home_of[key] = canonical if after and canonical and b.role in MERGED_ROLES else key
        nodes = members.setdefault(home, [])
        for j, m in enumerate(b.models):
            if (m.file, m.name) in dropped:
                continue
            node = f"b{i}m{j}"
            ids[key, m.name] = ids[key, m.table or m.name] = node
            nodes.append((node, f"{m.name}\n{m.table}" if m.table else m.name))
    for (file, name), kept in dropped.items():
        key = next((f"{b.file}:{b.name}" for b in plan.bases if any(m.file == file and m.name == name for m in b.models)), "")
        node = next((n for (k, label), n in ids.items() if label == kept and home_of.get(k) == home_of.get(key)), None)
        if node:
            ids[key, name] = node
    clusters = []
    for b in plan.bases:
        key = f"{b.file}:{b.name}"
        if key not in members:
            continue  # merged into the canonical base (after)
        name = "one base after the merge: " + b.name if after and key == canonical else f"{b.role}: {b.name}"
        clusters.append(Cluster(key, f"{name}\n{b.file}", b.role in MERGED_ROLES, tuple(members[key])))
    edges = []
    for n, r in enumerate(plan.cross_references):
        target_name = r.target.rsplit(".", 1)[0] if r.kind == "foreign-key" else r.target.rsplit(".", 1)[-1]
        source_name = r.source.rsplit(".", 1)[0]
        source = ids.get((r.from_base, source_name)) or _extra(clusters, home_of.get(r.from_base), source_name, f"x{n}s")
        target = ids.get((r.to_base, target_name)) or _extra(clusters, home_of.get(r.to_base), target_name, f"x{n}t")
        if source is None or target is None:
            continue
        merged = after and _merged(plan, r.from_base) and _merged(plan, r.to_base)
        what = "FK" if r.kind == "foreign-key" else r.kind
        label = f"{what} {r.source} -> {r.target}"
        edges.append(Edge(source, target, label if merged else f"{label}\nbroken: another base", not merged))
    return Graph(tuple(clusters), tuple(edges))


def _merged(plan: Plan, key: str) -> bool:
    return any(f"{b.file}:{b.name}" == key and b.role in MERGED_ROLES for b in plan.bases)


def _extra(clusters: list[Cluster], key: str | None, name: str, node: str) -> str | None:
    """A node for a table the plan lists under no model (a Core ``Table``), in its base's cluster."""
    for i, c in enumerate(clusters):
        if c.key == key:
            found = next((n for n, label in c.nodes if label.split("\n")[-1] == name), None)
            if found:
                return found
            clusters[i] = Cluster(c.key, c.label, c.merged, c.nodes + ((node, name),))
            return node
    return None


def _groups(graph: Graph) -> list[tuple[str, str, list[Cluster]]]:
    """(id, label, clusters) of the two outer groups both drawings nest the databases in: the
    databases being merged, then those left as they are; a group with no database is left out."""
    groups = (("merged", "database being merged", [c for c in graph.clusters if c.merged]),
              ("apart", "left as they are", [c for c in graph.clusters if not c.merged]))
    return [g for g in groups if g[2]]


# --- Mermaid --------------------------------------------------------------------------------------


def mermaid(graph: Graph) -> str:
    """A Mermaid flowchart GitHub renders as is (```mermaid fences)."""
    lines = ["flowchart LR"]
    for gid, glabel, clusters in _groups(graph):
        lines.append(f'  subgraph {gid}["{_m(glabel)}"]')
        for k, c in enumerate(clusters):
            lines.append(f'    subgraph {gid}{k}["{_m(c.label)}"]')
            lines += [f'      {node}["{_m(label)}"]' for node, label in c.nodes]
            lines.append("    end")
        lines.append("  end")
    crossing = []
    for n, e in enumerate(graph.edges):
        if e.crossing:
            lines.append(f'  {e.source} -.->|"{_m(e.label)}"| {e.target}')
            crossing.append(str(n))
        else:
            lines.append(f'  {e.source} -->|"{_m(e.label)}"| {e.target}')
    if crossing:
        lines.append(f"  linkStyle {','.join(crossing)} stroke:#d33,stroke-width:2px,color:#d33")
    if any(not c.merged for c in graph.clusters):
        lines.append("  style apart stroke-dasharray: 5 5")
    return "\n".join(lines) + "\n"


def _m(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


# --- Graphviz DOT ----------------------------------------------------------------------------------


def dot(graph: Graph) -> str:
    lines = ["digraph unibase {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for gid, glabel, clusters in _groups(graph):
        style = "" if gid == "merged" else " style=dashed;"
        lines.append(f'  subgraph cluster_{gid} {{ label="{_d(glabel)}";{style}')
        for k, c in enumerate(clusters):
            lines.append(f'    subgraph cluster_{gid}{k} {{ label="{_d(c.label)}";')
            lines += [f'      {node} [label="{_d(label)}"];' for node, label in c.nodes]
            lines.append("    }")
        lines.append("  }")
    for e in graph.edges:
        extra = ", color=red, fontcolor=red, style=dashed, penwidth=2" if e.crossing else ""
        lines.append(f'  {e.source} -> {e.target} [label="{_d(e.label)}"{extra}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _d(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
