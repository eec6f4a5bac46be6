"""The nvidia-smi parsers on every real recorded output, plus fuzzing.

The expected facts below were copied from the per-file tables of
``shared/data/hardware/INDEX.md`` (GPU count, name, memory per GPU, compute
capability, driver, MIG), not from running the parsers. Files are found by
glob, so a newly recorded file fails here until its facts are added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuplan.errors import ToolOutputError
from gpuplan.hardware.parse import (
    Inventory,
    is_placeholder,
    nvidia_csv,
    nvidia_list,
    nvidia_text,
    nvidia_xml,
)
from tests.conftest import HARDWARE_DATA

FILES = sorted(HARDWARE_DATA.glob("nvidia-smi-*"))

PARSERS: dict[str, Callable[[str], Inventory]] = {
    "nvidia-smi-csv_": nvidia_csv.parse,
    "nvidia-smi-L_": nvidia_list.parse,
    "nvidia-smi-xml_": nvidia_xml.parse,
    "nvidia-smi-q_": nvidia_text.parse,
}


@dataclass(frozen=True)
class Facts:
    """What INDEX.md says one recorded file holds.

    ``None`` means "INDEX.md says the output has no such value" and is checked,
    except ``cuda_version``, which INDEX.md gives only for ``-q`` files.
    """

    count: int
    name: str  # every recorded file holds one GPU model (INDEX.md: no mixed-model capture)
    vram_total_mb: int | None
    compute_capability: str | None = None
    driver_version: str | None = None
    cuda_version: str | None = None
    mig_mode: bool | None = None
    mig_devices: int = 0  # over all GPUs
    mig_profiles: tuple[str, ...] | None = None  # -L only, in output order
    mig_vram_total_mb: tuple[int, ...] | None = None  # -q / -q -x only
    columns: str | None = None  # header-less CSV: the --query-gpu list from INDEX.md


def _seq(*parts: tuple[str, int]) -> tuple[str, ...]:
    return tuple(profile for profile, times in parts for _ in range(times))


C1 = "590.48.01"
EXPECTED: dict[str, Facts] = {
    # --- nvidia-smi --query-gpu … --format=csv -------------------------------------------
    "nvidia-smi-csv_2x-l40s-lenovo_1.txt": Facts(2, "NVIDIA L40S", 46068, None, "595.71.05"),
    "nvidia-smi-csv_2x-quadro-rtx6000-noheader_1.txt": Facts(
        2,
        "Quadro RTX 6000",
        24576,
        None,
        "570.211.01",
        columns="name,memory.total,driver_version,pci.device_id",
    ),
    # Only mig.mode.current was queried: no name (the parsers' documented NO_NAME, "")
    # and no memory.
    "nvidia-smi-csv_a100-mig-mode-noheader_1.txt": Facts(
        1, "", None, mig_mode=True, columns="mig.mode.current"
    ),
    "nvidia-smi-csv_geforce930m-noheader_1.txt": Facts(
        1,
        "GeForce 930M",
        2002,
        columns="index,uuid,name,temperature.gpu,utilization.gpu,memory.used,memory.total,"
        "power.draw,clocks.sm,clocks.mem",
    ),
    "nvidia-smi-csv_h100-80gb-hbm3-mig_1.txt": Facts(
        1, "NVIDIA H100 80GB HBM3", 81559, "9.0", C1, mig_mode=True
    ),
    "nvidia-smi-csv_h100-80gb-hbm3-mig_2-load.txt": Facts(
        1, "NVIDIA H100 80GB HBM3", 81559, "9.0", C1, mig_mode=True
    ),
    "nvidia-smi-csv_h100-80gb-hbm3_1.txt": Facts(
        1, "NVIDIA H100 80GB HBM3", 81559, "9.0", C1, mig_mode=False
    ),
    "nvidia-smi-csv_h200_1.txt": Facts(1, "NVIDIA H200", 143771, "9.0", C1, mig_mode=False),
    "nvidia-smi-csv_l40s-aws-g6e-noheader_1.txt": Facts(
        1, "NVIDIA L40S", 46068, columns="name,pci.device_id,pci.bus_id,memory.total"
    ),
    "nvidia-smi-csv_l40s_1.txt": Facts(1, "NVIDIA L40S", 46068, "8.9", "595.80"),
    "nvidia-smi-csv_rtx-a5000-noheader_1.txt": Facts(
        1,
        "NVIDIA RTX A5000",
        24564,
        None,
        "570.211.01",
        columns="name,memory.total,driver_version,pci.device_id",
    ),
    "nvidia-smi-csv_rtx2080super-linux-drv595_1.txt": Facts(
        1, "NVIDIA GeForce RTX 2080 SUPER", 8192, "7.5", "595.71.05"
    ),
    "nvidia-smi-csv_rtx2080super-linux-drv610_1.txt": Facts(
        1, "NVIDIA GeForce RTX 2080 SUPER", 8192, "7.5", "610.57.04"
    ),
    "nvidia-smi-csv_rtx2080super-windows-drv610_1.txt": Facts(
        1, "NVIDIA GeForce RTX 2080 SUPER", 8192, "7.5", "610.62"
    ),
    "nvidia-smi-csv_rtx4080super_1.txt": Facts(
        1, "NVIDIA GeForce RTX 4080 SUPER", 16376, "8.9", "595.71.05"
    ),
    "nvidia-smi-csv_rtx4090_1.txt": Facts(1, "NVIDIA GeForce RTX 4090", 24564),
    "nvidia-smi-csv_rtx5060-laptop_1.txt": Facts(
        1, "NVIDIA GeForce RTX 5060 Laptop GPU", 8151, "12.0", "595.84"
    ),
    "nvidia-smi-csv_rtx5060ti-wsl2_1.txt": Facts(
        1, "NVIDIA GeForce RTX 5060 Ti", 16311, "12.0", "595.79"
    ),
    "nvidia-smi-csv_rtx5070ti_1.txt": Facts(
        1, "NVIDIA GeForce RTX 5070 Ti", 16303, "12.0", "610.43.02"
    ),
    # --- nvidia-smi -q -x ------------------------------------------------------------------
    "nvidia-smi-xml_2x-rtx-a5000.xml": Facts(2, "NVIDIA RTX A5000", 24564, None, "590.44.01"),
    "nvidia-smi-xml_2x-rtx2080.xml": Facts(2, "NVIDIA GeForce RTX 2080", 8192, None, "590.44.01"),
    "nvidia-smi-xml_a100-sxm4-40gb-mig.xml": Facts(
        1,
        "NVIDIA A100-SXM4-40GB",
        40960,
        None,
        "510.47.03",
        mig_mode=True,
        mig_devices=2,
        mig_vram_total_mb=(19968, 19968),
    ),
    "nvidia-smi-xml_a100-sxm4-80gb-mig-4x.xml": Facts(
        1,
        "NVIDIA A100-SXM4-80GB",
        81920,
        None,
        "535.54.03",
        mig_mode=True,
        mig_devices=4,
        mig_vram_total_mb=(19968, 19968, 19968, 19968),
    ),
    "nvidia-smi-xml_a10g.xml": Facts(1, "NVIDIA A10G", 23028, None, "515.105.01"),
    "nvidia-smi-xml_grid-p4-1q-vgpu.xml": Facts(1, "GRID P4-1Q", 1024, None, "513.46"),
    "nvidia-smi-xml_gtx1660ti-graphics-device.xml": Facts(
        1, "Graphics Device", 5912, None, "418.43"
    ),
    "nvidia-smi-xml_quadro-p2000.xml": Facts(1, "Quadro P2000", 5120, None, "525.125.06"),
    "nvidia-smi-xml_quadro-p400.xml": Facts(1, "Quadro P400", 1998, None, "418.43"),
    "nvidia-smi-xml_rtx-pro-6000-blackwell-maxq.xml": Facts(
        1, "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", 97887, None, "590.44.01"
    ),
    "nvidia-smi-xml_rtx2080-windows.xml": Facts(1, "NVIDIA GeForce RTX 2080", 8192, None, "516.59"),
    "nvidia-smi-xml_rtx3060-laptop.xml": Facts(
        1, "NVIDIA GeForce RTX 3060 Laptop GPU", 6144, None, "515.65.01"
    ),
    "nvidia-smi-xml_rtx3060.xml": Facts(1, "NVIDIA GeForce RTX 3060", 12288, None, "570.124.04"),
    "nvidia-smi-xml_rtx3080-drv595.xml": Facts(
        1, "NVIDIA GeForce RTX 3080", 10240, None, "595.58.03"
    ),
    "nvidia-smi-xml_rtx3080-windows-drv536.xml": Facts(
        1, "NVIDIA GeForce RTX 3080", 10240, None, "536.40"
    ),
    "nvidia-smi-xml_rtx3090.xml": Facts(1, "NVIDIA GeForce RTX 3090", 24576, None, "525.147.05"),
    "nvidia-smi-xml_rtx4000-sff-ada.xml": Facts(
        1, "NVIDIA RTX 4000 SFF Ada Generation", 20475, None, "595.84"
    ),
    "nvidia-smi-xml_rtx4090.xml": Facts(1, "NVIDIA GeForce RTX 4090", 24564, None, "535.86.05"),
    "nvidia-smi-xml_tesla-p100-pcie-16gb.xml": Facts(
        1, "Tesla P100-PCIE-16GB", 16384, None, "510.47.03"
    ),
    "nvidia-smi-xml_tesla-t4.xml": Facts(1, "Tesla T4", 15360, None, "515.105.01"),
    # --- nvidia-smi -q ---------------------------------------------------------------------
    "nvidia-smi-q_10x-a40.txt": Facts(10, "NVIDIA A40", 46068, None, "550.127.05", "12.4"),
    "nvidia-smi-q_2x-h100-nvl.txt": Facts(
        2, "NVIDIA H100 NVL", 95830, None, "550.54.14", "12.4", mig_mode=False
    ),
    "nvidia-smi-q_2x-rtx3090.txt": Facts(
        2, "NVIDIA GeForce RTX 3090", 24576, None, "560.35.03", "12.6"
    ),
    "nvidia-smi-q_2x-rtx4060ti-16gb.txt": Facts(
        2, "NVIDIA GeForce RTX 4060 Ti", 16380, None, "550.54.14", "12.4"
    ),
    "nvidia-smi-q_4x-a100-sxm4-80gb.txt": Facts(
        4, "NVIDIA A100-SXM4-80GB", 81920, None, "555.42.02", "12.5", mig_mode=False
    ),
    "nvidia-smi-q_8x-h100-80gb-hbm3.txt": Facts(
        8, "NVIDIA H100 80GB HBM3", 81559, None, "565.57.01", "12.7", mig_mode=False
    ),
    "nvidia-smi-q_8x-rtx4090.txt": Facts(
        8, "NVIDIA GeForce RTX 4090", 24564, None, "550.127.05", "12.4"
    ),
    "nvidia-smi-q_8x-rtx6000-ada.txt": Facts(
        8, "NVIDIA RTX 6000 Ada Generation", 49140, None, "550.127.05", "12.4"
    ),
    # INDEX.md gives "Enabled; 4 MIG devices"; the slice sizes were read off the raw file's
    # "Shared FB Memory Usage" blocks (quirk 13: they must not replace the GPU's 81559).
    "nvidia-smi-q_h100-80gb-hbm3-mig.txt": Facts(
        1,
        "NVIDIA H100 80GB HBM3",
        81559,
        None,
        "590.48.01",
        "13.1",
        mig_mode=True,
        mig_devices=4,
        mig_vram_total_mb=(40448, 20096, 9984, 9984),
    ),
    "nvidia-smi-q_l4.txt": Facts(1, "NVIDIA L4", 23034, None, "550.90.07", "12.4"),
    "nvidia-smi-q_l40s-drv550.txt": Facts(1, "NVIDIA L40S", 46068, None, "550.127.05", "12.4"),
    "nvidia-smi-q_rtx2000-ada.txt": Facts(
        1, "NVIDIA RTX 2000 Ada Generation", 16380, None, "550.54.15", "12.4"
    ),
    "nvidia-smi-q_rtx4000-ada.txt": Facts(
        1, "NVIDIA RTX 4000 Ada Generation", 20475, None, "550.90.07", "12.4"
    ),
    # --- nvidia-smi -L (no memory, no driver; MIG mode known only when devices are listed) ---
    "nvidia-smi-L_2x-quadro-rtx4000.txt": Facts(2, "Quadro RTX 4000", None),
    "nvidia-smi-L_8x-h100-80gb-hbm3-mig-7x1g10gb.txt": Facts(
        8,
        "NVIDIA H100 80GB HBM3",
        None,
        mig_mode=True,
        mig_devices=56,
        mig_profiles=_seq(("1g.10gb", 56)),
    ),
    "nvidia-smi-L_a100-sxm4-40gb-mig-7x1g5gb-drv450.txt": Facts(
        1, "A100-SXM4-40GB", None, mig_mode=True, mig_devices=7, mig_profiles=_seq(("1g.5gb", 7))
    ),
    "nvidia-smi-L_a100-sxm4-40gb-mig-mixed-drv450.txt": Facts(
        1,
        "A100-SXM4-40GB",
        None,
        mig_mode=True,
        mig_devices=3,
        mig_profiles=("3g.20gb", "2g.10gb", "1g.5gb"),
    ),
    "nvidia-smi-L_a100-sxm4-40gb-nomig-drv450.txt": Facts(1, "A100-SXM4-40GB", None),
    "nvidia-smi-L_h100-80gb-hbm3-mig.txt": Facts(
        1,
        "NVIDIA H100 80GB HBM3",
        None,
        mig_mode=True,
        mig_devices=4,
        mig_profiles=_seq(("3g.40gb", 1), ("2g.20gb", 1), ("1g.10gb", 2)),
    ),
    "nvidia-smi-L_h100-80gb-hbm3.txt": Facts(1, "NVIDIA H100 80GB HBM3", None),
    "nvidia-smi-L_h100-gpuop-mig-7x1g10gb.txt": Facts(
        1,
        "NVIDIA H100 80GB HBM3",
        None,
        mig_mode=True,
        mig_devices=7,
        mig_profiles=_seq(("1g.10gb", 7)),
    ),
    "nvidia-smi-L_h100-gpuop-mig-balanced.txt": Facts(
        1,
        "NVIDIA H100 80GB HBM3",
        None,
        mig_mode=True,
        mig_devices=4,
        mig_profiles=_seq(("3g.40gb", 1), ("2g.20gb", 1), ("1g.10gb", 2)),
    ),
    "nvidia-smi-L_h200.txt": Facts(1, "NVIDIA H200", None),
    "nvidia-smi-L_l40s.txt": Facts(1, "NVIDIA L40S", None),
    "nvidia-smi-L_rtx2080super-linux-drv595.txt": Facts(1, "NVIDIA GeForce RTX 2080 SUPER", None),
    "nvidia-smi-L_rtx4080super.txt": Facts(1, "NVIDIA GeForce RTX 4080 SUPER", None),
}


def _parser_for(path: Path) -> Callable[[str], Inventory]:
    for prefix, parser in PARSERS.items():
        if path.name.startswith(prefix):
            return parser
    raise AssertionError(f"{path.name}: no nvidia-smi parser for this file name prefix")


def _parse_recorded(path: Path, text: str | None = None) -> Inventory:
    text = path.read_text(encoding="utf-8") if text is None else text
    facts = EXPECTED.get(path.name)
    if path.name.startswith("nvidia-smi-csv_") and facts is not None and facts.columns:
        return nvidia_csv.parse(text, facts.columns.split(","))
    return _parser_for(path)(text)


def test_recorded_files_exist() -> None:
    assert len(FILES) >= 60, f"expected the recorded nvidia-smi files in {HARDWARE_DATA}"


def test_no_stale_expected_facts() -> None:
    on_disk = {path.name for path in FILES}
    assert sorted(set(EXPECTED) - on_disk) == [], "EXPECTED names files that no longer exist"


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_recorded_file_matches_index(path: Path) -> None:
    facts = EXPECTED.get(path.name)
    if facts is None:
        pytest.fail(
            f"{path.name} has no expected facts: add its row from INDEX.md to EXPECTED "
            "in tests/hardware/test_parse_nvidia.py"
        )
    inventory = _parse_recorded(path)
    gpus = inventory.gpus

    assert len(gpus) == facts.count
    assert [gpu.index for gpu in gpus] == list(range(facts.count))
    assert {gpu.vendor for gpu in gpus} == {"nvidia"}
    assert [gpu.name for gpu in gpus] == [facts.name] * facts.count
    assert [gpu.vram_total_mb for gpu in gpus] == [facts.vram_total_mb] * facts.count
    assert [gpu.compute_capability for gpu in gpus] == [facts.compute_capability] * facts.count
    assert [gpu.mig_mode for gpu in gpus] == [facts.mig_mode] * facts.count
    assert inventory.driver_version == facts.driver_version
    if facts.cuda_version is not None:
        assert inventory.cuda_version == facts.cuda_version

    mig = [device for gpu in gpus for device in gpu.mig_devices]
    assert len(mig) == facts.mig_devices
    if facts.mig_profiles is not None:
        assert tuple(device.profile for device in mig) == facts.mig_profiles
    if facts.mig_vram_total_mb is not None:
        assert tuple(device.vram_total_mb for device in mig) == facts.mig_vram_total_mb


# --- nvidia-smi --query-gpu CSV: quirks the recorded files do not all show ------------------

SEED_ROW_GB10 = "0, NVIDIA GB10, [N/A], [N/A], 12.1, GPU-00000000-0000-0000-0000-000000000000"


def test_csv_seed_fields_are_the_default_for_headerless_output() -> None:
    row = "1, NVIDIA GeForce RTX 4090, 24564 MiB, 24090 MiB, 8.9, GPU-1"
    gpu = nvidia_csv.parse(row).gpus[0]
    assert nvidia_csv.SEED_QUERY_FIELDS == (
        "index",
        "name",
        "memory.total",
        "memory.free",
        "compute_cap",
        "uuid",
    )
    assert (gpu.index, gpu.name, gpu.vram_total_mb, gpu.vram_free_mb) == (
        1,
        "NVIDIA GeForce RTX 4090",
        24564,
        24090,
    )
    assert (gpu.compute_capability, gpu.uuid) == ("8.9", "GPU-1")


def test_csv_nounits_and_crlf() -> None:
    text = "index, name, memory.total [MiB]\r\n0, Tesla T4, 15360\r\n"
    gpu = nvidia_csv.parse(text).gpus[0]
    assert (gpu.name, gpu.vram_total_mb) == ("Tesla T4", 15360)


def test_csv_unified_memory_gb10_has_no_vram_and_says_why() -> None:
    inventory = nvidia_csv.parse(SEED_ROW_GB10)
    gpu = inventory.gpus[0]
    assert gpu.vram_total_mb is None
    assert gpu.unified_memory is True
    assert gpu.compute_capability == "12.1"
    assert any("host RAM" in warning for warning in inventory.warnings)


def test_csv_missing_memory_on_a_discrete_gpu_is_none_with_a_warning() -> None:
    inventory = nvidia_csv.parse("0, Tesla T4, [Unknown Error], N/A, 7.5, GPU-1")
    assert inventory.gpus[0].vram_total_mb is None
    assert inventory.gpus[0].unified_memory is False
    assert any("no total memory" in warning for warning in inventory.warnings)


def test_csv_absurd_numbers_are_none_not_a_crash() -> None:
    inventory = nvidia_csv.parse(f"0, Tesla T4, {'9' * 400} MiB, 1 MiB, 7.5, GPU-1")
    assert inventory.gpus[0].vram_total_mb is None


@pytest.mark.parametrize(
    "placeholder",
    ["[N/A]", "N/A", "[Not Supported]", "[Insufficient Permissions]", "[Function Not Found]"],
)
def test_csv_placeholders_become_none(placeholder: str) -> None:
    text = f"name, pci.bus_id, mig.mode.current, uuid\nTesla T4, {placeholder}, {placeholder}, x"
    gpu = nvidia_csv.parse(text).gpus[0]
    assert (gpu.pci_bus_id, gpu.mig_mode) == (None, None)


def test_csv_name_with_commas_takes_the_surplus_cells() -> None:
    text = "0, NVIDIA RTX PRO 6000, Blackwell, Server Edition, 97887 MiB, 97000 MiB, 12.0, GPU-9"
    gpu = nvidia_csv.parse(text).gpus[0]
    assert gpu.name == "NVIDIA RTX PRO 6000, Blackwell, Server Edition"
    assert (gpu.vram_total_mb, gpu.compute_capability, gpu.uuid) == (97887, "12.0", "GPU-9")


def test_csv_one_header_per_node_from_srun() -> None:
    """Quirk 8, built from two real single-GPU captures whose headers even differ."""
    first = (HARDWARE_DATA / "nvidia-smi-csv_rtx5060-laptop_1.txt").read_text(encoding="utf-8")
    second = (HARDWARE_DATA / "nvidia-smi-csv_rtx5070ti_1.txt").read_text(encoding="utf-8")
    inventory = nvidia_csv.parse(first + second)
    assert [gpu.name for gpu in inventory.gpus] == [
        "NVIDIA GeForce RTX 5060 Laptop GPU",
        "NVIDIA GeForce RTX 5070 Ti",
    ]
    assert [gpu.vram_total_mb for gpu in inventory.gpus] == [8151, 16303]
    assert any("different driver versions" in warning for warning in inventory.warnings)


def test_csv_repeated_indices_from_several_nodes_are_kept_and_warned() -> None:
    node = "index, name, memory.total [MiB]\n0, NVIDIA GB10, [N/A]\n"
    inventory = nvidia_csv.parse(node * 4)
    assert [gpu.index for gpu in inventory.gpus] == [0, 0, 0, 0]
    assert any("more than one machine" in warning for warning in inventory.warnings)


def test_csv_one_node_without_gpus_does_not_hide_the_others() -> None:
    text = "No devices were found\nindex, name, memory.total [MiB]\n0, Tesla T4, 15360 MiB\n"
    inventory = nvidia_csv.parse(text)
    assert [gpu.name for gpu in inventory.gpus] == ["Tesla T4"]
    assert any("found no GPU" in warning for warning in inventory.warnings)


def test_csv_columns_may_be_the_query_string_and_use_aliases() -> None:
    gpu = nvidia_csv.parse("Tesla T4, GPU-1, 15360 MiB", "gpu_name,gpu_uuid,memory.total").gpus[0]
    assert (gpu.name, gpu.uuid, gpu.vram_total_mb) == ("Tesla T4", "GPU-1", 15360)


def test_csv_header_wins_over_given_columns() -> None:
    text = "name, memory.total [MiB]\nTesla T4, 15360 MiB"
    gpu = nvidia_csv.parse(text, ["memory.total", "name"]).gpus[0]
    assert (gpu.name, gpu.vram_total_mb) == ("Tesla T4", 15360)


@pytest.mark.parametrize(
    ("text", "columns", "problem"),
    [
        ("", None, "lists no GPU"),
        ("name, memory.total [MiB]\n", None, "header but no GPU rows"),
        ("Tesla T4, 15360 MiB", ["memory.total", "memory.free", "uuid"], "2 values for 3"),
        ("GPU0, Tesla T4, 1, 1, 7.5, x", None, "is not a number"),
        ("Tesla T4", [], "no CSV columns"),
    ],
)
def test_csv_garbage_is_a_tool_output_error(
    text: str, columns: list[str] | None, problem: str
) -> None:
    with pytest.raises(ToolOutputError, match=problem):
        nvidia_csv.parse(text, columns)


def test_csv_driver_failure_message_is_quoted_in_the_error() -> None:
    text = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
    with pytest.raises(ToolOutputError, match="NVIDIA-SMI has failed"):
        nvidia_csv.parse(text, ["name"] * 3)


OLD_DRIVER_REFUSAL = 'Field "compute_cap" is not a valid field to query.\n\n'
"""What drivers before ~510 print (stdout, exit 2); wording as quoted in candle#733 and
canonical/inference-snaps#89."""


