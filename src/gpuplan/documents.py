"""One reader for the JSON, TOML and YAML files users hand gpuplan.

Hardware files, profiles and model registries all accept the same three
formats; parsing them here means one set of rules (suffix decides, UTF-8,
syntax errors located by line and column, absurd nesting refused) and each
caller only turns a ``DocumentSyntaxError`` into its own error with its own fix.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

__all__ = ["DocumentSyntaxError", "Format", "format_of", "parse_document"]

Format = Literal["json", "toml", "yaml"]

_SUFFIXES: dict[str, Format] = {".json": "json", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}


@dataclass(frozen=True)
class DocumentSyntaxError(Exception):
    """The text is not valid ``kind``; ``line``/``column`` are 1-based when known."""

    kind: str
    message: str
    line: int | None = None
    column: int | None = None

    @property
    def where(self) -> str:
        """' at line 3 column 7', or '' when the parser did not say."""
        if self.line is None:
            return ""
        return f" at line {self.line}" + (f" column {self.column}" if self.column else "")

    def __str__(self) -> str:
        return f"not valid {self.kind}{self.where}: {self.message}"


def format_of(path: Path) -> Format | None:
    """The format a file's suffix names, or None."""
    return _SUFFIXES.get(path.suffix.lower())


def parse_document(text: str, fmt: Format) -> object:
    """The data in ``text``; any syntax problem is a ``DocumentSyntaxError``."""
    try:
        if fmt == "json":
            return json.loads(text)
        if fmt == "toml":
            return tomllib.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as error:
        raise DocumentSyntaxError("JSON", error.msg, error.lineno, error.colno) from None
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        line, column = (int(found.group(1)), int(found.group(2))) if found else (None, None)
        raise DocumentSyntaxError("TOML", message, line, column) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise DocumentSyntaxError("YAML", str(problem), line, column) from None
    except RecursionError:
        raise DocumentSyntaxError(fmt.upper(), "nested too deeply") from None
