"""UB002 rewrite-imports: before/after pairs; every pair is also run a second time."""

from __future__ import annotations

import sys
import textwrap

import libcst as cst
import pytest

from unibase.codemods.rewrite_imports import DESCRIPTION, RewriteImportsCommand
from unibase.plan import ModuleSpelling, Rename, RewriteImports

HCE, MODELS, SYS2 = "pkg/hce_models.py", "pkg/models.py", "pkg/system2.py"
RENAMES = (
    Rename(HCE, "Base", MODELS, "Base"),  # hce's own base, now the canonical one
    Rename(HCE, "Session", MODELS, "Session"),
    Rename(HCE, "Event", MODELS, "AnalyticsEvent"),  # renamed: models.py has an Event already
    Rename(SYS2, "System2Base", MODELS, "Base"),
    Rename(SYS2, "Job", MODELS, "Job"),
)
# pkg/api.py, a sibling of the modules involved
API = RewriteImports(
    file="pkg/api.py",
    spellings=(
        ModuleSpelling(1, "hce_models", HCE, 1, "models"),
        ModuleSpelling(0, "pkg.hce_models", HCE, 0, "pkg.models"),
        ModuleSpelling(1, "system2", SYS2, 1, "models"),
    ),
    renames=RENAMES,
    base_names=("Base", "System2Base"),
    canonical_name="Base",
)
# pkg/models.py itself: the moved names are defined here now
OWN = RewriteImports(
    file=MODELS,
    spellings=(ModuleSpelling(1, "hce_models", HCE, 0, ""), ModuleSpelling(1, "system2", SYS2, 0, "")),
    renames=RENAMES,
    base_names=("Base", "System2Base"),
    canonical_name="Base",
)


# pkg/api.py again, where the dropped duplicate ``Widget`` of hce_models is kept as ``Gadget``
# in pkg/gadgets.py (not the target): its ``if TYPE_CHECKING:`` import follows the kept class
GADGETS = "pkg/gadgets.py"
KEPT_ELSEWHERE = RewriteImports(
    file="pkg/api.py",
    spellings=(ModuleSpelling(1, "hce_models", HCE, 1, "models"),),
    renames=(*RENAMES, Rename(HCE, "Widget", GADGETS, "Gadget")),
    base_names=("Base",),
    canonical_name="Base",
    sources=(ModuleSpelling(1, "hce_models", GADGETS, 1, "gadgets"),),
)
# pkg/gadgets.py itself, where Gadget is defined
KEPT_HERE = RewriteImports(
    file=GADGETS,
    spellings=(ModuleSpelling(1, "hce_models", HCE, 1, "models"),),
    renames=(*RENAMES, Rename(HCE, "Widget", GADGETS, "Gadget")),
    base_names=("Base",),
    canonical_name="Base",
    sources=(ModuleSpelling(1, "hce_models", GADGETS, 0, ""),),
)


def case(before: str, after: str | None = None, *, op: RewriteImports = API, id: str):
    """``after=None``: a no-op."""
    before = textwrap.dedent(before)
    return pytest.param(op, before, before if after is None else textwrap.dedent(after), id=id)


NOOPS = [
    case(
        """\
        import os  # the OS
        from .models import Base, Job
        from . import other

        class Thing(Base):  # a comment
            x = other.y
        """,
        id="noop-nothing-spelled",
    ),
    case("from .hce_models import helper, CONSTANT\n", id="noop-only-unmoved-names"),
    case("from .hce_models import *\n", id="star-import-left-alone"),
    case(
        """\
        import pkg.hce_models as h
        x = h.Event, h.helper
        """,
        id="module-import-with-unmoved-attribute-left-alone",
    ),
    case("import pkg.hce_models as h\n", id="module-import-without-uses-left-alone"),
    case(
        """\
        import pkg.hce_models as h
        x: "h.Event" = h.Session
        """,
        id="module-import-used-in-string-left-alone",
    ),
    case(
        """\
        from . import hce_models
        __all__ = ["hce_models"]
        x = hce_models.Event
        """,
        id="module-import-exported-left-alone",
    ),
    case(
        """\
        from . import hce_models
        x = hce_models.Event
        """,
        op=OWN,
        id="own-file-submodule-import-left-alone",
    ),
]

