#!/usr/bin/env python3
"""Generate a project whose main base has thousands of models in one file, and a second small base
to merge into it.

    python benchmarks/huge_file.py OUT --models 3539     # about 5 MB in app/models.py

``app/models.py`` holds ``Base`` and ``--models`` models (about 1.4 KB each: seventeen columns, a
foreign key to the previous model, a relationship and a method); ``app/audit.py`` holds a second
base with three models, one of them with a foreign key into the big file's first table (the
reason to merge); ``app/main.py`` creates both metadatas on one engine. Deterministic: the same
arguments give the same bytes. ``run.py --tree OUT`` measures it like any other tree.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

COLUMNS = (
    ("name", "String(120), nullable=False"),
    ("code", "String(32), unique=True"),
    ("description", "Text"),
    ("amount", "Numeric(12, 2), default=0"),
    ("quantity", "Integer, default=1"),
    ("ratio", "Float"),
    ("active", "Boolean, default=True"),
    ("created_at", "DateTime, default=datetime.utcnow"),
    ("updated_at", "DateTime"),
    ("notes", "Text"),
    ("external_ref", "String(64), index=True"),
    ("status", "String(20), default=\"new\""),
    ("priority", "Integer, default=0"),
    ("owner_email", "String(254)"),
    ("currency", "String(3), default=\"EUR\""),
    ("checked_at", "DateTime"),
    ("archived", "Boolean, default=False"),
)


def model(i: int) -> str:
    name, table = f"Record{i:04d}", f"record_{i:04d}"
    lines = [f"class {name}(Base):", f'    __tablename__ = "{table}"', "",
             "    id = Column(Integer, primary_key=True)"]
    lines += [f"    {attr} = Column({spec})" for attr, spec in COLUMNS]
    if i:
        lines += [f'    previous_id = Column(Integer, ForeignKey("record_{i - 1:04d}.id"), nullable=True)',
                  f'    previous = relationship("Record{i - 1:04d}", foreign_keys=[previous_id])']
    lines += ["", "    def summary(self) -> str:",
              f'        return f"{name}({{self.id}}, {{self.name}}, {{self.code}}, {{self.amount}})"', "",
              "    def is_due(self, now: datetime) -> bool:",
              '        """Whether the record waits for a check at ``now``."""',
              "        return self.active and not self.archived and (self.checked_at is None or self.checked_at < now)",
              "", ""]
    return "\n".join(lines)


def generate(out: Path, models: int) -> None:
    files = {
        "pyproject.toml": '[project]\nname = "app"\nversion = "0"\n',
        "app/__init__.py": "",
        "app/db.py": ('import os\n\nfrom sqlalchemy import create_engine\n\n'
                      'engine = create_engine(os.environ.get("DATABASE_URL", "sqlite:///app.db"))\n'),
        "app/models.py": ('"""The application\'s models."""\n\nfrom datetime import datetime\n\n'
                          "from sqlalchemy import Boolean, Column, DateTime, Float, ForeignKey, Integer, Numeric, "
                          "String, Text\nfrom sqlalchemy.orm import DeclarativeBase, relationship\n\n\n"
                          "class Base(DeclarativeBase):\n    pass\n\n\n" + "".join(model(i) for i in range(models))),
        "app/audit.py": ('"""Audit records, on a base of their own."""\n\n'
                         "from sqlalchemy import Column, DateTime, ForeignKey, Integer, String\n"
                         "from sqlalchemy.orm import declarative_base\n\nAuditBase = declarative_base()\n\n\n"
                         "class AuditEvent(AuditBase):\n    __tablename__ = \"audit_events\"\n\n"
                         "    id = Column(Integer, primary_key=True)\n    kind = Column(String(40))\n"
                         "    record_id = Column(Integer, ForeignKey(\"record_0000.id\"))\n\n\n"
                         "class AuditUser(AuditBase):\n    __tablename__ = \"audit_users\"\n\n"
                         "    id = Column(Integer, primary_key=True)\n    login = Column(String(80))\n\n\n"
                         "class AuditSession(AuditBase):\n    __tablename__ = \"audit_sessions\"\n\n"
                         "    id = Column(Integer, primary_key=True)\n"
                         "    user_id = Column(Integer, ForeignKey(\"audit_users.id\"))\n"
                         "    started = Column(DateTime)\n"),
        "app/main.py": ("from .audit import AuditBase\nfrom .db import engine\nfrom .models import Base\n\n\n"
                        "def create_tables() -> None:\n    Base.metadata.create_all(engine)\n"
                        "    AuditBase.metadata.create_all(engine)\n"),
    }
    for rel, text in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--models", type=int, default=3539)
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    a = p.parse_args(argv)
    if a.out.exists():
        if not a.force:
            print(f"error: {a.out} exists; pass --force to replace it", file=sys.stderr)
            return 2
        shutil.rmtree(a.out)
    generate(a.out, a.models)
    size = (a.out / "app/models.py").stat().st_size
    print(f"{a.out}: app/models.py has {a.models} models, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
