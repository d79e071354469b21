"""Hypothesis strategies that draw random multi-base SQLAlchemy projects.

A project is drawn as a small spec (bases, models, references, helpers, importers) and
rendered to source text, ``{relative path: text}``; :func:`write_project` puts it on disk.
Each piece is one composite strategy (:func:`bases`, :func:`models`, :func:`references`,
:func:`importers`, ...) and each renderer is a plain function of the spec, so a draw always
gives the same files.

Every project imports cleanly before unibase touches it. Its own tests
(``tests/test_models.py``) insert a row of every model through the project's ``init_db``,
follow every relationship and call every importer; with references across bases they fail
before the merge (the bug unibase fixes) and must all pass after it.

Constructs a merge must keep the meaning of, drawn like the rest: enums written ``class X(str,
Enum)`` after ``from enum import Enum`` (where they move, ``Enum`` may be SQLAlchemy's), constants
of one name and different values in several modules, a module logger used by a model's method
and by a function that stays behind, a domain layer that imports one model and whose class
another model's method names only in an annotation, module aliases reaching a base
(``core_module.Base.metadata.create_all``), ``if TYPE_CHECKING:`` imports named in ``Mapped[...]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

PACKAGES = ("app", "shop", "backend")
AREAS = ("core", "billing", "audit", "catalog", "crm", "media", "ops")
NOUNS = {
    "User": "users", "Account": "accounts", "Invoice": "invoices", "Payment": "payments", "Tag": "tags",
    "Item": "items", "Order": "orders", "Product": "products", "Event": "events", "Note": "notes",
    "Project": "projects", "Task": "tasks",
}
COLUMN_NAMES = {
    "int": ("amount", "rank", "quantity"), "str": ("name", "title", "code", "label"), "text": ("body", "summary"),
    "bool": ("active", "archived"), "float": ("score", "price"), "datetime": ("created", "updated"),
    "date": ("due", "opened"), "enum": ("status", "level"),
}
BASE_KINDS = ("orm", "ext", "declarative_class", "registry", "as_declarative", "anonymous")
ENUMS = {"Status": ("ACTIVE", "CLOSED"), "Kind": ("A", "B", "C"), "Level": ("LOW", "HIGH")}
IMPORT_FORMS = ("absolute", "relative", "alias", "module_alias", "from_parent", "dotted", "local",
                "type_checking", "star", "reexport")


@dataclass(frozen=True)
class ColType:
    name: str  # the SQLAlchemy type
    sql: str  # the type expression
    py: str  # the Mapped[...] annotation
    values: tuple[str, str]  # two different literals for the generated tests


TYPES = {
    "int": ColType("Integer", "Integer", "int", ("7", "8")),
    "str": ColType("String", "String({length})", "str", ('"v"', '"w"')),
    "text": ColType("Text", "Text", "str", ('"some text"', '"more text"')),
    "bool": ColType("Boolean", "Boolean", "bool", ("True", "False")),
    "float": ColType("Float", "Float", "float", ("1.5", "2.5")),
    "datetime": ColType("DateTime", "DateTime", "datetime.datetime",
                        ("datetime.datetime(2020, 1, 2, 3, 4, 5)", "datetime.datetime(2021, 6, 7, 8, 9, 10)")),
    "date": ColType("Date", "Date", "datetime.date", ("datetime.date(2020, 1, 2)", "datetime.date(2021, 6, 7)")),
    "enum": ColType("Enum", "Enum({enum})", "{enum}", ("{enum}.{last}", "{enum}.{first}")),
}


# --- the spec ---------------------------------------------------------------------------------


@dataclass(eq=False)
class Helper:
    """An enum, an int constant (a String length or a default) or a default function."""

    kind: str  # "enum" | "const" | "func"
    name: str
    module: str
    value: object  # enum members, the int, or the string the function returns
    # an enum written ``class X(str, Enum)`` after ``from enum import Enum``: where it moves,
    # ``Enum`` may be SQLAlchemy's (its module then imports that one as ``SqlEnum``)
    from_enum: bool = False

    def source(self) -> str:
        if self.kind == "enum":
            members = "".join(f'    {m} = "{m.lower()}"\n' for m in self.value)
            parents = "str, Enum" if self.from_enum else "enum.Enum"
            return f"class {self.name}({parents}):\n{members}"
        if self.kind == "const":
            return f"{self.name} = {self.value}\n"
        return f"def {self.name}() -> str:\n    return {self.value!r}\n"


@dataclass(eq=False)
class Abstract:
    """``class XRecord(Base): __abstract__ = True`` with the primary key, maybe a ``to_dict``
    method and a ``declared_attr`` ``__tablename__`` (the class name, lower case)."""

    name: str
    module: str
    to_dict: bool
    tablename: str | None  # None | "directive" (@declared_attr.directive) | "plain" (@declared_attr)


@dataclass(eq=False)
class Base:
    kind: str
    name: str  # what models subclass
    area: str
    module: str  # dotted module defining it
    layout: str  # "single" | "split" | "package_init" | "package"
    reexport: str | None = None  # a package __init__ that re-exports it and the models under it
    abstract: Abstract | None = None
    explicit_metadata: bool = False  # made with its own MetaData() (no options)


@dataclass(eq=False)
class Mixin:
    name: str
    column: str


MIXINS = (Mixin("TimestampMixin", "created_at"), Mixin("RemarkMixin", "remark"))


@dataclass(eq=False)
class Col:
    name: str
    type: str  # a key of TYPES
    nullable: bool = True
    length: int | Helper | None = None
    enum: Helper | None = None
    default: Helper | None = None  # a func, an enum (its first member) or a const
    unique: bool = False
    index: bool = False
    omit_type: bool = False  # mapped style only: the type comes from the annotation


@dataclass(eq=False)
class Model:
    cls: str
    table: str
    base: Base
    module: str
    style: str  # "column" | "mapped" | "table" (__table__ = Table(...))
    columns: list[Col]
    use_abstract: bool = False
    declared_table: bool = False  # the table name comes from the abstract's declared_attr
    mixin: Mixin | None = None
    table_args: tuple[str, tuple[str, ...]] | None = None  # ("unique" | "index", columns)
    fks: list[Fk] = field(default_factory=list)
    rels: list[Rel] = field(default_factory=list)
    duplicate_of: Model | None = None
    partner: Model | None = None  # the other one of an identical pair: no foreign keys, no relationships
    inherits: Model | None = None  # joined-table inheritance: its id is a foreign key to the parent's
    child: Model | None = None

    @property
    def noun(self) -> str:
        return self.cls.lower()

    def own_attrs(self) -> set[str]:
        names = {"id", *(c.name for c in self.columns), *(f.column for f in self.fks), *(r.attr for r in self.rels)}
        if self.mixin:
            names.add(self.mixin.column)
        return names

    def attrs(self) -> set[str]:
        """Every attribute name taken on this class, by its parent or by its subclass."""
        family = [m for m in (self.inherits, self, self.child) if m is not None]
        return set().union(*(m.own_attrs() for m in family))

    def family(self) -> set[int]:
        return {id(m) for m in (self.inherits, self, self.child) if m is not None}


@dataclass(eq=False)
class Fk:
    column: str
    target: Model


@dataclass(eq=False)
class Rel:
    """A relationship on ``owner`` to ``target``: many-to-one along ``fk``, one-to-many
    (the other side of a ``back_populates``) or many-to-many through ``secondary``."""

    owner: Model
    attr: str
    target: Model
    form: str  # "name" | "qualified" | "annotation" | "typed" | "object"
    collection: bool
    back: Rel | None = None
    fk: Fk | None = None
    secondary: Assoc | None = None
    remote: str | None = None  # a self-reference: remote_side "string" ("Cls.id") or "object" ([id])


@dataclass(eq=False)
class Assoc:
    table: str
    module: str
    base: Base
    left: Model
    right: Model
    by_name: bool  # secondary="table" rather than the Table object
    typed: bool  # Column("x_id", Integer, ForeignKey(...)) rather than untyped


@dataclass(eq=False)
class Importer:
    module: str
    form: str
    model: Model
    function: str


@dataclass(eq=False)
class ModelModule:
    """A module holding models: how it reaches its base, whether it has ``__all__``."""

    name: str
    base: Base
    base_import: str  # "absolute" | "relative" | "alias" | "reexport" | "module_attr" | "same"
    has_all: bool
    future: bool  # from __future__ import annotations
    # ``logger = logging.getLogger(__name__)``, used by a model's method and by a function that
    # stays in the module (module state: the function must keep logging under this module's name)
    logger: bool = False


@dataclass(eq=False)
class Domain:
    """A domain layer above the models: ``<package>.domain`` imports ``owner`` (to annotate its
    ``Service``), and ``user``'s module imports ``Service`` at its top for one method's
    annotation only. Merged into a module the domain imports, that import must not run there."""

    module: str
    owner: Model
    user: Model


@dataclass(eq=False)
class Spec:
    package: str
    bases: list[Base]
    modules: list[ModelModule]
    helpers: list[Helper]
    models: list[Model]
    assocs: list[Assoc]
    importers: list[Importer]
    db_forms: list[str]  # per base, how db.py imports it: "absolute" | "alias" | "module" | "local"
    drop_db: bool  # db.py also has drop_db(engine)
    alembic_env: bool  # migrations/env.py: target_metadata = [every base's metadata]
    domain: Domain | None = None


@dataclass
class GeneratedProject:
    """The rendered project and what the property needs to know about it."""

    files: dict[str, str]
    package: str
    tables: frozenset[str]
    bases: tuple[tuple[str, str], ...]  # (file, name) of every base
    spec: Spec = field(repr=False, compare=False)

    def __repr__(self) -> str:
        return f"GeneratedProject({len(self.files)} files, bases={self.bases})"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(repr(self))  # Hypothesis prints this, not every field: the files are in a note

    def listing(self) -> str:
        """Every file, for a failure report."""
        return "\n".join(f"# --- {path}\n{text}" for path, text in sorted(self.files.items()))

    def decisions(self, strategy: str) -> frozenset[tuple[str, str]]:
        """The (kind, subject) of every conflict that genuinely needs a user's decision: with
        ``rebase`` no class is deleted or renamed, so identical duplicate tables and classes of
        one name on several bases cannot be merged without one; with ``move``, a class of a
        colliding name whose table name is computed from its class name cannot be renamed."""
        models = self.spec.models
        colliding = {m.cls for m in models if len({id(o.base) for o in models if o.cls == m.cls}) > 1}
        if strategy == "rebase":
            tables = {("identical-duplicate-table", m.table) for m in models if m.partner}
            required = frozenset(tables | {("class-name-collision", name) for name in colliding})
        else:
            required = frozenset(("class-name-collision", m.cls) for m in models if m.declared_table and m.cls in colliding)
        return required

    def must_decide(self, strategy: str) -> bool:
        """Whether the plan must stop for a decision (with ``move`` it may not have to: the
        class whose table name is computed may be the one that keeps its name). A domain layer
        never needs one: the import that would close a cycle is used only in an annotation, and
        goes under ``if TYPE_CHECKING:``."""
        return strategy == "rebase" and bool(self.decisions(strategy))


def write_project(files: dict[str, str], root: Path) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


# --- module paths -------------------------------------------------------------------------------


def module_file(module: str, packages: set[str]) -> str:
    parts = module.split(".")
    if module in packages:
        return "/".join(parts) + "/__init__.py"
    return "/".join(parts) + ".py"


def relative(from_module: str, target: str, from_is_package: bool) -> str:
    """The relative spelling of ``target`` seen from ``from_module`` (``..x.y`` or ``.``)."""
    here = from_module.split(".") if from_is_package else from_module.split(".")[:-1]
    there = target.split(".")
    common = 0
    while common < min(len(here), len(there)) and here[common] == there[common]:
        common += 1
    return "." * (len(here) - common + 1) + ".".join(there[common:])


def parent_and_leaf(module: str) -> tuple[str, str]:
    parent, _, leaf = module.rpartition(".")
    return parent, leaf


def fresh(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out, n = f"{name}{n}", n + 1
    return out


# --- strategies -----------------------------------------------------------------------------------


@st.composite
def bases(draw, package: str) -> list[Base]:
    """2-5 declarative bases of every kind, each in its own module (some in a package ``__init__``)."""
    n = draw(st.integers(2, 5))
    areas = draw(st.lists(st.sampled_from(AREAS), min_size=n, max_size=n, unique=True))
    out = []
    for area in areas:
        kind = draw(st.sampled_from(BASE_KINDS))
        if kind == "anonymous":
            name = draw(st.sampled_from(("BaseModel", "Model", f"{area.title()}Model")))
        else:
            name = draw(st.sampled_from(("Base", "Base", f"{area.title()}Base")))
        layout = draw(st.sampled_from(("single", "split", "package_init", "package")))
        module = {
            "single": f"{package}.{area}",
            "split": f"{package}.{area}_base",
            "package_init": f"{package}.{area}",
            "package": f"{package}.{area}.{draw(st.sampled_from(('base', 'db', 'database')))}",
        }[layout]
        base = Base(kind, name, area, module, layout, explicit_metadata=draw(st.integers(0, 3)) == 0)
        if layout == "package" and draw(st.booleans()):
            base.reexport = f"{package}.{area}"
        if draw(st.integers(0, 2)) == 0:
            where = draw(st.sampled_from(("base", "module")))
            home = module if where == "base" else f"{package}.{area}_abstract"
            base.abstract = Abstract(f"{area.title()}Record", home, draw(st.booleans()),
                                     draw(st.sampled_from((None, "directive", "plain"))))
        out.append(base)
    return out


def model_modules_for(base: Base, package: str) -> list[str]:
    if base.layout == "single":
        return [base.module]
    if base.layout == "split":
        return [f"{package}.{base.area}_models", base.module]
    return [f"{package}.{base.area}.models", f"{package}.{base.area}.extra", base.module]


@st.composite
def helpers(draw, module: str, taken: set[str]) -> list[Helper]:
    """0-3 helpers (an enum, a constant, a default function) defined in ``module``."""
    out = []
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(ENUMS)))
        if name not in taken:
            out.append(Helper("enum", name, module, ENUMS[name], from_enum=draw(st.booleans())))
    if draw(st.booleans()):
        name = draw(st.sampled_from(("NAME_LEN", "CODE_LEN", "DEFAULT_RANK")))
        if name not in taken:
            out.append(Helper("const", name, module, draw(st.sampled_from((20, 40, 80)))))
    if draw(st.booleans()):
        name = draw(st.sampled_from(("default_code", "make_label")))
        if name not in taken:
            out.append(Helper("func", name, module, f"{name[:4]}-{draw(st.integers(1, 9))}"))
    taken.update(h.name for h in out)
    return out


@st.composite
def columns(draw, usable: list[Helper], style: str, *, plain: bool = False) -> list[Col]:
    """1-3 typed columns; ``plain``: no helpers, no defaults (for a duplicated table)."""
    enums = [h for h in usable if h.kind == "enum"]
    consts = [h for h in usable if h.kind == "const"]
    funcs = [h for h in usable if h.kind == "func"]
    kinds = ["int", "str", "text", "bool", "float", "datetime", "date"] + (["enum"] if enums and not plain else [])
    out: list[Col] = []
    for kind in draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=3)):
        names = [n for n in COLUMN_NAMES[kind] if n not in {c.name for c in out}]
        if not names:
            continue
        col = Col(draw(st.sampled_from(names)), kind, nullable=draw(st.booleans()))
        if col.type == "str":
            if consts and not plain and draw(st.booleans()):
                col.length = draw(st.sampled_from(consts))
            else:
                col.length = draw(st.sampled_from((20, 50, 120)))
            if funcs and not plain and draw(st.booleans()):
                col.default = draw(st.sampled_from(funcs))
        elif col.type == "enum":
            col.enum = draw(st.sampled_from(enums))
            if draw(st.booleans()):
                col.default = col.enum
        elif col.type == "int" and consts and not plain and draw(st.booleans()):
            col.default = draw(st.sampled_from(consts))
        col.unique = not plain and draw(st.integers(0, 5)) == 0
        col.index = draw(st.integers(0, 4)) == 0
        col.omit_type = style == "mapped" and col.type not in ("str", "text") and draw(st.booleans())
        out.append(col)
    return out


@st.composite
def models(draw, base: Base, modules: list[str], usable: list[Helper]) -> list[Model]:
    """0-3 models on ``base``, spread over its model modules, with distinct class names."""
    count = draw(st.sampled_from((1, 2, 3, 1, 2, 3, 0)))
    names = draw(st.lists(st.sampled_from(list(NOUNS)), min_size=count, max_size=count, unique=True))
    out = []
    for cls in names:
        style = draw(st.sampled_from(("column", "mapped", "column", "mapped", "table")))
        model = Model(cls, "", base, draw(st.sampled_from(modules)), style, draw(columns(usable, style)))
        model.use_abstract = base.abstract is not None and style != "table" and draw(st.booleans())
        if style != "table" and draw(st.integers(0, 3)) == 0:
            model.mixin = draw(st.sampled_from(MIXINS))
        plain = [c.name for c in model.columns]
        if draw(st.integers(0, 4)) == 0:
            if len(plain) >= 2 and draw(st.booleans()):
                model.table_args = ("unique", tuple(plain[:2]))
            else:
                model.table_args = ("index", (plain[0],))
        out.append(model)
    return out


@st.composite
def subclasses(draw, everything: list[Model], package: str) -> list[Model]:
    """Joined-table inheritance: a subclass (maybe in a sibling module of its parent) whose id
    is a foreign key to its parent's; its class name may collide with one on another base."""
    out: list[Model] = []
    for _ in range(draw(st.integers(0, 2))):
        parents = [m for m in everything if m.inherits is None and m.child is None]
        if not parents:
            break
        parent = draw(st.sampled_from(parents))
        names = [n for n in NOUNS if n not in {m.cls for m in everything + out if m.base is parent.base}]
        if not names:
            break
        style = draw(st.sampled_from(("column", "mapped")))
        cols = [c for c in draw(columns([], style)) if c.name not in parent.attrs()]
        # the base module cannot import a module that imports it back
        module = draw(st.sampled_from([m for m in model_modules_for(parent.base, package)
                                       if m != parent.base.module or parent.module == m]))
        child = Model(draw(st.sampled_from(names)), "", parent.base, module, style, cols, inherits=parent)
        parent.child = child
        out.append(child)
    return out