def test_unsupported_field_is_recognised_and_named() -> None:
    assert nvidia_csv.is_unsupported_field_error(OLD_DRIVER_REFUSAL)
    assert nvidia_csv.unsupported_field(OLD_DRIVER_REFUSAL) == "compute_cap"
    assert not nvidia_csv.is_unsupported_field_error("No devices were found")
    with pytest.raises(ToolOutputError, match='"compute_cap"'):
        nvidia_csv.parse(OLD_DRIVER_REFUSAL)


@pytest.mark.parametrize("parser", list(PARSERS.values()), ids=list(PARSERS))
def test_no_devices_is_an_empty_inventory(parser: Callable[[str], Inventory]) -> None:
    inventory = parser("No devices were found\n")
    assert inventory.gpus == ()
    assert inventory.warnings


NAME = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ,()./+-]{0,30}[A-Za-z0-9)]", fullmatch=True).filter(
    lambda name: not is_placeholder(name)
)


@given(
    gpus=st.lists(st.tuples(NAME, st.integers(0, 2**20), st.booleans()), min_size=1, max_size=8),
    header=st.booleans(),
    units=st.booleans(),
)
def test_csv_round_trip_of_rows_as_nvidia_smi_prints_them(
    gpus: list[tuple[str, int, bool]], header: bool, units: bool
) -> None:
    unit = " MiB" if units else ""
    lines = ["index, name, memory.total [MiB], mig.mode.current"] if header else []
    for index, (name, memory, mig) in enumerate(gpus):
        mode = "Enabled" if mig else "[N/A]"
        lines.append(f"{index}, {name}, {memory}{unit}, {mode}")
    columns = None if header else ["index", "name", "memory.total", "mig.mode.current"]
    parsed = nvidia_csv.parse("\n".join(lines), columns).gpus
    assert [(gpu.name, gpu.vram_total_mb, gpu.mig_mode) for gpu in parsed] == [
        (name, memory, True if mig else None) for name, memory, mig in gpus
    ]