CASES = [
    case(
        """\
        from .hce_models import Session, Job as J, helper  # noqa: F401
        x = Session, J, helper
        """,
        """\
        from .hce_models import helper  # noqa: F401
        from .models import Session, Job as J
        x = Session, J, helper
        """,
        op=RewriteImports(API.file, (ModuleSpelling(1, "hce_models", HCE, 1, "models"),),
                          (Rename(HCE, "Session", MODELS, "Session"), Rename(HCE, "Job", MODELS, "Job")),
                          API.base_names, "Base"),
        id="happy-path-split",
    ),
    case(
        """\
        from .hce_models import Session as S, Event
        x = S, Event
        """,
        """\
        from .models import Session as S, AnalyticsEvent as Event
        x = S, Event
        """,
        id="alias-and-renamed-class-keep-local-name",
    ),
    case(
        "from .hce_models import Event as Event, Session as Session\n",
        "from .models import AnalyticsEvent as Event, Session as Session\n",
        id="explicit-reexport-alias-kept",
    ),
    case(
        "from pkg.hce_models import Session\n",
        "from pkg.models import Session\n",
        id="absolute-stays-absolute",
    ),
    case(
        """\
        from .hce_models import (
            Session,
            helper,
            Event,
        )
        """,
        """\
        from .hce_models import (
            helper,
        )
        from .models import (
            Session,
            AnalyticsEvent as Event,
        )
        """,
        id="relative-parenthesized",
    ),
    case(
        """\
        import os
        from .models import Job

        from .hce_models import Session
        from .system2 import Job


        class A: ...
        """,
        """\
        import os
        from .models import Job, Session


        class A: ...
        """,
        id="merge-into-existing-no-duplicates",
    ),
    case(
        """\
        from .hce_models import Session
        import os
        from .models import (
            Base,
            Job,
        )
        """,
        """\
        import os
        from .models import (
            Base,
            Job,
            Session,
        )
        """,
        id="merge-forward-past-imports",
    ),
    case(
        """\
        from .models import Base
        from .hce_models import Session  # needed by the CLI
        """,
        """\
        from .models import Base
        from .models import Session  # needed by the CLI
        """,
        id="no-merge-of-a-commented-line",
    ),
    case(
        """\
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from .hce_models import Event, helper
        if TYPE_CHECKING: from .hce_models import Session
        """,
        """\
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from .models import AnalyticsEvent as Event
            from .hce_models import helper
        if TYPE_CHECKING: from .models import Session
        """,
        id="type-checking-stays-under-it",
    ),
    case(
        """\
        def load():
            from .hce_models import Session, helper
            return Session, helper
        """,
        """\
        def load():
            from .models import Session
            from .hce_models import helper
            return Session, helper
        """,
        id="function-local-stays-local",
    ),
    case(
        "import os; from .hce_models import Session\n",
        "import os; from .models import Session\n",
        id="semicolon-line",
    ),
    case(
        """\
        import pkg.hce_models as h
        import pkg.hce_models
        x = h.Event, h.Session.query
        y = pkg.hce_models.Event
        """,
        """\
        import pkg.models as h
        import pkg.models
        x = h.AnalyticsEvent, h.Session.query
        y = pkg.models.AnalyticsEvent
        """,
        id="module-attribute-access",
    ),
    case(
        """\
        from . import hce_models, other
        from pkg import hce_models as hm

        def f():
            return hce_models.Event, hm.Session, other.x
        """,
        """\
        from . import models as hce_models, other
        from pkg import models as hm

        def f():
            return hce_models.AnalyticsEvent, hm.Session, other.x
        """,
        id="submodule-import",
    ),
    case(
        """\
        from .models import Base as MainBase
        from .hce_models import Base as HCEBase, Event
        from .system2 import System2Base, Job


        class A(MainBase):
            pass


        class B(HCEBase):
            e: Event


        def f(HCEBase):
            return HCEBase, System2Base
        """,
        """\
        from .models import Base, AnalyticsEvent as Event, Job


        class A(Base):
            pass


        class B(Base):
            e: Event


        def f(HCEBase):
            return HCEBase, Base
        """,
        id="base-aliases-unified-as-canonical-name",
    ),
    case(
        """\
        from .models import Base as MainBase
        from .hce_models import Base as HCEBase
        Base = "taken"
        x = MainBase, HCEBase
        """,
        """\
        from .models import Base as MainBase
        Base = "taken"
        x = MainBase, MainBase
        """,
        id="base-aliases-keep-first-when-name-taken",
    ),
    case(
        """\
        def f(Base):
            from .models import Base as A
            from .hce_models import Base as B
            return A, B
        """,
        """\
        def f(Base):
            from .models import Base as A
            return A, A
        """,
        id="base-aliases-function-local",
    ),
    case(
        """\
        from .hce_models import Base as HCEBase
        from .models import Base as MainBase
        x: "HCEBase" = MainBase
        """,
        """\
        from .models import Base, Base as HCEBase
        x: "HCEBase" = Base
        """,
        id="base-alias-used-in-string-kept",
    ),
    case(
        """\
        from typing import TYPE_CHECKING
        from .models import Base as MainBase
        if TYPE_CHECKING:
            from .hce_models import Base as HCEBase
        """,
        """\
        from typing import TYPE_CHECKING
        from .models import Base as MainBase
        if TYPE_CHECKING:
            from .models import Base as HCEBase
        """,
        id="base-aliases-in-different-suites-kept",
    ),
    case(
        """\
        # the models
        from .hce_models import Base as HCEBase, Event as Ev, helper
        # jobs
        from .system2 import Job


        class Base: ...
        class AnalyticsEvent(HCEBase): ...
        x = Ev
        """,
        """\
        # the models
        from .hce_models import helper
        # jobs


        class Base: ...
        class AnalyticsEvent(Base): ...
        x = AnalyticsEvent
        """,
        op=OWN,
        id="own-file-drops-names-and-renames-uses",
    ),
    case(
        """\
        from __future__ import annotations

        from typing import TYPE_CHECKING, Optional

        if TYPE_CHECKING:
            from .hce_models import Event


        class AnalyticsEvent: ...
        class Note:
            event: Optional[Event]
        """,
        """\
        from __future__ import annotations

        from typing import Optional


        class AnalyticsEvent: ...
        class Note:
            event: Optional[AnalyticsEvent]
        """,
        op=OWN,
        id="own-file-empties-a-type-checking-block-which-goes-with-its-import",
    ),
    case(
        """\
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from .hce_models import Event


        class AnalyticsEvent: ...
        x: "Event | None" = None
        assert not TYPE_CHECKING
        """,
        op=OWN,
        id="own-file-keeps-an-import-a-string-annotation-uses",
    ),
    case(
        """\
        def f():
            # lazily
            from .hce_models import Session
            return Session


        def g():
            from .hce_models import Event
            AnalyticsEvent = 3
            return Event, AnalyticsEvent
        """,
        """\
        def f():
            # lazily
            return Session


        def g():
            from .hce_models import Event
            AnalyticsEvent = 3
            return Event, AnalyticsEvent
        """,
        op=OWN,
        id="own-file-function-local-shadowed-left",
    ),
    case(
        """\
        from __future__ import annotations

        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from .hce_models import Widget


        class Note(Base):
            widget: Mapped[Widget] = relationship()
        """,
        """\
        from __future__ import annotations

        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from .gadgets import Gadget


        class Note(Base):
            widget: Mapped[Gadget] = relationship()
        """,
        op=KEPT_ELSEWHERE,
        id="kept-elsewhere-renamed-with-its-uses",
    ),
    case(
        """\
        from __future__ import annotations

        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from .hce_models import Widget as W


        class Note(Base):
            widget: Mapped[W] = relationship()
        """,
        """\
        from __future__ import annotations

        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from .gadgets import Gadget as W


        class Note(Base):
            widget: Mapped[W] = relationship()
        """,
        op=KEPT_ELSEWHERE,
        id="kept-elsewhere-alias-kept",
    ),
    case(
        """\
        from __future__ import annotations

        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from .hce_models import Widget


        class Gadget(Base):
            pass


        class Note(Base):
            widget: Mapped[Widget] = relationship()
        """,
        """\
        from __future__ import annotations


        class Gadget(Base):
            pass


        class Note(Base):
            widget: Mapped[Gadget] = relationship()
        """,
        op=KEPT_HERE,
        id="kept-here-import-dropped-uses-renamed",
    ),
]


