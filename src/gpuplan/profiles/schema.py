"""The JSON Schema of a profile file, generated from the model.

The model is the single source of truth; ``docs/deployment_profile.schema.json``
is this function's output, checked in for editors and other tools, and a test
fails when the two differ (regenerate with
``gpuplan profile schema > docs/deployment_profile.schema.json``).
"""

from __future__ import annotations

import json
from typing import Any

from gpuplan.profiles.model import DeploymentProfile

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def profile_json_schema() -> dict[str, Any]:
    """JSON Schema (2020-12) for one profile file."""
    schema = DeploymentProfile.model_json_schema(mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def schema_text() -> str:
    """The schema as the checked-in file holds it: 2-space indent, trailing newline."""
    return json.dumps(profile_json_schema(), indent=2, ensure_ascii=False) + "\n"
