"""The ordered pipeline: one step per codemod, with a stable code. The one registry of steps.

A step owns its code, name and summary, the subject of its commit and its example: a small
project and what the step's phase changes in it, which ``tests/test_steps.py`` runs through the
real planner and codemods and ``unibase explain`` prints. The operation types a step applies
declare it themselves, once, in ``plan.py`` (its code, which the plan's JSON carries, and the
command that applies each, named, not imported, so reading the registry does not load LibCST):
``plan`` cannot import this module, which imports ``plan``, so the step gathers them from there.
Adding a step: its entry here, its operation type in ``plan.py``, its codemod.

Order constraints:
- UB001 first: it creates the shims and decides the final home of every moved name.
- UB002 after UB001: imports are rewritten to where UB001 put the names (and the target's own
  imports of moved names, which UB001 made local, are dropped here).
- UB003 after UB002: strings are rewritten once the modules they name are final.
- UB004 after UB002: repeated ``create_all`` calls only become visibly redundant once UB002
  unified the aliases of the one Base.
- UB005 after UB002: it renames uses of columns on the kept class, which UB002 made every
  importer name.
- UB007 after UB002: it names the canonical base as the Flask-SQLAlchemy object's module
  spells it once every import points at the canonical module.
- UB006 last, a commit of its own: the migration for databases made from deleted definitions.
"""


from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from . import step_examples as ex
from .plan import OPERATION_TYPES, MoveModels, Operation, RebaseBase, WriteMigration, plural
from .step_examples import Example


@dataclass(frozen=True)
class Step:
    code: str
    name: str
    summary: str
    example: Example
    # the commit subject, most detailed first (the first that fits 72 characters is taken)
    subjects: Callable[[Any], list[str]] = lambda phase: []

    @property
    def operations(self) -> tuple[type[Operation], ...]:
        """The operation types that name this step (``Operation.step``)."""
        return tuple(t for t in OPERATION_TYPES.values() if t.step == self.code)

    @property
    def commands(self) -> tuple[tuple[type[Operation], str], ...]:
        """Each operation type the step applies, with its command (``"module:Class"``)."""
        return tuple((t, t.command) for t in self.operations)

    def command(self, op: Operation) -> type:
        """The command class that applies ``op``."""
        path = dict(self.commands)[type(op)]
        module, _, name = path.partition(":")
        return getattr(importlib.import_module(module), name)

    @property
    def before(self) -> str:
        example = self.example
        shown = {rel: example.project[rel] for rel in example.context}
        shown.update({rel: example.file_before(rel) or "(a new file)\n" for rel in example.after})
        return _files(shown)

    @property
    def after(self) -> str:
        what = " (an excerpt)" if self.example.excerpt else ""
        return _files(self.example.after, what)


def _files(files: dict, what: str = "") -> str:
    return "\n".join(f"# {rel}{what}\n{text}" for rel, text in files.items())


class NewFileCommand:
    """UB006's command: the new file is the migration its operation describes, rendered now
    (``WriteMigration.content``; a plan JSON's own text when the tables do not render it)."""

    def __init__(self, op: WriteMigration) -> None:
        self.op = op

    def create(self) -> bytes:
        return self.op.content.encode("utf-8")


# --- commit subjects ----------------------------------------------------------------------------


def _merge_subjects(phase) -> list[str]:
    moves = [o for o in phase.operations if isinstance(o, MoveModels)]
    if moves:
        count = sum(len(o.classes) for o in moves)
        dropped = sum(len(o.drop) for o in moves)
        target = moves[0].target
        what = " and ".join(w for w in (f"move {plural(count, 'model')}" if count else "",
                                       f"merge {plural(dropped, 'duplicate table')}" if dropped else "") if w)
        what = what or "turn into shims"
        stems = list(dict.fromkeys(PurePosixPath(o.source).stem for o in moves))
        return [f"unibase: {what} from {', '.join(stems)} into {PurePosixPath(target).name}",
                f"unibase: {what} into {target}",
                f"unibase: {what} into {PurePosixPath(target).name}",
                f"unibase: {what} into the canonical module"]
    rebases = [o for o in phase.operations if isinstance(o, RebaseBase)]
    target = rebases[0].target if rebases else "?"
    what = f"point {plural(len(rebases), 'base')} at the canonical Base"
    return [f"unibase: {what} in {target}", f"unibase: {what} in {PurePosixPath(target).name}",
            f"unibase: {what}"]