def _run(op: RewriteImports, source: str) -> str:
    return RewriteImportsCommand(op).transform(cst.parse_module(source)).code


@pytest.mark.parametrize(("op", "before", "after"), NOOPS + CASES)
def test_rewrite(op: RewriteImports, before: str, after: str) -> None:
    assert _run(op, before) == after


@pytest.mark.parametrize(("op", "before", "after"), NOOPS + CASES)
def test_second_run_changes_nothing(op: RewriteImports, before: str, after: str) -> None:
    assert _run(op, after) == after


@pytest.mark.parametrize(("op", "before", "after"), NOOPS)
def test_nothing_to_rewrite_returns_the_same_module(op: RewriteImports, before: str, after: str) -> None:
    module = cst.parse_module(before)
    assert RewriteImportsCommand(op).transform(module) is module


def test_description_is_one_line() -> None:
    assert DESCRIPTION and "\n" not in DESCRIPTION


# --- the byte-level shortcut: the same result as the tree, or it declines ------------------------


@pytest.mark.parametrize(("op", "before", "after"), NOOPS + CASES)
def test_byte_shortcut_agrees_with_the_tree(op: RewriteImports, before: str, after: str) -> None:
    out = RewriteImportsCommand(op).transform_bytes(before.encode())
    assert out is None or out.decode() == after


