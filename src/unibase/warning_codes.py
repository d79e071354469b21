"""The codes of the plan's warnings (W001...), each with what it means and what to do.

A warning is something unibase left as it is, or did in a way worth a look; it never changes the
exit code. The members are strings (``WarningCode.NOT_ANALYSED == "W001"``), so a plan's JSON and
code that still spells a literal compare equal. ``unibase explain W0xx`` prints one, the README
lists them all, and a test checks that every code used in ``src/`` and ``codemods/`` is here.
Codes are never reused: a code that is no longer emitted stays, marked retired, so an old plan's
warnings can still be explained.
"""

from __future__ import annotations

from enum import StrEnum


class WarningCode(StrEnum):
    meaning: str
    todo: str
    retired: bool

    def __new__(cls, code: str, meaning: str, todo: str, retired: bool = False) -> WarningCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.meaning = meaning
        member.todo = todo
        member.retired = retired
        return member

    @property
    def label(self) -> str:
        """The member's name as ``explain`` and the README show it: ``not-analysed``."""
        return self.name.lower().replace("_", "-")

    NOT_ANALYSED = (
        "W001",
        "A file does not parse (a syntax error, an encoding it does not declare, a NUL byte) and could not "
        "matter to the merge: no base, model or import of a merged module is in it, so it was not analysed.",
        "Fix the file if it is meant to be Python, or add it to [tool.unibase] exclude to silence the warning.",
    )
    FLASK_NOT_UNIFIED = (
        "W002",
        "A Flask-SQLAlchemy object (db = SQLAlchemy()) is not given the canonical base as its model class "
        "(UB007); the message says why (it is not a plain module-level SQLAlchemy(...), it has a model_class "
        "of its own, the import it needs would close an import cycle...). Its db.Model classes keep their "
        "own registry and metadata.",
        "Unify it by hand if its models belong to the merged database (SQLAlchemy(model_class=Base)), or "
        "mark it separate with --separate FILE if they do not.",
    )
    REBASE_CANNOT_DROP = (
        "W010",
        "Retired: --strategy rebase could not merge identical duplicate tables.",
        "Plan again: rebase now keeps one definition of a duplicated table like a move does.",
        True,  # retired
    )
    IMPORTED_UNDER_ANOTHER_NAME = (
        "W011",
        "Code that moves imports a name from the canonical module under another name (from .models import "
        "Widget as W); in the canonical module the moved code uses the name the module defines.",
        "Read the moved code in the canonical module and check that each use means the object it did.",
    )
    HELPER_RENAMED = (
        "W012",
        "A helper (a function, enum or constant) that moves with the models has the name of a different "
        "definition already in the canonical module; it moves under a new name and the moved code uses it.",
        "Check the new name; rename it to taste after the merge, or make the two helpers one.",
    )
    POSSIBLE_IMPORT_CYCLE = (
        "W013",
        "Retired: a move added an import that a file importing the canonical module might close into a cycle.",
        "Plan again: a plan that closes a new import cycle is now refused with an import-cycle conflict.",
        True,  # retired
    )
    NAME_MEANS_OTHER = (
        "W014",
        "Retired: a name used by moved code meant something else in the canonical module, and the moved code "
        "would have used the canonical module's meaning.",
        "Plan again: moved code now imports a clashing name under another name, so it keeps its meaning.",
        True,  # retired
    )
    ANONYMOUS_BASE_NAMED = (
        "W015",
        "The canonical base is anonymous (class Model(declarative_base()): ...); unibase names it (Base, or a "
        "free name) so moved models share its registry without inheriting the class's columns (UB001).",
        "Nothing, unless you prefer another name: rename it after the merge.",
    )
    DUNDER_DIFFERS = (
        "W016",
        "Two definitions of one table differ on a class attribute such as __table_args__ or __mapper_args__; "
        "the kept class's value stands and the deleted class's is dropped.",
        "Compare the two values (the message names the deleted class and line) and carry over what the kept "
        "class needs, such as an index or a constraint.",
    )
    HELPER_NOT_IMPORTED = (
        "W017",
        "Retired: a name defined in the source module and used by moved code was not imported into the "
        "canonical module.",
        "Plan again: moved code now takes such names along or imports them.",
        True,  # retired
    )
    KEPT_DATABASES_LACK_COLUMNS = (
        "W018",
        "Retired: databases made from the kept definition of a duplicated table lacked the columns the merge "
        "added, and no migration brought them.",
        "Plan again: the written migration (UB006) now inspects the live table and adds what is missing.",
        True,  # retired
    )
    NO_MIGRATION = (
        "W019",
        "A duplicated table was merged but no migration could be written for databases made from the deleted "
        "definition; the message says why (a primary-key column renamed, a column both renamed and a rename "
        "target...).",
        "Write the migration by hand: databases made from the deleted definition need the kept one's columns.",
    )
    BASE_NOT_UNDERSTOOD = (
        "W020",
        "Something looks like a declarative base (a call or class with a base's name) but discovery cannot "
        "follow what it is: its classes are left as they are and its importers are not rewritten. `unibase "
        "check` reports it as UB105.",
        "Define the base in a form unibase reads (declarative_base(), class Base(DeclarativeBase)), or merge "
        "its models by hand.",
    )
    REBASED_FOR_CONDITIONAL_HELPERS = (
        "W021",
        "The models of a base need helpers defined under if/try in their module, which a move cannot take "
        "along; the base is rebased in place (an import of the canonical base) instead of moved.",
        "Nothing: the models stay where they are and share the canonical registry. To move them, take the "
        "helpers out of the if/try and plan again.",
    )
    NOT_IMPORTABLE = (
        "W025",
        "A base is in a file the project cannot import (a script, or a folder whose name is not a module "
        "name); it is listed and never merged.",
        "Move the models into an importable module to merge them, or leave them: they keep their own base.",
    )
    OUTSIDE_SCOPE = (
        "W026",
        "A base is outside the path given on the command line; it is left as it is.",
        "Run unibase on the project root to merge it too.",
    )
    FALLBACK_BASE = (
        "W027",
        "A base is made only when an import fails (try: from X import Base / except ImportError: Base = ...) "
        "and X is not in the project; it is listed and never merged.",
        "Nothing, when X is installed where the project runs. Otherwise define the base unconditionally.",
    )
    CREATE_ALL_MOVED_EARLIER = (
        "W028",
        "A repeated Base.metadata.create_all (or drop_all) is dropped (UB004): the tables it made are now "
        "made by the first call, before the lines in between run.",
        "Check the code between the two calls (the message names the lines): code there that alters or "
        "fills tables now runs after they exist.",
    )


def warning_code(code: str) -> WarningCode | None:
    """The member with ``code`` (any case), or None."""
    try:
        return WarningCode(code.upper())
    except ValueError:
        return None