# --- nvidia-smi -L ---------------------------------------------------------------------------


def test_list_legacy_mig_uuid_gives_instance_ids() -> None:
    path = HARDWARE_DATA / "nvidia-smi-L_a100-sxm4-40gb-mig-7x1g5gb-drv450.txt"
    devices = nvidia_list.parse(path.read_text(encoding="utf-8")).gpus[0].mig_devices
    assert [device.gpu_instance_id for device in devices] == list(range(7, 14))
    assert {device.compute_instance_id for device in devices} == {0}
    assert all(device.uuid and device.uuid.startswith("MIG-GPU-") for device in devices)


def test_list_mig_memory_is_the_profile_label_with_a_warning() -> None:
    path = HARDWARE_DATA / "nvidia-smi-L_a100-sxm4-40gb-mig-mixed-drv450.txt"
    inventory = nvidia_list.parse(path.read_text(encoding="utf-8"))
    sizes = [device.vram_total_mb for device in inventory.gpus[0].mig_devices]
    assert sizes == [19456, 9728, 4864]
    # never above the real slices (A100-40GB: 3g.20gb 19968, 2g.10gb 9856, 1g.5gb 4864 MiB)
    assert all(
        got is not None and got <= real
        for got, real in zip(sizes, [19968, 9856, 4864], strict=True)
    )
    assert any("lower bound" in warning for warning in inventory.warnings)


