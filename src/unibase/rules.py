"""The rules ``unibase check`` reports, with stable codes (``unibase explain UB1xx``).

Each finding is something that keeps a project from having one declarative base in scope.
Bases that are intentionally separate (another database, a standalone script, test-local,
unreferenced or excluded) are never findings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    example: str  # what the finding points at
    fix: str


RULES: tuple[Rule, ...] = (
    Rule(
        "UB101",
        "second-base",
        "A second declarative base on the database of the canonical one: its models live in another "
        "metadata and registry, so nothing across the two can refer to the other.",
        '''# app/models.py
Base = declarative_base()

# app/audit.py
AuditBase = declarative_base()   # UB101: merged into app/models.py:Base by `unibase apply`
''',
        "Run `unibase plan` to see the merge and `unibase apply` to make it; or, if it is another "
        "database on purpose, say so with `--separate FILE[:NAME]` or `separate` in [tool.unibase].",
    ),
    Rule(
        "UB102",
        "cross-base-foreign-key",
        "A ForeignKey naming a table that another base's metadata holds: SQLAlchemy raises "
        "NoReferencedTableError when it resolves the key (create_all, the first flush).",
        '''class AuditEntry(AuditBase):
    __tablename__ = "audit_entries"
    user_id = Column(ForeignKey("users.id"))   # UB102: users is on Base, not AuditBase
''',
        "Merge the two bases (`unibase apply`); the foreign key then resolves in the one metadata.",
    ),
    Rule(
        "UB103",
        "cross-base-relationship",
        "A relationship() string, secondary= table or Mapped[\"...\"] annotation naming a class or table "
        "of another base: the mapper cannot find it (\"expression 'User' failed to locate a name\").",
        '''class AuditEntry(AuditBase):
    user = relationship("User")   # UB103: User is mapped on Base, not AuditBase
''',
        "Merge the two bases (`unibase apply`); the string then resolves in the one registry.",
    ),
    Rule(
        "UB104",
        "duplicate-table",
        "One table defined on two bases being merged. In one metadata the second definition raises "
        "\"Table 'x' is already defined\"; identical definitions are merged automatically, different "
        "ones need a decision (`unibase plan` shows them column by column).",
        '''# app/models.py                      # app/chat.py
class Conversation(Base):             class Conversation(ChatBase):
    __tablename__ = "conversations"       __tablename__ = "conversations"   # UB104
''',
        "Run `unibase plan`; for different definitions pass `--prefer FILE_OR_MODULE` or write the "
        "decision into the plan JSON.",
    ),
    Rule(
        "UB105",
        "base-not-understood",
        "Something that looks like a declarative base, made in a way unibase cannot follow without "
        "running the code (a factory with arguments, a dynamic import): one base is not proven.",
        '''Base = make_base(config.schema)   # UB105
''',
        "Make it a plain `declarative_base()` or a `DeclarativeBase` subclass, or exclude its file "
        "with `exclude` in [tool.unibase].",
    ),
)

RULE_CODES = tuple(r.code for r in RULES)


def rule(code: str) -> Rule | None:
    code = code.upper()
    return next((r for r in RULES if r.code == code), None)
