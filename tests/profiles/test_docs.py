"""docs/profiles.md stays true: every field is documented and the examples resolve as shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuplan.profiles import resolve
from gpuplan.profiles.model import ENGINE_FIELDS, PROFILE_FIELDS
from gpuplan.profiles.resolve import CHOICE_ORDER

DOC = (Path(__file__).resolve().parents[2] / "docs" / "profiles.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("field", PROFILE_FIELDS + ENGINE_FIELDS)
def test_every_field_is_documented(field):
    assert f"`{field}`" in DOC


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("H100-80GB", "dynamic_77gb"),
        ("A100-80GB", "dynamic_78gb"),
        ("H200", "dynamic_138gb"),
        ("MI300X", "dynamic_189gb"),
        ("8x H100-80GB", "dynamic_621gb"),
        ("2x RTX 4090", "dynamic_43gb"),
        ("GTX 1080 Ti", "dynamic_9gb"),
        ("RTX A400, RTX A5500", "dynamic_21gb"),
    ],
)
def test_documented_dynamic_profiles(host, builtins, spec, name):
    assert f"`{name}`" in DOC
    assert resolve(host(spec), builtins).name == name


def test_documented_precedence_matches_the_code():
    assert "CHOICE_ORDER" in DOC and len(CHOICE_ORDER) == 4
    assert "GPUPLAN_DEPLOYMENT_PROFILE" in DOC