def name_tables(everything: list[Model]) -> None:
    """``users``; ``billing_users`` when another base has a ``User`` too (different tables);
    ``user`` when a declared_attr of the abstract base names the table after the class."""
    for m in everything:
        plural = NOUNS[m.cls]
        m.table = plural if sum(o.cls == m.cls for o in everything) == 1 else f"{m.base.area}_{plural}"
    for m in everything:
        if m.use_abstract and m.base.abstract.tablename and m.cls.lower() not in {o.table for o in everything}:
            m.table, m.declared_table = m.cls.lower(), True


@st.composite
def duplicates(draw, the_bases: list[Base], everything: list[Model], package: str) -> list[Model]:
    """Identical duplicate tables: one table, the same columns, on two bases (the same class
    name or another one)."""
    out: list[Model] = []
    for _ in range(draw(st.integers(0, 2))):
        first, second = draw(st.lists(st.sampled_from(the_bases), min_size=2, max_size=2, unique=True))
        names = [n for n in NOUNS if n not in {m.cls for m in everything + out}]
        if len(names) < 2:
            break
        cls = draw(st.sampled_from(names))
        other = cls if draw(st.booleans()) else draw(st.sampled_from([n for n in names if n != cls]))
        style = draw(st.sampled_from(("column", "mapped")))
        cols = draw(columns([], style, plain=True))
        table = f"shared_{NOUNS[cls]}"
        a = Model(cls, table, first, draw(st.sampled_from(model_modules_for(first, package))), style, cols)
        two_styles = not any(c.omit_type for c in cols)
        b = Model(other, table, second, draw(st.sampled_from(model_modules_for(second, package))),
                  draw(st.sampled_from(("column", "mapped"))) if two_styles else style, cols)
        b.duplicate_of = a
        a.partner, b.partner = b, a
        out += [a, b]
    return out


