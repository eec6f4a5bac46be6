"""Validation problems in plain words: the field, what is wrong, never pydantic's jargon.

Every reader validates user data with pydantic models; their raw messages ("Input
should be a valid tuple", "got NoneType", "role_priority.flying.[key]") mean
nothing to someone who wrote a profile. ``describe`` turns one pydantic error into
a field path a user can find in their file and a sentence saying what the value
must be, so each reader only adds the file's name and its fix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["describe", "field_path", "first_problem", "shown"]

_PHRASES: dict[str, str] = {
    "missing": "is missing",
    "extra_forbidden": "is not a field gpuplan knows",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "set_type": "must be a list",
    "dict_type": "must be a table (key = value pairs)",
    "model_type": "must be a table (key = value pairs)",
    "model_attributes_type": "must be a table (key = value pairs)",
    "dataclass_type": "must be a table (key = value pairs)",
    "dataclass_exact_type": "must be a table (key = value pairs)",
    "none_required": "must be empty",
    "string_pattern_mismatch": "is not in the expected form",
    "enum": "is not one of the allowed values",
}


def describe(error: Mapping[str, Any]) -> tuple[str, str]:
    """(field path, problem) for one entry of ``ValidationError.errors()``."""
    kind = str(error.get("type", ""))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    loc: Sequence[Any] = error.get("loc") or ()
    problem = _problem(kind, ctx, str(error.get("msg", "")))
    if kind not in {"missing", "extra_forbidden", "value_error"} and "input" in error:
        problem += f" (got {shown(error['input'])})"
    return field_path(loc), problem


def first_problem(errors: Sequence[Mapping[str, Any]]) -> str:
    """'field: problem', with '(and N more)' when there are several."""
    field, problem = describe(errors[0])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{field}: {problem}{more}" if field else f"{problem}{more}"


def _problem(kind: str, ctx: Mapping[str, Any], msg: str) -> str:
    if kind in _PHRASES:
        return _PHRASES[kind]
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than":
        return f"must be less than {ctx.get('lt')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind == "string_too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"needs at least {least} characters"
    if kind == "string_too_long":
        return f"may have at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} entries"
    if kind == "too_long":
        return f"may hold at most {ctx.get('max_length')} entries"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind in {"value_error", "assertion_error"}:
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        return msg
    return msg[:1].lower() + msg[1:] if msg else "is not valid"


def field_path(loc: Sequence[Any]) -> str:
    """('gpus', 0, 'vram_total_mb') → 'gpus[0].vram_total_mb'; dict keys stay keys.

    pydantic marks a bad *key* of a mapping with a trailing '[key]' part; a user
    knows it as "the key 'flying' of role_priority", so that is how it is said.
    """
    path = ""
    parts = [p for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
    if parts and parts[-1] == "[key]":
        parent = field_path(parts[:-2])
        return f"key {parts[-2]!r} of {parent}" if parent else f"key {parts[-2]!r}"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def shown(value: object, limit: int = 60) -> str:
    """A short, user-facing rendering of a bad value: 'nothing', 'true', "'banana'"."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    if isinstance(value, int) and value.bit_length() > 64:
        return f"a {len(str(value)) if value.bit_length() < 14000 else 'huge'}-digit number"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
