"""`unibase check` as a linter: `path:line:col: UB1xx message`, machine formats, rule codes."""

from __future__ import annotations

import json
import re

import pytest

from conftest import copy_project, make_repo, unibase
from test_cli import write

FINDING = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>UB1\d\d) (?P<message>.+)$")

MODELS = """
    from sqlalchemy import Column, Integer, String
    from sqlalchemy.orm import declarative_base

    Base = declarative_base()


    class User(Base):
        __tablename__ = "users"
        id = Column(Integer, primary_key=True)


    class Team(Base):
        __tablename__ = "teams"
        id = Column(Integer, primary_key=True)
        name = Column(String(40))
"""

NOTES = """
    from sqlalchemy import Column, ForeignKey, Integer, String, Text
    from sqlalchemy.orm import declarative_base, relationship

    NotesBase = declarative_base()


    class Note(NotesBase):
        __tablename__ = "notes"
        id = Column(Integer, primary_key=True)
        user_id = Column(Integer, ForeignKey("users.id"))
        body = Column(Text)
        author = relationship("User")


    class Team(NotesBase):
        __tablename__ = "teams"
        id = Column(Integer, primary_key=True)
        name = Column(String(40))
"""

DB = """
    from .models import Base
    from .notes import NotesBase


    def init(engine):
        Base.metadata.create_all(engine)
        NotesBase.metadata.create_all(engine)
"""


@pytest.fixture
def linted(tmp_path):
    project = write(tmp_path / "proj", {"app/__init__.py": "", "app/models.py": MODELS, "app/notes.py": NOTES,
                                        "app/db.py": DB})
    make_repo(project)
    return project


def findings(stdout: str) -> list[dict]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    parsed = [FINDING.match(line) for line in lines]
    assert all(parsed), stdout
    return [m.groupdict() for m in parsed]


def at(project, f: dict) -> str:
    """The source text the finding's line and column point at."""
    line = (project / f["file"]).read_text(encoding="utf-8").splitlines()[int(f["line"]) - 1]
    return line[int(f["col"]) - 1:]


def test_each_finding_points_at_the_line_that_breaks(linted):
    proc = unibase("check", str(linted))
    assert proc.returncode == 1
    got = findings(proc.stdout)
    by_code = {f["code"]: f for f in got}
    assert sorted(by_code) == ["UB101", "UB102", "UB103", "UB104"], proc.stdout
    assert at(linted, by_code["UB101"]).startswith("NotesBase = declarative_base()")
    assert at(linted, by_code["UB102"]).startswith('"users.id"')
    assert at(linted, by_code["UB103"]).startswith('"User"')
    assert by_code["UB104"]["file"] == "app/notes.py" and at(linted, by_code["UB104"]).startswith('"teams"')
    assert "app/models.py:" in by_code["UB104"]["message"] and "identically" in by_code["UB104"]["message"]
    assert "NoReferencedTableError" in by_code["UB102"]["message"]
    # a base to be merged is never called "separate": that word is for bases left alone on purpose
    assert "separate" not in proc.stdout + proc.stderr
    stderr = [line for line in proc.stderr.splitlines() if line.strip()]
    assert stderr == ["4 findings: 2 declarative bases are in scope; run `unibase plan` to see how to merge them."]


def test_paths_are_relative_to_the_current_directory(linted):
    inside = findings(unibase("check", cwd=linted).stdout)
    above = findings(unibase("check", "proj", cwd=linted.parent).stdout)
    assert [f["file"] for f in above] == ["proj/" + f["file"] for f in inside]
    assert [f["line"] for f in above] == [f["line"] for f in inside]


def test_json_and_github_formats_carry_the_same_findings(linted):
    text = findings(unibase("check", str(linted), cwd=linted).stdout)
    as_json = json.loads(unibase("check", "--output-format", "json", cwd=linted).stdout)
    assert [(f["file"], f["line"], f["col"], f["code"], f["message"]) for f in as_json] == [
        (f["file"], int(f["line"]), int(f["col"]), f["code"], f["message"]) for f in text]
    assert {f["name"] for f in as_json} == {"second-base", "cross-base-foreign-key", "cross-base-relationship",
                                            "duplicate-table"}
    github = unibase("check", "--output-format", "github", cwd=linted)
    assert github.returncode == 1
    annotation = re.compile(r"^::error file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),"
                            r"title=(?P<code>UB1\d\d) [a-z-]+::(?P=code) (?P<message>.+)$")
    lines = github.stdout.splitlines()
    assert [annotation.match(line).group("file", "line", "col", "code") for line in lines] == [
        (f["file"], f["line"], f["col"], f["code"]) for f in text]


