"""Discovery reads every spelling of a base, a model and an import, without importing anything."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from unibase.discovery import DiscoverOptions, Symbol, discover


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


MODEL = """
class Thing({base}):
    __tablename__ = "things"
    id = Column(Integer, primary_key=True)
"""

BASE_KINDS = [
    pytest.param("from sqlalchemy.orm import declarative_base\nBase = declarative_base()\n", "declarative_base",
                 id="orm-declarative_base"),
    pytest.param("from sqlalchemy.ext.declarative import declarative_base\nBase = declarative_base()\n",
                 "declarative_base", id="ext-declarative_base"),
    pytest.param("import sqlalchemy.orm as orm\nBase = orm.declarative_base()\n", "declarative_base",
                 id="module-attribute"),
    pytest.param("from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n",
                 "DeclarativeBase", id="DeclarativeBase"),
    pytest.param("from sqlalchemy.orm import DeclarativeBaseNoMeta\nclass Base(DeclarativeBaseNoMeta):\n    pass\n",
                 "DeclarativeBaseNoMeta", id="DeclarativeBaseNoMeta"),
    pytest.param("from sqlalchemy.orm import DeclarativeBase, MappedAsDataclass\n"
                 "class Base(MappedAsDataclass, DeclarativeBase):\n    pass\n", "DeclarativeBase", id="dataclass"),
    pytest.param("from sqlalchemy.orm import registry\nBase = registry().generate_base()\n", "generate_base",
                 id="registry-generate_base"),
    pytest.param("from sqlalchemy.orm import registry\nmapper_registry = registry()\nBase = mapper_registry.generate_base()\n",
                 "generate_base", id="mapper_registry-generate_base"),
    pytest.param("from sqlalchemy.orm import as_declarative\n@as_declarative()\nclass Base:\n    pass\n",
                 "as_declarative", id="as_declarative"),
]


@pytest.mark.parametrize("base_src, kind", BASE_KINDS)
def test_every_kind_of_base(tmp_path, base_src, kind):
    write(tmp_path, {
        "app/__init__.py": "",
        "app/base.py": base_src,
        "app/models.py": "from sqlalchemy import Column, Integer\nfrom .base import Base\n" + MODEL.format(base="Base"),
    })
    ix = discover(tmp_path)
    assert [(s.file, s.name) for s in ix.bases] == [("app/base.py", "Base")]
    assert ix.bases[Symbol("app/base.py", "Base")].kind == kind
    (model,) = ix.models.values()
    assert model.base == Symbol("app/base.py", "Base") and model.table == "things"


def test_registry_mapped_decorator(tmp_path):
    write(tmp_path, {"m.py": """
        from sqlalchemy import Column, Integer
        from sqlalchemy.orm import registry
        reg = registry()

        @reg.mapped
        class Thing:
            __tablename__ = "things"
            id = Column(Integer, primary_key=True)
    """})
    ix = discover(tmp_path)
    assert ix.bases[Symbol("m.py", "reg")].kind == "registry"
    assert ix.models[Symbol("m.py", "Thing")].base == Symbol("m.py", "reg")


def test_declarative_base_subclass_with_mixins_and_abstract(tmp_path):
    write(tmp_path, {
        "app/__init__.py": "",
        "app/base.py": """
            from sqlalchemy import Column, DateTime, Integer
            from sqlalchemy.orm import declarative_base, declared_attr

            class BaseModel(declarative_base()):
                __abstract__ = True
                id = Column(Integer, primary_key=True)

                @declared_attr
                def created_at(cls):
                    return Column(DateTime)
        """,
        "app/mixins.py": "from sqlalchemy import Column, String\nclass Named:\n    name = Column(String)\n",
        "app/user.py": """
            from sqlalchemy import Column, String
            from .base import BaseModel
            from .mixins import Named

            class User(Named, BaseModel):
                __tablename__ = "users"
                email = Column(String)
        """,
    })
    ix = discover(tmp_path)
    base = Symbol("app/base.py", "BaseModel")
    assert ix.bases[base].kind == "declarative_base() subclass"
    user = ix.models[Symbol("app/user.py", "User")]
    assert user.base == base
    assert {c.attr for c in user.columns} == {"id", "created_at", "name", "email"}


@pytest.mark.parametrize("importer", [
    pytest.param("from .base import Base as MainBase\nclass Thing(MainBase):", id="aliased"),
    pytest.param("from . import base\nclass Thing(base.Base):", id="module-attribute"),
    pytest.param("import pkg.base as b\nclass Thing(b.Base):", id="import-as"),
    pytest.param("from pkg.reexport import Base\nclass Thing(Base):", id="re-exported"),
    pytest.param("from pkg import Base\nclass Thing(Base):", id="package-init"),
    pytest.param("from pkg.alias import Other\nclass Thing(Other):", id="assigned-alias"),
])
def test_names_resolve_by_meaning(tmp_path, importer):
    write(tmp_path, {
        "pkg/__init__.py": "from .base import Base\n",
        "pkg/base.py": "from sqlalchemy.orm import declarative_base\nBase = declarative_base()\n",
        "pkg/reexport.py": "from .base import Base  # re-export\n",
        "pkg/alias.py": "import pkg.base\nOther = pkg.base.Base\n",
        "pkg/models.py": "from sqlalchemy import Column, Integer\n" + importer
        + "\n    __tablename__ = 'things'\n    id = Column(Integer, primary_key=True)\n",
    })
    ix = discover(tmp_path)
    assert list(ix.bases) == [Symbol("pkg/base.py", "Base")]
    assert ix.models[Symbol("pkg/models.py", "Thing")].base == Symbol("pkg/base.py", "Base")


def test_one_file_under_two_dotted_names(tmp_path):
    write(tmp_path, {
        "src/__init__.py": "",
        "src/pkg/__init__.py": "",
        "src/pkg/base.py": "from sqlalchemy.orm import declarative_base\nBase = declarative_base()\n",
        "src/pkg/a.py": "from src.pkg.base import Base\nclass A(Base):\n    __tablename__ = 'a'\n",
        "src/pkg/b.py": "from pkg.base import Base\nclass B(Base):\n    __tablename__ = 'b'\n",
    })
    ix = discover(tmp_path)
    assert {m.base for m in ix.models.values()} == {Symbol("src/pkg/base.py", "Base")}


def test_core_tables_metadata_and_references(tmp_path):
    write(tmp_path, {"m.py": """
        from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table
        from sqlalchemy.orm import DeclarativeBase, Mapped, relationship

        class Base(DeclarativeBase):
            metadata = MetaData(naming_convention={"pk": "pk_%(table_name)s"}, schema="app")

        tags = Table("chat_tags", Base.metadata, Column("tag_id", Integer, ForeignKey("tags.id")))

        class Tag(Base):
            __tablename__ = "tags"
            id = Column(Integer, primary_key=True)
            chats: Mapped[list["Chat"]] = relationship(secondary="chat_tags")

        class Chat(Base):
            __tablename__ = "chats"
            __table_args__ = {"extend_existing": True}
            id = Column(Integer, primary_key=True)
            tags = relationship("Tag", secondary=tags)

        def setup(engine):
            Base.metadata.create_all(engine)
    """})
    ix = discover(tmp_path)
    base = ix.bases[Symbol("m.py", "Base")]
    assert base.naming_convention == "{'pk': 'pk_%(table_name)s'}" and base.schema == "'app'"
    assert [t.fact.table for t in ix.tables] == ["chat_tags"]
    kinds = {(r.kind, r.target) for r in ix.references}
    assert {("foreign-key", "tags.id"), ("secondary", "chat_tags"), ("relationship", "Tag"),
            ("annotation", "Chat")} <= kinds
    assert ix.models[Symbol("m.py", "Chat")].fact.extend_existing
    assert base.binds == {"expr:engine"}


def test_test_local_and_unparsable_files(tmp_path):
    write(tmp_path, {
        "tests/conftest.py": "from sqlalchemy.orm import declarative_base\nScratch = declarative_base()\n",
        "broken.py": "from sqlalchemy.orm import declarative_base\nBase = declarative_base(\n",
    })
    ix = discover(tmp_path)
    assert ix.bases[Symbol("tests/conftest.py", "Scratch")].test_local
    assert "broken.py" in ix.unparsable


def test_prefilter_finds_what_parsing_everything_finds(tmp_path):
    write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/base.py": "from sqlalchemy.orm import declarative_base\nBase = declarative_base()\n",
        "pkg/models.py": "from sqlalchemy import Column, Integer\nfrom .base import Base\n" + MODEL.format(base="Base"),
        "pkg/sti.py": "from .models import Thing\nclass Special(Thing):\n    pass\n",
        "pkg/use.py": "from pkg.models import Thing\n\ndef count(s):\n    return s.query(Thing).count()\n",
        "pkg/other.py": "def unrelated():\n    return 1\n",
    })
    quick = discover(tmp_path)
    full = discover(tmp_path, DiscoverOptions(parse_everything=True))
    assert set(quick.models) == set(full.models) == {Symbol("pkg/models.py", "Thing"), Symbol("pkg/sti.py", "Special")}
    assert quick.models[Symbol("pkg/sti.py", "Special")].table == "things"
    assert "pkg/use.py" in quick.facts and "pkg/other.py" not in quick.facts


def test_syntax_newer_than_the_interpreter_is_still_read(tmp_path):
    write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/base.py": "from sqlalchemy.orm import declarative_base\nBase = declarative_base()\n",
        "pkg/models.py": """
            from sqlalchemy import Column, Integer
            from .base import Base

            type Id = int

            class Thing[T](Base):
                __tablename__ = "things"
                id = Column(Integer, primary_key=True)

                def label[U](self, x: U) -> str:
                    return f"{"thing"} {self.id}"
        """,
    })
    ix = discover(tmp_path)
    assert not ix.unparsable
    thing = ix.models[Symbol("pkg/models.py", "Thing")]
    assert thing.table == "things" and thing.fact.line == 6
