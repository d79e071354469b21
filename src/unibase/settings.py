"""Frozen settings: command-line options over ``[tool.unibase]`` in ``pyproject.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

STRATEGIES = ("move", "rebase")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    root: Path
    target: str | None = None
    strategy: str = "move"
    exclude: tuple[str, ...] = ()
    exclude_bases: tuple[str, ...] = ()
    prefer: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    test_cmd: str | None = None
    branch: str = "unibase/merge-bases"
    extra: dict[str, Any] = field(default_factory=dict)


def load_settings(root: Path, **overrides: Any) -> Settings:
    """Settings for ``root``: ``[tool.unibase]`` first, then non-empty ``overrides``."""
    if not root.exists():
        raise SettingsError(f"{root} does not exist; pass the path of a project directory")
    if not root.is_dir():
        raise SettingsError(f"{root} is not a directory; pass the path of a project directory")
    config: dict[str, Any] = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{pyproject} is not valid TOML ({exc}); fix it or remove [tool.unibase]") from exc
        config = data.get("tool", {}).get("unibase", {}) or {}
    settings = Settings(root=root.resolve())
    mapping = {
        "target": "target",
        "strategy": "strategy",
        "exclude": "exclude",
        "exclude-bases": "exclude_bases",
        "prefer": "prefer",
        "skip": "skip",
        "test-cmd": "test_cmd",
        "branch": "branch",
    }
    values: dict[str, Any] = {}
    for key, attr in mapping.items():
        if key in config:
            v = config[key]
            values[attr] = tuple(v) if isinstance(v, list) else v
    for k, v in overrides.items():
        if v not in (None, (), [], ""):
            values[k] = tuple(v) if isinstance(v, list) else v
    settings = replace(settings, **values)
    if settings.strategy not in STRATEGIES:
        raise SettingsError(f"unknown strategy {settings.strategy!r}; use one of: {', '.join(STRATEGIES)}")
    return settings