def imports_of(model: Model) -> set[str]:
    """The project modules the module of ``model`` imports because of it."""
    out = {model.base.module}
    out |= {h.module for c in model.columns for h in (c.length, c.enum, c.default) if isinstance(h, Helper)}
    if model.inherits:
        out.add(model.inherits.module)
    if model.use_abstract:
        out.add(model.base.abstract.module)
    return out - {model.module}


def untangle_subclasses(everything: list[Model]) -> None:
    """Move a subclass next to its parent while the modules would import each other in a circle."""
    while True:
        edges: dict[str, set[str]] = {}
        for m in everything:
            edges.setdefault(m.module, set()).update(imports_of(m))

        tangled = [m for m in everything if m.inherits and m.module != m.inherits.module
                   and reaches(edges, m.inherits.module, m.module)]
        if not tangled:
            return
        tangled[0].module = tangled[0].inherits.module


@st.composite
def model_modules(draw, everything: list[Model]) -> list[ModelModule]:
    """How each module holding models reaches its base, and its ``__all__`` and annotations."""
    out: dict[str, ModelModule] = {}
    for m in everything:
        if m.module in out:
            continue
        base = m.base
        if m.module == base.module:
            options = ["same"]
        else:
            options = ["absolute", "alias", "relative", "module_attr"]
            if base.reexport:
                options.append("reexport")
        out[m.module] = ModelModule(m.module, base, draw(st.sampled_from(options)), draw(st.booleans()),
                                    draw(st.integers(0, 2)) == 0, logger=draw(st.integers(0, 3)) == 0)
    return list(out.values())


def name_is_unambiguous(source: Model, target: Model, everything: list[Model]) -> bool:
    """A plain class-name string from ``source`` means ``target`` and nothing else, before and
    after the merge: the name is unique in the project, or unique on their shared base."""
    same = [m for m in everything if m.cls == target.cls]
    if len(same) == 1:
        return True
    return source.base is target.base and sum(m.base is source.base for m in same) == 1


