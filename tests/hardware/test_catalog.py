"""The GPU catalog: names resolve, figures match what real vendor tools printed.

The recorded-name table below is checked against the files themselves (the name
and the memory must appear verbatim), so it cannot drift from the data it claims
to describe.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from gpuplan.cli.hardware import app
from gpuplan.errors import HardwareSpecError, UnknownGPUError
from gpuplan.hardware.catalog import (
    Catalog,
    CatalogGPU,
    load_catalog,
    normalise_name,
    parse_catalog,
    to_gpu,
)
from tests.conftest import HARDWARE_DATA, SHARED_DATA

SEEDS = SHARED_DATA.parent / "seeds"
CATALOG = load_catalog()


def by_id(gpu_id: str) -> CatalogGPU:
    entry = CATALOG.get(gpu_id)
    assert entry is not None, gpu_id
    return entry


# -- coverage --------------------------------------------------------------------------------


def test_catalog_is_large_enough_and_covers_every_segment() -> None:
    counts = Counter((entry.vendor, entry.segment) for entry in CATALOG)
    assert len(CATALOG) >= 50
    for segment in ("consumer", "workstation", "datacenter"):
        assert counts["nvidia", segment] >= 8, segment
        assert counts["amd", segment] >= 1, segment
    assert sum(n for (vendor, _), n in counts.items() if vendor == "amd") >= 10


SEED_GPUS = [
    # (seed file prefix, name as the seed writes it, catalog id)
    ("000", "RTX 4080", "rtx-4080"),
    ("000", "RTX 4060 Ti 16GB", "rtx-4060-ti-16gb"),
    ("000", "RTX 4090", "rtx-4090"),
    ("000", "RTX A5000", "rtx-a5000"),
    ("000", "RTX 6000 Pro 96GB", "rtx-pro-6000-blackwell"),
    ("000", "RTX 3060", "rtx-3060"),
    ("000", "GTX 1080 Ti", "gtx-1080-ti"),
    ("000", "NVIDIA GeForce RTX 4080", "rtx-4080"),
    ("001", "RTX 4080 16GB", "rtx-4080"),
    ("001", "RTX 4090 24GB", "rtx-4090"),
    ("004", "RTX A5500", "rtx-a5500"),
    ("004", "RTX A400", "rtx-a400"),
    ("004", "NVIDIA RTX A5500", "rtx-a5500"),
]


@pytest.mark.parametrize(("seed", "name", "gpu_id"), SEED_GPUS)
def test_every_gpu_the_seeds_name_resolves(seed: str, name: str, gpu_id: str) -> None:
    (seed_file,) = SEEDS.glob(f"{seed}_*.txt")
    assert name in seed_file.read_text(encoding="utf-8")
    assert CATALOG.lookup(name).id == gpu_id


def test_seed_004_memory_figures_are_the_catalogs() -> None:
    """Seed 004's GET /api/system/gpus example gives the A5500 and A400 in MiB."""
    assert by_id("rtx-a5500").vram_mb == 24564
    assert by_id("rtx-a400").vram_mb == 4094


@pytest.mark.parametrize(
    "spelling",
    [
        "NVIDIA GeForce RTX 4090",
        "RTX 4090",
        "rtx4090",
        "rtx-4090",
        "rtx_4090",
        "  Rtx   4090 ",
        "GeForce RTX 4090",
        "nvidia rtx 4090",
        "RTX 4090 24GB",
        "rtx 4090 (24 GB)",
        "RTX4090-24G",
        "rtx-4090",
    ],
)
def test_spellings_of_one_gpu_resolve_alike(spelling: str) -> None:
    assert CATALOG.lookup(spelling).id == "rtx-4090"