def test_github_annotation_escapes_its_values():
    # GitHub's workflow-command rules: %, CR and LF everywhere; also : and , in a property, where
    # they would end the value early (a path like `odd,dir/x.py` or `C:/x.py`)
    from unibase.cli import _gh

    assert _gh("odd,dir/a:b.py", prop=True) == "odd%2Cdir/a%3Ab.py"
    assert _gh("100% of rows\r\nnext: line, more") == "100%25 of rows%0D%0Anext: line, more"


def test_unknown_output_format(linted):
    proc = unibase("check", str(linted), "--output-format", "xml")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: unknown output format 'xml'; use one of: text, json, github"


def test_separate_bases_are_not_findings(tmp_path):
    from test_roles import two_settings

    project = two_settings(tmp_path / "p")  # two databases, two settings, nothing shared
    plan = json.loads(unibase("plan", str(project), "--json", check=0).stdout)
    assert "separate" in {b["role"] for b in plan["bases"]}
    proc = unibase("check", str(project), check=0)
    assert proc.stdout == "one declarative base in scope\n" and proc.stderr == ""
    assert json.loads(unibase("check", str(project), "--output-format", "json", check=0).stdout) == []


def test_one_base_is_clean_in_every_format(tmp_path):
    project = copy_project("knowledge_chipper", tmp_path / "kc")
    unibase("apply", str(project), "--branch", "merged", "--no-verify", check=0)
    from conftest import git

    git(project, "checkout", "-q", "merged")
    assert unibase("check", str(project), check=0).stdout == "one declarative base in scope\n"
    assert unibase("check", str(project), "-q", check=0).stdout == ""
    assert unibase("check", str(project), "--output-format", "github", check=0).stdout == ""


@pytest.mark.parametrize("code", ["UB101", "UB102", "UB103", "UB104", "UB105", "ub102"])
def test_explain_a_rule(code):
    proc = unibase("explain", code, check=0)
    assert proc.stdout.startswith(code.upper() + " ")
    assert "example:" in proc.stdout and "fix:" in proc.stdout


def test_every_rule_is_in_the_readme():
    from conftest import REPO
    from unibase.rules import RULES

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for r in RULES:
        assert f"| {r.code} | {r.name} |" in readme, r.code


def test_check_names_the_canonical_base_the_plan_chooses_by_its_importers(tmp_path):
    """Two bases of one model each: the plan makes canonical the one more modules import,
    counting the modules that only import it (discovery reads those by their import lines, in
    its importer pass). Check's findings name the same canonical base: the importer pass is part
    of what check needs, not analysis it could skip."""
    model = """
        from sqlalchemy import Column, Integer
        from sqlalchemy.orm import declarative_base

        {base} = declarative_base()


        class {model}({base}):
            __tablename__ = "{table}"
            id = Column(Integer, primary_key=True)
    """
    files = {"pyproject.toml": "[project]\nname = 'app'\n", "app/__init__.py": "", "billing/__init__.py": "",
             "tools/__init__.py": "", "main.py": "import app.db\nimport billing.db\n",
             "app/db.py": model.format(base="Base", model="Widget", table="widgets"),
             "billing/db.py": model.format(base="BillingBase", model="Invoice", table="invoices")}
    for i in range(3):
        files[f"tools/report{i}.py"] = f"from billing.db import Invoice\n\n\ndef total{i}(rows):\n    return len(rows)\n"
    project = write(tmp_path / "p", files)
    make_repo(project)
    plan = json.loads(unibase("plan", "--json", cwd=project, check=0).stdout)
    assert plan["canonical"]["file"] == "billing/db.py"
    proc = unibase("check", cwd=project, check=1)
    got = findings(proc.stdout)
    assert [(f["file"], f["code"]) for f in got] == [("app/db.py", "UB101")]
    assert got[0]["message"] == ("declarative base Base (1 model) is a second base in scope; "
                                 "`unibase apply` merges it into billing/db.py:BillingBase")
