"""Declared hardware: spec words and saved files become the same Host detection builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuplan.errors import GpuplanError, HardwareSpecError, UnknownGPUError
from gpuplan.hardware import GPU, Host, MigDevice, load_host
from gpuplan.hardware.declared import MAX_GPUS, host_from_document, parse_spec

HEADROOM = 2048


def names_and_mib(host: Host) -> list[tuple[int, str, int | None]]:
    return [(gpu.index, gpu.name, gpu.vram_total_mb) for gpu in host.gpus]


# -- the examples --------------------------------------------------------------------------


def test_two_rtx_4090() -> None:
    host = parse_spec("2x RTX 4090", headroom_mb=HEADROOM)
    assert host.source == "declared"
    assert names_and_mib(host) == [
        (0, "NVIDIA GeForce RTX 4090", 24564),
        (1, "NVIDIA GeForce RTX 4090", 24564),
    ]
    assert host.headroom_mb_per_gpu == HEADROOM
    assert host.total_usable_vram_mb == 2 * (24564 - HEADROOM)
    assert all(gpu.compute_capability == "8.9" and gpu.vendor == "nvidia" for gpu in host.gpus)


def test_seed_004_rig_keeps_the_order_given() -> None:
    host = parse_spec("RTX A5500, RTX A400", headroom_mb=HEADROOM)
    assert names_and_mib(host) == [(0, "NVIDIA RTX A5500", 24564), (1, "NVIDIA RTX A400", 4094)]
    assert [gpu.compute_capability for gpu in host.gpus] == ["8.6", "8.6"]


def test_eight_h100_80gb() -> None:
    host = parse_spec("8x H100-80GB", headroom_mb=HEADROOM)
    assert [gpu.index for gpu in host.gpus] == list(range(8))
    assert {gpu.name for gpu in host.gpus} == {"NVIDIA H100 80GB HBM3"}
    assert {gpu.vram_total_mb for gpu in host.gpus} == {81559}
    assert host.summary() == "8x NVIDIA H100 80GB HBM3 (81559 MiB)"


@pytest.mark.parametrize("spec", ["cpu", "CPU", " none ", "cpu-only", "No GPU"])
def test_cpu_only_host(spec: str) -> None:
    host = parse_spec(spec, headroom_mb=HEADROOM)
    assert host.source == "declared"
    assert host.gpus == ()
    assert host.system_ram_mb is None
    assert host.summary() == "CPU only"


# -- spellings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "2x RTX 4090",
        "2 x RTX 4090",
        "2X rtx4090",
        "2×RTX 4090",
        "2 × RTX 4090",
        "2* RTX 4090",
        "RTX 4090 x2",
        "rtx-4090 ×2",
        "RTX 4090, RTX 4090",
        "RTX 4090 + rtx 4090",
        "  2x   NVIDIA GeForce RTX 4090  ",
        "2x RTX 4090,",
        "1x RTX 4090, 1x GeForce RTX 4090",
    ],
)
def test_spellings_of_two_4090s_declare_the_same_host(spec: str) -> None:
    expected = parse_spec("2x RTX 4090", headroom_mb=HEADROOM)
    assert parse_spec(spec, headroom_mb=HEADROOM).gpus == expected.gpus


def test_mixed_items_are_indexed_in_order() -> None:
    host = parse_spec("RTX 4090 + 2x RTX 3090, RTX A400", headroom_mb=HEADROOM)
    assert names_and_mib(host) == [
        (0, "NVIDIA GeForce RTX 4090", 24564),
        (1, "NVIDIA GeForce RTX 3090", 24576),
        (2, "NVIDIA GeForce RTX 3090", 24576),
        (3, "NVIDIA RTX A400", 4094),
    ]


def test_a_name_starting_with_digits_and_x_is_not_a_count() -> None:
    host = parse_spec("2x RX 7900 XTX", headroom_mb=HEADROOM)
    assert names_and_mib(host) == [
        (0, "AMD Radeon RX 7900 XTX", 24560),
        (1, "AMD Radeon RX 7900 XTX", 24560),
    ]
    with pytest.raises(UnknownGPUError) as caught:
        parse_spec("7900 XTX", headroom_mb=HEADROOM)
    assert caught.value.name == "7900 XTX"
    assert "RX 7900 XTX" in caught.value.suggestions


@pytest.mark.parametrize(
    ("spec", "mib"),
    [
        ("RTX 4090 @ 48GB", 49152),
        ("RTX 4090@48gib", 49152),
        ("RTX 4090 @ 49140MiB", 49140),
        ("2x RTX 4090 @ 48 GB", 49152),
        ("RTX 4090 x2 @ 48GB", 49152),
        ("H100 @ 40.5GB", 41472),
    ],
)
def test_memory_override(spec: str, mib: int) -> None:
    host = parse_spec(spec, headroom_mb=HEADROOM)
    assert {gpu.vram_total_mb for gpu in host.gpus} == {mib}
    assert {gpu.vram_free_mb for gpu in host.gpus} == {mib}


def test_estimated_catalog_memory_is_flagged_once() -> None:
    host = parse_spec("2x RX 7900 XTX, RTX 4090", headroom_mb=HEADROOM)
    assert len(host.warnings) == 1 and "RX 7900 XTX" in host.warnings[0]
    assert parse_spec("RX 7900 XTX @ 24560MiB", headroom_mb=HEADROOM).warnings == ()
    assert parse_spec("2x RTX 4090", headroom_mb=HEADROOM).warnings == ()


def test_sixty_four_gpus_is_the_limit() -> None:
    assert parse_spec(f"{MAX_GPUS}x L4", headroom_mb=0).gpu_count == MAX_GPUS
    with pytest.raises(HardwareSpecError, match="more than 64 GPUs"):
        parse_spec("33x H100, 32x H100", headroom_mb=0)


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (", ,", "names no GPU"),
        ("0x RTX 4090", "out of range"),
        ("65x RTX 4090", "out of range"),
        ("99999999999x RTX 4090", "out of range"),
        ("1.5x RTX 4090", "not a whole number"),
        ("-1x RTX 4090", "not a whole number"),
        ("RTX 4090 x0", "out of range"),
        ("cpu, RTX 4090", "mixes 'cpu' with GPUs"),
        ("RTX 4090 @ 48", "not a size with a unit"),
        ("RTX 4090 @ lots", "not a size with a unit"),
        ("RTX 4090 @ 0GB", "out of range"),
        ("@ 48GB", "no GPU name"),
        ("RTX 4060 Ti", "fits 2 catalog entries"),
    ],
)
def test_spec_errors_say_what_and_how_to_fix(spec: str, words: str) -> None:
    with pytest.raises(HardwareSpecError) as caught:
        parse_spec(spec, headroom_mb=HEADROOM)
    assert words in caught.value.message
    assert caught.value.hint, "every spec error must say how to fix it"


@pytest.mark.parametrize(
    ("spec", "suggested"),
    [("RTX 4091", "RTX 4090"), ("2x A100", "A100 80GB"), ("H100 SMX", "H100")],
)
def test_unknown_names_list_the_closest_catalog_names(spec: str, suggested: str) -> None:
    with pytest.raises(UnknownGPUError) as caught:
        parse_spec(spec, headroom_mb=HEADROOM)
    assert suggested in caught.value.suggestions
    assert "closest catalog names" in str(caught.value)


def test_negative_headroom_is_refused() -> None:
    with pytest.raises(HardwareSpecError, match="negative"):
        parse_spec("RTX 4090", headroom_mb=-1)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    spec=st.one_of(
        st.text(max_size=80),
        st.lists(
            st.sampled_from(
                [
                    "2x",
                    "0x",
                    "65x",
                    "1.5x",
                    "x2",
                    "×",
                    "*",
                    " ",
                    ",",
                    "+",
                    "@",
                    "48GB",
                    "MiB",
                    "RTX 4090",
                    "H100",
                    "cpu",
                    "none",
                    "RTX 4060 Ti",
                    "7900",
                    "XTX",
                    "A100",
                    ".json",
                    "/",
                    "~",
                    "[",
                    "]",
                    "(",
                    ")",
                    "-",
                    "\x00",
                    "ü",
                ]
            ),
            max_size=10,
        ).map("".join),
    )
)
def test_any_text_is_a_host_or_a_gpuplan_error(
    spec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        host = parse_spec(spec, headroom_mb=HEADROOM)
    except GpuplanError as error:
        assert str(error)
    else:
        assert isinstance(host, Host)
        assert [gpu.index for gpu in host.gpus] == list(range(host.gpu_count))


# -- hardware files -------------------------------------------------------------------------------


def detected_host() -> Host:
    """A host as NVML detection would build it, with every kind of field filled."""
    mig = MigDevice(
        index=0,
        profile="3g.40gb",
        uuid="MIG-11111111-2222-3333-4444-555555555555",
        vram_total_mb=40192,
        vram_free_mb=40000,
        gpu_instance_id=1,
        compute_instance_id=0,
    )
    gpus = (
        GPU(
            index=0,
            name="NVIDIA H100 80GB HBM3",
            vendor="nvidia",
            uuid="GPU-00000000-0000-0000-0000-000000000001",
            vram_total_mb=81559,
            vram_free_mb=80000,
            vram_used_mb=1559,
            compute_capability="9.0",
            architecture="Hopper",
            mig_mode=True,
            mig_devices=(mig,),
            pci_bus_id="00000000:18:00.0",
        ),
        GPU(index=1, name="NVIDIA H100 80GB HBM3", vendor="nvidia", vram_total_mb=81559),
    )
    return Host(
        source="nvml",
        gpus=gpus,
        headroom_mb_per_gpu=1024,
        driver_version="590.48.01",
        cuda_version="13.1",
        system_ram_mb=2_063_000,
        warnings=("GPU 1: fan speed unavailable",),
        tried=("nvml: 2 GPUs",),
    )


def assert_round_trip(original: Host, parsed: Host, origin: Path) -> None:
    fields = {"source", "tried"}
    assert parsed.model_dump(exclude=fields) == original.model_dump(exclude=fields)
    assert parsed.source == "file"
    assert parsed.tried[:-1] == original.tried
    assert str(origin) in parsed.tried[-1] and "nvml" in parsed.tried[-1]


def test_detect_json_round_trips(tmp_path: Path) -> None:
    original = detected_host()
    dumped = original.model_dump(mode="json")
    assert "total_usable_vram_mb" in dumped  # what `gpuplan detect --json` prints
    path = tmp_path / "box.json"
    path.write_text(json.dumps(dumped, indent=2), encoding="utf-8")
    parsed = parse_spec(str(path), headroom_mb=HEADROOM)
    assert_round_trip(original, parsed, path)
    assert parsed.headroom_mb_per_gpu == 1024, "a saved inventory keeps its own headroom"
    assert parsed.total_usable_vram_mb == original.total_usable_vram_mb


def test_detect_json_round_trips_as_yaml_and_without_suffix(tmp_path: Path) -> None:
    original = detected_host()
    as_yaml = tmp_path / "box.yaml"
    as_yaml.write_text(yaml.safe_dump(original.model_dump(mode="json")), encoding="utf-8")
    assert_round_trip(original, parse_spec(str(as_yaml), headroom_mb=HEADROOM), as_yaml)
    bare = tmp_path / "inventory"
    bare.write_text(original.model_dump_json(), encoding="utf-8")
    assert_round_trip(original, parse_spec(str(bare), headroom_mb=HEADROOM), bare)


def test_a_file_without_headroom_takes_the_callers(tmp_path: Path) -> None:
    dumped = detected_host().model_dump(mode="json")
    del dumped["headroom_mb_per_gpu"]
    path = tmp_path / "box.json"
    path.write_text(json.dumps(dumped), encoding="utf-8")
    assert parse_spec(str(path), headroom_mb=512).headroom_mb_per_gpu == 512


def test_an_explicit_headroom_overrides_the_files(tmp_path: Path) -> None:
    path = tmp_path / "box.json"
    path.write_text(json.dumps(detected_host().model_dump(mode="json")), encoding="utf-8")
    host = parse_spec(str(path), headroom_mb=512, override_headroom=True)
    assert host.headroom_mb_per_gpu == 512
    compact = tmp_path / "rig.json"
    compact.write_text('{"gpus": ["L4"], "headroom_mb_per_gpu": 4096}', encoding="utf-8")
    assert parse_spec(str(compact), headroom_mb=0, override_headroom=True).headroom_mb_per_gpu == 0


def test_a_saved_declared_host_round_trips(tmp_path: Path) -> None:
    original = parse_spec("RTX A5500, RTX A400", headroom_mb=HEADROOM)
    path = tmp_path / "rig.json"
    path.write_text(json.dumps(original.model_dump(mode="json")), encoding="utf-8")
    parsed = parse_spec(str(path), headroom_mb=0)
    assert parsed.gpus == original.gpus
    assert parsed.headroom_mb_per_gpu == HEADROOM


@pytest.mark.parametrize(
    ("file", "content"),
    [
        ("rig.json", '{"gpus": ["2x RTX 4090"]}'),
        ("rig.json", '{"gpus": "RTX 4090 x2", "system_ram_mb": 65536}'),
        ("rig.yaml", "gpus:\n  - 2x RTX 4090\n"),
        ("rig.yml", "gpus: [RTX 4090, rtx-4090]\nheadroom_mb_per_gpu: 1024\n"),
        ("rig.toml", 'gpus = ["RTX 4090", "RTX 4090"]\n'),
    ],
)
def test_compact_files_list_gpu_names(tmp_path: Path, file: str, content: str) -> None:
    path = tmp_path / file
    path.write_text(content, encoding="utf-8")
    host = parse_spec(str(path), headroom_mb=HEADROOM)
    assert host.source == "file"
    assert names_and_mib(host) == [
        (0, "NVIDIA GeForce RTX 4090", 24564),
        (1, "NVIDIA GeForce RTX 4090", 24564),
    ]
    assert host.headroom_mb_per_gpu == (1024 if "headroom" in content else HEADROOM)


def test_compact_file_with_no_gpus_is_cpu_only(tmp_path: Path) -> None:
    path = tmp_path / "cpu.json"
    path.write_text('{"gpus": [], "system_ram_mb": 32768}', encoding="utf-8")
    host = parse_spec(str(path), headroom_mb=HEADROOM)
    assert host.gpus == () and host.system_ram_mb == 32768 and host.source == "file"


def test_full_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "box.toml"
    path.write_text(
        'source = "nvidia-smi"\ndriver_version = "550.54.14"\n'
        '[[gpus]]\nindex = 0\nname = "NVIDIA L4"\nvendor = "nvidia"\nvram_total_mb = 23034\n',
        encoding="utf-8",
    )
    host = parse_spec(str(path), headroom_mb=HEADROOM)
    assert names_and_mib(host) == [(0, "NVIDIA L4", 23034)]
    assert host.driver_version == "550.54.14"


def test_document_from_an_api_body() -> None:
    host = host_from_document({"gpus": ["L40S"]}, origin="request body", headroom_mb=HEADROOM)
    assert host.tried == ("request body: 1 GPU declared by name",)
    assert names_and_mib(host) == [(0, "NVIDIA L40S", 46068)]


def _gpu_record(**changes: object) -> dict[str, object]:
    record: dict[str, object] = {"index": 0, "name": "NVIDIA L4", "vram_total_mb": 23034}
    record.update(changes)
    return record


@pytest.mark.parametrize(
    ("file", "content", "words"),
    [
        ("bad.json", '{"source": "nvml", "gpus": [', "not valid JSON"),
        ("bad.json", "[1, 2]", "holds a list, not an object"),
        ("bad.json", "", "not valid JSON"),
        ("bad.yaml", "gpus: [unclosed\n", "not valid YAML"),
        ("bad.yaml", "", "holds nothing"),
        ("bad.toml", "gpus = [\n", "not valid TOML"),
        (
            "bad.json",
            json.dumps({"source": "nvml", "gpus": [_gpu_record(vram_total_mb="lots")]}),
            "field gpus[0].vram_total_mb",
        ),
        (
            "bad.json",
            json.dumps({"source": "nvml", "gpus": [_gpu_record(colour="green")]}),
            "unknown field gpus[0].colour",
        ),
        ("bad.json", json.dumps({"source": "nvml", "colour": "green"}), "unknown field colour"),
        ("bad.json", json.dumps({"gpus": [_gpu_record()]}), "field source is missing"),
        ("bad.json", json.dumps({"source": "carrier pigeon"}), "field source"),
        (
            "bad.json",
            json.dumps({"source": "nvml", "headroom_mb_per_gpu": -5}),
            "field headroom_mb_per_gpu",
        ),
        ("bad.json", json.dumps({"gpus": ["RTX 4091"]}), "field gpus: unknown GPU 'RTX 4091'"),
        ("bad.json", json.dumps({"gpus": ["0x L4"]}), "field gpus: GPU count 0"),
        ("bad.json", json.dumps({"gpus": ["L4"], "colour": 1}), "field colour is not allowed"),
        ("bad.json", json.dumps({"gpus": ["L4"], "system_ram_mb": "big"}), "field system_ram_mb"),
        ("bad.json", json.dumps({"gpus": ["L4"], "headroom_mb_per_gpu": -1}), "is negative"),
        # review2: above the records' limits, a compact file raised a bare ValueError
        (
            "bad.json",
            json.dumps({"gpus": ["L4"], "headroom_mb_per_gpu": 2_000_000}),
            "field headroom_mb_per_gpu is 2000000 MiB",
        ),
        (
            "bad.json",
            json.dumps({"gpus": ["L4"], "system_ram_mb": 2**31}),
            "field system_ram_mb is 2147483648 MiB",
        ),
        # review2: two slices of 40192 and 60000 MiB on an 81559 MiB GPU were planned on
        (
            "bad.json",
            json.dumps(
                {
                    "source": "nvml",
                    "gpus": [
                        _gpu_record(
                            vram_total_mb=81559,
                            mig_mode=True,
                            mig_devices=[
                                {"index": 0, "vram_total_mb": 40192, "gpu_instance_id": 1},
                                {"index": 1, "vram_total_mb": 60000, "gpu_instance_id": 2},
                            ],
                        )
                    ],
                }
            ),
            "field gpus[0].mig_devices add up to 100192 MiB",
        ),
        # review2: a line break in a name or a key split the one-line error and every view
        (
            "bad.json",
            json.dumps({"source": "nvml", "gpus": [_gpu_record(name="RTX\n4090")]}),
            "field gpus[0].name 'RTX\\n4090' holds control characters",
        ),
        (
            "bad.json",
            json.dumps({"source": "nvml", "gpus": [_gpu_record(**{"bad\nkey": 1})]}),
            "unknown field 'gpus[0].bad\\nkey'",
        ),
        # review2: a record where a GPU belongs reads as before the dataclass records
        (
            "bad.json",
            json.dumps({"source": "nvml", "gpus": [[_gpu_record()]]}),
            "field gpus[0] must be a table",
        ),
        (
            "bad.json",
            json.dumps({"source": "nvml", "gpus": [_gpu_record(mig_devices=[[]])]}),
            "field gpus[0].mig_devices[0] must be a table",
        ),
    ],
)
def test_malformed_files_name_the_file_and_the_field(
    tmp_path: Path, file: str, content: str, words: str
) -> None:
    path = tmp_path / file
    path.write_text(content, encoding="utf-8")
    with pytest.raises(HardwareSpecError) as caught:
        parse_spec(str(path), headroom_mb=HEADROOM)
    assert str(path) in caught.value.message
    assert words in caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.hint


def test_missing_file_directory_and_binary_file(tmp_path: Path) -> None:
    with pytest.raises(HardwareSpecError, match="does not exist"):
        parse_spec(str(tmp_path / "nope.json"), headroom_mb=HEADROOM)
    with pytest.raises(HardwareSpecError, match="is a directory"):
        parse_spec(str(tmp_path) + "/", headroom_mb=HEADROOM)
    binary = tmp_path / "blob.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(HardwareSpecError, match="not UTF-8"):
        parse_spec(str(binary), headroom_mb=HEADROOM)


def test_a_relative_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rig").write_text('{"gpus": ["T4"]}', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert parse_spec("rig", headroom_mb=HEADROOM).gpus[0].name == "Tesla T4"
    assert parse_spec("T4", headroom_mb=HEADROOM).source == "declared"


# -- through load_host and GPUPLAN_HARDWARE -------------------------------------------------------


def test_environment_declares_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUPLAN_HARDWARE", "2x RTX 4090")
    monkeypatch.setenv("GPUPLAN_HEADROOM_MB", "1024")
    host = load_host()
    assert host.source == "declared" and host.gpu_count == 2
    assert host.headroom_mb_per_gpu == 1024


def test_explicit_spec_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUPLAN_HARDWARE", "2x RTX 4090")
    assert load_host("cpu").gpus == ()


def test_memory_in_parentheses_means_at_memory() -> None:
    """'RTX 4090 (48GB)' was silently the catalog's 24 GB; it now means '@ 48GB'."""
    from gpuplan.hardware import load_host

    host = load_host("2x RTX 4090 (48GB)")
    assert [g.vram_total_mb for g in host.gpus] == [49152, 49152]
    assert load_host("RTX 4090 (24564 MiB)").gpus[0].vram_total_mb == 24564


