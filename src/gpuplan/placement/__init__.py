"""Placement stage: which GPU (or GPUs) each service goes on, and why.

``place(services, host, strategy=…)`` answers with a ``Placement`` (seed 004's
five strategies, warnings and budget auto-adjustment); ``load_services`` reads a
services file. ``packs``/``assign`` are the exact packing check selection uses
to stay honest on several GPUs.
"""

from gpuplan.placement.model import STRATEGIES, Assignment, GpuFill, Placement, Service, Strategy
from gpuplan.placement.packing import Demand, assign, packs
from gpuplan.placement.place import place

__all__ = [
    "STRATEGIES",
    "Assignment",
    "Demand",
    "GpuFill",
    "Placement",
    "Service",
    "Strategy",
    "assign",
    "packs",
    "place",
]
