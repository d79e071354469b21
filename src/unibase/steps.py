"""The ordered pipeline: one step per codemod, with a stable code.

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

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    code: str
    name: str
    summary: str
    before: str
    after: str


STEPS: tuple[Step, ...] = (
    Step(
        "UB001",
        "merge-models",
        "Move the models of each secondary base (and the helpers they need) into the canonical "
        "module and leave a re-export shim; with --strategy rebase, replace the secondary base by an "
        "import of the canonical one instead.",
        before='''# db/hce_models.py
from sqlalchemy import Column, ForeignKey, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Episode(Base):
    __tablename__ = "episodes"
    episode_id = Column(String, primary_key=True)
    video_id = Column(String, ForeignKey("media_sources.media_id"))
''',
        after='''# db/hce_models.py
# These names now live in db/models.py; re-exported so old imports keep working (unibase).
from .models import Base, Episode

__all__ = ["Base", "Episode"]

# db/models.py (appended)
# --- moved from db/hce_models.py by unibase (UB001) ---
class Episode(Base):
    __tablename__ = "episodes"
    episode_id = Column(String, primary_key=True)
    video_id = Column(String, ForeignKey("media_sources.media_id"))
''',
    ),
    Step(
        "UB002",
        "rewrite-imports",
        "Point every import of a moved name at the canonical module, in every form (relative, "
        "absolute, aliased, module attribute, function-local, TYPE_CHECKING), and unify the aliases "
        "that now all name the one Base.",
        before='''from .models import Base as MainBase
from .hce_models import Base as HCEBase, Episode

MainBase.metadata.create_all(engine)
HCEBase.metadata.create_all(engine)
''',
        after='''from .models import Base, Episode

Base.metadata.create_all(engine)
Base.metadata.create_all(engine)
''',
    ),
    Step(
        "UB003",
        "rewrite-strings",
        "Rewrite module-qualified relationship strings that name a moved class, and class names "
        "renamed to avoid a clash in the merged registry.",
        before='''claims = relationship("src.db.hce_models.Claim", back_populates="episode")
''',
        after='''claims = relationship("src.db.models.Claim", back_populates="episode")
''',
    ),
    Step(
        "UB004",
        "collapse-metadata",
        "Collapse repeated Base.metadata.create_all/drop_all calls into one, and an Alembic "
        "target_metadata list of merged metadatas into one metadata.",
        before='''Base.metadata.create_all(engine)
Base.metadata.create_all(engine)
target_metadata = [Base.metadata, HCEBase.metadata]
''',
        after='''Base.metadata.create_all(engine)
target_metadata = Base.metadata
''',
    ),
)

STEPS = STEPS + (
    Step(
        "UB007",
        "unify-flask-model",
        "Give a Flask-SQLAlchemy object the canonical base as its model class "
        "(SQLAlchemy(model_class=Base), Flask-SQLAlchemy 3.x), so db.Model classes share the "
        "base's registry and metadata; add the import it needs.",
        before='''from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
''',
        after='''from flask_sqlalchemy import SQLAlchemy
from .models import Base

db = SQLAlchemy(model_class=Base)
''',
    ),
    Step(
        "UB005",
        "rename-columns",
        "Where a duplicated table was resolved with a confirmed column rename, rename the provable "
        "uses (keyword arguments of the class, class attributes, self.x in its methods) and mark the "
        "rest with a TODO(unibase) comment.",
        before="conversation = Conversation(persona_id=persona_id)\nprint(conversation.persona_id)\n",
        after="conversation = Conversation(personality_id=persona_id)\n"
        "print(conversation.persona_id)  # TODO(unibase): persona_id is now personality_id\n",
    ),
    Step(
        "UB006",
        "write-migration",
        "Write a migration (an Alembic revision when the project has Alembic, else a standalone "
        "script under migrations/) that brings databases made from a deleted definition to the kept "
        "one: add columns, rename columns, add foreign keys, in batch mode, without losing rows.",
        before="# conversations made from api/models/chat.py: id, persona_id, title, ...\n",
        after='with op.batch_alter_table("conversations") as batch:\n'
        '    batch.alter_column("persona_id", new_column_name="personality_id")\n'
        '    batch.add_column(sa.Column("started_at", sa.DateTime(), nullable=True))\n',
    ),
)

STEP_CODES = tuple(s.code for s in STEPS)


def step(code: str) -> Step | None:
    code = code.upper()
    return next((s for s in STEPS if s.code == code), None)
