"""Placement stage: which GPU (or GPUs) each chosen model goes on.

For now it answers the question selection needs to stay honest on several
GPUs: can these models be placed at all? (``packs``). Strategies that choose
*where* (seed 004's VRAM-based, balanced, isolation, …) build on it.
"""

from gpuplan.placement.packing import Demand, assign, packs

__all__ = ["Demand", "assign", "packs"]
