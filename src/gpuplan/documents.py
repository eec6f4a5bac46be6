"""One reader for the JSON, TOML and YAML files users hand gpuplan.

Hardware files, profiles, model registries, ``config.json`` files and
safetensors headers all come through here, so one set of rules protects every
caller: the suffix decides the format, the file must be a regular file of at
most ``MAX_DOCUMENT_BYTES``, the text must be UTF-8, and the parsed data must
be a plain tree — at most ``MAX_DEPTH`` levels deep, at most ``MAX_NODES``
values once YAML aliases are expanded (an alias "bomb" of a few lines would
otherwise grow to gigabytes in whoever walks it), without a value that contains
itself (``&a [*a]``), and with every number finite and below ``MAX_INTEGER``.
A syntax problem is a ``DocumentSyntaxError`` located by line and column, a file
problem a ``DocumentReadError``; each caller turns either into its own error
with its own fix.
"""

from __future__ import annotations

import json
import math
import re
import stat
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_INTEGER",
    "MAX_NODES",
    "DocumentReadError",
    "DocumentSyntaxError",
    "Format",
    "display_path",
    "format_of",
    "parse_document",
    "read_document",
    "read_text",
]

Format = Literal["json", "toml", "yaml"]

_SUFFIXES: dict[str, Format] = {".json": "json", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}

MAX_DOCUMENT_BYTES = 4 * 2**20
"""4 MiB: a saved inventory, a profile or a registry is a few KiB; more is the wrong file."""

MAX_DEPTH = 64
"""No gpuplan document nests deeper than a dozen levels."""

MAX_NODES = 1_000_000
"""Values in a document, aliases expanded: a 4 MiB file holds fewer, a YAML bomb far more."""

MAX_INTEGER = 2**63 - 1
"""The largest integer a document may hold; beyond it no count or size is meant."""


@dataclass(frozen=True)
class DocumentSyntaxError(Exception):
    """The text is not valid ``kind``; ``line``/``column`` are 1-based when known."""

    kind: str
    message: str
    line: int | None = None
    column: int | None = None
    fix: str | None = None
    """How to repair a limit the text broke (None: a plain syntax error, fix the line)."""

    @property
    def where(self) -> str:
        """' at line 3 column 7', or '' when the parser did not say."""
        if self.line is None:
            return ""
        return f" at line {self.line}" + (f" column {self.column}" if self.column else "")

    def __post_init__(self) -> None:  # parsers' messages may span lines: errors are one line
        object.__setattr__(self, "message", " ".join(self.message.split()))

    def __str__(self) -> str:
        if self.fix is not None:  # a limit, not a typo: the text parsed but is refused
            return f"{self.kind} that {self.message}"
        return f"not valid {self.kind}{self.where}: {self.message}"


@dataclass(frozen=True)
class DocumentReadError(Exception):
    """The file cannot be read as a document: ``problem`` follows the path, ``hint`` fixes it."""

    path: str
    problem: str
    hint: str

    def __str__(self) -> str:
        return f"{display_path(self.path)} {self.problem}"


def display_path(path: str | Path, limit: int = 120) -> str:
    """``path`` fit for one error line: unprintable characters escaped, long ones cut.

    Whatever a user pasted as a path (300 random bytes in $GPUPLAN_HARDWARE) must
    not come back as a screenful of mojibake.
    """
    text = str(path)
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_of(path: Path) -> Format | None:
    """The format a file's suffix names, or None."""
    return _SUFFIXES.get(path.suffix.lower())