def test_byte_shortcut_covers_most_cases() -> None:
    """Guard against a shortcut that silently declines everything."""
    taken = [b for op, b, _ in (p.values for p in NOOPS + CASES) if RewriteImportsCommand(op).transform_bytes(b.encode()) is not None]
    assert len(taken) >= len(NOOPS + CASES) // 3


BODY = """\

def count(session):
    # uses after the imports stay byte for byte, odd spacing included
    return  session.query( AnalyticsEvent ).count()   \r
"""

SHORTCUT = [
    pytest.param("from .hce_models import Event as AnalyticsEvent, helper\n" + BODY,
                 "from .hce_models import helper\nfrom .models import AnalyticsEvent\n" + BODY, id="from-import"),
    pytest.param("import os\nfrom .hce_models import Session\nimport sys\n\nx = 1\n",
                 "import os\nfrom .models import Session\nimport sys\n\nx = 1\n", id="imports-after-the-change"),
    pytest.param("import pkg.hce_models as h\n\ndef f():\n    return h.Session\n",
                 "import pkg.models as h\n\ndef f():\n    return h.Session\n", id="module-alias-unrenamed-uses"),
    pytest.param("from . import hce_models\n\ny = hce_models.Session\n",
                 "from . import models as hce_models\n\ny = hce_models.Session\n", id="submodule-unrenamed-uses"),
    pytest.param("def f():\n    from .hce_models import Session  # local\n    return Session\n\nz = 2\n",
                 "def f():\n    from .models import Session  # local\n    return Session\n\nz = 2\n", id="import-in-a-function"),
    pytest.param("import json\n\nx = json.dumps({})\n", None, id="nothing-to-change"),
]


@pytest.mark.parametrize(("before", "after"), SHORTCUT)
def test_byte_shortcut_is_taken(before: str, after: str | None) -> None:
    command = RewriteImportsCommand(API)
    out = command.transform_bytes(before.encode())
    expected = before if after is None else after
    assert out is not None and out.decode() == expected
    assert RewriteImportsCommand(API).transform(cst.parse_module(before)).code == expected


DECLINED = [
    pytest.param("import pkg.hce_models as h\nx = h.Event\n", id="module-alias-with-a-renamed-use"),
    pytest.param("import pkg.hce_models as h\nx = 'see h.Session'\n", id="module-alias-named-in-a-string"),
    pytest.param("import pkg.hce_models as h\ndef f(h):\n    return h.Session\nx = h.Session\n",
                 id="module-alias-bound-twice"),
    pytest.param("import pkg.hce_models\nx = pkg.hce_models.Session\n", id="dotted-module-import"),
    pytest.param("from .models import Base\nfrom .hce_models import Base as HBase\nclass A(HBase): pass\n",
                 id="base-aliases-to-unify"),
    pytest.param("import os; from .hce_models import Session; x = 1\n", id="statements-sharing-a-line"),
    pytest.param("from .hce_models import Session\ndef g[T](a: T) -> T:\n    return a\n",
                 id="syntax-newer-than-the-interpreter",
                 marks=pytest.mark.skipif(sys.version_info >= (3, 12), reason="PEP 695 parses on 3.12+")),
]


@pytest.mark.parametrize("before", DECLINED)
def test_byte_shortcut_declines(before: str) -> None:
    assert RewriteImportsCommand(API).transform_bytes(before.encode()) is None


def test_byte_shortcut_declines_in_the_new_module_itself() -> None:
    before = "from .hce_models import Event\nx = Event\n"
    assert RewriteImportsCommand(OWN).transform_bytes(before.encode()) is None


def test_byte_shortcut_keeps_a_latin1_body_byte_for_byte() -> None:
    before = "# -*- coding: latin-1 -*-\nfrom .hce_models import Session\n\nNAME = 'caf\xe9'\n".encode("latin-1")
    out = RewriteImportsCommand(API).transform_bytes(before)
    assert out == "# -*- coding: latin-1 -*-\nfrom .models import Session\n\nNAME = 'caf\xe9'\n".encode("latin-1")