@pytest.mark.parametrize(
    ("spelling", "gpu_id"),
    [
        ("H100-80GB", "h100-sxm"),
        ("H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("H100", "h100-sxm"),
        ("H100 PCIe", "h100-pcie"),
        ("h100-nvl", "h100-nvl"),
        ("A100-SXM4-40GB", "a100-sxm4-40gb"),
        ("A100 40GB", "a100-sxm4-40gb"),
        ("A100-80GB", "a100-sxm4-80gb"),
        ("A100 80GB PCIe", "a100-pcie-80gb"),
        ("RTX 4060 Ti 16GB", "rtx-4060-ti-16gb"),
        ("rtx 4060 ti 16 gb", "rtx-4060-ti-16gb"),
        ("RTX 4060 Ti 8GB", "rtx-4060-ti"),
        ("RTX 3060 12GB", "rtx-3060"),
        ("Quadro RTX 4000", "quadro-rtx-4000"),
        ("RTX 4000 Ada", "rtx-4000-ada"),
        ("NVIDIA RTX 4000 Ada Generation", "rtx-4000-ada"),
        ("RTX PRO 6000", "rtx-pro-6000-blackwell"),
        ("T4", "tesla-t4"),
        ("Tesla T4", "tesla-t4"),
        ("MI300X", "mi300x"),
        ("AMD Instinct MI300X", "mi300x"),
        ("rx 7900 xtx", "rx-7900-xtx"),
        ("Radeon PRO W7900", "radeon-pro-w7900"),
        ("mi250x", "mi250x"),
        ("rtx-pro-6000-blackwell-max-q", "rtx-pro-6000-blackwell-max-q"),
    ],
)
def test_common_spellings_resolve(spelling: str, gpu_id: str) -> None:
    assert CATALOG.lookup(spelling).id == gpu_id


# -- recorded vendor-tool output ---------------------------------------------------------------

RECORDED = [
    # (file, name as printed there, MiB there or None, catalog id or None for "not a catalog GPU")
    ("nvidia-smi-csv_2x-l40s-lenovo_1.txt", "NVIDIA L40S", 46068, "l40s"),
    (
        "nvidia-smi-csv_2x-quadro-rtx6000-noheader_1.txt",
        "Quadro RTX 6000",
        24576,
        "quadro-rtx-6000",
    ),
    ("nvidia-smi-csv_geforce930m-noheader_1.txt", "GeForce 930M", 2002, None),
    ("nvidia-smi-csv_h100-80gb-hbm3_1.txt", "NVIDIA H100 80GB HBM3", 81559, "h100-sxm"),
    ("nvidia-smi-csv_h200_1.txt", "NVIDIA H200", 143771, "h200"),
    ("nvidia-smi-csv_l40s-aws-g6e-noheader_1.txt", "NVIDIA L40S", 46068, "l40s"),
    ("nvidia-smi-csv_rtx-a5000-noheader_1.txt", "NVIDIA RTX A5000", 24564, "rtx-a5000"),
    (
        "nvidia-smi-csv_rtx2080super-linux-drv595_1.txt",
        "NVIDIA GeForce RTX 2080 SUPER",
        8192,
        "rtx-2080-super",
    ),
    ("nvidia-smi-csv_rtx4080super_1.txt", "NVIDIA GeForce RTX 4080 SUPER", 16376, "rtx-4080-super"),
    ("nvidia-smi-csv_rtx4090_1.txt", "NVIDIA GeForce RTX 4090", 24564, "rtx-4090"),
    (
        "nvidia-smi-csv_rtx5060-laptop_1.txt",
        "NVIDIA GeForce RTX 5060 Laptop GPU",
        8151,
        "rtx-5060-laptop",
    ),
    (
        "nvidia-smi-csv_rtx5060ti-wsl2_1.txt",
        "NVIDIA GeForce RTX 5060 Ti",
        16311,
        "rtx-5060-ti-16gb",
    ),
    ("nvidia-smi-csv_rtx5070ti_1.txt", "NVIDIA GeForce RTX 5070 Ti", 16303, "rtx-5070-ti"),
    ("nvidia-smi-xml_2x-rtx-a5000.xml", "NVIDIA RTX A5000", 24564, "rtx-a5000"),
    ("nvidia-smi-xml_2x-rtx2080.xml", "NVIDIA GeForce RTX 2080", 8192, "rtx-2080"),
    ("nvidia-smi-xml_a100-sxm4-40gb-mig.xml", "NVIDIA A100-SXM4-40GB", 40960, "a100-sxm4-40gb"),
    ("nvidia-smi-xml_a100-sxm4-80gb-mig-4x.xml", "NVIDIA A100-SXM4-80GB", 81920, "a100-sxm4-80gb"),
    ("nvidia-smi-xml_a10g.xml", "NVIDIA A10G", 23028, "a10g"),
    ("nvidia-smi-xml_grid-p4-1q-vgpu.xml", "GRID P4-1Q", 1024, None),
    ("nvidia-smi-xml_gtx1660ti-graphics-device.xml", "Graphics Device", 5912, None),
    ("nvidia-smi-xml_quadro-p2000.xml", "Quadro P2000", 5120, "quadro-p2000"),
    ("nvidia-smi-xml_quadro-p400.xml", "Quadro P400", 1998, "quadro-p400"),
    (
        "nvidia-smi-xml_rtx-pro-6000-blackwell-maxq.xml",
        "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition",
        97887,
        "rtx-pro-6000-blackwell-max-q",
    ),
    ("nvidia-smi-xml_rtx2080-windows.xml", "NVIDIA GeForce RTX 2080", 8192, "rtx-2080"),
    (
        "nvidia-smi-xml_rtx3060-laptop.xml",
        "NVIDIA GeForce RTX 3060 Laptop GPU",
        6144,
        "rtx-3060-laptop",
    ),
    ("nvidia-smi-xml_rtx3060.xml", "NVIDIA GeForce RTX 3060", 12288, "rtx-3060"),
    ("nvidia-smi-xml_rtx3080-drv595.xml", "NVIDIA GeForce RTX 3080", 10240, "rtx-3080"),
    ("nvidia-smi-xml_rtx3080-windows-drv536.xml", "NVIDIA GeForce RTX 3080", 10240, "rtx-3080"),
    ("nvidia-smi-xml_rtx3090.xml", "NVIDIA GeForce RTX 3090", 24576, "rtx-3090"),
    (
        "nvidia-smi-xml_rtx4000-sff-ada.xml",
        "NVIDIA RTX 4000 SFF Ada Generation",
        20475,
        "rtx-4000-sff-ada",
    ),
    ("nvidia-smi-xml_rtx4090.xml", "NVIDIA GeForce RTX 4090", 24564, "rtx-4090"),
    (
        "nvidia-smi-xml_tesla-p100-pcie-16gb.xml",
        "Tesla P100-PCIE-16GB",
        16384,
        "tesla-p100-pcie-16gb",
    ),
    ("nvidia-smi-xml_tesla-t4.xml", "Tesla T4", 15360, "tesla-t4"),
    ("nvidia-smi-q_10x-a40.txt", "NVIDIA A40", 46068, "a40"),
    ("nvidia-smi-q_2x-h100-nvl.txt", "NVIDIA H100 NVL", 95830, "h100-nvl"),
    ("nvidia-smi-q_2x-rtx3090.txt", "NVIDIA GeForce RTX 3090", 24576, "rtx-3090"),
    ("nvidia-smi-q_2x-rtx4060ti-16gb.txt", "NVIDIA GeForce RTX 4060 Ti", 16380, "rtx-4060-ti-16gb"),
    ("nvidia-smi-q_4x-a100-sxm4-80gb.txt", "NVIDIA A100-SXM4-80GB", 81920, "a100-sxm4-80gb"),
    ("nvidia-smi-q_8x-h100-80gb-hbm3.txt", "NVIDIA H100 80GB HBM3", 81559, "h100-sxm"),
    ("nvidia-smi-q_8x-rtx4090.txt", "NVIDIA GeForce RTX 4090", 24564, "rtx-4090"),
    ("nvidia-smi-q_8x-rtx6000-ada.txt", "NVIDIA RTX 6000 Ada Generation", 49140, "rtx-6000-ada"),
    ("nvidia-smi-q_l4.txt", "NVIDIA L4", 23034, "l4"),
    ("nvidia-smi-q_l40s-drv550.txt", "NVIDIA L40S", 46068, "l40s"),
    ("nvidia-smi-q_rtx2000-ada.txt", "NVIDIA RTX 2000 Ada Generation", 16380, "rtx-2000-ada"),
    ("nvidia-smi-q_rtx4000-ada.txt", "NVIDIA RTX 4000 Ada Generation", 20475, "rtx-4000-ada"),
    ("nvidia-smi-L_2x-quadro-rtx4000.txt", "Quadro RTX 4000", None, "quadro-rtx-4000"),
    ("nvidia-smi-L_a100-sxm4-40gb-nomig-drv450.txt", "A100-SXM4-40GB", None, "a100-sxm4-40gb"),
    ("nvidia-smi-L_h100-80gb-hbm3.txt", "NVIDIA H100 80GB HBM3", None, "h100-sxm"),
    ("nvidia-smi-L_h200.txt", "NVIDIA H200", None, "h200"),
    ("nvidia-smi-L_l40s.txt", "NVIDIA L40S", None, "l40s"),
    (
        "nvidia-smi-L_rtx2080super-linux-drv595.txt",
        "NVIDIA GeForce RTX 2080 SUPER",
        None,
        "rtx-2080-super",
    ),
    ("nvidia-smi-L_rtx4080super.txt", "NVIDIA GeForce RTX 4080 SUPER", None, "rtx-4080-super"),
    ("k8s-nodes_a100-40gb-dgx-mig-none-gfdlabels.json", "A100-SXM4-40GB", None, "a100-sxm4-40gb"),
    (
        "k8s-nodes_a100-40gb-dgx-mig-single-gfdlabels.json",
        "A100-SXM4-40GB-MIG-1g.5gb",
        None,
        "a100-sxm4-40gb",
    ),
    ("k8s-nodes_h100-gpuop-mig-single-labels.json", "NVIDIA-H100-80GB-HBM3", None, "h100-sxm"),
    ("k8s-nodes_t4-timeslicing-ocp-labels-grep.txt", "Tesla-T4-SHARED", None, "tesla-t4"),
    ("rocm-smi_mi50-32gb-vega20.json", "Radeon Instinct MI50 32GB", 32752, "mi50-32gb"),
    ("rocm-smi_mi100-4x-rocm602.json", "Arcturus GL-XL [Instinct MI100]", 32752, "mi100"),
    ("rocm-smi_mi250-gcd-rocm6-a.json", "AMD INSTINCT MI250 (MCM) OAM AC MBA", None, "mi250"),
    (
        "rocm-smi_rx6700xt-rocm612.json",
        "Navi 22 [Radeon RX 6700/6700 XT / 6800M]",
        12272,
        "rx-6700-xt",
    ),
    (
        "rocm-smi_rx7800xt-navi32-rocm624.json",
        "Navi 32 [Radeon RX 7700 XT / 7800 XT]",
        16368,
        "rx-7800-xt",
    ),
    ("rocm-smi_rx7900xt.json", "Radeon RX 7900 XT", 20464, "rx-7900-xt"),
    ("rocm-smi-csv_rx7900xt.csv", "Radeon RX 7900 XT", 20464, "rx-7900-xt"),
    ("rocm-smi_rx6700xt-rocm430.json", "0x1002", 12272, None),
    ("rocm-smi_hygon-dcu-hyrocm2404.json", "DCU xxxx", 65520, None),
]


def _mentions_mib(text: str, mib: int) -> bool:
    """MiB appear as such in nvidia-smi and amd-smi output, as bytes in rocm-smi JSON."""
    return str(mib) in text or str(mib * 2**20) in text


@pytest.mark.parametrize(("file", "name", "mib", "gpu_id"), RECORDED)
def test_recorded_names_match_the_right_entry(
    file: str, name: str, mib: int | None, gpu_id: str | None
) -> None:
    text = (HARDWARE_DATA / file).read_text(encoding="utf-8")
    assert name in text, f"{name!r} is not in {file}"
    if mib is not None:
        assert _mentions_mib(text, mib), f"{mib} MiB is not in {file}"
    found = CATALOG.match(name, vram_mb=mib)
    assert (found.id if found else None) == gpu_id
    if found is not None and mib is not None:
        assert found.vram_mb == mib


@pytest.mark.parametrize(
    ("name", "mib", "gpu_id"),
    [
        # names as gpuplan's own rocm-smi parser turns PCI-ids strings into products
        ("AMD Instinct MI100", 32752, "mi100"),
        ("AMD Radeon RX 6700/6700 XT / 6800M", 12272, "rx-6700-xt"),
        ("AMD Radeon RX 7700 XT / 7800 XT", 16368, "rx-7800-xt"),
        ("AMD Radeon RX 7700 XT / 7800 XT", 12272, "rx-7700-xt"),
        ("AMD Radeon Instinct MI50 32GB", 32752, "mi50-32gb"),
        ("AMD Radeon RX 7900 XT", 20464, "rx-7900-xt"),
        # older drivers print no NVIDIA prefix (INDEX quirk 6)
        ("GeForce RTX 2080", 7979, "rtx-2080"),
        # INDEX quirk 7 and its B200 note: figures from captures that were not saved
        ("NVIDIA GeForce RTX 5080", 16303, "rtx-5080"),
        ("NVIDIA GeForce RTX 5090", 32607, "rtx-5090"),
        ("NVIDIA L40", 46068, "l40"),
        ("NVIDIA B200", 183359, "b200"),
        ("NVIDIA B300 SXM6 AC", 275040, "b300"),
        ("NVIDIA GB200", 189471, "gb200"),
        ("AMD Instinct MI300X", 196592, "mi300x"),
    ],
)
def test_other_reported_names_match(name: str, mib: int, gpu_id: str) -> None:
    found = CATALOG.match(name, vram_mb=mib)
    assert found is not None and found.id == gpu_id


def test_index_quirk_7_figures_are_the_catalogs() -> None:
    """INDEX.md quirk 7 lists what real cards report; plans must use exactly that."""
    index = (HARDWARE_DATA / "INDEX.md").read_text(encoding="utf-8")
    quirk = next(line for line in index.splitlines() if line.startswith("7. "))
    expected = {
        "rtx-4080-super": 16376,
        "rtx-4060-ti-16gb": 16380,
        "rtx-5080": 16303,
        "rtx-5070-ti": 16303,
        "rtx-5060-ti-16gb": 16311,
        "rtx-5090": 32607,
        "h100-sxm": 81559,
        "h100-nvl": 95830,
        "h200": 143771,
        "l40": 46068,
        "l40s": 46068,
        "a40": 46068,
        "l4": 23034,
        "a10g": 23028,
        "rtx-a5000": 24564,
        "rtx-4090": 24564,
        "rtx-3090": 24576,
        "rtx-pro-6000-blackwell-max-q": 97887,
        "a100-sxm4-40gb": 40960,
        "rtx-2080": 8192,
    }
    for gpu_id, mib in expected.items():
        assert str(mib) in quirk, (gpu_id, mib)
        assert by_id(gpu_id).vram_mb == mib, gpu_id


@pytest.mark.parametrize(
    "entry", [e for e in CATALOG if e.vram_basis == "recorded"], ids=lambda e: e.id
)
def test_recorded_figures_are_in_the_files_the_source_names(entry: CatalogGPU) -> None:
    files = re.findall(r"[\w.-]+\.(?:txt|xml|json|csv)", entry.source)
    assert files, f"{entry.id}: a recorded figure must name its capture"
    for file in files:
        text = (HARDWARE_DATA / file).read_text(encoding="utf-8")
        assert _mentions_mib(text, entry.vram_mb), f"{entry.vram_mb} not in {file}"


# -- integrity -------------------------------------------------------------------------------


def test_ids_are_unique() -> None:
    ids = [entry.id for entry in CATALOG]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("entry", list(CATALOG), ids=lambda e: e.id)
def test_every_alias_and_label_resolves_to_its_own_entry(entry: CatalogGPU) -> None:
    for alias in entry.aliases:
        assert CATALOG.lookup(alias) is entry, alias
    assert CATALOG.lookup(entry.label) is entry
    assert CATALOG.lookup(entry.id) is entry


def test_shared_keys_only_join_memory_variants() -> None:
    """A key naming several entries must be a printed name the tools share, never an alias."""
    alias_keys = {normalise_name(alias) for entry in CATALOG for alias in entry.aliases}
    for key, ids in CATALOG.keys().items():
        if len(ids) > 1:
            assert key not in alias_keys, key
            vendors = {by_id(i).vendor for i in ids}
            sizes = {by_id(i).memory_gb for i in ids}
            assert len(vendors) == 1 and len(sizes) == len(ids), (key, ids)


@pytest.mark.parametrize("entry", list(CATALOG), ids=lambda e: e.id)
def test_entry_facts_are_consistent(entry: CatalogGPU) -> None:
    assert entry.source.strip()
    if entry.vram_basis == "estimated":
        assert "estimate" in entry.source
    # a vendor tool never reports more than the box says, and rarely 10 % less
    assert 0.9 * entry.memory_gb * 1024 <= entry.vram_mb <= entry.memory_gb * 1024
    if entry.vendor == "nvidia":
        assert entry.compute_capability is not None and entry.gfx_target is None
        major, minor = (int(part) for part in entry.compute_capability.split("."))
        assert entry.bf16 == ((major, minor) >= (8, 0))
        assert entry.fp8 == ((major, minor) >= (8, 9))
        assert entry.fp4 == (major >= 10)
    else:
        assert entry.gfx_target is not None and entry.compute_capability is None
        assert entry.fp8 == (
            entry.gfx_target in {"gfx942", "gfx950"} or entry.gfx_target.startswith("gfx12")
        )
        assert entry.fp4 == (entry.gfx_target == "gfx950")


def test_catalog_rejects_an_alias_claimed_twice() -> None:
    text = _toml_entry("a", aliases=["Card"]) + _toml_entry("b", aliases=["card"])
    with pytest.raises(ValueError, match="alias key 'card' belongs to both a and b"):
        parse_catalog(text)


def test_catalog_rejects_an_alias_that_is_another_cards_printed_name() -> None:
    text = _toml_entry("a", name="NVIDIA Card") + _toml_entry("b", aliases=["Card"])
    with pytest.raises(ValueError, match="also a name of a"):
        parse_catalog(text)


def test_catalog_rejects_an_nvidia_entry_without_compute_capability() -> None:
    text = _toml_entry("a").replace('compute_capability = "8.9"\n', "")
    with pytest.raises(ValueError, match="compute_capability"):
        parse_catalog(text)


def test_catalog_rejects_malformed_toml() -> None:
    with pytest.raises(ValueError, match="not valid TOML"):
        parse_catalog("version = 1\n[[gpu]\n", origin="broken.toml")


def _toml_entry(gpu_id: str, *, name: str | None = None, aliases: list[str] | None = None) -> str:
    aliases = aliases or [f"Card {gpu_id.upper()}"]
    header = "version = 1\n" if gpu_id == "a" else ""
    return header + (
        "[[gpu]]\n"
        f'id = "{gpu_id}"\n'
        f'name = "{name or "NVIDIA Card " + gpu_id.upper()}"\n'
        'vendor = "nvidia"\nsegment = "consumer"\n'
        f"aliases = {json.dumps(aliases)}\n"
        'memory_gb = 8\nvram_mb = 8188\nvram_basis = "estimated"\n'
        "memory_bandwidth_gbs = 100\n"
        'compute_capability = "8.9"\n'
        'architecture = "Ada Lovelace"\nbf16 = true\nfp8 = true\n'
        'source = "estimate: test"\n'
    )


# -- lookup, match, suggest ------------------------------------------------------------------


def test_a_name_memory_variants_share_needs_the_size_when_typed() -> None:
    with pytest.raises(HardwareSpecError) as caught:
        CATALOG.lookup("RTX 4060 Ti")
    assert not isinstance(caught.value, UnknownGPUError)
    assert "RTX 4060 Ti 16GB" in str(caught.value) and "RTX 4060 Ti 8GB" in str(caught.value)


@pytest.mark.parametrize(
    ("mib", "gpu_id"),
    [(16380, "rtx-4060-ti-16gb"), (8188, "rtx-4060-ti"), (None, "rtx-4060-ti-16gb")],
)
def test_a_detected_variant_is_told_apart_by_its_memory(mib: int | None, gpu_id: str) -> None:
    found = CATALOG.match("NVIDIA GeForce RTX 4060 Ti", vram_mb=mib)
    assert found is not None and found.id == gpu_id


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("RTX 4091", "RTX 4090"),
        ("A100", "A100 80GB"),
        ("RTX 6000", "Quadro RTX 6000"),
        ("RTX 6000", "RTX 6000 Ada"),
        ("4090", "RTX 4090"),
        ("MI300", "MI300X"),
        ("V100", "V100 32GB"),
    ],
)
def test_unknown_names_suggest_the_closest_labels(typed: str, expected: str) -> None:
    with pytest.raises(UnknownGPUError) as caught:
        CATALOG.lookup(typed)
    assert expected in caught.value.suggestions
    assert len(caught.value.suggestions) <= 5
    assert expected in str(caught.value)
    for label in caught.value.suggestions:
        CATALOG.lookup(label)  # every suggestion works when typed


