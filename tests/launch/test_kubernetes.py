"""Kubernetes manifests: valid against the 1.37 schemas (strictly), the right GPU asks."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from gpuplan.errors import LaunchError
from gpuplan.launch import LaunchConfig, LaunchRequest, render
from gpuplan.launch.kubernetes import gpu_resources, manifests, manifests_yaml, product_label
from tests.launch.cases import CASES, ENGINES, requests_for

K8S_VERSION = "1.37.0"


def _pairs(engine: str, case: str) -> list[tuple[LaunchRequest, LaunchConfig]]:
    out = []
    for request in requests_for(engine, case):
        if engine == "tensorrt-llm":
            request = request.model_copy(
                update={"overrides": {"image": "nvcr.io/nvidia/tensorrt-llm/release:example"}}
            )
        out.append((request, render(request)))
    return out


def _params() -> list[Any]:
    return [
        pytest.param(engine, case, id=f"{engine}-{case}")
        for engine in ENGINES
        for case in CASES
        if not (engine == "tensorrt-llm" and case == "amd")
    ]


def _containers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        container
        for doc in docs
        if doc["kind"] == "Deployment"
        for container in doc["spec"]["template"]["spec"]["containers"]
    ]


@pytest.mark.parametrize(("engine", "case"), _params())
def test_manifests_validate_strictly_and_ask_for_exactly_the_planned_gpus(
    engine: str, case: str
) -> None:
    pairs = _pairs(engine, case)
    text = manifests_yaml(pairs)
    docs = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    kinds = [doc["kind"] for doc in docs]
    assert kinds.count("Deployment") == len(pairs) == kinds.count("Service")
    for (request, config), container in zip(pairs, _containers(docs), strict=True):
        limits = container["resources"]["limits"]
        assert container["resources"]["requests"] == limits
        # kubernetes-validate does not check quantities: count the devices here
        assert sum(limits.values()) == len(request.gpus)
        binary = "/app/llama-server" if engine == "llama.cpp" else config.argv[0]
        assert [*container["command"], *container["args"]] == [binary, *config.argv[1:]]
        assert container["startupProbe"]["httpGet"]["path"] == config.health_path
        assert container["readinessProbe"]["httpGet"]["path"] == config.health_path
        assert container["livenessProbe"]["httpGet"]["path"] == config.health_path
        names = {item["name"] for item in container.get("env", [])}
        assert not names & {"CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"}


def test_resource_names_follow_the_device_plugins() -> None:
    (one,) = requests_for("vllm", "one_gpu")
    assert gpu_resources(one) == {"nvidia.com/gpu": 1}
    (tp,) = requests_for("vllm", "tp2")
    assert gpu_resources(tp) == {"nvidia.com/gpu": 2}
    (mig,) = requests_for("vllm", "mig")
    assert gpu_resources(mig) == {"nvidia.com/mig-3g.40gb": 1}
    (amd,) = requests_for("vllm", "amd")
    assert gpu_resources(amd) == {"amd.com/gpu": 1}
    first, second = requests_for("vllm", "coresident")
    assert gpu_resources(first) == gpu_resources(second) == {"nvidia.com/gpu.shared": 1}


def test_node_selector_uses_gpu_feature_discovery_product_labels() -> None:
    docs = manifests(_pairs("vllm", "one_gpu"))
    spec = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-4090"}
    docs = manifests(_pairs("sglang", "mig"))
    spec = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    assert spec["nodeSelector"]["nvidia.com/mig.strategy"] == "mixed"
    (amd,) = requests_for("vllm", "amd")
    assert product_label(amd.gpus[0]) is None  # AMD nodes: the amd.com/gpu resource decides


def test_ollama_gets_its_modelfile_and_creates_the_model_after_start() -> None:
    docs = manifests(_pairs("ollama", "one_gpu"))
    config_map = next(d for d in docs if d["kind"] == "ConfigMap")
    assert config_map["data"]["Modelfile"].startswith("FROM llama3.1:8b-instruct-q4_K_M\n")
    (container,) = _containers(docs)
    hook = container["lifecycle"]["postStart"]["exec"]["command"]
    assert hook[:2] == ["/bin/sh", "-c"]
    assert "ollama create chat -f /gpuplan/Modelfile" in hook[2]


def test_missing_image_and_clashing_names_are_errors_naming_the_fix() -> None:
    (request,) = requests_for("tensorrt-llm", "one_gpu")
    with pytest.raises(LaunchError, match="no container image"):
        manifests([(request, render(request))])
    (a,) = requests_for("vllm", "one_gpu")
    b = a.model_copy(update={"service": "Chat"})
    with pytest.raises(LaunchError, match="both become Kubernetes name 'chat'"):
        manifests([(a, render(a)), (b, render(b))])


def test_hugging_face_sources_get_an_optional_token_secret() -> None:
    for engine, wanted in (("vllm", True), ("llama.cpp", False), ("ollama", False)):
        (container,) = _containers(manifests(_pairs(engine, "one_gpu")))
        env = {item["name"]: item for item in container.get("env", [])}
        assert ("HF_TOKEN" in env) is wanted, engine
        if wanted:
            ref = env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": "hf-token", "key": "token", "optional": True}