def read_text(path: Path, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The UTF-8 text of the regular file ``path``, refusing devices, FIFOs and huge files."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DocumentReadError(str(path), "does not exist", "check the path") from None
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise DocumentReadError(str(path), f"cannot be read: {reason}", "check the path") from None
    if stat.S_ISDIR(info.st_mode):
        raise DocumentReadError(str(path), "is a directory", "give the path of a file")
    if not stat.S_ISREG(info.st_mode):
        raise DocumentReadError(
            str(path), "is not a regular file (a device, pipe or socket)", "give a saved file"
        )
    if info.st_size > max_bytes:
        raise DocumentReadError(
            str(path),
            f"is larger than {_size(max_bytes)} ({_size(info.st_size)})",
            "this is not the file you meant; such files are a few KiB",
        )
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as error:
        reason = error.strerror or str(error)
        raise DocumentReadError(
            str(path), f"cannot be read: {reason}", "check its permissions"
        ) from None
    if len(raw) > max_bytes:  # grew while we looked
        raise DocumentReadError(str(path), f"is larger than {_size(max_bytes)}", "check the file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DocumentReadError(
            str(path),
            f"is not UTF-8 text (byte {error.start} is not UTF-8)",
            "save it again as UTF-8",
        ) from None


def read_document(path: Path, fmt: Format | None = None) -> object:
    """The data in the file ``path`` (format from ``fmt``, else the suffix, else JSON)."""
    text = read_text(path)
    return parse_document(text, fmt or format_of(path) or "json")


def parse_document(text: str, fmt: Format, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> object:
    """The data in ``text``; any syntax or limit problem is a ``DocumentSyntaxError``."""
    kind = fmt.upper()
    if len(text) > max_bytes:
        raise DocumentSyntaxError(
            kind, f"larger than {_size(max_bytes)}", fix="check that this is the right file"
        )
    try:
        if fmt == "json":
            data = json.loads(text, parse_constant=_refuse_constant)
        elif fmt == "toml":
            data = tomllib.loads(text)
        else:
            data = _parse_yaml(text, kind)
    except json.JSONDecodeError as error:
        raise DocumentSyntaxError("JSON", error.msg, error.lineno, error.colno) from None
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        line, column = (int(found.group(1)), int(found.group(2))) if found else (None, None)
        raise DocumentSyntaxError("TOML", message, line, column) from None
    except RecursionError:
        raise DocumentSyntaxError(
            kind, f"nested deeper than {MAX_DEPTH} levels", fix=_FLATTER
        ) from None
    except ValueError as error:  # huge integer literals, refused constants
        raise DocumentSyntaxError(kind, _first_line(str(error))) from None
    except (IndexError, KeyError, TypeError, AttributeError, OverflowError) as error:
        # PyYAML's constructors trip over some tagged scalars ('!!int' with no digits)
        raise DocumentSyntaxError(
            kind, f"a value cannot be read ({type(error).__name__})"
        ) from None
    _check_tree(data, kind)
    return data


_FLATTER = "no gpuplan document nests that deep; check that this is the right file"


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number gpuplan accepts; write a finite number")


@cache
def _loader() -> Any:
    """PyYAML's safe loader (C if built); the tree check afterwards enforces the limits.

    Imported on first YAML document: hardware specs, TOML and JSON files never pay for it.
    """
    import yaml

    return yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader


def _parse_yaml(text: str, kind: str) -> object:
    import yaml

    try:
        return yaml.load(text, Loader=_loader())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        if "nesting depth" in str(problem):
            too_deep = f"nested deeper than {MAX_DEPTH} levels"
            raise DocumentSyntaxError(kind, too_deep, fix=_FLATTER) from None
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise DocumentSyntaxError("YAML", str(problem), line, column) from None


def _check_tree(data: object, kind: str) -> None:
    """Refuse self-reference, absurd depth, expanded size and numbers; iterative, bounded."""
    nodes = 0
    on_path: set[int] = set()
    stack: list[tuple[object, int, bool]] = [(data, 1, False)]
    while stack:
        value, depth, leaving = stack.pop()
        if leaving:
            on_path.discard(id(value))
            continue
        nodes += 1
        if nodes > MAX_NODES:
            raise DocumentSyntaxError(
                kind,
                f"holds more than {MAX_NODES:,} values once its aliases are expanded",
                fix="write the values out instead of repeating YAML aliases",
            )
        if isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        if isinstance(value, int):
            if abs(value) > MAX_INTEGER:
                raise DocumentSyntaxError(
                    kind, f"holds the integer {_short(value)}, too large", fix="write a real size"
                )
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                raise DocumentSyntaxError(
                    kind, f"holds {value}, not a finite number", fix="write a finite number"
                )
            continue
        if isinstance(value, dict | list | tuple):
            if id(value) in on_path:
                raise DocumentSyntaxError(
                    kind,
                    "holds a value that contains itself (a YAML alias inside its own anchor)",
                    fix="replace the alias with the value it stands for",
                )
            if depth > MAX_DEPTH:
                raise DocumentSyntaxError(
                    kind, f"nested deeper than {MAX_DEPTH} levels", fix=_FLATTER
                )
            on_path.add(id(value))
            stack.append((value, depth, True))
            children = (
                list(value.keys()) + list(value.values()) if isinstance(value, dict) else value
            )
            stack.extend((child, depth + 1, False) for child in children)


def _short(value: int) -> str:
    text = str(value) if value.bit_length() < 200 else f"of {value.bit_length()} bits"
    return text if len(text) <= 30 else text[:12] + "…"


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else "unreadable"


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"
