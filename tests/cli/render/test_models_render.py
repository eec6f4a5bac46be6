"""The model renderers on a fixed-width console: the facts a user acts on are on screen."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console, RenderableType

from gpuplan.cli.render.models import (
    policy_line,
    render_explanation,
    render_fit,
    render_joint,
    render_selection,
)
from gpuplan.selection.fit import fit_registry
from gpuplan.selection.joint import select_joint
from gpuplan.selection.policy import SelectionPolicy
from gpuplan.selection.select import RoleSelector
from tests.models.seed_registry import (
    BALANCED_24GB,
    CONSTRAINED_16GB,
    DEVELOPMENT,
    seed_candidates,
    seed_registry,
)


def text(renderable: RenderableType, width: int = 120) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_policy_line() -> None:
    assert policy_line(CONSTRAINED_16GB) == (
        "Profile constrained_16gb: budget 14,000 MiB, 1 model(s) at once, bias vram_efficient, "
        "preferred quantizations: q4_k_m, fp8, awq, q5_k_m, q8_0"
    )


def test_selection_table_and_empty_result(tmp_path: Path) -> None:
    selector = RoleSelector(seed_candidates(tmp_path), CONSTRAINED_16GB)
    out = text(render_selection("keywords", selector.select_for_role("keywords"), CONSTRAINED_16GB))
    for fact in ("Florence-2 Large", "florence-2-large", "3,500", "95", "Qwen2.5-VL", "6,400"):
        assert fact in out
    empty = text(render_selection("chat", [], SelectionPolicy(max_vram_mb=100)))
    assert "No model serves 'chat' within 100 MiB" in empty


def test_explanation(tmp_path: Path) -> None:
    selector = RoleSelector(seed_candidates(tmp_path), DEVELOPMENT)
    out = text(render_explanation(selector.explain_selection("description", "qwen3-vl")))
    assert "qwen3-vl for 'description': rejected" in out
    assert "10600 MiB > max_vram_mb 10000 MiB" in out
    assert "17,800" in out  # the BF16 variant's row


def test_joint(tmp_path: Path) -> None:
    result = select_joint(
        seed_candidates(tmp_path), ["description", "caption", "embedding"], BALANCED_24GB
    )
    out = text(render_joint(result, BALANCED_24GB))
    assert "2 model(s) loaded, 13,200 of 22,000 MiB; summed priority 270" in out
    assert "Dropped alternatives:" in out and "max_concurrent_models is 2" in out
    assert "description" in out.split("Dropped")[0]  # shared-with column


def test_fit_table_hides_misfits_unless_asked(tmp_path: Path) -> None:
    rows = fit_registry(seed_registry(tmp_path), [14000])
    out = text(render_fit(rows, title="t", show_all=False))
    assert "florence-2-large" in out and "llama-70b" not in out
    assert "of 10 variants fit. --all lists the others" in out
    everything = text(render_fit(rows, title="t", show_all=True))
    assert "✗ llama-70b" in everything
