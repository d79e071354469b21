"""Frozen settings: command-line options over ``[tool.unibase]`` in ``pyproject.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

STRATEGIES = ("auto", "move", "rebase")
MODES = ("union", "keep")
LIST_SETTINGS = ("exclude", "exclude_bases", "merge", "separate", "prefer", "skip")


# [tool.unibase] key -> Settings field; any other key is an error
KEYS = {
    "target": "target",
    "strategy": "strategy",
    "exclude": "exclude",
    "exclude-bases": "exclude_bases",
    "merge": "merge",
    "separate": "separate",
    "prefer": "prefer",
    "skip": "skip",
    "test-cmd": "test_cmd",
    "branch": "branch",
    "mode": "mode",
}
# keys read on their own (not a string or a list of strings)
OTHER_KEYS = ("renames", "decisions")


class SettingsError(ValueError):
    pass


def check_keys(config: dict[str, Any], pyproject: Path) -> None:
    """A misspelt key would be ignored silently: refuse it, naming the nearest valid one."""
    import difflib

    for key in config:
        if key not in KEYS and key not in OTHER_KEYS:
            known = [*KEYS, *OTHER_KEYS]
            near = difflib.get_close_matches(key.replace("_", "-"), known, n=1, cutoff=0.6)
            hint = f"did you mean {near[0]}?" if near else f"the keys are {', '.join(known)}"
            raise SettingsError(f"unknown key {key!r} in [tool.unibase] of {pyproject}; {hint}")


@dataclass(frozen=True)
class Settings:
    root: Path
    scope: str | None = None  # the narrower folder given, project-relative: only its bases change
    target: str | None = None
    strategy: str = "auto"  # per base: move siblings, rebase the rest (unibase.strategy)
    exclude: tuple[str, ...] = ()
    exclude_bases: tuple[str, ...] = ()  # an alias of ``separate``
    merge: tuple[str, ...] = ()  # FILE[:NAME] of bases to merge whatever the evidence says
    separate: tuple[str, ...] = ()  # FILE[:NAME] of bases to leave alone (another database)
    prefer: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    test_cmd: str | None = None
    branch: str = "unibase/merge-bases"
    decisions: tuple[TableDecision, ...] = ()
    mode: str = "union"  # how --prefer resolves a duplicated table: "keep" or "union"
    renames: bool = True  # --prefer applies the plan's suggested column renames
    cache: bool = False  # reuse the facts of unchanged files (unibase.cache): the CLI's default, not the API's
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TableDecision:
    """How a table defined differently on two bases is resolved (from the plan JSON)."""

    table: str
    winner: str  # "file:Class"
    mode: str = "union"  # "keep": only the winner's columns; "union": it gains the loser's
    renames: tuple[tuple[str, str], ...] = ()  # confirmed (loser column, winner column)


def load_settings(path: Path, **overrides: Any) -> Settings:
    """Settings for the project holding ``path``: ``[tool.unibase]`` first, then non-empty
    ``overrides``. The project root is the nearest folder at or above ``path`` with a
    ``pyproject.toml``, ``setup.cfg``, ``setup.py`` or ``.git`` (``path`` itself if none has);
    a narrower ``path`` becomes the scope: everything is read, only its bases change."""
    if not path.exists():
        raise SettingsError(f"{path} does not exist; pass the path of a project directory")
    if not path.is_dir():
        raise SettingsError(f"{path} is not a directory; pass the path of a project directory")
    from .project import find_root

    given = path.resolve()
    root = find_root(given) or given
    scope = given.relative_to(root).as_posix() if given != root else None
    config: dict[str, Any] = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{pyproject} is not valid TOML ({exc}); fix it or remove [tool.unibase]") from exc
        tool = data.get("tool", {})
        config = (tool.get("unibase", {}) if isinstance(tool, dict) else {}) or {}
        if not isinstance(config, dict):
            raise SettingsError(f"[tool.unibase] in {pyproject} is not a table; fix it or remove it")
    settings = Settings(root=root, scope=scope)
    check_keys(config, pyproject)
    values: dict[str, Any] = {}
    for key, attr in KEYS.items():
        if key in config:
            v = config[key]
            if attr in LIST_SETTINGS and isinstance(v, str):
                v = [v]  # exclude = "legacy/" means one path, not six characters
            ok = (isinstance(v, list) and all(isinstance(x, str) for x in v)) if attr in LIST_SETTINGS else isinstance(v, str)
            if not ok:
                kind = "a list of strings" if attr in LIST_SETTINGS else "a string"
                raise SettingsError(f"{key} in [tool.unibase] of {pyproject} must be {kind}; fix it in pyproject.toml")
            values[attr] = tuple(v) if isinstance(v, list) else v
    if "renames" in config:
        if not isinstance(config["renames"], bool):
            raise SettingsError(f"renames in [tool.unibase] of {pyproject} must be true or false; fix it in pyproject.toml")
        values["renames"] = config["renames"]
    if "decisions" in config:
        values["decisions"] = _decisions(config["decisions"], pyproject)
    for k, v in overrides.items():
        if v not in (None, (), [], ""):
            values[k] = tuple(v) if isinstance(v, list) else v
    settings = replace(settings, **values)
    if settings.mode not in MODES:
        raise SettingsError(f"unknown mode {settings.mode!r}; use one of: {', '.join(MODES)}")
    if settings.strategy not in STRATEGIES:
        raise SettingsError(f"unknown strategy {settings.strategy!r}; use one of: {', '.join(STRATEGIES)}")
    from .steps import STEP_CODES

    unknown = [s for s in settings.skip if s.upper() not in STEP_CODES]
    if unknown:
        raise SettingsError(f"unknown step {unknown[0]} in skip; the steps are {', '.join(STEP_CODES)}")
    return replace(settings, skip=tuple(s.upper() for s in settings.skip))


def _decisions(table: Any, pyproject: Path) -> tuple[TableDecision, ...]:
    """``[tool.unibase.decisions.TABLE]`` entries: ``winner = "file:Class"``, optional ``mode``
    and ``renames = [["loser_column", "winner_column"], ...]``."""
    where = f"[tool.unibase.decisions] of {pyproject}"
    if not isinstance(table, dict):
        raise SettingsError(f"{where} must be a table of tables, one per duplicated table; fix it in pyproject.toml")
    out = []
    for name, d in table.items():
        if not isinstance(d, dict) or not isinstance(d.get("winner"), str) or ":" not in d["winner"]:
            raise SettingsError(f"the decision for table {name} in {where} needs winner = \"file:Class\"; "
                                "fix it in pyproject.toml")
        mode = d.get("mode", "union")
        if mode not in MODES:
            raise SettingsError(f"the decision for table {name} in {where} has mode {mode!r}; use one of: "
                                f"{', '.join(MODES)}")
        renames = d.get("renames", [])
        if not isinstance(renames, list) or not all(
                isinstance(r, list) and len(r) == 2 and all(isinstance(x, str) for x in r) for r in renames):
            raise SettingsError(f"the decision for table {name} in {where} has renames that are not pairs of "
                                "column names ([[\"old\", \"new\"], ...]); fix it in pyproject.toml")
        unknown = sorted(set(d) - {"winner", "mode", "renames"})
        if unknown:
            raise SettingsError(f"the decision for table {name} in {where} has unknown key {unknown[0]}; "
                                "the keys are winner, mode and renames")
        out.append(TableDecision(name, d["winner"], mode, tuple(tuple(r) for r in renames)))
    return tuple(out)
