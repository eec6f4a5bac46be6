"""docs/estimator.md stays true: its calibration tables are what the code computes
today, and every engine the estimator knows is documented."""

from __future__ import annotations

from gpuplan.memory.engines import ENGINES
from tests.conftest import REPO_ROOT
from tests.memory import calibration

DOC = REPO_ROOT / "docs" / "estimator.md"


def test_calibration_tables_are_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "<!-- calibration-table:start -->" in text
    assert calibration.render_doc(text) == text, (
        "docs/estimator.md is stale: run `python -m tests.memory.calibration --write`"
    )


def test_every_engine_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for profile in ENGINES.values():
        assert f"| {profile.label} |" in text, profile.label
