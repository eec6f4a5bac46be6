"""gpuplan.tuning's public face: exactly ``__all__``, and no heavy import behind it."""

from __future__ import annotations

import subprocess
import sys

import gpuplan.tuning as tuning


def test_all_names_resolve_and_are_sorted() -> None:
    assert tuning.__all__ == sorted(tuning.__all__, key=lambda n: (not n.isupper(), n))
    for name in tuning.__all__:
        assert getattr(tuning, name) is not None, name


def test_importing_tuning_loads_no_heavy_library() -> None:
    code = (
        "import sys, gpuplan.tuning, gpuplan.cli.tune; "
        "print(sorted(m for m in ('optuna', 'matplotlib', 'httpx', 'numpy', 'sqlalchemy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
