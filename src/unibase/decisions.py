"""What a conflict offers the user and what the user decided, as typed values.

A conflict of the plan carries, under ``options`` in its JSON, the facts a decision needs and the
decision itself: for a table two bases define differently (:class:`DuplicateTable`) both
definitions column by column, the suggested column renames and the chosen winner
(:class:`DuplicateDecision`); for a merged base whose metadata differs from the canonical one
(:class:`MetadataOptionChange`) the option and the tables that take the canonical value; for two
bases that look like two databases yet share tables (:class:`SeparateOrMerge`) the option that
keeps each choice. Every type writes and reads exactly the JSON object the plan has always held
(the keys are the contract users edit), and reading is lenient as it always was: a missing key
takes its default, and a decision without a winner is read as one and refused when applied
(:func:`unibase.api.decisions_from_plan`), with the sentence that says what to write.

Nothing here imports the rest of unibase (``settings`` reaches the steps, which import the plan).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Union


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple(tuple(r) for r in value or ())  # type: ignore[misc]


@dataclass(frozen=True)
class SuggestedRename:
    """A column only the deleted definition has (``old``) that looks like one only the kept
    definition has (``new``), renamed; ``confirmed`` when the user (or ``--prefer``) takes it.
    In the JSON: ``{"from": old, "to": new, "confirmed": bool}``."""

    old: str
    new: str
    confirmed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.old, "to": self.new, "confirmed": self.confirmed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SuggestedRename:
        return cls(data["from"], data["to"], bool(data.get("confirmed")))


@dataclass(frozen=True)
class DuplicateDecision:
    """Which definition of a duplicated table wins (``"file:Class"``), how much of the other it
    keeps (``"union"`` or ``"keep"``) and the confirmed column renames (deleted -> kept)."""

    winner: str  # "" when the plan JSON names none: refused when the plan is applied
    mode: str = "union"
    renames: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"winner": self.winner, "mode": self.mode, "renames": [list(r) for r in self.renames]}

    @classmethod
    def from_dict(cls, data: Any) -> DuplicateDecision | None:
        """None for no decision (``null``, ``{}``); a value that is not an object, or an object
        without ``winner``, is a decision without a winner."""
        if not data:
            return None
        if not isinstance(data, dict):
            return cls("")
        return cls(data.get("winner") or "", data.get("mode", "union"), _pairs(data.get("renames")))

    @classmethod
    def of(cls, decision: Any) -> DuplicateDecision:
        """The decision a ``settings.TableDecision`` (from ``--prefer`` or ``pyproject.toml``) takes."""
        return cls(decision.winner, decision.mode, _pairs(decision.renames))


@dataclass(frozen=True)
class ColumnDefinition:
    attr: str
    name: str
    type: str
    nullable: str  # as discovery reads it: "True", "False" or the expression
    primary_key: bool
    foreign_key: str | None = None
    default: str | None = None
    index: bool = False
    unique: bool = False


@dataclass(frozen=True)
class RelationshipDefinition:
    attr: str
    target: str | None = None
    secondary: str | None = None


@dataclass(frozen=True)
class TableDefinition:
    """One class's definition of a duplicated table, as the plan shows it side by side."""

    file: str
    class_name: str  # "class" in the JSON
    line: int
    columns: tuple[ColumnDefinition, ...] = ()
    table_args: str | None = None
    relationships: tuple[RelationshipDefinition, ...] = ()
    methods: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """``file:Class``, as a decision names its winner."""
        return f"{self.file}:{self.class_name}"

    def column_attrs(self) -> list[str]:
        return [c.attr for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "class": self.class_name,
            "line": self.line,
            "columns": [dict(vars(c)) for c in self.columns],
            "table_args": self.table_args,
            "relationships": [dict(vars(r)) for r in self.relationships],
            "methods": list(self.methods),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableDefinition:
        return cls(data["file"], data["class"], data.get("line", 0),
                   tuple(ColumnDefinition(**c) for c in data.get("columns", ())), data.get("table_args"),
                   tuple(RelationshipDefinition(**r) for r in data.get("relationships", ())),
                   tuple(data.get("methods", ())))


@dataclass(frozen=True)
class DuplicateTable:
    """The options of a ``duplicate-table`` conflict: the two definitions (the kept one first),
    how they differ, the suggested renames, and the decision: ``decision`` is the user's to edit,
    ``planned_with`` what the plan's operations assume (they differ: plan again). ``decidable``
    is False when neither side can be chosen (both are on bases being merged): the JSON then
    carries neither key."""

    table: str | None
    definitions: tuple[TableDefinition, ...] = ()
    differences: tuple[str, ...] = ()
    suggested_renames: tuple[SuggestedRename, ...] = ()
    decision: DuplicateDecision | None = None
    planned_with: DuplicateDecision | None = None
    decidable: bool = True

    def decided(self, decision: DuplicateDecision) -> DuplicateTable:
        """These options planned with ``decision``: each suggested rename confirmed when it takes it."""
        renames = [SuggestedRename(r.old, r.new, (r.old, r.new) in decision.renames) for r in self.suggested_renames]
        return replace(self, suggested_renames=tuple(renames), decision=decision, planned_with=decision)

    def confirmed_renames(self) -> list[tuple[str, str]]:
        return [(r.old, r.new) for r in self.suggested_renames if r.confirmed]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "table": self.table,
            "definitions": [d.to_dict() for d in self.definitions],
            "differences": list(self.differences),
            "suggested_renames": [r.to_dict() for r in self.suggested_renames],
        }
        if self.decidable:
            out["decision"] = self.decision.to_dict() if self.decision else None
            out["planned_with"] = self.planned_with.to_dict() if self.planned_with else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DuplicateTable:
        return cls(data.get("table"), tuple(TableDefinition.from_dict(d) for d in data.get("definitions") or ()),
                   tuple(data.get("differences") or ()),
                   tuple(SuggestedRename.from_dict(r) for r in data.get("suggested_renames") or ()),
                   DuplicateDecision.from_dict(data.get("decision")), DuplicateDecision.from_dict(data.get("planned_with")),
                   "decision" in data)


