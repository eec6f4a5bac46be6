"""The one reader every user file goes through refuses what would crash or hang a caller."""

from __future__ import annotations

import contextlib
import json
import resource
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuplan.documents import (
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    DocumentReadError,
    DocumentSyntaxError,
    parse_document,
    read_document,
    read_text,
)

SELF_ALIAS = "engine: { x: &a [*a] }\n"


def alias_bomb(levels: int = 12) -> str:
    """The classic 'billion laughs': each anchor repeats the one before ten times."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_a_self_referring_alias_is_refused() -> None:
    with pytest.raises(DocumentSyntaxError, match="contains itself") as caught:
        parse_document(SELF_ALIAS, "yaml")
    assert caught.value.fix and "alias" in caught.value.fix


def test_an_alias_bomb_is_refused_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(DocumentSyntaxError, match="aliases are expanded"):
        parse_document(alias_bomb(), "yaml")
    assert time.monotonic() - started < 10


def test_ordinary_aliases_still_work() -> None:
    data = parse_document("base: &b {x: 1}\nother: *b\n", "yaml")
    assert data == {"base": {"x": 1}, "other": {"x": 1}}


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_deep_nesting_is_refused(fmt: str) -> None:
    deep = "[" * 5000 + "]" * 5000
    with pytest.raises(DocumentSyntaxError, match="nested deeper"):
        parse_document(deep, fmt)  # type: ignore[arg-type]
    shallow = "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2)
    with pytest.raises(DocumentSyntaxError, match="nested deeper"):
        parse_document(shallow, fmt)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "fmt", "words"),
    [
        ('{"x": NaN}', "json", "finite"),
        ('{"x": Infinity}', "json", "finite"),
        ("x: .inf\n", "yaml", "finite"),
        ("x = nan\n", "toml", "finite"),
        ('{"x": ' + "9" * 30 + "}", "json", "too large"),
        ('{"x": ' + "9" * 5000 + "}", "json", "digits"),
        ("x: " + "9" * 5000 + "\n", "yaml", "digits"),
    ],
)
def test_numbers_must_be_finite_and_sane(text: str, fmt: str, words: str) -> None:
    with pytest.raises(DocumentSyntaxError, match=words):
        parse_document(text, fmt)  # type: ignore[arg-type]


def test_files_that_are_not_regular_files_say_so(tmp_path: Path) -> None:
    for device in ("/dev/null", "/dev/zero"):
        with pytest.raises(DocumentReadError, match="not a regular file"):
            read_text(Path(device))
    with pytest.raises(DocumentReadError, match="does not exist"):
        read_text(tmp_path / "missing.json")
    with pytest.raises(DocumentReadError, match="is a directory"):
        read_text(tmp_path)


def test_huge_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("x: 1\n" * (MAX_DOCUMENT_BYTES // 5 + 10))
    with pytest.raises(DocumentReadError, match="larger than 4 MiB"):
        read_document(big)
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(DocumentReadError, match="not UTF-8") as caught:
        read_document(latin)
    assert caught.value.hint == "save it again as UTF-8"


# -- fuzz: a result or DocumentSyntaxError, fast and small ----------------------------------------

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
_TREES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)
_YAML_BITS = st.sampled_from(
    ["&a ", "*a", "[", "]", "{", "}", ": ", "- ", "\n", "  ", "x", "1e999", ".nan", "!!int ",
     "<<: *a", "'", '"', ",", "#", "---\n", "&b [*b]", "9" * 40]
)  # fmt: skip


def _bounded(call: object) -> None:
    """Run ``call``: it returns or raises DocumentSyntaxError within 5 s and 200 MiB.

    The bound is generous (a loaded 2-core CI machine); a hang or a bomb breaks it by far.
    """
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with contextlib.suppress(DocumentSyntaxError):
        call()  # type: ignore[operator]
    assert time.monotonic() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_YAML_BITS, max_size=40).map("".join))
def test_fuzz_yaml_fragments(text: str) -> None:
    _bounded(lambda: parse_document(text, "yaml"))


@settings(max_examples=100, deadline=None)
@given(_TREES)
def test_fuzz_json_trees(tree: object) -> None:
    try:
        text = json.dumps(tree, allow_nan=True)
    except ValueError:
        return
    _bounded(lambda: parse_document(text, "json"))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["json", "toml", "yaml"]))
def test_fuzz_any_text(text: str, fmt: str) -> None:
    _bounded(lambda: parse_document(text, fmt))  # type: ignore[arg-type]