@pytest.mark.parametrize(
    ("profile", "mib"),
    [
        ("1g.5gb", 4864),
        ("1g.10gb+me", 9728),
        ("7g.80gb", 77824),
        ("1c.3g.71gb", 69068),
        ("3g.weird", None),
    ],
)
def test_list_mig_profile_name_to_memory(profile: str, mib: int | None) -> None:
    text = f"GPU 0: NVIDIA H100 (UUID: GPU-1)\n  MIG {profile}  Device  0: (UUID: MIG-1)\n"
    assert nvidia_list.parse(text).gpus[0].mig_devices[0].vram_total_mb == mib


def test_list_compute_instance_profile_without_uuid() -> None:
    """Quirk 11's H200 form: '1c.' profiles, and a line with no UUID."""
    text = "GPU 0: NVIDIA H200 (UUID: GPU-1)\n  MIG 1c.3g.71gb  Device  0:\n"
    device = nvidia_list.parse(text).gpus[0].mig_devices[0]
    assert (device.profile, device.uuid, device.vram_total_mb) == ("1c.3g.71gb", None, 69068)


def test_list_unknown_line_is_warned_and_orphan_mig_is_an_error() -> None:
    inventory = nvidia_list.parse("GPU 0: Tesla T4 (UUID: GPU-1)\nsomething else\n")
    assert any("ignored" in warning for warning in inventory.warnings)
    with pytest.raises(ToolOutputError, match="before any GPU"):
        nvidia_list.parse("  MIG 1g.5gb Device 0: (UUID: MIG-1)\nGPU 0: Tesla T4\n")


