"""UB003 RewriteStringsCommand: before/after pairs; every ``after`` is a fixed point."""

from __future__ import annotations

from textwrap import dedent

import libcst as cst
import pytest

from unibase.codemods.rewrite_strings import DESCRIPTION, RewriteStringsCommand
from unibase.plan import RewriteStrings

OP = RewriteStrings(
    file="src/pkg/models.py",
    replacements=(
        ("src.pkg.hce_models.Claim", "src.pkg.models.Claim"),
        ("Event", "AnalyticsEvent"),
    ),
)


def run(code: str, op: RewriteStrings = OP) -> str:
    return RewriteStringsCommand(op).transform(cst.parse_module(dedent(code))).code


CASES = [
    pytest.param(
        """
        class Episode(Base):
            claims = relationship("src.pkg.hce_models.Claim", back_populates="episode")
        """,
        """
        class Episode(Base):
            claims = relationship("src.pkg.models.Claim", back_populates="episode")
        """,
        id="qualified-path",
    ),
    pytest.param(
        """
        class Tag(Base):
            event = relationship("Event", back_populates="tags")
        """,
        """
        class Tag(Base):
            event = relationship("AnalyticsEvent", back_populates="tags")
        """,
        id="bare-rename",
    ),
    pytest.param(
        """
        class Tag(Base):
            event = relationship(
                argument="Event",
                secondary="Event.__table__",
                order_by="Event.created_at.desc()",
                primaryjoin="and_(Event.id == Tag.event_id, Event.live)",
                secondaryjoin="Event.id == tag_links.c.event_id",
                foreign_keys="[Event.tag_id]",
                remote_side=["Event.id"],
                back_populates="Event",
                cascade="all, delete-orphan",
            )
        """,
        """
        class Tag(Base):
            event = relationship(
                argument="AnalyticsEvent",
                secondary="AnalyticsEvent.__table__",
                order_by="AnalyticsEvent.created_at.desc()",
                primaryjoin="and_(AnalyticsEvent.id == Tag.event_id, AnalyticsEvent.live)",
                secondaryjoin="AnalyticsEvent.id == tag_links.c.event_id",
                foreign_keys="[AnalyticsEvent.tag_id]",
                remote_side=["AnalyticsEvent.id"],
                back_populates="Event",
                cascade="all, delete-orphan",
            )
        """,
        id="keywords-but-not-back_populates",
    ),
    pytest.param(
        """
        evidence = relationship("Evidence", primaryjoin="src.pkg.hce_models.Claim.id == Evidence.claim_id")
        """,
        """
        evidence = relationship("Evidence", primaryjoin="src.pkg.models.Claim.id == Evidence.claim_id")
        """,
        id="qualified-path-then-attribute",
    ),
    pytest.param(
        """
        a = relationship('Event')
        b = relationship(r"Event", u'Event')
        c = relationship("Tag", order_by='''Event.id''')
        """,
        """
        a = relationship('AnalyticsEvent')
        b = relationship(r"AnalyticsEvent", u'AnalyticsEvent')
        c = relationship("Tag", order_by='''AnalyticsEvent.id''')
        """,
        id="quotes-and-prefixes-kept",
    ),
    pytest.param(
        """
        a = orm.relationship("Event")
        b = db.relationship("src.pkg.hce_models.Claim")
        c = sa.orm.relationship("Event")
        """,
        """
        a = orm.relationship("AnalyticsEvent")
        b = db.relationship("src.pkg.models.Claim")
        c = sa.orm.relationship("AnalyticsEvent")
        """,
        id="alias-spellings",
    ),
    pytest.param(
        """
        class Tag(Base):
            event: Mapped["Event"] = relationship()
            events: Mapped[list["Event"]] = relationship()
            maybe: so.Mapped[Optional["src.pkg.hce_models.Claim"]] = relationship()
            quoted: "Mapped[list[Event]]" = relationship()
        """,
        """
        class Tag(Base):
            event: Mapped["AnalyticsEvent"] = relationship()
            events: Mapped[list["AnalyticsEvent"]] = relationship()
            maybe: so.Mapped[Optional["src.pkg.models.Claim"]] = relationship()
            quoted: "Mapped[list[AnalyticsEvent]]" = relationship()
        """,
        id="mapped-annotations",
    ),
    pytest.param(
        """
        def configure(Tag):
            Tag.event = relationship("Event")
        """,
        """
        def configure(Tag):
            Tag.event = relationship("AnalyticsEvent")
        """,
        id="function-body",
    ),
    pytest.param(
        """
        if ANALYTICS:
            class Tag(Base):
                with_events = True
                if with_events:
                    event = relationship("Event", order_by="Event.id")
        """,
        """
        if ANALYTICS:
            class Tag(Base):
                with_events = True
                if with_events:
                    event = relationship("AnalyticsEvent", order_by="AnalyticsEvent.id")
        """,
        id="nested-block",
    ),
    pytest.param(
        """
        class Tag(Base):
            log = relationship("EventLog", order_by="EventLog.id")
            claim = relationship("ClaimTierValidation")
            other = relationship("other.Event")
            near = relationship("src.pkg.hce_models.ClaimTier")
            label: Mapped[str] = mapped_column(default="Event")
            event_id = mapped_column(ForeignKey("Event.id"))
            kind = "Event"
            data = relationship(b"Event", f"Event")
        """,
        """
        class Tag(Base):
            log = relationship("EventLog", order_by="EventLog.id")
            claim = relationship("ClaimTierValidation")
            other = relationship("other.Event")
            near = relationship("src.pkg.hce_models.ClaimTier")
            label: Mapped[str] = mapped_column(default="Event")
            event_id = mapped_column(ForeignKey("Event.id"))
            kind = "Event"
            data = relationship(b"Event", f"Event")
        """,
        id="leave-alone-prefix-sharing-and-non-relationship",
    ),
    pytest.param(
        """
        class Tag(Base):
            user = relationship("User", back_populates="tags")
        """,
        """
        class Tag(Base):
            user = relationship("User", back_populates="tags")
        """,
        id="no-op",
    ),
]