def test_nonsense_gets_no_suggestions_but_still_a_way_forward() -> None:
    with pytest.raises(UnknownGPUError) as caught:
        CATALOG.lookup("!!!")
    assert caught.value.suggestions == []
    assert "gpuplan hardware catalog" in str(caught.value)


def test_laptop_parts_do_not_match_the_desktop_card() -> None:
    assert CATALOG.match("NVIDIA GeForce RTX 4090 Laptop GPU") is None


@given(
    st.text(max_size=200), st.one_of(st.none(), st.integers(min_value=-(2**40), max_value=2**40))
)
def test_match_and_suggest_never_raise(name: str, mib: int | None) -> None:
    found = CATALOG.match(name, vram_mb=mib)
    assert found is None or isinstance(found, CatalogGPU)
    assert len(CATALOG.suggest(name)) <= 5


def test_normalise_name_drops_vendor_words_and_unifies_sizes() -> None:
    assert normalise_name("NVIDIA GeForce RTX 4060 Ti 16 GB") == "rtx4060ti16gb"
    assert normalise_name("rtx-4060-ti_16G") == "rtx4060ti16gb"
    assert normalise_name("AMD Radeon Instinct MI50 32GiB") == "mi5032gb"
    assert normalise_name("Quadro RTX 4000") == "quadrortx4000"
    assert normalise_name("NVIDIA RTX 6000 Ada Generation") == "rtx6000ada"


