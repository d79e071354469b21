"""Which bases belong together: merge what meets one database, keep apart what is built apart.

Evidence (from :mod:`unibase.evidence` and :mod:`unibase.liveness`), strongest first:

- the user's word: ``--merge`` / ``--separate`` (and ``merge`` / ``separate`` / ``exclude-bases``
  under ``[tool.unibase]``);
- bases in files no module can import (a file or folder name that is not a Python name: scripts)
  are programs of their own, ``separate``, unless they meet one engine with another base;
- bases that live code never reaches are ``unreferenced``, as are empty bases nothing uses;
- bases whose metadata meets one engine or one database setting, or that are built on one shared
  ``MetaData``, belong together; so do bases that reference each other or share tables;
- the group holding the most models is the main database, unless a group is placed by the app's
  own database setting (``DATABASE_URL``, ``DB_HOST``: no word names another database), which then
  is; bases with no engine evidence join it; every other group that binds its own engine is
  ``separate``. A group whose schema is created on an engine made from a method's argument
  (``self.get_engine(user_id)``: a database per user or tenant) is never the main database, and
  when it holds the most models there is no main database at all: the other groups are
  databases beside those (auth, audit), and every group stays ``separate``;
- a separate group that references the main one or shares a table with it is a conflict: two
  databases by their engines, one by their tables. ``plan`` and ``apply`` exit 1 until the
  user says ``--merge`` or ``--separate``.

Every role comes with short sentences that say why (``evidence`` in the plan).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from .decisions import SeparateOrMerge
from .discovery import BaseInfo, Index, Symbol
from .evidence import Evidence, Meeting, gather
from .liveness import base_folders, dead_folders, import_edges, standalone
from .plan import Conflict
from .settings import Settings


@dataclass
class RoleDecision:
    roles: dict[Symbol, str]  # "merge" (a candidate for canonical), "separate", "unreferenced", "excluded"
    evidence: dict[Symbol, list[str]] = field(default_factory=lambda: defaultdict(list))
    conflicts: list[Conflict] = field(default_factory=list)
    # how each base's metadata is created on or bound to an engine the code names (create_all,
    # bind, binds): the proof that it has a database of its own
    engines: dict[Symbol, list[str]] = field(default_factory=dict)


def matches(spec: str, sym: Symbol) -> bool:
    """``FILE[:NAME]`` names this base."""
    file, _, name = spec.strip().partition(":")
    file = file.strip().strip("/")
    return sym.file == file and (not name or sym.name == name)


class _Union:
    def __init__(self, items) -> None:
        self.parent = {i: i for i in items}

    def find(self, x):
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


# words of a database setting's name that say nothing about which database it is
_GENERIC_WORDS = frozenset({
    "database", "db", "url", "uri", "dsn", "sqlalchemy", "host", "name", "user", "username", "password",
    "pass", "port", "path", "conn", "connection", "string", "str", "async", "sync", "postgres", "postgresql",
    "pg", "mysql", "sqlite", "server", "driver", "default", "main", "primary", "engine", "file",
})


def _main_database_setting(key: str) -> bool:
    """``setting:settings.database_url`` or ``setting:db_host+db_name``: the app's own database
    (no word like ``audit``, ``reports`` or ``master`` names another one)."""
    if not key.startswith("setting:"):
        return False
    for name in key[len("setting:"):].split("+"):
        words = [w for w in re.split(r"[^a-z0-9]+", name.rsplit(".", 1)[-1].lower()) if w]
        if not words or any(w not in _GENERIC_WORDS for w in words):
            return False
    return True


def _where(m: Meeting) -> str:
    return f"{m.file}:{m.line}"


def decide(ix: Index, settings: Settings, importers: dict[str, set[str]]) -> RoleDecision:
    edges, imported = import_edges(ix)
    ev, coincidences = _own_engines_first(gather(ix, edges))
    decider = _Decider(ix, settings, importers, ev, edges, imported)
    for sym, notes in coincidences.items():
        decider.out.evidence[sym].extend(notes)
    decider.out.engines = {s: [_sentence(m) for m in ev.proof(s) if m.strength == "explicit"] for s in ix.bases}
    return decider.decide()


def _own_engines_first(ev: Evidence) -> tuple[Evidence, dict[Symbol, list[str]]]:
    """Bases that each make an engine of their own (in their own module) stay apart even when a
    script creates them all on one engine: that is one deployment where their URLs coincide."""

    def own(s: Symbol) -> set[str]:
        return {m.engine.key for m in ev.engines(s) if m.strength != "alembic" and m.engine.file == s.file}

    users: dict[str, set[Symbol]] = defaultdict(set)
    for s, meetings in ev.meetings.items():
        for m in meetings:
            users[m.engine.key].add(s)
    kept = Evidence(meetings={}, shared_metadata=ev.shared_metadata)
    notes: dict[Symbol, list[str]] = defaultdict(list)
    for s, meetings in ev.meetings.items():
        for m in meetings:
            others = users[m.engine.key] - {s}
            if (m.strength != "alembic" and own(s) and m.engine.key not in own(s) and others
                    and all(own(t) and m.engine.key not in own(t) for t in others)):
                names = ", ".join(sorted(f"{t.file}:{t.name}" for t in others))
                notes[s].append(f"{_sentence(m)} with {names}; each makes an engine of its own, so that is one "
                                "deployment where their databases coincide, not one database")
                continue
            kept.meetings.setdefault(s, []).append(m)
    return kept, notes


def _sentence(m: Meeting) -> str:
    engine = f"the engine from {m.engine.source} ({m.engine.file}:{m.engine.line})"
    if m.strength == "alembic":
        return f"the Alembic environment {m.file} targets its metadata (target_metadata, {_where(m)})"
    if m.strength == "nearby":
        return f"{engine} is {m.how}; nothing else binds its metadata to an engine"
    return f"its metadata meets {engine} by {m.how} ({_where(m)})"


class _Decider:
    def __init__(self, ix: Index, settings: Settings, importers: dict[str, set[str]], ev: Evidence,
                 edges: dict[str, set[str]], imported: dict[str, set[str]]) -> None:
        self.ix, self.settings, self.importers, self.ev = ix, settings, importers, ev
        self.edges, self.imported = edges, imported
        self.forced_merge = {s for s in ix.bases if any(matches(x, s) for x in settings.merge)}
        if settings.target:
            self.forced_merge |= {s for s in ix.bases if matches(settings.target, s)}
        self.forced_separate = {s for s in ix.bases if any(matches(x, s) for x in settings.separate + settings.exclude_bases)}
        self.out = RoleDecision(roles={})

    def say(self, sym: Symbol, text: str) -> None:
        self.out.evidence[sym].append(text)

    def models(self, sym: Symbol) -> int:
        return len(self.ix.models_of(sym))

    # -- the decision --------------------------------------------------------------------------

    def decide(self) -> RoleDecision:
        ix = self.ix
        in_scope = [b for b in ix.bases.values() if not b.test_local and b.kind != "flask_sqlalchemy"]
        roles = self.out.roles
        for sym in self.forced_separate:
            roles[sym] = "separate"
            self.say(sym, "separate: as asked (--separate / separate in [tool.unibase])")
        self._standalone([b for b in in_scope if b.symbol not in roles and b.symbol not in self.forced_merge])
        live = self._live([b for b in in_scope if b.symbol not in roles])
        for sym in self.forced_merge:
            if sym not in roles or roles[sym] == "unreferenced":
                roles[sym] = "merge"
                self.say(sym, "merge: as asked (--merge / merge in [tool.unibase] / --target)")
        live = [b for b in live if b.symbol not in roles] + [ix.bases[s] for s in self.forced_merge
                                                            if roles.get(s) == "merge" and s in ix.bases
                                                            and not ix.bases[s].test_local]
        live = list({b.symbol: b for b in live}.values())
        self._group(live)
        return self.out

    def _standalone(self, bases: list[BaseInfo]) -> None:
        """Bases no module of the project can import are programs of their own: ``separate``,
        never merged, never canonical, in no conflict, unless their metadata meets one engine or
        one ``MetaData`` with another base (then they are one database and judged as such)."""
        keys: dict[str, set[Symbol]] = defaultdict(set)
        for b in self.ix.bases.values():
            for m in self.ev.engines(b.symbol):
                keys[m.engine.key].add(b.symbol)
            if b.symbol in self.ev.shared_metadata:
                keys[self.ev.shared_metadata[b.symbol][0]].add(b.symbol)
        for b in bases:
            reason = standalone(b.symbol.file)
            if reason is None or any(len(members) > 1 for members in keys.values() if b.symbol in members):
                continue
            self.out.roles[b.symbol] = "separate"
            self.say(b.symbol, f"separate: a standalone script: {reason}; left alone, never merged or canonical "
                               "(pass --merge to merge it)")

    def _live(self, bases: list[BaseInfo]) -> list[BaseInfo]:
        """Drop (as unreferenced) the bases live code never reaches."""
        imported = self.imported
        files = [b.symbol.file for b in bases]
        dead = dead_folders(self.ix, files, self.edges)
        folders = base_folders(self.ix, files)
        out = []
        for b in bases:
            folder = folders[b.symbol.file]
            tables = [t for t in self.ix.tables if t.base == b.symbol]
            if folder in dead:
                self.out.roles[b.symbol] = "unreferenced"
                self.say(b.symbol, f"unreferenced: no live module imports {folder}/ (exclude it in [tool.unibase] "
                                   "exclude, or pass --merge to merge it)")
            elif not self.models(b.symbol) and not tables and not imported.get(b.symbol.file, set()) & {
                    "*", b.symbol.name} and not self.ev.proof(b.symbol):
                self.out.roles[b.symbol] = "unreferenced"
                self.say(b.symbol, f"unreferenced: no models, and no other module imports {b.symbol.name} from "
                                   f"{b.symbol.file}")
            else:
                out.append(b)
        return out

    def _group(self, live: list[BaseInfo]) -> None:
        ix, ev = self.ix, self.ev
        syms = [b.symbol for b in live]
        uf = _Union(syms)
        db_keys: dict[Symbol, set[str]] = {s: {m.engine.key for m in ev.engines(s)} for s in syms}
        # one database setting or engine object: together
        by_key: dict[str, list[Symbol]] = defaultdict(list)
        for s in syms:
            for k in db_keys[s]:
                by_key[k].append(s)
        for k, members in by_key.items():
            for s in members[1:]:
                uf.union(members[0], s)
        by_meta: dict[str, list[Symbol]] = defaultdict(list)
        for s in syms:
            if s in ev.shared_metadata:
                by_meta[ev.shared_metadata[s][0]].append(s)
        for key, members in by_meta.items():
            for s in members:
                if len(members) > 1:
                    self.say(s, f"built on the shared MetaData {key} ({ev.shared_metadata[s][1]}) with "
                                f"{len(members) - 1} other base(s)")
            for s in members[1:]:
                uf.union(members[0], s)
        for s in syms:
            for m in ev.engines(s):
                self.say(s, _sentence(m))
        # references and shared tables: together, unless each side has its own database (a conflict)
        links = self._links(set(syms))

        def proven(root: Symbol) -> bool:
            return any(ev.proof(s) for s in syms if uf.find(s) == root)
        pending: list[tuple[Symbol, Symbol, str]] = []
        for (a, b), why in links.items():
            ra, rb = uf.find(a), uf.find(b)
            if ra == rb:
                continue
            if proven(ra) and proven(rb):
                pending.append((a, b, why))
            else:
                uf.union(a, b)
                self.say(a, f"linked to {b.file}:{b.name}: {why}")
                self.say(b, f"linked to {a.file}:{a.name}: {why}")
        groups: dict[Symbol, list[Symbol]] = defaultdict(list)
        for s in syms:
            groups[uf.find(s)].append(s)

        def size(root: Symbol) -> tuple[int, int, int]:
            members = groups[root]
            return (sum(self.models(s) for s in members), sum(len(self.importers.get(s.file, ())) for s in members),
                    -len(members))

        def per_instance(root: Symbol) -> bool:
            """Its schema is created on databases the caller picks per instance (a method's
            argument: per user, per tenant), whatever default engine it also has."""
            return any(m.engine.per_instance for s in groups[root] for m in ev.proof(s))

        def alembic(root: Symbol) -> set[str]:
            """The Alembic environments that migrate the group (when nothing else places it)."""
            return {m.file for s in groups[root] for m in ev.engines(s) if m.strength == "alembic"}

        def main_setting(root: Symbol) -> bool:
            return any(_main_database_setting(m.engine.key) for s in groups[root] for m in ev.proof(s))

        unproven_roots = [r for r in groups if not proven(r)]
        eligible = [r for r in groups if not per_instance(r)]
        if any(main_setting(r) for r in eligible):
            # the app's own database setting (DATABASE_URL, DB_HOST...) names the main database: bases
            # nothing places join it, however many models they hold
            eligible = [r for r in eligible if proven(r)]
        # a group of bases on one engine is one database to merge, whoever makes its engine
        shared = [r for r in groups if len(groups[r]) > 1]
        alone = list(groups) if len(groups) == 1 else []  # one database: nothing to keep it apart from
        main = max(eligible or shared or unproven_roots or alone or [None], key=lambda r: size(r) if r else (0, 0, 0))
        biggest = max(groups, key=size) if groups else None
        if biggest is not None and len(groups) > 1 and proven(biggest) and per_instance(biggest) \
                and not any(main_setting(r) for r in eligible):
            # the app's own data lives in databases picked per instance: the other groups are
            # databases beside them (auth, audit), not a main database to merge into
            main = None
        forced = {uf.find(s) for s in self.forced_merge if s in uf.parent}
        undecided: set[Symbol] = set()
        for a, b, why in pending:
            if {a, b} & self.forced_merge:
                for s in (a, b):
                    self.say(s, f"merged as asked although each side has its own engine: {why}")
                continue
            if {a, b} & self.forced_separate:
                continue
            ra, rb = uf.find(a), uf.find(b)
            other = rb if ra == main else ra if rb == main else rb
            undecided.add(other)
            o = a if uf.find(a) == other else b
            self.out.conflicts.append(Conflict(
                "separate-or-merge", f"{a.name}/{b.name}",
                f"{a.file}:{a.name} and {b.file}:{b.name} look like two databases (each meets its own engine), "
                f"yet they share tables or reference each other ({why}): merge them into one database, or keep "
                "them apart?",
                None, (a.file, b.file),
                SeparateOrMerge(f"--merge {o.file}:{o.name}", f"--separate {o.file}:{o.name}"),
            ))
            for s in groups[other]:
                self.say(s, f"undecided: its own engine, yet {why} (pass --merge or --separate)")
        roles = self.out.roles
        for root, members in groups.items():
            if root == main or root in forced:
                for s in members:
                    roles.setdefault(s, "merge")
                    if not self.out.evidence.get(s) and len(syms) > 1:
                        self.say(s, "merge: nothing says it lives on another database")
                continue
            # only Alembic places it: another database only when the main one has its own Alembic environment
            if root in unproven_roots and main is not None and not (alembic(main) and alembic(root) - alembic(main)):
                for s in members:
                    roles.setdefault(s, "merge")
                    self.say(s, "merge: no engine is created or bound for it, so it joins the main database by "
                                "default (pass --separate to keep it apart)")
                continue
            if root in unproven_roots and main is not None:
                for s in members:
                    self.say(s, f"its Alembic environment is not the main database's ({', '.join(sorted(alembic(main)))})")
            for s in members:
                roles.setdefault(s, "separate")
                if roles[s] != "separate":
                    continue
                reason = ("its metadata meets its own engine" if ev.proof(s) else
                          "its own Alembic environment migrates it" if ev.engines(s) else
                          "it is linked to a base on its own engine")
                if per_instance(root):
                    reason += ", made from an argument (a database per instance)"
                self.say(s, f"separate: {reason}, not the main database's; left alone and never canonical")
                if root in undecided:
                    continue
                self.out.conflicts.append(Conflict(
                    "separate-database", s.name,
                    f"{s.file}:{ix.bases[s].line}: {s.name}.metadata meets only "
                    + (", ".join(sorted({m.engine.source for m in ev.engines(s)})) or "the engines of its group")
                    + ", never the main database's engine",
                    "left separate: not merged (pass --merge to merge it)",
                    (f"{s.file}:{ix.bases[s].line}",),
                ))

    def _links(self, syms: set[Symbol]) -> dict[tuple[Symbol, Symbol], str]:
        """Pairs of bases that reference each other or define one table, with the first reason."""
        ix = self.ix
        out: dict[tuple[Symbol, Symbol], str] = {}
        table_base = ix.base_of_table()
        for table, owners in table_base.items():
            bases = sorted({b for b, _ in owners if b in syms})
            for other in bases[1:]:
                out.setdefault((bases[0], other), f"both define table {table}")
        class_base: dict[str, set[Symbol]] = defaultdict(set)
        for m in ix.models.values():
            class_base[m.symbol.name].add(m.base)
        for ref in ix.references:
            owner = ix.models[ref.owner].base if ref.owner in ix.models else next(
                (t.base for t in ix.tables if (t.symbol or Symbol(t.file, t.fact.table)) == ref.owner), None)
            if owner not in syms:
                continue
            if ref.kind == "foreign-key":
                targets = {b for b, _ in table_base.get(ref.target.rsplit(".", 1)[0], [])} if "." in ref.target else set()
            elif ref.kind == "secondary":
                targets = {b for b, _ in table_base.get(ref.target, [])}
            else:
                targets = class_base.get(ref.target.rsplit(".", 1)[-1], set())
            if not targets or owner in targets:
                continue
            for t in targets & syms:
                key = tuple(sorted((owner, t)))
                out.setdefault(key, f"{ref.kind} {ref.source} -> {ref.target} ({ref.file}:{ref.line})")
        return out
