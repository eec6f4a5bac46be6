"""Which services must be recreated: the applied configuration against a new one.

A service is recreated when what its container sees changes — its GPUs, its MIG
slice, the budget in ``VRAM_BUDGET_GB`` — or when it leaves or joins the
configuration. Everything else keeps running: seed 004 recreates only what
changed.
"""

from __future__ import annotations

from gpuplan.apply.model import ConfigDiff, ServiceChange
from gpuplan.store.model import GpuConfig, ServiceConfig

__all__ = ["diff_configs"]

_UNPLACED = ServiceConfig(service="-")


def diff_configs(current: GpuConfig | None, new: GpuConfig) -> ConfigDiff:
    """Changed and unchanged services, in the new configuration's order, then removed ones.

    ``current`` None means nothing was ever applied: the containers run as the
    base Compose file says, which is the same as every service being unplaced.
    """
    before = current.by_name() if current else {}
    after = new.by_name()
    changed: list[ServiceChange] = []
    unchanged: list[str] = []
    for name in [*after, *(n for n in before if n not in after)]:
        old, fresh = before.get(name), after.get(name)
        old_key = (old or _UNPLACED).placement_key()
        new_key = (fresh or _UNPLACED).placement_key()
        if old_key == new_key:
            unchanged.append(name)
        else:
            changed.append(ServiceChange(service=name, before=old, after=fresh))
    return ConfigDiff(changed=tuple(changed), unchanged=tuple(unchanged))
