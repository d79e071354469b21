"""Merges that once produced a broken tree (found by the generated-project tests).

Each case: a small project in a real git repository, `unibase apply` on a branch (which also
verifies it), then a check run on the merged branch in a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import git, make_repo, unibase


MAIN = 'from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\nclass User(Base):\n    __tablename__ = "users"\n    id = Column(Integer, primary_key=True)\n\n\nclass Team(Base):\n    __tablename__ = "teams"\n    id = Column(Integer, primary_key=True)\n'


CASES = {
    'module-attribute-base': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/other_base.py': 'from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n',
            'app/other_models.py': 'from sqlalchemy import Column, ForeignKey, Integer\n\nfrom app import other_base as other_db\n\n\nclass Task(other_db.Base):\n    __tablename__ = "tasks"\n    id = Column(Integer, primary_key=True)\n    user_id = Column(Integer, ForeignKey("users.id"))\n',
        },
        "import app.main, app.other_models; assert 'class Task(Base)' in open('app/main.py').read()",
    ),
    'helper-in-the-old-base-module': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/media.py': 'from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\nNAME_LEN = 20\n',
            'app/media_models.py': 'from sqlalchemy import Column, Integer, String\n\nfrom app.media import Base, NAME_LEN\n\n\nclass Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n    label = Column(String(NAME_LEN))\n',
        },
        'import app.main, app.media_models; assert app.main.NAME_LEN == 20',
    ),
    'two-helpers-of-one-name': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/sizes_a.py': 'NAME_LEN = 20\n',
            'app/sizes_b.py': 'NAME_LEN = 80\n',
            'app/one.py': 'from sqlalchemy import Column, Integer, String\nfrom sqlalchemy.orm import declarative_base\n\nfrom app.sizes_a import NAME_LEN\n\nBase = declarative_base()\n\n\nclass Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n    label = Column(String(NAME_LEN))\n',
            'app/two.py': 'from sqlalchemy import Column, Integer, String\nfrom sqlalchemy.orm import declarative_base\n\nfrom app.sizes_b import NAME_LEN\n\nBase = declarative_base()\n\n\nclass Tag(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n    label = Column(String(NAME_LEN))\n',
        },
        'import app.main as m, app.one, app.two; assert (m.Note.__table__.c.label.type.length, m.Tag.__table__.c.label.type.length) == (20, 80)',
    ),
    'module-qualified-string-in-a-moved-class': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/other.py': 'from sqlalchemy import Column, ForeignKey, Integer\nfrom sqlalchemy.orm import declarative_base, relationship\n\nBase = declarative_base()\n\n\nclass Tag(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n\n\nclass Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n    tag_id = Column(Integer, ForeignKey("tags.id"))\n    tag = relationship("app.other.Tag")\n',
            'app/third.py': 'from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\nclass Event(Base):\n    __tablename__ = "events"\n    id = Column(Integer, primary_key=True)\n',
        },
        'import app.main, app.other, app.third; from sqlalchemy.orm import configure_mappers; configure_mappers()',
    ),
    'registry-generate-base': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/audit.py': 'from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import registry\n\naudit_registry = registry()\nBase = audit_registry.generate_base()\n\n\nclass Event(Base):\n    __tablename__ = "events"\n    id = Column(Integer, primary_key=True)\n',
            'app/db.py': 'from app.audit import audit_registry\nfrom app.main import Base\n\n\ndef init_db(engine):\n    Base.metadata.create_all(engine)\n    audit_registry.metadata.create_all(engine)\n',
        },
        'import app.audit as a, app.main as m; assert a.audit_registry is m.Base.registry',
    ),
    'abstract-class-moved-by-another-operation': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/other_base.py': 'from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n',
            'app/other_abstract.py': 'from sqlalchemy import Column, Integer\n\nfrom app.other_base import Base\n\n\nclass Record(Base):\n    __abstract__ = True\n    id = Column(Integer, primary_key=True)\n',
            'app/other_models.py': 'from app.other_abstract import Record\n\n\nclass Note(Record):\n    __tablename__ = "notes"\n',
        },
        'import app.main, app.other_models',
    ),
    'abstract-class-in-the-old-base-module': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/other_base.py': 'from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\nclass Record(Base):\n    __abstract__ = True\n    id = Column(Integer, primary_key=True)\n',
            'app/other_models.py': 'from app.other_base import Record\n\n\nclass Note(Record):\n    __tablename__ = "notes"\n',
        },
        'import app.main, app.other_models',
    ),
    'string-naming-a-dropped-duplicate-elsewhere': (
        {
            'app/__init__.py': '',
            'app/main.py': 'from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\nclass Project(Base):\n    __tablename__ = "owners"\n    id = Column(Integer, primary_key=True)\n\n\nclass Team(Base):\n    __tablename__ = "teams"\n    id = Column(Integer, primary_key=True)\n\n\nclass Squad(Base):\n    __tablename__ = "squads"\n    id = Column(Integer, primary_key=True)\n',
            'app/other.py': 'from sqlalchemy import Column, ForeignKey, Integer\nfrom sqlalchemy.orm import declarative_base, relationship\n\nBase = declarative_base()\n\n\nclass Payment(Base):\n    __tablename__ = "payments"\n    id = Column(Integer, primary_key=True)\n    user_id = Column(Integer, ForeignKey("owners.id"))\n    user = relationship("User")\n',
            'app/other_users.py': 'from sqlalchemy import Column, Integer\n\nfrom app.other import Base\n\n\nclass User(Base):\n    __tablename__ = "owners"\n    id = Column(Integer, primary_key=True)\n',
        },
        'import app.main, app.other, app.other_users; from sqlalchemy.orm import configure_mappers; configure_mappers()',
    ),
    'secondary-table-named-by-a-string': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/other.py': (
                'from sqlalchemy import Column, ForeignKey, Integer, Table\n'
                'from sqlalchemy.orm import declarative_base, relationship\n\n'
                'Base = declarative_base()\n\n'
                'post_tags = Table(\n    "post_tags",\n    Base.metadata,\n'
                '    Column("post_id", ForeignKey("posts.id"), primary_key=True),\n'
                '    Column("tag_id", ForeignKey("tags.id"), primary_key=True),\n)\n\n\n'
                'class Tag(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n\n\n'
                'class Post(Base):\n    __tablename__ = "posts"\n    id = Column(Integer, primary_key=True)\n'
                '    tags = relationship("Tag", secondary="post_tags")\n'
            ),
            'app/use.py': 'from app.other import Post\n\n\ndef tags_of(post: Post) -> list:\n    return post.tags\n',
        },
        'import app.use; from sqlalchemy.orm import configure_mappers; configure_mappers()',
    ),
    'bare-string-naming-a-class-renamed-for-a-collision': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/other.py': (
                'from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base, relationship\n\n'
                'Base = declarative_base()\n\n\n'
                'class Event(Base):\n    __tablename__ = "events"\n    id = Column(Integer, primary_key=True)\n'
                '    users = relationship("User", back_populates="event")\n'
            ),
            'app/other_users.py': (
                'from sqlalchemy import Column, ForeignKey, Integer\nfrom sqlalchemy.orm import relationship\n\n'
                'from app.other import Base\n\n\n'
                'class User(Base):\n    __tablename__ = "event_users"\n    id = Column(Integer, primary_key=True)\n'
                '    event_id = Column(Integer, ForeignKey("events.id"))\n'
                '    event = relationship("Event", back_populates="users")\n'
            ),
        },
        'import app.main, app.other as o, app.other_users; from sqlalchemy.orm import configure_mappers; '
        'configure_mappers(); assert o.Event.users.property.mapper.class_.__tablename__ == "event_users"',
    ),
    'import-of-a-dropped-duplicate-whose-kept-class-moves': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/one.py': (
                'from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n'
                'Base = declarative_base()\n\n\n'
                'class Tag(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n'
            ),
            'app/two.py': (
                'from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n'
                'Base = declarative_base()\n\n\n'
                'class Label(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n'
            ),
            'app/three.py': (
                'from sqlalchemy import Column, ForeignKey, Integer\nfrom sqlalchemy.orm import relationship\n\n'
                'from .two import Base, Label\n\n\n'
                'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
                '    label_id = Column(Integer, ForeignKey("tags.id"))\n    label = relationship(Label)\n'
            ),
        },
        'import app.main, app.one, app.two, app.three as t; from sqlalchemy.orm import configure_mappers; '
        'configure_mappers(); assert t.Note.label.property.mapper.class_.__tablename__ == "tags"',
    ),
    'type-checking-import-under-future-annotations': (
        {
            'app/__init__.py': '',
            'app/main.py': 'from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n',
            'app/main_models.py': (
                'from sqlalchemy import Column, Integer\n\nfrom app.main import Base\n\n\n'
                'class Invoice(Base):\n    __tablename__ = "invoices"\n    id = Column(Integer, primary_key=True)\n\n\n'
                'class Team(Base):\n    __tablename__ = "teams"\n    id = Column(Integer, primary_key=True)\n'
            ),
            'app/other.py': (
                'from __future__ import annotations\n\nfrom typing import TYPE_CHECKING, Optional\n\n'
                'from sqlalchemy import Column, ForeignKey, Integer\n'
                'from sqlalchemy.orm import Mapped, declarative_base, relationship\n\n'
                'if TYPE_CHECKING:\n    from app.main_models import Invoice\n\n'
                'Base = declarative_base()\n\n\n'
                'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
                '    invoice_id = Column(Integer, ForeignKey("invoices.id"))\n'
                '    invoice: Mapped[Optional[Invoice]] = relationship()\n\n'
                '    def total(self) -> Decimal:\n        return 0\n'
            ),
        },
        'import app.main_models, app.other as o; from sqlalchemy.orm import configure_mappers; configure_mappers(); '
        'assert o.Note.invoice.property.mapper.class_.__tablename__ == "invoices"',
    ),
    'subclass-in-a-sibling-module-of-a-renamed-class': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN + '\n\nclass Squad(Base):\n    __tablename__ = "squads"\n    id = Column(Integer, primary_key=True)\n',
            'app/billing.py': (
                'from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n'
                'Base = declarative_base()\n\n\n'
                'class User(Base):\n    __tablename__ = "billing_users"\n    id = Column(Integer, primary_key=True)\n'
            ),
            'app/billing_admins.py': (
                'from sqlalchemy import Column, ForeignKey, Integer\n\nfrom app.billing import User\n\n\n'
                'class Admin(User):\n    __tablename__ = "admins"\n'
                '    id = Column(Integer, ForeignKey("billing_users.id"), primary_key=True)\n'
            ),
        },
        'import app.main, app.billing, app.billing_admins as a; from sqlalchemy.orm import configure_mappers; '
        'configure_mappers(); assert a.Admin.__mro__[1].__tablename__ == "billing_users"',
    ),
    'table-on-a-module-attribute-base-named-by-secondary': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/extra.py': 'from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n',
            'app/extra_models.py': (
                'from sqlalchemy import Column, ForeignKey, Integer, Table\nfrom sqlalchemy.orm import relationship\n\n'
                'from app import extra as extra_db\n\n'
                'task_users = Table(\n    "task_users",\n    extra_db.Base.metadata,\n'
                '    Column("task_id", ForeignKey("tasks.id"), primary_key=True),\n'
                '    Column("user_id", ForeignKey("users.id"), primary_key=True),\n)\n\n\n'
                'class Task(extra_db.Base):\n    __tablename__ = "tasks"\n    id = Column(Integer, primary_key=True)\n'
                '    users = relationship("User", secondary="task_users")\n'
            ),
        },
        'import app.main as m, app.extra, app.extra_models; from sqlalchemy.orm import configure_mappers; '
        'configure_mappers(); assert "task_users" in m.Base.metadata.tables; '
        'assert "extra_db" not in open("app/main.py").read()',
    ),
    'only-a-table-spells-the-base-through-a-module-alias': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/extra.py': 'from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n',
            'app/extra_models.py': (
                'from sqlalchemy import Column, ForeignKey, Integer, Table\nfrom sqlalchemy.orm import relationship\n\n'
                'from app import extra as extra_db\nfrom app.extra import Base\n\n'
                'task_users = Table(\n    "task_users",\n    extra_db.Base.metadata,\n'
                '    Column("task_id", ForeignKey("tasks.id"), primary_key=True),\n'
                '    Column("user_id", ForeignKey("users.id"), primary_key=True),\n)\n\n\n'
                'class Task(Base):\n    __tablename__ = "tasks"\n    id = Column(Integer, primary_key=True)\n'
                '    users = relationship("User", secondary="task_users")\n'
            ),
        },
        'import app.main as m, app.extra, app.extra_models; from sqlalchemy.orm import configure_mappers; '
        'configure_mappers(); assert m.Task.users.property.secondary is m.Base.metadata.tables["task_users"]',
    ),
    'imported-helper-whose-name-the-target-defines': (
        {
            'app/__init__.py': '',
            'app/sizes.py': 'NAME_LEN = 80\n',
            'app/main.py': MAIN.replace('Base = declarative_base()\n', 'Base = declarative_base()\n\nNAME_LEN = 20\n'),
            'app/extra.py': (
                'from sqlalchemy import Column, Integer, String\nfrom sqlalchemy.orm import declarative_base\n\n'
                'from app.sizes import NAME_LEN\n\nBase = declarative_base()\n\n\n'
                'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
                '    label = Column(String(NAME_LEN))\n'
            ),
        },
        'import app.main as m, app.extra; assert (m.NAME_LEN, m.Note.__table__.c.label.type.length) == (20, 80)',
    ),
    'moved-helper-and-imported-helper-of-one-name': (
        {
            'app/__init__.py': '',
            'app/sizes.py': 'NAME_LEN = 80\n',
            'app/main.py': MAIN,
            'app/one.py': (
                'from sqlalchemy import Column, Integer, String\nfrom sqlalchemy.orm import declarative_base\n\n'
                'Base = declarative_base()\n\nNAME_LEN = 40\n\n\n'
                'class Tag(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n'
                '    label = Column(String(NAME_LEN))\n'
            ),
            'app/two.py': (
                'from sqlalchemy import Column, Integer, String\nfrom sqlalchemy.orm import declarative_base\n\n'
                'from app.sizes import NAME_LEN\n\nBase = declarative_base()\n\n\n'
                'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
                '    label = Column(String(NAME_LEN))\n'
            ),
        },
        'import app.main as m, app.one, app.two; '
        'assert (m.Tag.__table__.c.label.type.length, m.Note.__table__.c.label.type.length) == (40, 80)',
    ),
    'object-reference-to-a-dropped-duplicate-kept-outside-the-target': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/main_tags.py': (
                'from sqlalchemy import Column, Integer\n\nfrom app.main import Base\n\n\n'
                'class Tag(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n'
            ),
            'app/other.py': (
                'from sqlalchemy import Column, ForeignKey, Integer\nfrom sqlalchemy.orm import declarative_base, relationship\n\n'
                'Base = declarative_base()\n\n\n'
                'class Label(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n\n\n'
                'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
                '    label_id = Column(Integer, ForeignKey("tags.id"))\n    label = relationship(Label)\n'
            ),
        },
        'import app.main as m, app.main_tags as t, app.other; from sqlalchemy.orm import configure_mappers; '
        'configure_mappers(); assert m.Note.label.property.mapper.class_ is t.Tag',
    ),
    'typed-reference-to-a-dropped-duplicate-kept-outside-the-target': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/main_tags.py': (
                'from sqlalchemy import Column, Integer\n\nfrom app.main import Base\n\n\n'
                'class Tag(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n'
            ),
            'app/other.py': (
                'from __future__ import annotations\n\nfrom typing import Optional\n\n'
                'from sqlalchemy import ForeignKey\n'
                'from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship\n\n\n'
                'class Base(DeclarativeBase):\n    pass\n\n\n'
                'class Label(Base):\n    __tablename__ = "tags"\n    id: Mapped[int] = mapped_column(primary_key=True)\n\n\n'
                'class Note(Base):\n    __tablename__ = "notes"\n    id: Mapped[int] = mapped_column(primary_key=True)\n'
                '    label_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tags.id"))\n'
                '    label: Mapped[Optional[Label]] = relationship()\n'
            ),
        },
        'import app.main as m, app.main_tags as t, app.other; from sqlalchemy.orm import configure_mappers; '
        'configure_mappers(); assert m.Note.label.property.mapper.class_ is t.Tag',
    ),
    'quoted-annotation-naming-a-dropped-duplicate': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN,
            'app/main_bills.py': (
                'from sqlalchemy import Column, Integer\n\nfrom app.main import Base\n\n\n'
                'class Bill(Base):\n    __tablename__ = "invoices"\n    id = Column(Integer, primary_key=True)\n'
            ),
            'app/other.py': (
                'from typing import Optional\n\nfrom sqlalchemy import Column, ForeignKey, Integer\n'
                'from sqlalchemy.orm import Mapped, declarative_base, relationship\n\n'
                'Base = declarative_base()\n\n\n'
                'class Invoice(Base):\n    __tablename__ = "invoices"\n    id = Column(Integer, primary_key=True)\n'
            ),
            'app/other_items.py': (
                'from typing import Optional\n\nfrom sqlalchemy import Column, ForeignKey, Integer\n'
                'from sqlalchemy.orm import Mapped, relationship\n\nfrom app.other import Base\n\n\n'
                'class Item(Base):\n    __tablename__ = "items"\n    id = Column(Integer, primary_key=True)\n'
                '    invoice_id = Column(Integer, ForeignKey("invoices.id"))\n'
                '    invoice: Mapped[Optional["Invoice"]] = relationship()\n'
            ),
        },
        'import app.main as m, app.main_bills as b, app.other, app.other_items; from sqlalchemy.orm import '
        'configure_mappers; configure_mappers(); assert m.Item.invoice.property.mapper.class_ is b.Bill',
    ),
    'qualified-string-naming-a-dropped-duplicate-whose-kept-class-moves': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN + '\n\nclass Squad(Base):\n    __tablename__ = "squads"\n    id = Column(Integer, primary_key=True)\n',
            'app/one.py': (
                'from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n'
                'Base = declarative_base()\n\n\n'
                'class Tag(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n'
            ),
            'app/two.py': (
                'from sqlalchemy import Column, ForeignKey, Integer\nfrom sqlalchemy.orm import declarative_base, relationship\n\n'
                'Base = declarative_base()\n\n\n'
                'class Label(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n\n\n'
                'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
                '    label_id = Column(Integer, ForeignKey("tags.id"))\n    label = relationship("app.two.Label")\n'
            ),
        },
        'import app.main as m, app.one, app.two; from sqlalchemy.orm import configure_mappers; configure_mappers(); '
        'assert m.Note.label.property.mapper.class_ is m.Tag',
    ),
    'enum-defined-alike-in-the-target': (
        {
            'app/__init__.py': '',
            'app/main.py': 'import enum\n\n' + MAIN.replace('Base = declarative_base()\n', 'Base = declarative_base()\n\n\nclass Kind(enum.Enum):\n    A = "a"\n'),
            'app/other.py': (
                'import enum\n\nfrom sqlalchemy import Column, Enum, Integer\nfrom sqlalchemy.orm import declarative_base\n\n'
                'Base = declarative_base()\n\n\nclass Kind(enum.Enum):\n    A = "a"\n\n\n'
                'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
                '    kind = Column(Enum(Kind))\n'
            ),
        },
        'import app.main as m, app.other as o; assert m.Note.__table__.c.kind.type.enum_class is o.Kind; '
        'assert m.Kind is not o.Kind',
    ),
    'helper-in-the-old-base-module-whose-name-the-target-defines': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN.replace('Base = declarative_base()\n', 'Base = declarative_base()\n\nNAME_LEN = 20\n'),
            'app/media.py': 'from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\nNAME_LEN = 80\n',
            'app/media_models.py': 'from sqlalchemy import Column, Integer, String\n\nfrom app.media import Base, NAME_LEN\n\n\nclass Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n    label = Column(String(NAME_LEN))\n',
        },
        'import app.main as m, app.media, app.media_models; '
        'assert (m.NAME_LEN, m.Note.__table__.c.label.type.length) == (20, 80)',
    ),
    'helper-in-a-package-base-module-whose-name-the-target-defines': (
        {
            'app/__init__.py': '',
            'app/main.py': MAIN.replace('Base = declarative_base()\n', 'Base = declarative_base()\n\nNAME_LEN = 20\n'),
            'app/media/__init__.py': 'from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\nNAME_LEN = 80\n',
            'app/media/models.py': 'from sqlalchemy import Column, Integer, String\n\nfrom app.media import Base, NAME_LEN\n\n\nclass Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n    label = Column(String(NAME_LEN))\n',
        },
        'import app.main as m, app.media, app.media.models; '
        'assert (m.NAME_LEN, m.Note.__table__.c.label.type.length) == (20, 80)',
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_merge_imports_and_maps(name, tmp_path):
    files, check = CASES[name]
    project = tmp_path / "proj"
    for rel, text in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    make_repo(project)
    # these merges were found with --strategy move (the generated-project tests' default): keep
    # exercising the move, whatever --strategy auto would choose for their layouts
    unibase("apply", str(project), "--strategy", "move", "--branch", "merged", check=0)
    merged = tmp_path / "merged"
    git(project, "worktree", "add", "-q", "--detach", str(merged), "merged")
    proc = subprocess.run([sys.executable, "-c", check], cwd=merged, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(unibase("plan", str(merged), "--json", "--strategy", "move", check=0).stdout)["operations"] == []


def test_a_collision_rename_never_renames_a_computed_table(tmp_path):
    """``__tablename__`` from the class name (a declared_attr): renaming the class would rename the table."""
    project = tmp_path / "proj"
    files = {
        "app/__init__.py": "",
        "app/main.py": MAIN.replace('class User(Base):\n    __tablename__ = "users"', 'class Event(Base):\n    __tablename__ = "events"'),
        "app/ops.py": (
            "from sqlalchemy import Column, ForeignKey, Integer\n"
            "from sqlalchemy.orm import declarative_base, declared_attr\n\n"
            "Base = declarative_base()\n\n\n"
            "class Record(Base):\n    __abstract__ = True\n    id = Column(Integer, primary_key=True)\n\n"
            "    @declared_attr\n    def __tablename__(cls) -> str:\n        return cls.__name__.lower()\n\n\n"
            "class Event(Record):\n    pass\n\n\n"
            "class Item(Record):\n    event_id = Column(Integer, ForeignKey(\"event.id\"))\n"
        ),
    }
    for rel, text in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    make_repo(project)
    planned = unibase("plan", str(project))
    assert planned.returncode == 1 and "class-name-collision Event" in planned.stdout and "computed" in planned.stdout
    applied = unibase("apply", str(project), "--branch", "merged")
    assert applied.returncode == 1 and "need a decision" in applied.stderr
    assert "merged" not in git(project, "branch", "--list")


def test_a_dropped_duplicate_used_beyond_the_registry_is_refused(tmp_path):
    """Moved code that uses a dropped duplicate as a Python object (not only ``relationship(X)``):
    its kept class stays out of the target, so the plan refuses instead of writing a NameError."""
    project = tmp_path / "proj"
    files = {
        "app/__init__.py": "",
        "app/main.py": MAIN,
        "app/main_tags.py": (
            "from sqlalchemy import Column, Integer\n\nfrom app.main import Base\n\n\n"
            'class Tag(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n'
        ),
        "app/other.py": (
            "from sqlalchemy import Column, ForeignKey, Integer\nfrom sqlalchemy.orm import declarative_base, relationship\n\n"
            "Base = declarative_base()\n\n\n"
            'class Label(Base):\n    __tablename__ = "tags"\n    id = Column(Integer, primary_key=True)\n\n\n'
            'class Note(Base):\n    __tablename__ = "notes"\n    id = Column(Integer, primary_key=True)\n'
            '    label_id = Column(Integer, ForeignKey("tags.id"))\n'
            "    label = relationship(Label, primaryjoin=lambda: Label.id == Note.label_id)\n"
        ),
    }
    for rel, text in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    make_repo(project)
    planned = unibase("plan", str(project))
    assert planned.returncode == 1 and "dropped-duplicate-reference Label" in planned.stdout
    applied = unibase("apply", str(project), "--branch", "merged")
    assert applied.returncode == 1 and "need a decision" in applied.stderr
    assert "merged" not in git(project, "branch", "--list")


def test_rebase_of_a_named_registry_points_the_registry_at_the_canonical_one(tmp_path):
    """``reg = registry()`` + ``Base = reg.generate_base()`` rebased in place: ``reg`` is the
    canonical registry afterwards, not a second registry left beside it."""
    project = tmp_path / "proj"
    files = {
        "app/__init__.py": "",
        "app/main.py": MAIN,
        "app/audit.py": (
            "from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import registry\n\n"
            "audit_registry = registry()\nBase = audit_registry.generate_base()\n\n\n"
            'class Event(Base):\n    __tablename__ = "events"\n    id = Column(Integer, primary_key=True)\n'
        ),
    }
    for rel, text in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")
    make_repo(project)
    unibase("apply", str(project), "--strategy", "rebase", "--branch", "merged", check=0)
    merged = tmp_path / "merged"
    git(project, "worktree", "add", "-q", "--detach", str(merged), "merged")
    check = "import app.audit as a, app.main as m; assert a.audit_registry is m.Base.registry is a.Event.registry"
    proc = subprocess.run([sys.executable, "-c", check], cwd=merged, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