def test_catalog_iterates_in_file_order() -> None:
    assert isinstance(CATALOG, Catalog)
    assert list(CATALOG) == list(CATALOG.entries)
    assert len(CATALOG) == len(CATALOG.entries)
    assert CATALOG.get("no-such-gpu") is None


# -- to_gpu --------------------------------------------------------------------------------------


def test_to_gpu_builds_an_idle_gpu_like_detection_would_report() -> None:
    gpu = to_gpu(by_id("h100-sxm"), 3)
    assert (gpu.index, gpu.name, gpu.vendor) == (3, "NVIDIA H100 80GB HBM3", "nvidia")
    assert gpu.vram_total_mb == gpu.vram_free_mb == 81559
    assert gpu.vram_used_mb == 0
    assert gpu.compute_capability == "9.0" and gpu.architecture == "Hopper"


def test_to_gpu_gives_amd_gpus_their_gfx_target_as_architecture() -> None:
    gpu = to_gpu(by_id("mi300x"), 0)
    assert gpu.vendor == "amd" and gpu.architecture == "gfx942"
    assert gpu.compute_capability is None


def test_to_gpu_memory_override_and_unified_memory() -> None:
    assert to_gpu(by_id("rtx-4090"), 0, vram_mb=49152).vram_total_mb == 49152
    assert to_gpu(by_id("gb10"), 0).unified_memory is True


# -- `gpuplan hardware` ----------------------------------------------------------------------------

runner = CliRunner()


def test_cli_catalog_json_lists_every_entry() -> None:
    result = runner.invoke(app, ["catalog", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [item["id"] for item in listed] == [entry.id for entry in CATALOG]


def test_cli_catalog_filters_by_vendor_and_segment() -> None:
    result = runner.invoke(app, ["catalog", "--json", "--vendor", "AMD", "--segment", "consumer"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert listed and all(i["vendor"] == "amd" and i["segment"] == "consumer" for i in listed)


def test_cli_catalog_table_renders() -> None:
    result = runner.invoke(app, ["catalog"])
    assert result.exit_code == 0, result.output
    assert f"{len(CATALOG)} GPUs" in result.output


def test_cli_show_finds_an_entry_the_way_hardware_does() -> None:
    result = runner.invoke(app, ["show", "rtx4090", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["vram_mb"] == 24564


def test_cli_show_unknown_name_is_one_error_line() -> None:
    result = runner.invoke(app, ["show", "RTX 4091"])
    assert result.exit_code == 1
    assert "Error: unknown GPU 'RTX 4091'" in result.output
    assert "Traceback" not in result.output
