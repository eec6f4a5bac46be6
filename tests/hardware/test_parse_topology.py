"""`nvidia-smi topo -m`: NVLink groups for tensor-parallel sets.

Written in nvidia-smi's layout (tab-separated, underlined header, NIC columns and
rows, the legend after a blank line): an eight-GPU NVSwitch board (NV18 between
every pair, as HGX H100 systems report), four workstation cards with two NVLink
bridges (NV4 pairs), and a PCIe-only box. Not captures from real machines: no
`topo -m` capture is in shared/data yet.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpuplan.errors import ToolOutputError
from gpuplan.hardware.parse.nvidia_topo import parse_topology

HGX = "\n".join(
    [
        "\x1b[4mGPU0\tGPU1\tGPU2\tGPU3\tGPU4\tGPU5\tGPU6\tGPU7\tNIC0\tNIC1\tCPU Affinity"
        "\tNUMA Affinity\tGPU NUMA ID\x1b[0m",
        *(
            f"GPU{i}\t"
            + "\t".join("X" if j == i else "NV18" for j in range(8))
            + ("\tPXB\tSYS\t0-55,112-167\t0\t\tN/A" if i < 4 else "\tSYS\tPXB\t56-111\t1\t\tN/A")
            for i in range(8)
        ),
        "NIC0\tPXB\tPXB\tPXB\tPXB\tSYS\tSYS\tSYS\tSYS\t X \tSYS",
        "",
        "Legend:",
        "",
        "  X    = Self",
        "  NV#  = Connection traversing a bonded set of # NVLinks",
    ]
)

BRIDGED = """\
        GPU0    GPU1    GPU2    GPU3    CPU Affinity    NUMA Affinity   GPU NUMA ID
GPU0     X      NV4     SYS     SYS     0-31    0               N/A
GPU1    NV4      X      SYS     SYS     0-31    0               N/A
GPU2    SYS     SYS      X      NV4     32-63   1               N/A
GPU3    SYS     SYS     NV4      X      32-63   1               N/A

Legend:
"""

PCIE = """\
        GPU0    GPU1    CPU Affinity    NUMA Affinity
GPU0     X      PHB     0-15    0
GPU1    PHB      X      0-15    0
"""


def test_nvswitch_board_is_one_group() -> None:
    assert parse_topology(HGX) == ((0, 1, 2, 3, 4, 5, 6, 7),)


def test_bridged_pairs_are_separate_groups() -> None:
    assert parse_topology(BRIDGED) == ((0, 1), (2, 3))


def test_pcie_only_has_no_groups() -> None:
    assert parse_topology(PCIE) == ()


@pytest.mark.parametrize("text", ["", "No devices were found", "GPU0 GPU1\n\nLegend:"])
def test_garbage_is_a_tool_output_error(text: str) -> None:
    with pytest.raises(ToolOutputError):
        parse_topology(text)


@given(st.text(max_size=300))
def test_any_text_parses_or_raises_tool_output_error(text: str) -> None:
    try:
        groups = parse_topology(text)
    except ToolOutputError:
        return
    assert all(len(g) > 1 and list(g) == sorted(g) for g in groups)
