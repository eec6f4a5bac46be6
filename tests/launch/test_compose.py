"""The Compose override in seed 004's shape, parsed back as Compose would read it."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from gpuplan.launch.compose import HEADER, budget_gb, render_override
from gpuplan.placement.model import Assignment


def _a(service: str, gpus: tuple[int, ...], mb: int = 1000, **kw: object) -> Assignment:
    return Assignment(service=service, gpu_indices=gpus, vram_budget_mb=mb, reason="test", **kw)


def test_seed_004_example() -> None:
    """The seed's two services: ai-llm on GPU 0, ai-enrichment on GPU 1 with 3.5 GB."""
    text = render_override(
        [_a("ai-llm", (0,), 22221), _a("ai-enrichment", (1,), 3584, budget_adjusted=True)]
    )
    assert text.startswith(HEADER)
    assert yaml.safe_load(text) == {
        "services": {
            "ai-llm": {
                "deploy": {
                    "resources": {
                        "reservations": {
                            "devices": [
                                {"driver": "nvidia", "device_ids": ["0"], "capabilities": ["gpu"]}
                            ]
                        }
                    }
                }
            },
            "ai-enrichment": {
                "deploy": {
                    "resources": {
                        "reservations": {
                            "devices": [
                                {"driver": "nvidia", "device_ids": ["1"], "capabilities": ["gpu"]}
                            ]
                        }
                    }
                },
                "environment": ["VRAM_BUDGET_GB=3.5"],
            },
        }
    }


def test_device_ids_are_strings_even_for_tensor_parallel_and_mig() -> None:
    doc = yaml.safe_load(render_override([_a("tp", (0, 1)), _a("slice", (2,), mig_device=1)]))
    tp = doc["services"]["tp"]["deploy"]["resources"]["reservations"]["devices"][0]
    mig = doc["services"]["slice"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert tp["device_ids"] == ["0", "1"]
    assert mig["device_ids"] == ["2:1"]


def test_user_override_sets_budget_env_and_others_do_not() -> None:
    doc = yaml.safe_load(render_override([_a("a", (0,), 5120), _a("b", (0,))], overridden={"a"}))
    assert doc["services"]["a"]["environment"] == ["VRAM_BUDGET_GB=5.0"]
    assert "environment" not in doc["services"]["b"]


def test_amd_gets_rocm_device_mapping() -> None:
    doc = yaml.safe_load(render_override([_a("rocm", (1,))], vendors={1: "amd"}))
    block = doc["services"]["rocm"]
    assert block["devices"] == ["/dev/kfd", "/dev/dri"]
    assert block["group_add"] == ["video", "render"]
    assert block["environment"] == ["ROCR_VISIBLE_DEVICES=1"]
    assert "deploy" not in block


def test_cpu_services_are_left_to_the_base_file() -> None:
    assert yaml.safe_load(render_override([_a("cpu", ())])) == {"services": {}}


def test_budget_gb_rounds_like_the_seed() -> None:
    assert budget_gb(3584) == 3.5
    assert budget_gb(6963) == 6.8


@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z][a-z0-9_.-]{0,20}", fullmatch=True),
            st.lists(st.integers(0, 15), min_size=0, max_size=4, unique=True),
        ),
        unique_by=lambda t: t[0],
        max_size=8,
    )
)
def test_every_placed_service_reserves_exactly_its_gpus(items: list[tuple[str, list[int]]]) -> None:
    doc = yaml.safe_load(render_override([_a(name, tuple(gpus)) for name, gpus in items]))
    placed = {name: gpus for name, gpus in items if gpus}
    assert set(doc["services"]) == set(placed)
    for name, gpus in placed.items():
        devices = doc["services"][name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["device_ids"] == [str(g) for g in gpus]
