"""docs/registry.md stays true: its example parses, and it names every field and bound."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from gpuplan.memory.vram import variant_vram
from gpuplan.models.registry import BACKENDS, ROLES, ModelEntry, Variant, parse_registry_document

DOC = Path(__file__).resolve().parents[2] / "docs" / "registry.md"


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_example_is_a_valid_registry() -> None:
    block = re.search(r"```toml\n(.*?)```", doc_text(), re.S)
    assert block is not None
    entries = parse_registry_document(tomllib.loads(block[1]), origin="docs/registry.md")
    assert [e.id for e in entries] == ["my-llama-8b", "my-embedder"]
    llama, embedder = entries
    assert variant_vram(llama, llama.variants[0], 8192).source == "estimator"
    assert variant_vram(embedder, embedder.variants[0], None).source == "weights_only"


def _table_fields(heading: str) -> set[str]:
    section = doc_text().split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M))


def test_every_field_is_documented() -> None:
    assert _table_fields("Entry fields") == set(ModelEntry.model_fields)
    assert _table_fields("Variant fields") == set(Variant.model_fields)


def test_roles_backends_and_bounds_are_the_models() -> None:
    text = doc_text()
    assert all(f"`{role}`" in text for role in ROLES)
    assert all(f"`{backend}`" in text for backend in BACKENDS)
    for model in (ModelEntry, Variant):
        for field in model.model_fields.values():
            for bound in field.metadata:
                le = getattr(bound, "le", None)
                if le is not None:
                    assert f"{le:,.0f}" in text, (field, le)
