"""rocm-smi, amd-smi and Kubernetes node parsers on every recorded file, plus fuzzing.

The expected facts below were written from INDEX.md's per-file tables (count,
name, memory, gfx target, driver, MIG), with the parsers' documented naming rules
applied by hand — never by running a parser. The file list is a glob, so a new
recording without facts here fails instead of going untested.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuplan.errors import ToolOutputError
from gpuplan.hardware.parse import Inventory, amd_smi, kubernetes, rocm_smi
from tests.conftest import HARDWARE_DATA

Parser = Callable[[str], Inventory]

PARSERS: dict[str, Parser] = {
    "rocm-smi": rocm_smi.parse,
    "amd-smi-": amd_smi.parse,
    "k8s-nodes_": kubernetes.parse,
}

FILES = sorted(path for prefix in PARSERS for path in HARDWARE_DATA.glob(f"{prefix}*"))


def parser_for(path: Path) -> Parser:
    return next(parse for prefix, parse in PARSERS.items() if path.name.startswith(prefix))


@dataclass(frozen=True)
class Facts:
    """What INDEX.md says one recording holds."""

    count: int
    name: str
    vram_total_mb: int | None
    architecture: str | None = None
    driver_version: str | None = None
    compute_capability: str | None = None
    mig_mode: bool | None = None
    mig_profiles: tuple[str, ...] = ()
    unified_memory: bool = False
    warns: tuple[str, ...] = ()
    """Substrings some warning must contain."""


MI100 = "AMD Instinct MI100"
MI250 = "AMD INSTINCT MI250 (MCM) OAM AC MBA"
RX6700 = "AMD Radeon RX 6700/6700 XT / 6800M"
NO_VRAM = "no VRAM"

EXPECTED: dict[str, Facts] = {
    # rocm-smi: names by rocm_smi.marketing_name / fallback_name; MiB = bytes / 2^20.
    "rocm-smi-csv_rx7900xt.csv": Facts(1, "AMD Radeon RX 7900 XT", 20464, "gfx1100"),
    "rocm-smi_4x-mi100-noproductname-determined.json": Facts(
        4, "AMD GPU (SKU D34304)", None, warns=(NO_VRAM, "no product name")
    ),
    "rocm-smi_hygon-dcu-hyrocm2404.json": Facts(1, "Hygon DCU xxxx", 65520),
    "rocm-smi_mi100-4x-rocm602.json": Facts(4, MI100, 32752, driver_version="6.3.6"),
    "rocm-smi_mi100-6x-rocm571.json": Facts(6, MI100, 32752, driver_version="6.2.4"),
    "rocm-smi_mi250-gcd-rocm5-a.json": Facts(
        1, MI250, None, driver_version="6.2.4", warns=(NO_VRAM, "GCD")
    ),
    "rocm-smi_mi250-gcd-rocm6-a.json": Facts(
        1, MI250, None, "gfx90a", driver_version="6.2.4", warns=(NO_VRAM, "GCD")
    ),
    "rocm-smi_mi50-32gb-vega20.json": Facts(
        1, "AMD Radeon Instinct MI50 32GB", 32752, driver_version="5.9.17"
    ),
    "rocm-smi_rx6700xt-rocm430.json": Facts(
        1, "AMD GPU (SKU 67XA6S)", 12272, driver_version="6.3.6", warns=("no product name",)
    ),
    "rocm-smi_rx6700xt-rocm571.json": Facts(1, RX6700, 12272, driver_version="6.3.6"),
    "rocm-smi_rx6700xt-rocm612.json": Facts(1, RX6700, 12272, "gfx1031", driver_version="6.3.6"),
    "rocm-smi_rx7800xt-navi32-rocm624.json": Facts(
        1, "AMD Radeon RX 7700 XT / 7800 XT", 16368, "gfx1101"
    ),
    "rocm-smi_rx7900xt.json": Facts(1, "AMD Radeon RX 7900 XT", 20464, "gfx1100"),
    "rocm-smi_vega10-xt-16gb.json": Facts(
        1, "AMD GPU (SKU D05101)", 16368, driver_version="5.9.25", warns=("no product name",)
    ),
    # amd-smi: metric and list name no product; "MB" is MiB.
    "amd-smi-list_strix-halo-8060s-rocm631.json": Facts(
        1, "AMD GPU", None, warns=("no product name", NO_VRAM)
    ),
    "amd-smi-metric_2x-mi300x-rocm721-trimmed.json": Facts(
        2, "AMD GPU", 196592, warns=("no product name",)
    ),
    "amd-smi-static_strix-halo-8060s-rocm631.json": Facts(
        1,
        "AMD Radeon Graphics / Radeon 8050S Graphics / Radeon 8060S Graphics",
        32768,
        "gfx1151",
        driver_version="6.17.1-300.fc43.x86_64",
        unified_memory=True,
        warns=("carve-out",),
    ),
    # Kubernetes: one GPU per physical GPU; names by kubernetes.restore_product_name.
    "k8s-nodes_a100-40gb-dgx-mig-mixed-gfdlabels.json": Facts(
        1,
        "A100-SXM4-40GB",
        40537,
        "Ampere",
        driver_version="450.80.02",
        compute_capability="8.0",
        mig_mode=True,
        mig_profiles=("1g.5gb", "2g.10gb", "3g.21gb"),
        warns=("mig-3g.21gb",),
    ),
    "k8s-nodes_a100-40gb-dgx-mig-none-gfdlabels.json": Facts(
        1, "A100-SXM4-40GB", 40537, "Ampere", driver_version="450.80.02", compute_capability="8.0"
    ),
    "k8s-nodes_a100-40gb-dgx-mig-single-gfdlabels.json": Facts(
        1,
        "A100-SXM4-40GB",
        None,
        "Ampere",
        driver_version="450.80.02",
        compute_capability="8.0",
        mig_mode=True,
        mig_profiles=("1g.5gb",) * 7,
        warns=("MIG single strategy",),
    ),
    "k8s-nodes_h100-gpuop-mig-mixed-labels.json": Facts(
        1,
        "NVIDIA H100 80GB HBM3",
        81559,
        "Hopper",
        driver_version="550.54.15",
        compute_capability="9.0",
        mig_mode=True,
        mig_profiles=("1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb"),
    ),
    "k8s-nodes_h100-gpuop-mig-single-labels.json": Facts(
        1,
        "NVIDIA H100 80GB HBM3",
        81559,
        "Hopper",
        driver_version="550.54.15",
        compute_capability="9.0",
        mig_mode=False,
    ),
    "k8s-nodes_kyma-gardener-1gpu-status.yaml": Facts(1, "NVIDIA GPU", None, warns=("capacity",)),
    "k8s-nodes_podman-desktop-1gpu-status.yaml": Facts(1, "NVIDIA GPU", None, warns=("capacity",)),
    "k8s-nodes_t4-timeslicing-ocp-capacity.json": Facts(
        8, "NVIDIA GPU", None, warns=("capacity", "replicas")
    ),
    "k8s-nodes_t4-timeslicing-ocp-labels-grep.txt": Facts(
        1,
        "Tesla T4",
        16106127360 // 2**20,
        "Turing",
        driver_version="510.73.08",
        compute_capability="7.5",
        warns=("bytes", "time-sliced"),
    ),
}


def _facts(path: Path) -> Facts:
    facts = EXPECTED.get(path.name)
    if facts is None:
        pytest.fail(
            f"{path.name} has no expected facts: add its facts from INDEX.md's per-file table "
            f"to EXPECTED in {Path(__file__).name}"
        )
    return facts


def test_every_recorded_kind_is_present() -> None:
    """An empty glob would make the parametrized tests vanish silently."""
    for prefix in PARSERS:
        assert any(path.name.startswith(prefix) for path in FILES), prefix


def test_no_expected_facts_for_missing_files() -> None:
    assert sorted(set(EXPECTED) - {path.name for path in FILES}) == []


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_recorded_file_gives_the_indexed_facts(path: Path) -> None:
    facts = _facts(path)
    inventory = parser_for(path)(path.read_text())
    gpus = inventory.gpus
    assert len(gpus) == facts.count
    assert [gpu.index for gpu in gpus] == list(range(facts.count))
    assert {gpu.name for gpu in gpus} == {facts.name}
    assert {gpu.vram_total_mb for gpu in gpus} == {facts.vram_total_mb}
    assert {gpu.architecture for gpu in gpus} == {facts.architecture}
    assert {gpu.compute_capability for gpu in gpus} == {facts.compute_capability}
    assert {gpu.mig_mode for gpu in gpus} == {facts.mig_mode}
    assert {gpu.unified_memory for gpu in gpus} == {facts.unified_memory}
    assert inventory.driver_version == facts.driver_version
    assert sorted(mig.profile or "" for mig in gpus[0].mig_devices) == list(facts.mig_profiles)
    vendor = "nvidia" if path.name.startswith("k8s-nodes_") else "amd"
    assert {gpu.vendor for gpu in gpus} == {vendor}
    for needle in facts.warns:
        assert any(needle in warning for warning in inventory.warnings), (needle, inventory)


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_no_warning_unless_the_facts_expect_one(path: Path) -> None:
    """Clean recordings stay quiet, so a warning always means something."""
    inventory = parser_for(path)(path.read_text())
    if not _facts(path).warns:
        assert inventory.warnings == ()


# --- rocm-smi specifics ---------------------------------------------------------------


def test_rocm_smi_cards_are_sorted_by_number_not_key_order() -> None:
    """card0, card3, card2, card1 in the file (quirk 22); PCI buses as printed per card."""
    text = (HARDWARE_DATA / "rocm-smi_4x-mi100-noproductname-determined.json").read_text()
    buses = [gpu.pci_bus_id for gpu in rocm_smi.parse(text).gpus]
    assert buses == ["0000:63:00.0", "0000:43:00.0", "0000:26:00.0", "0000:03:00.0"]


def test_rocm_smi_csv_and_json_of_one_card_agree() -> None:
    csv_gpu = rocm_smi.parse((HARDWARE_DATA / "rocm-smi-csv_rx7900xt.csv").read_text()).gpus
    json_gpu = rocm_smi.parse((HARDWARE_DATA / "rocm-smi_rx7900xt.json").read_text()).gpus
    assert csv_gpu == json_gpu


def test_rocm_smi_used_memory_gives_free_memory() -> None:
    gpu = rocm_smi.parse((HARDWARE_DATA / "rocm-smi_hygon-dcu-hyrocm2404.json").read_text()).gpus[0]
    assert (gpu.vram_used_mb, gpu.vram_free_mb) == (2, 65518)


@pytest.mark.parametrize(
    ("printed", "target"),
    [
        ("gfx9010", "gfx90a"),
        ("gfx11001", "gfx1101"),
        ("gfx90a", "gfx90a"),
        ("gfx942", "gfx942"),
        ("gfx1100", "gfx1100"),
        ("gfx1031", "gfx1031"),
        ("GFX1151", "gfx1151"),
        ("gfx9006", "gfx906"),
        ("N/A", None),
        ("", None),
    ],
)
def test_gfx_targets_are_normalised(printed: str, target: str | None) -> None:
    assert rocm_smi.normalise_gfx(printed) == target


@pytest.mark.parametrize(
    ("candidates", "vendor", "name"),
    [
        (["Arcturus GL-XL [Instinct MI100]"], None, "AMD Instinct MI100"),
        (["0x1002", "N/A", "Radeon RX 7900 XT"], None, "AMD Radeon RX 7900 XT"),
        (["AMD Instinct MI300X"], None, "AMD Instinct MI300X"),
        (["DCU Z100"], "Chengdu Haiguang IC Design Co., Ltd.", "Hygon DCU Z100"),
        (["0x1002", "0x73df"], None, None),
        ([None], None, None),
    ],
)
def test_marketing_name_rule(candidates: list[str | None], vendor: str | None, name: str) -> None:
    assert rocm_smi.marketing_name(candidates, vendor=vendor) == name


def test_rocm_smi_with_no_cards_is_empty_with_a_warning() -> None:
    inventory = rocm_smi.parse('{"system": {"Driver version": "6.3.6"}}')
    assert inventory.gpus == ()
    assert inventory.driver_version == "6.3.6"
    assert inventory.warnings


def test_rocm_smi_json_after_a_log_line_is_read() -> None:
    text = (HARDWARE_DATA / "rocm-smi_rx7900xt.json").read_text()
    assert rocm_smi.parse_json("WARNING: something odd\n" + text).gpus[0].vram_total_mb == 20464


def test_rocm_smi_absurd_vram_is_unknown_not_huge() -> None:
    inventory = rocm_smi.parse('{"card0": {"VRAM Total Memory (B)": "' + "9" * 30 + '"}}')
    assert inventory.gpus[0].vram_total_mb is None
    assert any("no VRAM" in warning for warning in inventory.warnings)


@pytest.mark.parametrize("text", ["", "hello", "[1, 2]", "device", "{not json"])
def test_rocm_smi_garbage_is_a_tool_output_error(text: str) -> None:
    with pytest.raises(ToolOutputError):
        rocm_smi.parse(text)


# --- amd-smi specifics -----------------------------------------------------------------


def test_amd_smi_metric_reports_memory_in_use() -> None:
    text = (HARDWARE_DATA / "amd-smi-metric_2x-mi300x-rocm721-trimmed.json").read_text()
    gpus = amd_smi.parse(text).gpus
    assert [(gpu.vram_used_mb, gpu.vram_free_mb) for gpu in gpus] == [
        (17153, 196592 - 17153),
        (284, 196592 - 284),
    ]


def test_amd_smi_bare_array_and_gpu_data_wrapper_are_the_same() -> None:
    text = (HARDWARE_DATA / "amd-smi-static_strix-halo-8060s-rocm631.json").read_text()
    wrapped = json.dumps({"gpu_data": json.loads(text)})
    assert amd_smi.parse(wrapped) == amd_smi.parse(text)


def test_amd_smi_merge_names_metric_gpus_from_static() -> None:
    static = amd_smi.parse(
        (HARDWARE_DATA / "amd-smi-static_strix-halo-8060s-rocm631.json").read_text()
    )
    metric = amd_smi.parse(
        '[{"gpu": 0, "mem_usage": {"total_vram": {"value": 32768, "unit": "MB"},'
        ' "used_vram": {"value": 1000, "unit": "MB"}}}]'
    )
    merged = amd_smi.merge(static, metric)
    (gpu,) = merged.gpus
    assert gpu.name == static.gpus[0].name
    assert (gpu.vram_total_mb, gpu.vram_used_mb, gpu.vram_free_mb) == (32768, 1000, 31768)
    assert amd_smi.NO_NAME_WARNING not in merged.warnings
    assert merged.driver_version == "6.17.1-300.fc43.x86_64"


def test_amd_smi_merge_keeps_gpus_only_metric_saw() -> None:
    static = amd_smi.parse(
        (HARDWARE_DATA / "amd-smi-static_strix-halo-8060s-rocm631.json").read_text()
    )
    metric = amd_smi.parse(
        (HARDWARE_DATA / "amd-smi-metric_2x-mi300x-rocm721-trimmed.json").read_text()
    )
    merged = amd_smi.merge(static, metric)
    assert [gpu.index for gpu in merged.gpus] == [0, 1]
    assert amd_smi.NO_NAME_WARNING in merged.warnings


@pytest.mark.parametrize("text", ["", "{}", '"gpu"', "42", '{"gpu_data": 3}'])
def test_amd_smi_garbage_is_a_tool_output_error(text: str) -> None:
    with pytest.raises(ToolOutputError):
        amd_smi.parse(text)


# --- Kubernetes specifics --------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("NVIDIA-H100-80GB-HBM3", "NVIDIA H100 80GB HBM3"),
        ("Tesla-T4", "Tesla T4"),
        ("A100-SXM4-40GB", "A100-SXM4-40GB"),
        ("NVIDIA-A100-SXM4-80GB", "NVIDIA A100-SXM4-80GB"),
        ("Tesla-V100-PCIE-32GB", "Tesla V100-PCIE-32GB"),
        ("NVIDIA-A100-80GB-PCIe", "NVIDIA A100 80GB PCIe"),
        ("NVIDIA-B300-SXM6-AC", "NVIDIA B300 SXM6 AC"),
        ("GRID-A100-40C", "GRID A100-40C"),
        (
            "NVIDIA-RTX-PRO-6000-Blackwell-Max-Q-Workstation-Edition",
            "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition",
        ),
    ],
)
def test_product_label_names_are_restored(label: str, name: str) -> None:
    assert kubernetes.restore_product_name(label) == name


def test_k8s_mixed_mig_devices_carry_their_memory() -> None:
    text = (HARDWARE_DATA / "k8s-nodes_a100-40gb-dgx-mig-mixed-gfdlabels.json").read_text()
    devices = kubernetes.parse(text).gpus[0].mig_devices
    assert {device.profile: device.vram_total_mb for device in devices} == {
        "1g.5gb": 4864,
        "2g.10gb": 9984,
        "3g.21gb": 20096,
    }
    assert [device.index for device in devices] == [0, 1, 2]


def test_k8s_full_node_object_uses_labels_over_capacity() -> None:
    labels = json.loads(
        (HARDWARE_DATA / "k8s-nodes_t4-timeslicing-ocp-labels-grep.txt")
        .read_text()
        .strip()
        .join("{}")
        .replace(",}", "}")
    )
    capacity = json.loads(
        (HARDWARE_DATA / "k8s-nodes_t4-timeslicing-ocp-capacity.json").read_text()
    )
    node = {"kind": "Node", "metadata": {"labels": labels}, "status": {"capacity": capacity}}
    inventory = kubernetes.parse(json.dumps(node))
    assert [(gpu.name, gpu.vram_total_mb) for gpu in inventory.gpus] == [("Tesla T4", 15360)]


def test_k8s_node_list_numbers_gpus_across_nodes() -> None:
    labels = json.loads(
        (HARDWARE_DATA / "k8s-nodes_a100-40gb-dgx-mig-none-gfdlabels.json").read_text()
    )
    eight = {**labels, "nvidia.com/gpu.count": "8"}
    nodes = {"items": [{"metadata": {"labels": labels}}, {"metadata": {"labels": eight}}]}
    inventory = kubernetes.parse(json.dumps(nodes))
    assert [gpu.index for gpu in inventory.gpus] == list(range(9))
    assert any("2 nodes" in warning for warning in inventory.warnings)


def test_k8s_single_strategy_on_eight_gpus_infers_eight_gpus() -> None:
    text = (HARDWARE_DATA / "k8s-nodes_a100-40gb-dgx-mig-single-gfdlabels.json").read_text()
    labels = {**json.loads(text), "nvidia.com/gpu.count": "56"}
    gpus = kubernetes.parse(json.dumps(labels)).gpus
    assert len(gpus) == 8
    assert all(len(gpu.mig_devices) == 7 for gpu in gpus)


@pytest.mark.parametrize("text", ["", "just words", "[1, 2]", "- a\n- b", "status: ["])
def test_k8s_garbage_is_a_tool_output_error(text: str) -> None:
    with pytest.raises(ToolOutputError):
        kubernetes.parse(text)


def test_k8s_map_without_gpu_facts_is_empty_with_a_warning() -> None:
    inventory = kubernetes.parse('{"kubernetes.io/hostname": "node-1"}')
    assert inventory.gpus == ()
    assert inventory.warnings


# --- fuzzing ---------------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["N/A", "0x1002", "gfx9010", "-1", "1e999", "99999999999999999999"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


def _parses_or_refuses(parse: Parser, text: str) -> None:
    """The fuzz property: a value or a ToolOutputError, never anything else."""
    try:
        inventory = parse(text)
    except ToolOutputError:
        return
    assert isinstance(inventory, Inventory)


@FUZZ
@given(text=st.text(max_size=400))
@pytest.mark.parametrize("parse", PARSERS.values(), ids=PARSERS.keys())
def test_fuzz_arbitrary_text(parse: Parser, text: str) -> None:
    _parses_or_refuses(parse, text)


@FUZZ
@given(data=st.data())
def test_fuzz_dropped_lines(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(FILES))
    lines = path.read_text().splitlines(keepends=True)
    kept = data.draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    _parses_or_refuses(
        parser_for(path), "".join(line for line, k in zip(lines, kept, strict=True) if k)
    )


@FUZZ
@given(data=st.data())
def test_fuzz_truncated(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(FILES))
    text = path.read_text()
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    _parses_or_refuses(parser_for(path), text[:cut])


@FUZZ
@given(data=st.data())
def test_fuzz_substituted_characters(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(FILES))
    text = list(path.read_text())
    edits = data.draw(
        st.lists(st.tuples(st.integers(0, len(text) - 1), st.characters(codec="utf-8")), max_size=8)
    )
    for position, char in edits:
        text[position] = char
    _parses_or_refuses(parser_for(path), "".join(text))


STRUCTURED = [path for path in FILES if path.suffix in {".json", ".yaml"}]


def _load(path: Path) -> Any:
    text = path.read_text()
    return yaml.safe_load(text) if path.suffix == ".yaml" else json.loads(text)


def _dump(path: Path, document: Any) -> str:
    return yaml.safe_dump(document) if path.suffix == ".yaml" else json.dumps(document)


def _value_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    children: list[tuple[Any, Any]] = []
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    for key, child in children:
        paths.extend(_value_paths(child, (*prefix, key)))
    return paths


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    result = copy.copy(document)
    head, *rest = path
    result[head] = _replace(document[head], tuple(rest), value)
    return result


@FUZZ
@given(data=st.data())
def test_fuzz_json_values_replaced_with_random_types(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(STRUCTURED))
    document = _load(path)
    paths = _value_paths(document)
    targets = data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=6))
    for target in targets:
        try:
            document = _replace(document, target, data.draw(json_values))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    _parses_or_refuses(parser_for(path), _dump(path, document))


@FUZZ
@given(document=json_values)
@pytest.mark.parametrize("parse", PARSERS.values(), ids=PARSERS.keys())
def test_fuzz_random_json_documents(parse: Parser, document: Any) -> None:
    _parses_or_refuses(parse, json.dumps(document))


def test_amd_smi_memory_in_use_above_the_vram_size_is_dropped_not_a_crash() -> None:
    """review2: used VRAM above the size (an APU's carve-out, or another device's reading)
    raised a bare ValueError out of the parser: a traceback from `gpuplan detect`."""
    entry = {
        "gpu": 0,
        "asic": {"market_name": "AMD Instinct MI300X"},
        "vram": {"size": {"value": 1000, "unit": "MB"}},
        "mem_usage": {"used_vram": {"value": 2000, "unit": "MB"}},
    }
    inventory = amd_smi.parse(json.dumps([entry]))
    gpu = inventory.gpus[0]
    assert (gpu.vram_total_mb, gpu.vram_used_mb, gpu.vram_free_mb) == (1000, None, None)
    assert any("more than the 1000 MiB VRAM size" in w for w in inventory.warnings)


def test_rocm_smi_card_number_beyond_any_driver_is_a_tool_output_error() -> None:
    """review2: 'card5000' raised a bare ValueError (GPU.index stops at 4095)."""
    text = json.dumps({"card5000": {"Card series": "AMD Instinct MI300X"}})
    with pytest.raises(ToolOutputError, match="card5000"):
        rocm_smi.parse_json(text)