# --- nvidia-smi -q -x and -q -----------------------------------------------------------------


def test_xml_trimmed_fixture_counts_gpu_elements_and_warns() -> None:
    path = HARDWARE_DATA / "nvidia-smi-xml_a100-sxm4-80gb-mig-4x.xml"
    inventory = nvidia_xml.parse(path.read_text(encoding="utf-8"))
    assert len(inventory.gpus) == 1
    assert any("attached_gpus says 4" in warning for warning in inventory.warnings)


def test_xml_vgpu_guest_is_warned() -> None:
    path = HARDWARE_DATA / "nvidia-smi-xml_grid-p4-1q-vgpu.xml"
    inventory = nvidia_xml.parse(path.read_text(encoding="utf-8"))
    assert any("vGPU" in warning for warning in inventory.warnings)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<nvidia_smi_log><gpu>", "not well-formed"),
        ("<other/>", "not <nvidia_smi_log>"),
        ("<nvidia_smi_log><attached_gpus>2</attached_gpus></nvidia_smi_log>", "lists no GPU"),
    ],
)
def test_xml_garbage_is_a_tool_output_error(text: str, problem: str) -> None:
    with pytest.raises(ToolOutputError, match=problem):
        nvidia_xml.parse(text)


def test_xml_entity_expansion_bomb_is_refused() -> None:
    """expat's amplification limit refuses it; 10 MB at most if an old expat did not."""
    levels = "abcdefg"
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {name} "{("&" + previous + ";") * 10}">' for previous, name in pairwise(levels)
    )
    text = f"<!DOCTYPE x [{entities}]><nvidia_smi_log><gpu><product_name>&g;</product_name>"
    with pytest.raises(ToolOutputError, match="not well-formed"):
        nvidia_xml.parse(text + "</gpu></nvidia_smi_log>")