@st.composite
def rel_form(draw, source: Model, target: Model, everything: list[Model], futures: set[str]) -> str | None:
    """How ``source`` names ``target`` in a relationship; None when no spelling is unambiguous."""
    forms = ["qualified"]
    if name_is_unambiguous(source, target, everything):
        forms += ["name", "name"]
        if source.style == "mapped":
            forms += ["annotation"] + ["typed"] * (source.module in futures)
        if target.module == source.module and everything.index(target) < everything.index(source):
            forms.append("object")
    return draw(st.sampled_from(forms)) if forms else None


@st.composite
def references(draw, everything: list[Model], futures: set[str], cross_base: bool = True) -> list[Assoc]:
    """Foreign keys and relationships within and across bases (to earlier models only, so
    rows can be inserted in order), self-references, and association tables used with
    ``secondary=``."""
    for i, model in enumerate(everything):
        if model.partner:
            continue
        # two foreign keys from one inheritance family to one table make the joins ambiguous
        family = [m for m in (model.inherits, model.child) if m is not None]
        pointed = {min(fk.target.family()) for m in family for fk in m.fks} | {min(model.family())}
        earlier = [m for m in everything[:i] if (cross_base or m.base is model.base) and min(m.family()) not in pointed
                   and not any(id(fk.target) in model.family() for fk in m.fks)]
        # unique by table too: an identical duplicate is the same table under two classes
        picks = draw(st.lists(st.sampled_from(earlier), max_size=2,
                              unique_by=(lambda m: min(m.family()), lambda m: m.table))) if earlier else []
        for target in picks:
            fk = Fk(fresh(f"{target.noun}_id", model.attrs()), target)
            model.fks.append(fk)
            form = draw(rel_form(model, target, everything, futures))
            if form is None or not draw(st.integers(0, 3)):
                continue
            rel = Rel(model, fresh(target.noun, model.attrs()), target, form, collection=False, fk=fk)
            model.rels.append(rel)
            back_form = draw(rel_form(target, model, everything, futures))
            if back_form is not None and target.partner is None and draw(st.booleans()):
                rel.back = Rel(target, fresh(model.table.split("_")[-1], target.attrs()), model, back_form,
                               collection=True, back=rel)
                target.rels.append(rel.back)
        if len(model.family()) == 1 and draw(st.integers(0, 4)) == 0:  # not across a joined inheritance
            fk = Fk(fresh("parent_id", model.attrs()), model)
            model.fks.append(fk)
            form = draw(rel_form(model, model, everything, futures))
            if form is not None:
                id_in_body = not model.use_abstract and model.style != "table"
                remote = draw(st.sampled_from(("string", "object"))) if id_in_body else "string"
                model.rels.append(Rel(model, fresh("parent", model.attrs()), model, form, collection=False, fk=fk,
                                      remote=remote))
    assocs = []
    tables = {m.table for m in everything}
    for _ in range(draw(st.integers(0, 2))):
        owners = [m for m in everything if m.partner is None]
        if len(owners) < 2:
            break
        left = draw(st.sampled_from(owners))
        rights = [m for m in everything if id(m) not in left.family() and (cross_base or m.base is left.base)]
        if not rights:
            continue
        right = draw(st.sampled_from(rights))
        table = f"{left.table}_{right.table}"
        form = draw(rel_form(left, right, everything, futures))
        if table in tables or form is None:
            continue
        tables.add(table)
        by_name = draw(st.booleans())
        assoc = Assoc(table, left.module, left.base, left, right, by_name, draw(st.booleans()))
        left.rels.append(Rel(left, fresh(right.table.split("_")[-1], left.attrs()), right, form, collection=True,
                             secondary=assoc))
        assocs.append(assoc)
    return assocs


@st.composite
def importers(draw, package: str, everything: list[Model]) -> list[Importer]:
    """Modules that use a model through every import form."""
    concrete = [m for m in everything if m.duplicate_of is None]
    forms = draw(st.lists(st.sampled_from(IMPORT_FORMS), min_size=1, max_size=4)) if concrete else []
    out = []
    for i, form in enumerate(forms):
        model = draw(st.sampled_from(concrete))
        where = draw(st.sampled_from((f"{package}.services.q{i}", f"{package}.report{i}")))
        out.append(Importer(where, form, model, f"count_{model.noun}_{i}"))
    return out


def module_edges(spec: Spec) -> dict[str, set[str]]:
    """module -> the project modules importing it runs (parent packages included), as rendered."""
    edges: dict[str, set[str]] = {}
    for m in spec.models:
        edges.setdefault(m.module, set()).update(imports_of(m))
        if m.mixin:
            edges[m.module].add(f"{spec.package}.mixins")
    for b in spec.bases:
        if b.reexport:
            edges.setdefault(b.reexport, set()).update({b.module} | {m.module for m in spec.models if reexported(m)})
        if b.abstract and b.abstract.module != b.module:
            edges.setdefault(b.abstract.module, set()).add(b.module)
    for mm in spec.modules:
        if mm.base_import == "reexport":
            edges.setdefault(mm.name, set()).add(mm.base.reexport)
    for a in spec.assocs:
        edges.setdefault(a.module, set()).add(a.base.module)
    for module in list(edges):
        for target in list(edges[module]):
            parts = target.split(".")
            edges[module].update(".".join(parts[:i]) for i in range(1, len(parts)))
        parts = module.split(".")
        edges[module].update(".".join(parts[:i]) for i in range(1, len(parts)))
    return edges


def reaches(edges: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        here = todo.pop()
        if here == goal:
            return True
        if here not in seen:
            seen.add(here)
            todo += edges.get(here, ())
    return False


@st.composite
def domain(draw, spec: Spec) -> Domain | None:
    """Sometimes a domain layer (:class:`Domain`): ``owner`` and ``user`` on two bases, where
    importing ``owner``'s module never runs ``user``'s (else the project would not import)."""
    if draw(st.integers(0, 2)):
        return None
    edges = module_edges(spec)
    packages = package_modules(spec)
    pairs = [(o, u) for o in spec.models for u in spec.models
             if o.base is not u.base and u.partner is None and o.module != u.module and u.module not in packages
             and not reaches(edges, o.module, u.module)]
    if not pairs:
        return None
    owner, user = draw(st.sampled_from(pairs))
    return Domain(f"{spec.package}.domain", owner, user)


@st.composite
def projects(draw, cross_base: bool = True) -> GeneratedProject:
    """A whole project: bases, helpers, models, duplicates, references, importers, db.py, tests.

    ``cross_base=False`` keeps every foreign key and relationship on its own base: then the
    project's tests already pass before the merge (a check of the generator itself).
    """
    package = draw(st.sampled_from(PACKAGES))
    the_bases = draw(bases(package))
    shared = draw(helpers(f"{package}.common", set()))
    all_helpers = list(shared)
    everything: list[Model] = []
    for base in the_bases:
        candidates = model_modules_for(base, package)
        chosen = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=len(candidates), unique=True))
        place = draw(st.sampled_from(("module", "helpers", "shared")))
        home = base.module if base.module in chosen else chosen[0]  # never a module that imports the base module
        helper_module = {"module": home, "helpers": f"{package}.{base.area}_helpers",
                         "shared": f"{package}.common"}[place]
        clash = [h for h in all_helpers if h.module == helper_module]
        own = draw(helpers(helper_module, {h.name for h in clash}))
        all_helpers += own
        usable = own + [h for h in shared if h.name not in {o.name for o in own}]
        everything += draw(models(base, chosen, usable))
    everything += draw(subclasses(everything, package))
    for m in everything:
        if m.use_abstract and m.module == m.base.module:
            m.base.abstract.module = m.base.module  # a module of its own would import the base module back
    name_tables(everything)
    everything += draw(duplicates(the_bases, everything, package))
    # the global order is the order rows are inserted: foreign keys point backwards only
    order = draw(st.permutations(range(len(everything))))
    everything = [everything[i] for i in order]
    for m in [m for m in everything if m.inherits]:  # a subclass's row needs its parent's table first
        if everything.index(m) < everything.index(m.inherits):
            everything.remove(m)
            everything.insert(everything.index(m.inherits) + 1, m)
    untangle_subclasses(everything)
    modules = draw(model_modules(everything))
    assocs = draw(references(everything, {mm.name for mm in modules if mm.future}, cross_base))
    db_forms = [draw(st.sampled_from(("absolute", "alias", "module", "local"))) for _ in the_bases]
    spec = Spec(package, the_bases, modules, all_helpers, everything, assocs, draw(importers(package, everything)),
                db_forms, draw(st.booleans()), draw(st.booleans()))
    spec.domain = draw(domain(spec))
    files = render(spec)
    packages = package_modules(spec)
    return GeneratedProject(
        files, package, frozenset({m.table for m in everything} | {a.table for a in assocs}),
        tuple((module_file(b.module, packages), b.name) for b in the_bases), spec)


