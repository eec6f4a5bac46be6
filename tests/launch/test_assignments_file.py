"""config/gpu-assignments.yml in seed 004's shape."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gpuplan.launch.assignments_file import HEADER, render_assignments_file
from gpuplan.placement.model import Assignment


def _a(service: str, gpus: tuple[int, ...], mb: int = 1000, **kw: object) -> Assignment:
    return Assignment(service=service, gpu_indices=gpus, vram_budget_mb=mb, reason="test", **kw)


def test_seed_004_example_line_for_line() -> None:
    text = render_assignments_file(
        "vram_based",
        [
            _a("ai-llm", (0,), 22221),
            _a("ai-yolo26", (0,), 650),
            _a("ai-enrichment", (1,), 3584, budget_adjusted=True),
        ],
        generated_at=datetime(2025, 1, 23, 10, 30, tzinfo=UTC),
    )
    assert text == (
        HEADER + "generated_at: '2025-01-23T10:30:00Z'\n"
        "strategy: vram_based\n"
        "assignments:\n"
        "  ai-llm: { gpu: 0, vram_budget: null }\n"
        "  ai-yolo26: { gpu: 0, vram_budget: null }\n"
        "  ai-enrichment: { gpu: 1, vram_budget: 3.5 }\n"
    )


def test_tensor_parallel_cpu_and_user_override() -> None:
    doc = yaml.safe_load(
        render_assignments_file(
            "manual", [_a("tp", (0, 1)), _a("cpu", ()), _a("o", (2,), 2048)], overridden={"o"}
        )
    )
    assert doc["assignments"] == {
        "tp": {"gpu": [0, 1], "vram_budget": None},
        "cpu": {"gpu": None, "vram_budget": None},
        "o": {"gpu": 2, "vram_budget": 2.0},
    }


@settings(max_examples=500)
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=20), st.integers(0, 64)),
        unique_by=lambda t: t[0],
        max_size=6,
    )
)
def test_any_service_name_round_trips(items: list[tuple[str, int]]) -> None:
    doc = yaml.safe_load(render_assignments_file("balanced", [_a(n, (g,)) for n, g in items]))
    assert doc["strategy"] == "balanced"
    assert {k: v["gpu"] for k, v in (doc["assignments"] or {}).items()} == dict(items)