def test_text_padding_may_differ_and_mig_devices_may_be_grouped() -> None:
    text = (
        "\n==============NVSMI LOG==============\n\n"
        "Driver Version : 450.80.02\nCUDA Version        : 11.0\n\n"
        "GPU 00000000:07:00.0\n"
        "    Product Name          : A100-SXM4-40GB\n"
        "    MIG Mode\n        Current : Enabled\n"
        "    MIG Devices\n"
        "        MIG Device\n"
        "            Index : 0\n            GPU Instance ID : 1\n"
        "            FB Memory Usage\n                Total : 4864 MiB\n"
        "    FB Memory Usage\n        Total : 40537 MiB\n"
    )
    inventory = nvidia_text.parse(text)
    gpu = inventory.gpus[0]
    assert (inventory.driver_version, inventory.cuda_version) == ("450.80.02", "11.0")
    assert (gpu.name, gpu.vram_total_mb, gpu.mig_mode) == ("A100-SXM4-40GB", 40537, True)
    assert gpu.pci_bus_id == "00000000:07:00.0"
    assert [(d.gpu_instance_id, d.vram_total_mb) for d in gpu.mig_devices] == [(1, 4864)]


def test_text_without_gpu_sections_is_a_tool_output_error() -> None:
    with pytest.raises(ToolOutputError, match="lists no GPU"):
        nvidia_text.parse("\n==============NVSMI LOG==============\n\nDriver Version : 1\n")