# --- rendering --------------------------------------------------------------------------------------


class Source:
    """One module being written: its imports (deduplicated, sorted) and its body."""

    def __init__(self, docstring: str = "") -> None:
        self.docstring = docstring
        self.future = False
        self.plain: set[str] = set()
        self.froms: dict[str, set[str]] = {}
        self.type_checking: dict[str, set[str]] = {}
        self.body: list[str] = []

    def need(self, module: str, *names: str) -> None:
        self.froms.setdefault(module, set()).update(names)

    def need_for_typing(self, module: str, name: str) -> None:
        self.need("typing", "TYPE_CHECKING")
        self.type_checking.setdefault(module, set()).add(name)

    def text(self) -> str:
        head = [f'"""{self.docstring}"""'] if self.docstring else []
        if self.future:
            head.append("from __future__ import annotations")
        std = sorted(f"import {m}" for m in self.plain if "." not in m)
        ours = sorted(f"import {m}" for m in self.plain if "." in m)
        third = []
        for module, names in sorted(self.froms.items()):
            line = f"from {module} import {', '.join(sorted(names))}"
            (std if module == "typing" else third if module.startswith("sqlalchemy") else ours).append(line)
        groups = ["\n".join(g) for g in (std, third, ours) if g]
        if self.type_checking:
            groups.append("if TYPE_CHECKING:\n" + "\n".join(
                f"    from {m} import {', '.join(sorted(names))}" for m, names in sorted(self.type_checking.items())))
        top = "\n\n".join(["\n".join(head)] * bool(head) + groups)
        return "\n\n\n".join([top] * bool(top) + [b.rstrip("\n") for b in self.body]) + "\n"


