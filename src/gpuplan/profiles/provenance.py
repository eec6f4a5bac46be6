"""Layered merging that remembers, for every value, which layer gave it.

Like pydantic-settings, each source contributes a plain dict (a *layer*) and the
layers are merged in a fixed priority order: a higher layer's value replaces a
lower one's, nested tables (``engine``) merge key by key, and lists are replaced
whole (a preference list is one value). Unlike a plain dict merge, the result
keeps each leaf's winner and the values it shadowed, which is what
``--explain`` prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuplan.profiles.lines import KeyPath

OriginKind = Literal[
    "default",
    "builtin",
    "user",
    "project",
    "pyproject",
    "path",
    "config",
    "env",
    "flag",
    "rule",
    "hardware",
]


class Origin(BaseModel):
    """Where one value came from, in words a user understands."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: OriginKind = Field(description="Kind of source.")
    label: str = Field(description="The source in words, e.g. 'built-in profile balanced_24gb'.")
    file: str | None = Field(default=None, description="File the value was read from.")
    line: int | None = Field(default=None, description="1-based line in that file.")

    def __str__(self) -> str:
        if self.file is None:
            return self.label
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{self.label} ({where})"


class Shadowed(BaseModel):
    """A value a higher layer replaced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Any
    origin: Origin


class FieldSource(BaseModel):
    """The resolved value of one field, where it came from, and what it replaced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Any
    origin: Origin
    shadowed: tuple[Shadowed, ...] = ()


@dataclass(frozen=True)
class Layer:
    """One source's values with an origin for each key path (or one for all)."""

    data: Mapping[str, Any]
    origin: Origin
    origins: Mapping[KeyPath, Origin] = field(default_factory=dict)

    def origin_of(self, path: KeyPath) -> Origin:
        return self.origins.get(path, self.origin)


def dotted(path: KeyPath) -> str:
    return ".".join(path)


def leaves(data: Mapping[str, Any], prefix: KeyPath = ()) -> dict[KeyPath, Any]:
    """Every non-table value in ``data`` by key path; an empty table is not a value."""
    found: dict[KeyPath, Any] = {}
    for key, value in data.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping):
            found.update(leaves(value, path))
        else:
            found[path] = value
    return found


def merge_layers(layers: Sequence[Layer]) -> tuple[dict[str, Any], dict[str, FieldSource]]:
    """Merge ``layers`` (lowest priority first) into one dict plus per-leaf provenance."""
    merged: dict[str, Any] = {}
    history: dict[KeyPath, list[Shadowed]] = {}
    for layer in layers:
        for path, value in leaves(layer.data).items():
            _drop_conflicts(history, path)
            _set(merged, path, value)
            history.setdefault(path, []).append(Shadowed(value=value, origin=layer.origin_of(path)))
    sources = {
        dotted(path): FieldSource(
            value=steps[-1].value, origin=steps[-1].origin, shadowed=tuple(reversed(steps[:-1]))
        )
        for path, steps in history.items()
    }
    return merged, sources


def _drop_conflicts(history: dict[KeyPath, list[Shadowed]], path: KeyPath) -> None:
    """A value replacing a table (or a table replacing a value) forgets the other's leaves."""
    for known in list(history):
        if known != path and (known[: len(path)] == path or path[: len(known)] == known):
            del history[known]


def _set(target: dict[str, Any], path: KeyPath, value: Any) -> None:
    node = target
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value