# --- fuzzing: any text gives an Inventory or a ToolOutputError, nothing else -----------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parses_or_refuses(parse: Callable[[], Inventory]) -> None:
    try:
        inventory = parse()
    except ToolOutputError as error:
        assert str(error)
        return
    assert isinstance(inventory, Inventory)


@st.composite
def _mutated(draw: st.DrawFn, prefix: str) -> tuple[Path, str]:
    """A real recorded file with random lines dropped or doubled, cuts and byte swaps."""
    path = draw(st.sampled_from([p for p in FILES if p.name.startswith(prefix)]))
    text = path.read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 4))):
        lines = text.splitlines(keepends=True)
        where = draw(st.integers(0, max(len(text) - 1, 0)))
        operation = draw(st.sampled_from(["drop", "double", "truncate", "substitute"]))
        if operation in ("drop", "double") and lines:
            at = draw(st.integers(0, len(lines) - 1))
            lines[at : at + 1] = [] if operation == "drop" else [lines[at]] * 2
            text = "".join(lines)
        elif operation == "truncate":
            text = text[:where]
        else:
            text = text[:where] + draw(st.characters()) + text[where + 1 :]
    return path, text


@pytest.mark.parametrize("parser", list(PARSERS.values()), ids=list(PARSERS))
@FUZZ
@given(text=st.text())
def test_fuzz_arbitrary_text(parser: Callable[[str], Inventory], text: str) -> None:
    _parses_or_refuses(lambda: parser(text))


