"""The checked-in JSON Schema is the model's, and every built-in fits it."""

from __future__ import annotations

import json
from pathlib import Path

from gpuplan.profiles.schema import profile_json_schema, schema_text

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_checked_in_schema_is_current():
    path = DOCS / "deployment_profile.schema.json"
    assert path.read_text(encoding="utf-8") == schema_text(), (
        "docs/deployment_profile.schema.json is stale; regenerate it with "
        "`gpuplan profile schema > docs/deployment_profile.schema.json`"
    )


def test_schema_lists_every_seed_field():
    properties = profile_json_schema()["properties"]
    seed_000 = {
        "description", "max_vram_mb", "max_concurrent_models", "preferred_quantizations",
        "strategy", "autostart_timeout_seconds", "grace_period_seconds",
        "model_selection_bias", "gpu_count", "tensor_parallel_threshold_mb",
    }  # fmt: skip
    seed_002 = {"profile", "category", "description", "engine"}
    assert seed_000 | seed_002 | {"headroom_mb"} == set(properties)


def test_unknown_top_level_keys_are_forbidden_but_engine_keys_allowed():
    schema = profile_json_schema()
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["EngineSettings"]["additionalProperties"] is True


def test_every_field_has_a_description():
    schema = profile_json_schema()
    for block in (schema["properties"], schema["$defs"]["EngineSettings"]["properties"]):
        for name, spec in block.items():
            assert spec.get("description"), name
    json.dumps(schema)  # serialisable