@pytest.mark.parametrize(("before", "after"), CASES)
def test_rewrite_strings(before: str, after: str) -> None:
    assert run(before) == dedent(after)


@pytest.mark.parametrize(("before", "after"), CASES)
def test_second_run_changes_nothing(before: str, after: str) -> None:
    assert run(after) == dedent(after)


def test_longest_name_wins() -> None:
    op = RewriteStrings(file="m.py", replacements=(("Claim", "HCEClaim"), ("hce.Claim", "models.Claim")))
    assert run('a = relationship("hce.Claim", order_by="Claim.id")\n', op) == (
        'a = relationship("models.Claim", order_by="HCEClaim.id")\n'
    )


def test_no_replacements_is_a_no_op() -> None:
    module = cst.parse_module('a = relationship("Event")\n')
    assert RewriteStringsCommand(RewriteStrings(file="m.py", replacements=())).transform(module) is module


def test_description_is_one_line() -> None:
    assert DESCRIPTION and "\n" not in DESCRIPTION


def test_classes_limit_the_rewrite_to_those_classes() -> None:
    before = (
        "class Event(Base):\n"
        "    users = relationship(\"User\")\n"
        "    owner: Mapped[\"User\"] = relationship()\n\n\n"
        "class Team(Base):\n"
        "    users = relationship(\"User\")\n"
        "    class Inner:\n"
        "        x = relationship(\"User\")\n"
    )
    op = RewriteStrings(file="m.py", replacements=(("User", "OtherUser"),), classes=("Event",))
    after = RewriteStringsCommand(op).transform(cst.parse_module(before)).code
    assert after == before.replace("relationship(\"User\")", "relationship(\"OtherUser\")", 1).replace(
        "Mapped[\"User\"]", "Mapped[\"OtherUser\"]")
    assert RewriteStringsCommand(op).transform(cst.parse_module(after)).code == after
