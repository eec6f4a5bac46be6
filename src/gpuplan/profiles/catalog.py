"""All profiles a user can name, and every definition behind each name.

A name may be defined by several sources (a built-in, refined by a pyproject
table); the catalog keeps all of them in priority order so resolution can merge
them and say which source gave which value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gpuplan.profiles.model import Issue
from gpuplan.profiles.sources import (
    PYPROJECT_TABLE,
    SOURCE_ORDER,
    ProfileEntry,
    builtin_entries,
    read_directory,
    read_table_file,
)


@dataclass(frozen=True)
class Locations:
    """The files and directories profiles are read from (found by ``gpuplan.profiles.env``)."""

    pyproject: Path | None = None
    project_dir: Path | None = None
    user_dir: Path | None = None
    user_config: Path | None = None


@dataclass(frozen=True)
class Catalog:
    """Profile entries, lowest priority first (built-in, user, project, pyproject, path)."""

    entries: tuple[ProfileEntry, ...] = ()

    def names(self) -> tuple[str, ...]:
        """Every profile name, built-ins first in their packaged order, then the rest."""
        seen: dict[str, None] = {}
        for entry in self.entries:
            seen.setdefault(entry.name, None)
        return tuple(seen)

    def layers(self, name: str) -> tuple[ProfileEntry, ...]:
        """Definitions of ``name``, lowest priority first."""
        rank = {kind: i for i, kind in enumerate(SOURCE_ORDER)}
        found = [e for e in self.entries if e.name == name]
        return tuple(sorted(found, key=lambda e: rank[e.kind]))

    def __contains__(self, name: object) -> bool:
        return any(e.name == name for e in self.entries)

    def with_entries(self, extra: Iterable[ProfileEntry]) -> Catalog:
        return Catalog((*self.entries, *extra))

    @property
    def issues(self) -> tuple[Issue, ...]:
        return tuple(issue for entry in self.entries for issue in entry.issues)


def load_catalog(locations: Locations, *, builtins: bool = True) -> Catalog:
    """Read every source in ``locations``; broken files become entries with issues."""
    entries: list[ProfileEntry] = list(builtin_entries()) if builtins else []
    if locations.user_dir is not None:
        entries += read_directory(locations.user_dir, "user")
    if locations.project_dir is not None:
        entries += read_directory(locations.project_dir, "project")
    if locations.pyproject is not None and locations.pyproject.is_file():
        entries += read_table_file(locations.pyproject, PYPROJECT_TABLE, "pyproject")
    return Catalog(tuple(entries))
