"""Frozen records that are plain dataclasses, yet validate and serialise like pydantic models.

``gpuplan detect`` must answer in about the time it takes to import its libraries,
and building a single pydantic model class already costs more than that
(pydantic 2 imports its model machinery on first use). So the records on that
path, the hardware stage's ``Host``/``GPU``/``MigDevice`` and the GPU catalog's
entries, are stdlib dataclasses. They keep pydantic's method names
(``model_copy``, ``model_dump``, ``model_dump_json``, ``model_validate``), so
the rest of the code and FastAPI use them as before:

* constraints live in each field's ``metadata`` under pydantic's ``Field``
  argument names (``ge``, ``le``, ``gt``, ``min_length``, ``max_length``,
  ``pattern``, ``strict``, ``description``). pydantic reads them from there
  when it validates a document or writes a JSON schema, and
  ``check_constraints`` applies the same ones when code builds a record
  directly, so a parser cannot make a record that a file could not hold;
* ``model_validate`` imports pydantic and validates types too. It runs only
  where outside data comes in: hardware files, API bodies, user catalogs.
"""

from __future__ import annotations

import dataclasses
import json
import re
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = ["Record", "check_constraints", "described"]


def described(description: str, default: Any = dataclasses.MISSING, **constraints: Any) -> Any:
    """A dataclass field with its description and pydantic-named constraints in metadata."""
    return dataclasses.field(default=default, metadata={"description": description, **constraints})


class Record:
    """Base of the frozen dataclass records; see the module docstring for why."""

    __slots__ = ()
    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}

    def __post_init__(self) -> None:
        _tuples(self)
        check_constraints(self)

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Self:
        """A copy with ``update`` applied, checked again like a new record."""
        return dataclasses.replace(self, **(update or {}))  # type: ignore[type-var]

    def model_dump(
        self, *, mode: Literal["python", "json"] = "python", exclude: set[str] | None = None
    ) -> dict[str, Any]:
        """The fields as a dict (tuples become lists in ``json`` mode), nested records too."""
        data: dict[str, Any] = dataclasses.asdict(self)  # type: ignore[call-overload]
        for name in exclude or ():
            data.pop(name, None)
        return _listed(data) if mode == "json" else data

    def model_dump_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=indent, ensure_ascii=False)

    @classmethod
    def model_validate(cls, data: object) -> Self:
        """A record from outside data, types and constraints checked by pydantic.

        Raises ``pydantic.ValidationError`` (a ``ValueError``) naming the field.
        """
        return _adapter(cls).validate_python(data)  # type: ignore[no-any-return,arg-type]

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        return _adapter(cls).json_schema()  # type: ignore[arg-type]


@cache
def _adapter(cls: type[Record]) -> TypeAdapter[Any]:
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


def _tuples(record: object) -> None:
    """Lists given for tuple fields become tuples, as pydantic would: records stay hashable."""
    for field in dataclasses.fields(record):  # type: ignore[arg-type]
        value = getattr(record, field.name)
        if isinstance(value, list):
            object.__setattr__(
                record,
                field.name,
                tuple(tuple(v) if isinstance(v, list) else v for v in value),
            )


def _listed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _listed(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_listed(item) for item in value]
    return value


def check_constraints(record: object) -> None:
    """Apply each field's metadata constraints; ``ValueError`` names the field and the rule."""
    for field in dataclasses.fields(record):  # type: ignore[arg-type]
        rules = field.metadata
        value = getattr(record, field.name)
        if value is None or len(rules) <= 1:
            continue
        name = field.name
        if rules.get("strict") and type(value) is not int:
            raise ValueError(f"{name} must be a whole number, not {value!r}")
        bounds = {key: rules[key] for key in ("ge", "gt", "le") if key in rules}
        if bounds:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, not {type(value).__name__}")
            if "ge" in bounds and value < bounds["ge"]:
                raise ValueError(f"{name} must be at least {bounds['ge']} (got {value})")
            if "gt" in bounds and value <= bounds["gt"]:
                raise ValueError(f"{name} must be more than {bounds['gt']} (got {value})")
            if "le" in bounds and value > bounds["le"]:
                raise ValueError(f"{name} must be at most {bounds['le']} (got {value})")
        if "min_length" in rules and len(value) < rules["min_length"]:
            raise ValueError(f"{name} must have at least {rules['min_length']} item(s)")
        if "max_length" in rules and len(value) > rules["max_length"]:
            raise ValueError(f"{name} must have at most {rules['max_length']} item(s)")
        if "pattern" in rules and not re.search(rules["pattern"], value):
            raise ValueError(f"{name} {value[:40]!r} does not match {rules['pattern']}")
