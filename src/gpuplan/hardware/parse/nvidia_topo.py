"""``nvidia-smi topo -m`` → the groups of GPUs joined by NVLink.

The matrix has one ``GPUn`` column per GPU (then NICs, "CPU Affinity", "NUMA
Affinity", …) and one row per GPU; a cell ``NV#`` means a bonded set of # NVLinks
between the two, anything else (``X``, ``PIX``, ``PXB``, ``PHB``, ``NODE``,
``SYS``) a path over PCIe. Tensor parallelism wants its GPUs on NVLink, so what
placement needs is the connected groups of that graph: with NVSwitch all eight
GPUs of an HGX board are one group; with bridges, each bridged pair is one.
The header may carry terminal escape codes (nvidia-smi underlines it); they are
dropped. Unreadable output raises ``ToolOutputError``.
"""

from __future__ import annotations

import re

from gpuplan.errors import ToolOutputError

__all__ = ["parse_topology"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_GPU = re.compile(r"^GPU(\d+)$")
_NVLINK = re.compile(r"^NV\d+$")


def parse_topology(text: str) -> tuple[tuple[int, ...], ...]:
    """NVLink groups (GPU indices, ascending), largest first; () when no GPU has NVLink."""
    lines = [_ANSI.sub("", line).rstrip() for line in text.splitlines()]
    header_at = next((i for i, line in enumerate(lines) if line.split()[:1] == ["GPU0"]), None)
    if header_at is None:
        raise ToolOutputError(
            "nvidia-smi topo -m printed no GPU0 column",
            hint="run `nvidia-smi topo -m` and check that it lists the GPUs",
        )
    columns: list[int | None] = []
    for name in lines[header_at].split():
        match = _GPU.match(name)
        if match is None and not name.startswith(("NIC", "mlx", "NVS")):
            break  # "CPU Affinity" and what follows are not devices
        columns.append(int(match.group(1)) if match else None)
    parent: dict[int, int] = {}

    def find(a: int) -> int:
        while parent.setdefault(a, a) != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    rows = 0
    for line in lines[header_at + 1 :]:
        cells = line.split()
        if not cells or cells[0].startswith("Legend"):
            break
        row = _GPU.match(cells[0])
        if row is None:
            continue  # a NIC row
        rows += 1
        me = int(row.group(1))
        find(me)
        for other, cell in zip(columns, cells[1 : 1 + len(columns)], strict=False):
            if other is not None and other != me and _NVLINK.match(cell):
                parent[find(me)] = find(other)
    if rows == 0:
        raise ToolOutputError(
            "nvidia-smi topo -m printed a header but no GPU rows",
            hint="run `nvidia-smi topo -m` again; save its output to a file to report it",
        )
    groups: dict[int, list[int]] = {}
    for gpu in parent:
        groups.setdefault(find(gpu), []).append(gpu)
    linked = [tuple(sorted(g)) for g in groups.values() if len(g) > 1]
    return tuple(sorted(linked, key=lambda g: (-len(g), g)))