def render(spec: Spec) -> dict[str, str]:
    packages = package_modules(spec)
    sources: dict[str, Source] = {}

    def source(module: str) -> Source:
        return sources.setdefault(module, Source())

    for base in spec.bases:
        render_base(source(base.module), base)
        if base.abstract:
            render_abstract(source(base.abstract.module), base)
    for helper in spec.helpers:
        s = source(helper.module)
        if helper.kind == "enum" and helper.from_enum:
            s.need("enum", "Enum")
        elif helper.kind == "enum":
            s.plain.add("enum")
        s.body.append(helper.source())
    if any(m.mixin for m in spec.models):
        render_mixins(source(f"{spec.package}.mixins"))
    for mm in spec.modules:
        render_model_module(source(mm.name), mm, spec, packages)
    for base in spec.bases:
        if base.reexport:
            render_reexports(source(base.reexport), base, spec)
    for imp in spec.importers:
        render_importer(source(imp.module), imp, packages)
    if spec.domain is not None:
        render_domain(source(spec.domain.module), spec.domain)
    render_db(source(f"{spec.package}.db"), spec)
    files = {module_file(m, packages): s.text() for m, s in sources.items()}
    if spec.alembic_env:
        files["migrations/env.py"] = render_alembic_env(spec)
    for pkg in packages:
        files.setdefault(module_file(pkg, packages), "")
    files["tests/test_models.py"] = render_tests(spec)
    files["pyproject.toml"] = (f'[project]\nname = "{spec.package}"\nversion = "0.1.0"\n\n'
                               '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    return files


def package_modules(spec: Spec) -> set[str]:
    """Every dotted name that must be a package (a directory with ``__init__.py``)."""
    names = {b.module for b in spec.bases} | {m.name for m in spec.modules} | {h.module for h in spec.helpers}
    names |= {imp.module for imp in spec.importers} | {f"{spec.package}.db", f"{spec.package}.mixins"}
    names |= {b.abstract.module for b in spec.bases if b.abstract}
    if spec.domain is not None:
        names.add(spec.domain.module)
    packages = {spec.package}
    for name in names:
        parts = name.split(".")
        packages.update(".".join(parts[:i]) for i in range(1, len(parts)))
    packages |= {b.module for b in spec.bases if b.layout == "package_init"}
    return packages


def render_base(s: Source, base: Base) -> None:
    n = base.name
    md = "metadata=MetaData()" if base.explicit_metadata else ""
    if base.explicit_metadata:
        s.need("sqlalchemy", "MetaData")
    if base.kind == "orm":
        s.need("sqlalchemy.orm", "declarative_base")
        s.body.append(f"{n} = declarative_base({md})\n")
    elif base.kind == "ext":
        s.need("sqlalchemy.ext.declarative", "declarative_base")
        s.body.append(f"{n} = declarative_base({md})\n")
    elif base.kind == "declarative_class":
        s.need("sqlalchemy.orm", "DeclarativeBase")
        s.body.append(f"class {n}(DeclarativeBase):\n    {'metadata = MetaData()' if md else 'pass'}\n")
    elif base.kind == "registry":
        s.need("sqlalchemy.orm", "registry")
        s.body.append(f"{base.area}_registry = registry({md})\n{n} = {base.area}_registry.generate_base()\n")
    elif base.kind == "as_declarative":
        s.need("sqlalchemy.orm", "as_declarative")
        s.body.append(f"@as_declarative({md})\nclass {n}:\n    pass\n")
    else:
        s.need("sqlalchemy.orm", "declarative_base")
        s.body.append(f"class {n}(declarative_base({md})):\n    __abstract__ = True\n")


def base_ref(s: Source, here: str, base: Base, form: str, packages: set[str]) -> str:
    """Import ``base`` into the module ``here`` in ``form``; the expression that names it."""
    if form == "same":
        return base.name
    if form == "absolute":
        s.need(base.module, base.name)
        return base.name
    if form == "relative":
        s.need(relative(here, base.module, here in packages), base.name)
        return base.name
    if form == "alias":
        alias = f"{base.area.title()}{base.name}" if not base.name.startswith(base.area.title()) else f"My{base.name}"
        s.need(base.module, f"{base.name} as {alias}")
        return alias
    if form == "reexport":
        s.need(base.reexport, base.name)
        return base.name
    parent, leaf = parent_and_leaf(base.module)
    s.need(parent, f"{leaf} as {base.area}_db")
    return f"{base.area}_db.{base.name}"


def render_abstract(s: Source, base: Base) -> None:
    a = base.abstract
    if a.module != base.module:
        s.need(base.module, base.name)
    s.need("sqlalchemy", "Column", "Integer")
    text = f"class {a.name}({base.name}):\n    __abstract__ = True\n\n    id = Column(Integer, primary_key=True)\n"
    if a.tablename:
        s.need("sqlalchemy.orm", "declared_attr")
        decorator = "@declared_attr.directive" if a.tablename == "directive" else "@declared_attr"
        text += f"\n    {decorator}\n    def __tablename__(cls) -> str:\n        return cls.__name__.lower()\n"
    if a.to_dict:
        text += ("\n    def to_dict(self) -> dict:\n"
                 "        return {c.name: getattr(self, c.name) for c in self.__table__.columns}\n")
    s.body.append(text)


def render_mixins(s: Source) -> None:
    s.need("typing", "Optional")
    s.need("sqlalchemy", "Column", "DateTime", "String")
    s.need("sqlalchemy.orm", "Mapped", "mapped_column")
    s.body.append("class TimestampMixin:\n    created_at = Column(DateTime, nullable=True)\n")
    s.body.append("class RemarkMixin:\n    remark: Mapped[Optional[str]] = mapped_column(String(30), nullable=True)\n")


def use_helper(s: Source, here: str, helper: Helper) -> str:
    if helper.module != here:
        s.need(helper.module, helper.name)
    return helper.name


def column_source(s: Source, here: str, col: Col, style: str) -> str:
    t = TYPES[col.type]
    if col.type == "str":
        length = use_helper(s, here, col.length) if isinstance(col.length, Helper) else col.length
        sql = t.sql.format(length=length)
    elif col.type == "enum":
        sql = t.sql.format(enum=use_helper(s, here, col.enum))
    else:
        sql = t.sql
    type_name = t.name
    if t.name == "Enum" and "Enum" in s.froms.get("enum", ()):  # ``Enum`` is the standard library's here
        sql, type_name = "Sql" + sql, "Enum as SqlEnum"
    args = [] if col.omit_type else [sql]
    if not col.omit_type:
        s.need("sqlalchemy", type_name)
    if col.default is not None:
        d = col.default
        ref = use_helper(s, here, d)
        args.append(f"default={ref}.{d.value[0]}" if d.kind == "enum" else f"default={ref}")
    if col.unique:
        args.append("unique=True")
    if col.index:
        args.append("index=True")
    if style in ("column", "table"):
        if not col.nullable:
            args.append("nullable=False")
        s.need("sqlalchemy", "Column")
        if style == "table":
            return f'Column("{col.name}", {", ".join(args)})'
        return f"{col.name} = Column({', '.join(args)})"
    py = t.py.format(enum=col.enum.name if col.enum else "")
    if "datetime" in py:
        s.plain.add("datetime")
    if col.nullable:
        s.need("typing", "Optional")
        py = f"Optional[{py}]"
    s.need("sqlalchemy.orm", "Mapped", "mapped_column")
    return f"{col.name}: Mapped[{py}] = mapped_column({', '.join(args)})"


def relationship_source(s: Source, here: str, rel: Rel) -> str:
    s.need("sqlalchemy.orm", "relationship")
    target = rel.target
    kwargs = []
    if rel.secondary is not None:
        a = rel.secondary
        kwargs.append(f'secondary="{a.table}"' if a.by_name else f"secondary={a.table}")
    partner = rel.back or next((r for r in target.rels if r.back is rel), None)
    if partner is not None:
        kwargs.append(f'back_populates="{partner.attr}"')
    if rel.remote == "string":
        kwargs.append(f'remote_side="{target.cls}.id"')
    elif rel.remote == "object":
        kwargs.append("remote_side=[id]")
    if rel.form in ("annotation", "typed"):
        name = f'"{target.cls}"' if rel.form == "annotation" else target.cls
        if rel.form == "typed" and target.module != here:
            s.need_for_typing(target.module, target.cls)
        s.need("sqlalchemy.orm", "Mapped")
        if rel.collection:
            ann = f"Mapped[list[{name}]]"
        else:
            s.need("typing", "Optional")
            ann = f"Mapped[Optional[{name}]]"
        return f"{rel.attr}: {ann} = relationship({', '.join(kwargs)})"
    spelling = {"qualified": f'"{target.module}.{target.cls}"', "object": target.cls}.get(rel.form, f'"{target.cls}"')
    return f"{rel.attr} = relationship({', '.join([spelling] + kwargs)})"


def assoc_source(s: Source, assoc: Assoc, base_expr: str) -> str:
    s.need("sqlalchemy", "Column", "ForeignKey", "Table")
    if assoc.typed:
        s.need("sqlalchemy", "Integer")
    typed = ", Integer" if assoc.typed else ""
    sides = ((assoc.left, ""), (assoc.right, "other_" if assoc.left.noun == assoc.right.noun else ""))
    cols = "".join(f'    Column("{m.noun}_{side}id"{typed}, ForeignKey("{m.table}.id"), primary_key=True),\n'
                   for m, side in sides)
    return f'{assoc.table} = Table(\n    "{assoc.table}",\n    {base_expr}.metadata,\n{cols})\n'


def table_model_source(s: Source, here: str, model: Model, base_expr: str) -> str:
    """A model mapped to a Core table of the base's metadata: ``__table__ = Table(...)``."""
    s.need("sqlalchemy", "Column", "Integer", "Table")
    items = [f'"{model.table}"', f"{base_expr}.metadata", 'Column("id", Integer, primary_key=True)']
    items += [column_source(s, here, c, "table") for c in model.columns]
    for fk in model.fks:
        s.need("sqlalchemy", "ForeignKey")
        items.append(f'Column("{fk.column}", Integer, ForeignKey("{fk.target.table}.id"))')
    if model.table_args:
        kind, cols = model.table_args
        quoted = ", ".join(f'"{c}"' for c in cols)
        s.need("sqlalchemy", "UniqueConstraint" if kind == "unique" else "Index")
        items.append(f"UniqueConstraint({quoted})" if kind == "unique"
                     else f'Index("ix_{model.table}_{cols[0]}_by", {quoted})')
    lines = ["__table__ = Table(", *(f"    {item}," for item in items), ")"]
    if model.rels:
        lines.append("")
        lines += [relationship_source(s, here, r) for r in model.rels]
    body = "".join(f"    {line}\n" if line else "\n" for line in lines)
    return f"class {model.cls}({base_expr}):\n{body}"


def model_source(s: Source, here: str, model: Model, base_expr: str, package: str) -> str:
    if model.style == "table":
        return table_model_source(s, here, model, base_expr)
    parents = []
    if model.mixin:
        s.need(f"{package}.mixins", model.mixin.name)
        parents.append(model.mixin.name)
    if model.inherits:
        if model.inherits.module != here:
            s.need(model.inherits.module, model.inherits.cls)
        parents.append(model.inherits.cls)
    elif model.use_abstract:
        a = model.base.abstract
        if a.module != here:
            s.need(a.module, a.name)
        parents.append(a.name)
    else:
        parents.append(base_expr)
    lines = [] if model.declared_table else [f'__tablename__ = "{model.table}"']
    if model.table_args:
        kind, cols = model.table_args
        quoted = ", ".join(f'"{c}"' for c in cols)
        if kind == "unique":
            s.need("sqlalchemy", "UniqueConstraint")
            lines.append(f"__table_args__ = (UniqueConstraint({quoted}),)")
        else:
            s.need("sqlalchemy", "Index")
            lines.append(f'__table_args__ = (Index("ix_{model.table}_{cols[0]}_by", {quoted}),)')
    if lines:
        lines.append("")
    key = f'ForeignKey("{model.inherits.table}.id"), ' if model.inherits else ""
    if key:
        s.need("sqlalchemy", "ForeignKey")
    if not model.use_abstract:
        if model.style == "mapped":
            s.need("sqlalchemy.orm", "Mapped", "mapped_column")
            lines.append(f"id: Mapped[int] = mapped_column({key}primary_key=True)")
        else:
            s.need("sqlalchemy", "Column", "Integer")
            lines.append(f"id = Column(Integer, {key}primary_key=True)")
    lines += [column_source(s, here, c, model.style) for c in model.columns]
    for fk in model.fks:
        s.need("sqlalchemy", "ForeignKey")
        if model.style == "mapped":
            s.need("typing", "Optional")
            s.need("sqlalchemy.orm", "Mapped", "mapped_column")
            lines.append(f'{fk.column}: Mapped[Optional[int]] = mapped_column(ForeignKey("{fk.target.table}.id"))')
        else:
            s.need("sqlalchemy", "Column", "Integer")
            lines.append(f'{fk.column} = Column(Integer, ForeignKey("{fk.target.table}.id"))')
    if model.rels:
        lines.append("")
        lines += [relationship_source(s, here, r) for r in model.rels]
    body = "".join(f"    {line}\n" if line else "\n" for line in lines)
    return f"class {model.cls}({', '.join(parents)}):\n{body}"


def render_model_module(s: Source, mm: ModelModule, spec: Spec, packages: set[str]) -> None:
    s.future = s.future or mm.future
    base_expr = base_ref(s, mm.name, mm.base, mm.base_import, packages)
    if mm.logger:
        s.plain.add("logging")
        s.body.append("logger = logging.getLogger(__name__)\n")
    s.body += [assoc_source(s, a, base_expr) for a in spec.assocs if a.module == mm.name]
    here = [m for m in spec.models if m.module == mm.name]
    logged = next((m for m in here if m.partner is None), None) if mm.logger else None
    for m in here:
        text = model_source(s, mm.name, m, base_expr, spec.package)
        if m is logged:
            text += ("\n    def log_name(self) -> str:\n        logger.debug(\"row %s\", self.id)\n"
                     "        return logger.name\n")
        if spec.domain is not None and m is spec.domain.user:
            s.need(spec.domain.module, "Service")
            text += "\n    def served_by(self, service: Service) -> str:\n        return service.describe()\n"
        s.body.append(text)
    if mm.logger:
        s.body.append("def logger_name() -> str:\n    return logger.name\n")
    if mm.has_all and here:
        s.body.append("__all__ = [" + ", ".join(f'"{m.cls}"' for m in here) + "]\n")


def render_domain(s: Source, d: Domain) -> None:
    s.docstring = "The domain layer: services over the models."
    s.need(d.owner.module, d.owner.cls)
    s.body.append(f"class Service:\n    def __init__(self, owner: {d.owner.cls} | None = None) -> None:\n"
                  "        self.owner = owner\n\n    def describe(self) -> str:\n        return \"service\"\n")


def reexported(model: Model) -> bool:
    base = model.base
    return base.reexport is not None and model.module.startswith(base.reexport + ".")


def render_reexports(s: Source, base: Base, spec: Spec) -> None:
    """The package ``__init__`` re-exports its base and the models of its modules."""
    s.need(relative(base.reexport, base.module, True), base.name)
    names = [base.name]
    for m in spec.models:
        if reexported(m) and m.base is base:
            s.need(relative(base.reexport, m.module, True), m.cls)
            names.append(m.cls)
    s.body.append("__all__ = [" + ", ".join(f'"{n}"' for n in names) + "]\n")


def render_importer(s: Source, imp: Importer, packages: set[str]) -> None:
    m = imp.model
    here = imp.module
    parent, leaf = parent_and_leaf(m.module)
    body = "    return session.query({ref}).count()\n"
    form = imp.form if imp.form != "reexport" or reexported(m) else "absolute"
    if form == "absolute":
        s.need(m.module, m.cls)
        ref = m.cls
    elif form == "reexport":
        s.need(m.base.reexport, m.cls)
        ref = m.cls
    elif form == "relative":
        s.need(relative(here, m.module, here in packages), m.cls)
        ref = m.cls
    elif form == "alias":
        ref = f"{m.cls}Model"
        s.need(m.module, f"{m.cls} as {ref}")
    elif form == "module_alias":
        s.plain.add(f"{m.module} as mod")
        ref = f"mod.{m.cls}"
    elif form == "from_parent":
        s.need(parent, leaf)
        ref = f"{leaf}.{m.cls}"
    elif form == "dotted":
        s.plain.add(m.module)
        ref = f"{m.module}.{m.cls}"
    elif form == "local":
        ref = m.cls
        body = f"    from {m.module} import {m.cls}\n\n" + body
    elif form == "star":
        s.need(m.module, "*")
        ref = m.cls
    else:
        s.future = True
        s.need_for_typing(m.module, m.cls)
        s.body.append(f"def {imp.function}(session, cls: type[{m.cls}]) -> int:\n"
                      f"    return session.query(cls).count()\n")
        s.body.append(f"def table_of(row: {m.cls}) -> str:\n    return row.__table__.name\n")
        return
    s.body.append(f"def {imp.function}(session) -> int:\n" + body.format(ref=ref))


def render_db(s: Source, spec: Spec) -> None:
    """``init_db(engine)`` (and maybe ``drop_db``): every base's metadata on one engine."""
    s.docstring = "The database: every base's tables on one engine."
    local: list[str] = []
    exprs = []
    for base, form in zip(spec.bases, spec.db_forms):
        alias = base_alias(base, spec, always=form in ("alias", "local"))
        line = f"from {base.module} import {base.name}" + (f" as {alias}" if alias != base.name else "")
        if form == "module":
            parent, leaf = parent_and_leaf(base.module)
            s.need(parent, f"{leaf} as {base.area}_module")
            exprs.append(f"{base.area}_module.{base.name}")
            continue
        if form == "local":
            local.append(line)
        else:
            s.need(base.module, base.name if alias == base.name else f"{base.name} as {alias}")
        exprs.append(alias)
    for mm in spec.modules:
        if mm.name not in {b.module for b in spec.bases}:
            s.plain.add(mm.name)
    preamble = "".join(f"    {line}\n" for line in local) + ("\n" if local else "")
    s.body.append("def init_db(engine) -> None:\n" + preamble
                  + "".join(f"    {e}.metadata.create_all(engine)\n" for e in exprs))
    if spec.drop_db:
        s.body.append("def drop_db(engine) -> None:\n" + preamble
                      + "".join(f"    {e}.metadata.drop_all(engine)\n" for e in exprs))


def base_alias(base: Base, spec: Spec, *, always: bool = False) -> str:
    """How db.py and env.py name a base: an alias when two bases share its name (or ``always``)."""
    if not always and sum(b.name == base.name for b in spec.bases) == 1:
        return base.name
    return f"{base.area.title()}Base" if base.name != f"{base.area.title()}Base" else f"{base.area.title()}Db"


def render_alembic_env(spec: Spec) -> str:
    """The part of an Alembic env.py that autogenerate reads: every base's metadata."""
    s = Source("Alembic environment (excerpt): the metadata autogenerate compares with the database.")
    names = []
    for base in spec.bases:
        alias = base_alias(base, spec)
        s.need(base.module, base.name if alias == base.name else f"{base.name} as {alias}")
        names.append(f"{alias}.metadata")
    s.body.append(f"target_metadata = [{', '.join(names)}]\n")
    return s.text()


def render_tests(spec: Spec) -> str:
    """tests/test_models.py: rows on every model, every relationship, every importer."""
    s = Source("The models across every base, through init_db on one in-memory database.")
    s.plain.add("datetime")
    s.need("sqlalchemy", "create_engine", "func", "select")
    s.need("sqlalchemy.orm", "Session")
    s.need(f"{spec.package}.db", "init_db")
    names: dict[int, str] = {}
    taken: set[str] = {"init_db", "drop_db", "inspect", "datetime", "Session", "create_engine", "func", "select"}
    for m in spec.models:
        names[id(m)] = local = fresh(m.cls, taken)
        taken.add(local)
        s.need(m.module, m.cls if local == m.cls else f"{m.cls} as {local}")
    enum_names: dict[int, str] = {}
    for h in spec.helpers:
        if h.kind == "enum" and any(c.enum is h for m in spec.models for c in m.columns):
            enum_names[id(h)] = local = fresh(h.name, taken)
            taken.add(local)
            s.need(h.module, h.name if local == h.name else f"{h.name} as {local}")

    def value(c: Col, which: int = 0) -> str:
        literal = TYPES[c.type].values[which]
        if c.type == "enum":
            return literal.format(enum=enum_names[id(c.enum)], first=c.enum.value[0], last=c.enum.value[-1])
        return literal

    def default_of(c: Col) -> str:
        if c.default.kind == "enum":
            return f"{enum_names[id(c.enum)]}.{c.enum.value[0]}"
        return repr(c.default.value)

    def values(m: Model, *, required: bool, second: bool) -> dict[str, str]:
        """Column values of a row of ``m`` (and of its parent's columns): every column without a
        default, or only the required ones; ``second``: a row that differs from another row in
        the same table in every unique column."""
        args = {}
        for owner in [o for o in (m.inherits, m) if o is not None]:
            args.update({c.name: value(c) for c in owner.columns
                         if c.default is None and not (required and c.nullable)})
            if second:
                together = owner.table_args[1] if owner.table_args and owner.table_args[0] == "unique" else ()
                # the other row has the default, or else the first literal
                args.update({c.name: value(c, 0 if c.default else 1) for c in owner.columns
                             if c.unique or c.name in together})
        return args

    def kwargs(m: Model, extra: dict[str, str] | None = None, *, second: bool = False) -> str:
        args = values(m, required=True, second=second) | (extra or {})
        return ", ".join(f"{k}={v}" for k, v in args.items())

    def test(name: str, lines: list[str]) -> None:
        s.body.append(f"def {name}():\n    with make_session() as s:\n" + "".join(f"        {x}\n" for x in lines))

    s.body.append('def make_session() -> Session:\n    engine = create_engine("sqlite://")\n'
                  "    init_db(engine)\n    return Session(engine)\n")
    s.body.append("def count(session, cls) -> int:\n    return session.scalar(select(func.count()).select_from(cls))\n")

    lines = []
    row_of: dict[str, str] = {}  # table -> the variable holding its one row
    inserted: dict[str, dict[str, str]] = {}  # table -> the column values given to that row
    for i, m in enumerate(spec.models):
        if m.table in row_of:
            continue
        args = values(m, required=False, second=m.inherits is not None)  # its parent's row is there too
        inserted[m.table] = dict(args)
        args.update({fk.column: f"{row_of[fk.target.table]}.id" for fk in m.fks if fk.target is not m})
        row_of[m.table] = f"r{i}"
        lines += [f"r{i} = {names[id(m)]}({', '.join(f'{k}={v}' for k, v in args.items())})", f"s.add(r{i})",
                  "s.flush()"]
    lines.append("s.commit()")
    for m in spec.models:
        n = names[id(m)]
        rows = 2 if m.child else 1  # a subclass's row is a row of its parent's table too
        lines += [f"assert count(s, {n}) == {rows}", f"got = s.get({n}, {row_of[m.table]}.id)"]
        given = inserted[m.table]
        lines += [f"assert got.{c.name} == {given[c.name] if c.name in given else default_of(c)}" for c in m.columns]
        lines += [f"assert got.{fk.column} == {row_of[fk.target.table]}.id" for fk in m.fks if fk.target is not m]
        lines.append(f'assert got.__table__.name == "{m.table}"')
        if m.use_abstract and m.base.abstract.to_dict:
            lines.append('assert got.to_dict()["id"] == got.id')
    test("test_every_table_roundtrips", lines)

    for k, m in enumerate(spec.models):
        for rel in m.rels:
            if rel.collection and rel.secondary is None:
                continue
            owner, target = names[id(m)], names[id(rel.target)]
            same = rel.target is m
            lines = [f"parent = {target}({kwargs(rel.target)})"]
            if rel.secondary is None:
                lines.append(f"child = {owner}({kwargs(m, {rel.attr: 'parent'}, second=same)})")
            else:
                lines += [f"child = {owner}({kwargs(m, second=same)})", f"child.{rel.attr}.append(parent)"]
            lines += ["s.add(child)", "s.commit()", "child_id, parent_id = child.id, parent.id", "s.expire_all()",
                      f"got = s.get({owner}, child_id)"]
            if rel.secondary is None:
                lines += [f"assert isinstance(got.{rel.attr}, {target})", f"assert got.{rel.attr}.id == parent_id",
                          f"assert got.{rel.fk.column} == parent_id"]
                if rel.back is not None:
                    lines.append(f"assert [c.id for c in got.{rel.attr}.{rel.back.attr}] == [child_id]")
            else:
                lines += [f"assert [type(p) for p in got.{rel.attr}] == [{target}]",
                          f"assert [p.id for p in got.{rel.attr}] == [parent_id]"]
            test(f"test_relationship_{m.noun}_{rel.attr}_{k}", lines)

    for imp in spec.importers:
        parent, leaf = parent_and_leaf(imp.module)
        alias = f"importer_{leaf}"
        s.need(parent, f"{leaf} as {alias}")
        n = names[id(imp.model)]
        if imp.form == "type_checking":
            lines = [f"s.add({n}({kwargs(imp.model)}))", "s.commit()", f"assert {alias}.{imp.function}(s, {n}) == 1",
                     f'assert {alias}.table_of({n}({kwargs(imp.model)})) == "{imp.model.table}"']
        else:
            lines = [f"s.add({n}({kwargs(imp.model)}))", "s.commit()", f"assert {alias}.{imp.function}(s) == 1"]
        test(f"test_importer_{leaf}", lines)

    for i, mm in enumerate(m for m in spec.modules if m.logger):
        local = fresh(f"logger_name_{i}", taken)
        taken.add(local)
        s.need(mm.name, f"logger_name as {local}")
        # module state stays the module's own: what is left there logs under its own name
        test(f"test_logger_{i}", [f'assert {local}() == "{mm.name}"'])

    if spec.domain is not None:
        user = spec.domain.user
        s.need(spec.domain.module, "Service")
        test("test_domain_service", [f'assert {names[id(user)]}({kwargs(user)}).served_by(Service()) == "service"'])

    if spec.drop_db:
        s.need(f"{spec.package}.db", "drop_db")
        s.need("sqlalchemy", "inspect")
        tables = sorted({m.table for m in spec.models} | {a.table for a in spec.assocs})
        s.body.append('def test_drop_and_create_again():\n    engine = create_engine("sqlite://")\n'
                      "    init_db(engine)\n    drop_db(engine)\n    assert inspect(engine).get_table_names() == []\n"
                      f"    init_db(engine)\n    assert sorted(inspect(engine).get_table_names()) == {tables!r}\n")
    return s.text()
