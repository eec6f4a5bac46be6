"""Lazy public faces: a package's names import their defining module on first use.

Each stage package lists ``name → module`` once and gets its ``__getattr__`` and
``__dir__`` (PEP 562) from here, so ``from gpuplan.memory import estimate``
loads only the estimator, and ``import gpuplan`` costs nothing. Standard
library only: ``gpuplan.launch.runtime`` must import without gpuplan's
dependencies.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, home: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose public names live in ``home``."""

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(home))

    return __getattr__, __dir__
