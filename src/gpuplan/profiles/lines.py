"""Where each key of a profile file sits: key path → 1-based line number.

Provenance names the file *and line* a value came from, but ``tomllib`` and
``json`` forget positions. YAML keeps them (``yaml.compose`` marks every node), so
YAML lines are exact. For TOML and JSON the text is scanned once:

* TOML: table headers (``[a.b]``, ``[[a]]``) set the current table; each
  ``key = value`` line (dotted keys too) gives ``table + key``; keys inside a
  one-line inline table (``engine = { device = "cpu" }``) share that line. A
  ``key =`` inside a multi-line string would be mistaken for a key; the first
  occurrence of a path wins, so a real key earlier in the file is still right.
* JSON: a small tokenizer walks strings, braces and brackets and records each
  object key with its nesting path, so nested keys of the same name are told apart.

A path that cannot be found has no line; provenance then names only the file.
"""

from __future__ import annotations

import json
import re

import yaml

from gpuplan.documents import Format

KeyPath = tuple[str, ...]

_BARE = r"[A-Za-z0-9_-]+"
_KEY = rf'(?:{_BARE}|"[^"]*"|\'[^\']*\')'
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=")
_INLINE_KEY = re.compile(rf"[{{,]\s*({_DOTTED})\s*=")


def key_lines(text: str, fmt: Format) -> dict[KeyPath, int]:
    """Map every key path in ``text`` to the line it is written on."""
    if fmt == "toml":
        return toml_key_lines(text)
    if fmt == "json":
        return json_key_lines(text)
    return yaml_key_lines(text)


def _split_dotted(dotted: str) -> KeyPath:
    parts = re.findall(_KEY, dotted)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def toml_key_lines(text: str) -> dict[KeyPath, int]:
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_dotted(header.group(1))
            for depth in range(1, len(table) + 1):
                lines.setdefault(table[:depth], number)
            continue
        assign = _ASSIGN.match(line)
        if not assign:
            continue
        key = table + _split_dotted(assign.group(1))
        for depth in range(len(table) + 1, len(key) + 1):
            lines.setdefault(key[:depth], number)
        rest = line[assign.end() :]
        if rest.lstrip().startswith("{"):
            for inner in _INLINE_KEY.finditer(rest):
                lines.setdefault(key + _split_dotted(inner.group(1)), number)
    return lines


def json_key_lines(text: str) -> dict[KeyPath, int]:
    lines: dict[KeyPath, int] = {}
    # Each open container: (is_array, key it is the value of). A key may be any
    # string, even "[]", so arrays are marked by the flag, never by a key value.
    stack: list[tuple[bool, str | None]] = []
    pending: str | None = None  # last key read, waiting for its value
    line, i, n = 1, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch == '"':
            start_line = line
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            raw = text[i + 1 : j]
            k = j + 1
            while k < n and text[k] in " \t\r\n":
                k += 1
            if k < n and text[k] == ":" and (not stack or not stack[-1][0]):
                key = _unescape(raw)
                path = (
                    *(name for is_array, name in stack if not is_array and name is not None),
                    key,
                )
                lines.setdefault(path, start_line)
                pending = key
            i = j
        elif ch == "{":
            stack.append((False, pending))
            pending = None
        elif ch == "[":
            stack.append((True, None))
            pending = None
        elif ch in "}]":
            if stack:
                stack.pop()
            pending = None
        elif ch == ",":
            pending = None
        i += 1
    return lines


def _unescape(raw: str) -> str:
    if "\\" not in raw:
        return raw
    try:
        value = json.loads(f'"{raw}"')
    except ValueError:
        return raw
    return value if isinstance(value, str) else raw


def yaml_key_lines(text: str) -> dict[KeyPath, int]:
    lines: dict[KeyPath, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines

    def walk(node: yaml.Node, path: KeyPath) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key = (*path, str(key_node.value))
                    lines.setdefault(key, key_node.start_mark.line + 1)
                    walk(value_node, key)

    if root is not None:
        walk(root, ())
    return lines