def test_compute_instances_of_one_gpu_instance_count_once_in_a_file(tmp_path: Path) -> None:
    """review2: three '1c.3g.47gb' compute instances share one 3g GPU instance's memory."""
    shared = {"profile": "1c.3g.47gb", "vram_total_mb": 46848, "gpu_instance_id": 1}
    record = _gpu_record(
        name="NVIDIA H100 NVL",
        vram_total_mb=95830,
        mig_mode=True,
        mig_devices=[{"index": i, "compute_instance_id": i, **shared} for i in range(3)],
    )
    path = tmp_path / "ci.json"
    path.write_text(json.dumps({"source": "nvml", "gpus": [record]}), encoding="utf-8")
    host = parse_spec(str(path), headroom_mb=HEADROOM)
    assert host.device_budgets_mb() == (46848 - HEADROOM,)


def test_resaving_a_loaded_file_does_not_grow_its_history(tmp_path: Path) -> None:
    path = tmp_path / "box.json"
    path.write_text(parse_spec("2x RTX 4090", headroom_mb=HEADROOM).model_dump_json())
    once = parse_spec(str(path), headroom_mb=HEADROOM)
    path.write_text(once.model_dump_json())
    twice = parse_spec(str(path), headroom_mb=HEADROOM)
    assert twice.tried == once.tried