@dataclass(frozen=True)
class MetadataOptionChange:
    """A merged base's metadata option (``naming_convention``, ``schema``, ``type_annotation_map``)
    differs from the canonical one's: ``tables`` take the canonical value (``new``) instead of
    their own (``old``; None for the default). A declared change verify accepts."""

    option: str
    tables: tuple[str, ...]
    old: str | None  # "from" in the JSON
    new: str | None  # "to"

    def to_dict(self) -> dict[str, Any]:
        return {"option": self.option, "tables": list(self.tables), "from": self.old, "to": self.new}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetadataOptionChange:
        return cls(data.get("option") or "", tuple(data.get("tables") or ()), data.get("from"), data.get("to"))


@dataclass(frozen=True)
class SeparateOrMerge:
    """Two bases that look like two databases yet share tables: the option that keeps each choice."""

    merge: str  # "--merge FILE:NAME"
    separate: str  # "--separate FILE:NAME"

    def to_dict(self) -> dict[str, Any]:
        return {"merge": self.merge, "separate": self.separate}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeparateOrMerge:
        return cls(data.get("merge") or "", data.get("separate") or "")


ConflictOptions = Union[DuplicateTable, MetadataOptionChange, SeparateOrMerge]

# the conflict kinds whose JSON carries options, and how they are read
_KINDS: dict[str, Any] = {
    "duplicate-table": DuplicateTable,
    "metadata-options": MetadataOptionChange,
    "separate-or-merge": SeparateOrMerge,
}


def options_from_dict(kind: str, data: Any) -> ConflictOptions | None:
    """The typed options of a conflict of ``kind`` from its JSON (None when it carries none)."""
    if not data or kind not in _KINDS:
        return None
    if not isinstance(data, dict):
        raise TypeError(f"the options of a {kind} conflict are not a JSON object")
    return _KINDS[kind].from_dict(data)


def options_to_dict(options: ConflictOptions | None) -> dict[str, Any]:
    return options.to_dict() if options is not None else {}
