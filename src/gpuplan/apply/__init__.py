"""Apply stage: make a configuration so — diff, override file, recreate, roll back.

``Applier`` is the one entry point (CLI ``gpuplan apply|rollback`` and the HTTP
``…/apply`` both use it); ``diff_configs`` is the pure diff it plans with.
Importing it imports the store (SQLAlchemy): commands import it inside functions.
"""

from __future__ import annotations

from gpuplan.apply.diff import diff_configs
from gpuplan.apply.engine import Applier, ApplyPlan, Target, default_files
from gpuplan.apply.model import ApplyResult, ConfigDiff, ServiceChange
from gpuplan.apply.runtime import detect_runtime

__all__ = [
    "Applier",
    "ApplyPlan",
    "ApplyResult",
    "ConfigDiff",
    "ServiceChange",
    "Target",
    "default_files",
    "detect_runtime",
    "diff_configs",
]
