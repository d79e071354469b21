"""UB004 CollapseMetadataCallsCommand: before/after pairs; every ``after`` is a fixed point."""

from __future__ import annotations

from textwrap import dedent

import libcst as cst
import pytest

from unibase.codemods.collapse_metadata import DESCRIPTION, CollapseMetadataCallsCommand
from unibase.plan import CollapseMetadataCalls

OP = CollapseMetadataCalls(file="src/pkg/service.py", names=("Base", "HCEBase", "MainBase", "System2Base"), calls=1)


def run(code: str, op: CollapseMetadataCalls = OP) -> str:
    return CollapseMetadataCallsCommand(op).transform(cst.parse_module(dedent(code))).code


CASES = [
    pytest.param(
        """
        class DatabaseService:
            def create_all_tables(self) -> None:
                \"\"\"Create every table.\"\"\"
                # Create all tables
                MainBase.metadata.create_all(self.engine)
                HCEBase.metadata.create_all(self.engine)
                System2Base.metadata.create_all(self.engine)
                logger.info("ready")
        """,
        """
        class DatabaseService:
            def create_all_tables(self) -> None:
                \"\"\"Create every table.\"\"\"
                # Create all tables
                MainBase.metadata.create_all(self.engine)
                logger.info("ready")
        """,
        id="happy-path-method",
    ),
    pytest.param(
        """
        def init_storage(engine):
            Base.metadata.create_all(engine)   # personalities, traits
            HCEBase.metadata.create_all(engine)   # chat conversations
            # the System 2 tables
            System2Base.metadata.create_all(engine)
            return engine
        """,
        """
        def init_storage(engine):
            Base.metadata.create_all(engine)   # personalities, traits
            return engine
        """,
        id="function-body-comments-go-with-their-lines",
    ),
    pytest.param(
        """
        Base.metadata.create_all(engine)
        seed(engine)

        # second schema
        HCEBase.metadata.create_all(engine)
        MainBase.metadata.create_all(engine)
        print("done")
        """,
        """
        Base.metadata.create_all(engine)
        seed(engine)

        # second schema
        print("done")
        """,
        id="comment-above-a-run-stays",
    ),
    pytest.param(
        """
        MainBase.metadata.drop_all(bind=engine)
        HCEBase.metadata.drop_all( bind = engine )
        MainBase.metadata.create_all(bind=engine)
        HCEBase.metadata.create_all(
            bind=engine,  # same engine
        )
        """,
        """
        MainBase.metadata.drop_all(bind=engine)
        MainBase.metadata.create_all(bind=engine)
        """,
        id="drop-then-create-whitespace-normalised",
    ),
    pytest.param(
        """
        Base.metadata.create_all(bind=engine)
        HCEBase.metadata.create_all(bind=engine)
        """,
        """
        Base.metadata.create_all(bind=engine)
        """,
        id="keyword-bind",
    ),
    pytest.param(
        """
        Base.metadata.create_all(engine)
        HCEBase.metadata.drop_all(engine)
        MainBase.metadata.create_all(engine)
        """,
        """
        Base.metadata.create_all(engine)
        HCEBase.metadata.drop_all(engine)
        MainBase.metadata.create_all(engine)
        """,
        id="leave-alone-order-between-create-and-drop",
    ),
    pytest.param(
        """
        async def init_models():
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
                await conn.run_sync(HCEBase.metadata.create_all)
                await other.run_sync(MainBase.metadata.create_all)
        """,
        """
        async def init_models():
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
                await other.run_sync(MainBase.metadata.create_all)
        """,
        id="run-sync-nested-block",
    ),
    pytest.param(
        """
        def setup(engine, testing):
            if testing:
                try:
                    MainBase.metadata.create_all(engine)
                    HCEBase.metadata.create_all(engine)
                finally:
                    pass
            else:
                MainBase.metadata.create_all(engine)
            System2Base.metadata.create_all(engine)
        """,
        """
        def setup(engine, testing):
            if testing:
                try:
                    MainBase.metadata.create_all(engine)
                finally:
                    pass
            else:
                MainBase.metadata.create_all(engine)
            System2Base.metadata.create_all(engine)
        """,
        id="nested-blocks-are-separate",
    ),
    pytest.param(
        """
        MainBase.metadata.create_all(main_engine)
        HCEBase.metadata.create_all(hce_engine)
        OtherBase.metadata.create_all(main_engine)
        MainBase.metadata.tables
        """,
        """
        MainBase.metadata.create_all(main_engine)
        HCEBase.metadata.create_all(hce_engine)
        OtherBase.metadata.create_all(main_engine)
        MainBase.metadata.tables
        """,
        id="leave-alone-other-bind-and-other-base",
    ),
    pytest.param(
        """
        target_metadata = [MainBase.metadata, HCEBase.metadata, System2Base.metadata]
        """,
        """
        target_metadata = MainBase.metadata
        """,
        id="target-metadata-becomes-plain",
    ),
    pytest.param(
        """
        target_metadata: list = [
            MainBase.metadata,
            audit_metadata,
            HCEBase.metadata
        ]
        """,
        """
        target_metadata: list = [
            MainBase.metadata,
            audit_metadata
        ]
        """,
        id="target-metadata-keeps-other-entries",
    ),
    pytest.param(
        """
        def run_migrations():
            target_metadata = (HCEBase.metadata, OtherBase.metadata, Base.metadata,)
        """,
        """
        def run_migrations():
            target_metadata = (HCEBase.metadata, OtherBase.metadata,)
        """,
        id="target-metadata-tuple-in-function",
    ),
    pytest.param(
        """
        target_metadata = [MainBase.metadata, OtherBase.metadata]
        other_metadata = [MainBase.metadata, HCEBase.metadata]
        """,
        """
        target_metadata = [MainBase.metadata, OtherBase.metadata]
        other_metadata = [MainBase.metadata, HCEBase.metadata]
        """,
        id="leave-alone-target-metadata",
    ),
    pytest.param(
        """
        def init(engine):
            for base in [MainBase, HCEBase, OtherBase, System2Base]:
                base.metadata.create_all(engine)
        """,
        """
        def init(engine):
            for base in [MainBase, OtherBase]:
                base.metadata.create_all(engine)
        """,
        id="loop-over-bases-keeps-the-first-and-the-others",
    ),
    pytest.param(
        """
        for md in (Base.metadata, HCEBase.metadata,):
            md.drop_all(engine)
        """,
        """
        for md in (Base.metadata,):
            md.drop_all(engine)
        """,
        id="loop-over-metadata-tuple",
    ),
    pytest.param(
        """
        for base in [Base, HCEBase]:
            print(base.__name__)
        for base in [Base, HCEBase]:
            other.metadata.create_all(engine)
        for base in bases:
            base.metadata.create_all(engine)
        """,
        """
        for base in [Base, HCEBase]:
            print(base.__name__)
        for base in [Base, HCEBase]:
            other.metadata.create_all(engine)
        for base in bases:
            base.metadata.create_all(engine)
        """,
        id="leave-alone-loops-that-create-nothing-of-theirs",
    ),
    pytest.param(
        """
        Base.metadata.create_all(engine)
        """,
        """
        Base.metadata.create_all(engine)
        """,
        id="no-op",
    ),
]


@pytest.mark.parametrize(("before", "after"), CASES)
def test_collapse_metadata(before: str, after: str) -> None:
    assert run(before) == dedent(after)


@pytest.mark.parametrize(("before", "after"), CASES)
def test_second_run_changes_nothing(before: str, after: str) -> None:
    assert run(after) == dedent(after)


def test_dotted_name_in_names() -> None:
    op = CollapseMetadataCalls(file="m.py", names=("models.Base", "ChatBase"), calls=1)
    code = "models.Base.metadata.create_all(engine)\nChatBase.metadata.create_all(engine)\n"
    assert run(code, op) == "models.Base.metadata.create_all(engine)\n"


def test_description_is_one_line() -> None:
    assert DESCRIPTION and "\n" not in DESCRIPTION
