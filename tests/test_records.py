"""Plain-dataclass records (gpuplan.records) hold the same rules as their pydantic validation.

Direct construction (parsers, the catalog) and ``model_validate`` (files, API
bodies) must accept and refuse the same values, or a parser could build a host
that its own saved file would not load.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gpuplan.hardware.catalog import load_catalog, parse_catalog
from gpuplan.hardware.model import GPU, MAX_GPU_MEMORY_MB, Host, MigDevice


def _outcome(build: Any) -> str:
    try:
        build()
    except ValidationError:
        return "refused"
    except ValueError:
        return "refused"
    return "accepted"


memory = st.one_of(
    st.none(),
    st.integers(-3, 3),
    st.integers(MAX_GPU_MEMORY_MB - 3, MAX_GPU_MEMORY_MB + 3),
    st.integers(0, 200_000),
)


@settings(max_examples=300, deadline=None)
@given(
    index=st.integers(-2, 4100),
    total=memory,
    free=memory,
    used=memory,
    name=st.text(max_size=3) | st.just("x" * 201),
    capability=st.sampled_from([None, "8.9", "12.0", "595.84", "8", ""]),
)
def test_direct_and_validated_gpus_agree(
    index: int, total: int | None, free: int | None, used: int | None, name: str, capability: Any
) -> None:
    fields = {
        "index": index,
        "name": name,
        "vram_total_mb": total,
        "vram_free_mb": free,
        "vram_used_mb": used,
        "compute_capability": capability,
    }
    assert _outcome(lambda: GPU(**fields)) == _outcome(lambda: GPU.model_validate(fields))


@pytest.mark.parametrize("bad", [True, 2.5, -1, 1 << 21])
def test_headroom_must_be_a_whole_number_in_range(bad: object) -> None:
    with pytest.raises(ValueError, match="headroom_mb_per_gpu"):
        Host(source="declared", headroom_mb_per_gpu=bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Host.model_validate({"source": "declared", "headroom_mb_per_gpu": bad})


def test_lists_become_tuples_and_records_stay_hashable() -> None:
    mig = MigDevice(index=0, vram_total_mb=10_000)
    gpu = GPU(index=0, name="H100", vram_total_mb=81_559, mig_devices=[mig])  # type: ignore[arg-type]
    host = Host(source="declared", gpus=[gpu], nvlink_groups=[[0]])  # type: ignore[arg-type]
    assert host.gpus == (gpu,) and gpu.mig_devices == (mig,) and host.nvlink_groups == ((0,),)
    assert hash(host) == hash(
        Host.model_validate(host.model_dump(exclude={"total_usable_vram_mb"}))
    )


def test_copies_are_checked_like_new_records() -> None:
    gpu = GPU(index=0, name="RTX 4090", vram_total_mb=24_564)
    with pytest.raises(ValueError, match="vram_free_mb 30000 is more than vram_total_mb"):
        gpu.model_copy(update={"vram_free_mb": 30_000})


def test_usable_total_follows_a_copy() -> None:
    host = Host(source="declared", gpus=(GPU(index=0, name="RTX 4090", vram_total_mb=24_564),))
    assert host.total_usable_vram_mb == 22_516
    assert host.model_copy(update={"headroom_mb_per_gpu": 0}).total_usable_vram_mb == 24_564
    assert host.model_dump(mode="json")["total_usable_vram_mb"] == 22_516


def test_json_schema_carries_descriptions_and_bounds() -> None:
    schema = GPU.model_json_schema()
    index = schema["properties"]["index"]
    assert index["maximum"] == 4095 and index["description"].startswith("Device index")
    assert schema["additionalProperties"] is False


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        GPU.model_validate({"index": 0, "name": "x", "vram": 1})
    with pytest.raises(TypeError):
        GPU(index=0, name="x", vram=1)  # type: ignore[call-arg]


def test_packaged_catalog_passes_full_validation() -> None:
    """load_catalog builds entries without pydantic; the full check must agree on every one."""
    text = (resources.files("gpuplan.hardware") / "data" / "gpus.toml").read_text(encoding="utf-8")
    assert parse_catalog(text).entries == load_catalog().entries