def _in_files(wording: str) -> Callable[[Any], list[str]]:
    """A subject naming how many files the phase changes: ``wording`` holds ``{files}``."""
    return lambda phase: [wording.format(files=plural(len(phase.changes), "file"))]


def _migration_subjects(phase) -> list[str]:
    path = phase.changes[0].path if phase.changes else ""
    return [f"unibase: write the migration {path}".rstrip(), f"unibase: write the migration {PurePosixPath(path).name}",
            "unibase: write the migration of the merged tables"]


STEPS: tuple[Step, ...] = (
    Step(
        "UB001",
        "merge-models",
        "Move the models of each secondary base (and the helpers they need) into the canonical "
        "module and leave a re-export shim; with --strategy rebase, replace the secondary base by an "
        "import of the canonical one instead.",
        example=ex.MERGE_MODELS,
        subjects=_merge_subjects,
    ),
    Step(
        "UB002",
        "rewrite-imports",
        "Point every import of a moved name at the canonical module, in every form (relative, "
        "absolute, aliased, module attribute, function-local, TYPE_CHECKING), and unify the aliases "
        "that now all name the one Base; an import only annotations need goes under TYPE_CHECKING "
        "where it would close a new import cycle.",
        example=ex.REWRITE_IMPORTS,
        subjects=_in_files("unibase: point imports in {files} at the canonical module"),
    ),
    Step(
        "UB003",
        "rewrite-strings",
        "Rewrite module-qualified relationship strings that name a moved class, and class names "
        "renamed to avoid a clash in the merged registry.",
        example=ex.REWRITE_STRINGS,
        subjects=_in_files("unibase: rewrite relationship strings in {files}"),
    ),
    Step(
        "UB004",
        "collapse-metadata",
        "Collapse repeated Base.metadata.create_all/drop_all calls into one, and an Alembic "
        "target_metadata list of merged metadatas into one metadata.",
        example=ex.COLLAPSE_METADATA,
        subjects=_in_files("unibase: collapse metadata calls in {files}"),
    ),
    Step(
        "UB007",
        "unify-flask-model",
        "Give a Flask-SQLAlchemy object the canonical base as its model class "
        "(SQLAlchemy(model_class=Base), Flask-SQLAlchemy 3.x), so db.Model classes share the "
        "base's registry and metadata; add the import it needs.",
        example=ex.UNIFY_FLASK_MODEL,
    ),
    Step(
        "UB005",
        "rename-columns",
        "Where a duplicated table was resolved with a confirmed column rename, rename the provable "
        "uses (keyword arguments of the class, class attributes, self.x in its methods) and mark the "
        "rest with a TODO(unibase) comment.",
        example=ex.RENAME_COLUMNS,
        subjects=_in_files("unibase: rename uses of merged columns in {files}"),
    ),
    Step(
        "UB006",
        "write-migration",
        "Write a migration (an Alembic revision when the project has Alembic, else a standalone "
        "script under migrations/) that brings databases made from a deleted definition to the kept "
        "one: add columns, rename columns, add foreign keys, in batch mode, without losing rows.",
        example=ex.WRITE_MIGRATION,
        subjects=_migration_subjects,
    ),
)

STEP_CODES = tuple(s.code for s in STEPS)


def step(code: str) -> Step | None:
    code = code.upper()
    return next((s for s in STEPS if s.code == code), None)


@functools.cache
def step_of(operation: type[Operation]) -> Step:
    """The step that applies operations of this type."""
    return next(s for s in STEPS if operation in s.operations)