@FUZZ
@given(text=st.text(), columns=st.none() | st.lists(st.text(max_size=20), max_size=8))
def test_fuzz_csv_with_arbitrary_columns(text: str, columns: list[str] | None) -> None:
    _parses_or_refuses(lambda: nvidia_csv.parse(text, columns))


@pytest.mark.parametrize("prefix", list(PARSERS))
@FUZZ
@given(data=st.data())
def test_fuzz_mutated_recorded_files(prefix: str, data: st.DataObject) -> None:
    path, text = data.draw(_mutated(prefix))
    _parses_or_refuses(lambda: _parse_recorded(path, text))


_H100_NVL_COMPUTE_INSTANCES = """\
GPU 0: NVIDIA H100 NVL (UUID: GPU-11111111-2222-3333-4444-555555555555)
  MIG 1c.3g.47gb     Device  0: (UUID: MIG-aaaaaaaa-0970-51d9-b761-0686be6b8af3)
  MIG 1c.3g.47gb     Device  1: (UUID: MIG-bbbbbbbb-57ea-5fe3-83bc-2026e5cb10fb)
  MIG 1c.3g.47gb     Device  2: (UUID: MIG-cccccccc-3539-5cc0-88d2-bf7439a67c4b)
  MIG 2c.3g.47gb     Device  3: (UUID: MIG-dddddddd-3539-5cc0-88d2-bf7439a67c4b)
  MIG 1c.3g.47gb     Device  4: (UUID: MIG-eeeeeeee-3539-5cc0-88d2-bf7439a67c4b)
"""


def test_list_compute_instances_without_gpu_instance_ids_are_not_counted_apart() -> None:
    """review2: current drivers' -L names no GPU instance, and lists every compute
    instance as a device; three '1c.3g.47gb' devices were planned as 3 x 43 GiB on a
    94 GB GPU. At most two 3g GPU instances fit an H100 NVL, and the five devices
    (3 + 2 + 1 compute slices) fill exactly two."""
    from gpuplan.hardware.model import Host
    from gpuplan.placement.devices import host_devices

    inventory = nvidia_list.parse(_H100_NVL_COMPUTE_INSTANCES)
    host = Host(source="nvidia-smi", gpus=inventory.gpus)
    slice_mb = inventory.gpus[0].mig_devices[0].vram_total_mb
    assert slice_mb is not None
    assert host.device_totals_mb() == (slice_mb, slice_mb)
    devices, _ = host_devices(host)
    assert [d.mig_index for d in devices] == [0, 3]


def test_list_impossible_mig_index_is_a_tool_output_error() -> None:
    """review2: a MIG index above 1023 escaped as a bare ValueError (a traceback in detect)."""
    text = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\n  MIG 1g.10gb  Device 5000: (UUID: MIG-x)\n"
    with pytest.raises(ToolOutputError, match="line 2 lists an impossible MIG device"):
        nvidia_list.parse(text)
