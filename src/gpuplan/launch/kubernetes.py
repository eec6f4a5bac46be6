"""Kubernetes manifests for a plan: one Deployment and one Service per model.

Each Deployment asks the device plugin for exactly the devices placement chose:
``nvidia.com/gpu`` (whole GPUs), ``nvidia.com/mig-<profile>`` (a MIG slice, the
device plugin's *mixed* strategy), ``amd.com/gpu`` on AMD — and, for services that
share a GPU with others, ``nvidia.com/gpu.shared``, the resource the NVIDIA device
plugin offers when time-slicing is configured with ``renameByDefault`` (a plain
``nvidia.com/gpu`` is exclusive, so two pods could never co-reside). Nodes are
chosen by NVIDIA GPU Feature Discovery's ``nvidia.com/gpu.product`` label.

The pod runs the engine's argv as ``command`` + ``args``; the device-visibility
variable is left out because inside a pod the device plugin decides which GPUs the
container sees (host indices and UUIDs of the plan mean nothing there). Model
loading takes minutes, so a startup probe guards the readiness and liveness probes
on the engine's health endpoint; ``Recreate`` keeps a rollout from running two
copies on one GPU.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml

from gpuplan.errors import LaunchError
from gpuplan.launch.model import GpuSlot, LaunchConfig, LaunchRequest

__all__ = ["HF_SECRET", "gpu_resources", "manifests", "manifests_yaml", "product_label"]

_DEVICE_VARS = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]+")
STARTUP_SECONDS = 1800
"""How long a model may take to load before Kubernetes restarts the pod."""


def _name(text: str) -> str:
    """An RFC 1035 label: lower case, letters/digits/dashes, a letter first, ≤ 63 chars."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"svc-{name}".rstrip("-")
    return name[:63].rstrip("-")


def product_label(slot: GpuSlot) -> str | None:
    """GPU Feature Discovery's ``nvidia.com/gpu.product`` value: the name, spaces → dashes."""
    if slot.vendor != "nvidia" or not slot.name.strip():
        return None
    name = slot.name.strip()
    if not name.upper().startswith("NVIDIA"):
        name = f"NVIDIA {name}"
    value = _LABEL_VALUE.sub("-", name).strip("-_.")
    return value[:63].rstrip("-_.")


def gpu_resources(request: LaunchRequest) -> dict[str, int]:
    """The extended resources (device-plugin names → count) this service's pod asks for."""
    if not request.gpus:
        return {}
    slots = request.gpus
    if all(slot.vendor == "amd" for slot in slots):
        return {"amd.com/gpu": len(slots)}
    if any(slot.vendor == "amd" for slot in slots):
        raise LaunchError(
            f"service {request.service!r} spans NVIDIA and AMD GPUs",
            hint="place it on one vendor's GPUs",
        )
    migs = [slot.mig_profile for slot in slots if slot.mig_profile]
    if migs:
        if len(slots) != 1:
            raise LaunchError(
                f"service {request.service!r} spans {len(slots)} MIG slices",
                hint="a model never spans MIG slices; place it on one slice or a whole GPU",
            )
        return {f"nvidia.com/mig-{migs[0]}": 1}
    if any(slot.reserved_total_mb > 0 for slot in slots):
        return {"nvidia.com/gpu.shared": len(slots)}
    return {"nvidia.com/gpu": len(slots)}


_IMAGE_BINARIES = {"llama.cpp": "/app/llama-server"}
"""Where an engine's image keeps its binary when it is not on PATH (ggml-org's server images)."""

HF_SECRET = "hf-token"
"""Secret whose ``token`` key, when it exists, becomes HF_TOKEN (gated Hugging Face repos)."""


def _needs_hf_token(config: LaunchConfig) -> bool:
    if config.engine == "llama.cpp":
        return "--hf-repo" in config.argv
    if config.engine in ("vllm", "sglang", "tensorrt-llm"):
        source = (
            config.argv[config.argv.index("--model-path") + 1]
            if "--model-path" in config.argv
            else config.argv[2]
        )
        return not source.startswith(("/", "./", "../", "~"))
    return False


def _probe(config: LaunchConfig, **timing: int) -> dict[str, Any]:
    return {"httpGet": {"path": config.health_path, "port": "http"}, **timing}


def _deployment(
    request: LaunchRequest, config: LaunchConfig, namespace: str | None
) -> list[dict[str, Any]]:
    name = _name(request.service)
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "gpuplan"}
    if config.image is None:
        raise LaunchError(
            f"service {request.service!r}: no container image is known for "
            f"{config.engine} {config.engine_version}",
            hint="pass one as the `image` override of that service",
        )
    metadata: dict[str, Any] = {"name": name, "labels": labels}
    if namespace:
        metadata["namespace"] = namespace
    resources = gpu_resources(request)
    container: dict[str, Any] = {
        "name": _name(config.engine),
        "image": config.image,
        "command": [_IMAGE_BINARIES.get(config.engine, config.argv[0])],
        "args": list(config.argv[1:]),
        "ports": [{"name": "http", "containerPort": config.port, "protocol": "TCP"}],
        "startupProbe": _probe(config, periodSeconds=10, failureThreshold=STARTUP_SECONDS // 10),
        "readinessProbe": _probe(config, periodSeconds=10, failureThreshold=3),
        "livenessProbe": _probe(config, periodSeconds=20, failureThreshold=3),
        "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
    }
    env: list[dict[str, Any]] = [
        {"name": key, "value": value}
        for key, value in config.env.items()
        if key not in _DEVICE_VARS
    ]
    if _needs_hf_token(config):
        # gated Hugging Face repos need a token; optional, so public models need no secret
        env.append(
            {
                "name": "HF_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {"name": HF_SECRET, "key": "token", "optional": True}
                },
            }
        )
    if env:
        container["env"] = env
    if resources:
        container["resources"] = {"limits": dict(resources), "requests": dict(resources)}
    volumes: list[dict[str, Any]] = [{"name": "dshm", "emptyDir": {"medium": "Memory"}}]
    docs: list[dict[str, Any]] = []
    if config.files:
        config_map = f"{name}-files"
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {**metadata, "name": config_map},
                "data": dict(config.files),
            }
        )
        volumes.append({"name": "files", "configMap": {"name": config_map}})
        container["volumeMounts"].append({"name": "files", "mountPath": "/gpuplan"})
    if config.after_start:
        # Runs beside the server; waits for it, then e.g. `ollama create … -f Modelfile`.
        steps = " && ".join(
            " ".join(_shell_word(word.replace("Modelfile", "/gpuplan/Modelfile")) for word in cmd)
            for cmd in config.after_start
        )
        wait = f"until {_shell_word(config.argv[0])} list >/dev/null 2>&1; do sleep 2; done"
        container["lifecycle"] = {
            "postStart": {"exec": {"command": ["/bin/sh", "-c", f"{wait}; {steps}"]}}
        }
    pod_spec: dict[str, Any] = {"containers": [container], "volumes": volumes}
    selector: dict[str, str] = {}
    products = {product_label(slot) for slot in request.gpus} - {None}
    if len(products) == 1:
        selector["nvidia.com/gpu.product"] = str(products.pop())
    if any(slot.mig_profile for slot in request.gpus):
        selector["nvidia.com/mig.strategy"] = "mixed"
    if selector:
        pod_spec["nodeSelector"] = selector
    # GPU nodes are commonly tainted with the vendor's resource name
    taints = sorted(
        {"amd.com/gpu" if key.startswith("amd.") else "nvidia.com/gpu" for key in resources}
    )
    tolerations = [{"key": key, "operator": "Exists", "effect": "NoSchedule"} for key in taints]
    if tolerations:
        pod_spec["tolerations"] = tolerations
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "selector": {"app.kubernetes.io/name": name},
            "ports": [
                {"name": "http", "port": config.port, "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }
    return [*docs, deployment, service]


def _shell_word(word: str) -> str:
    return (
        word
        if re.fullmatch(r"[A-Za-z0-9_./:=@%+-]+", word)
        else "'" + word.replace("'", "'\\''") + "'"
    )


def manifests(
    pairs: Sequence[tuple[LaunchRequest, LaunchConfig]], *, namespace: str | None = None
) -> list[dict[str, Any]]:
    """Every object for the plan, in service order: [ConfigMap,] Deployment, Service each."""
    seen: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for request, config in pairs:
        name = _name(request.service)
        if name in seen:
            raise LaunchError(
                f"services {seen[name]!r} and {request.service!r} both become Kubernetes "
                f"name {name!r}",
                hint="rename one of them",
            )
        seen[name] = request.service
        out += _deployment(request, config, namespace)
    return out


def _notes_comment(pairs: Sequence[tuple[LaunchRequest, LaunchConfig]]) -> str:
    lines = ["# Generated by gpuplan: one Deployment + Service per model."]
    for request, config in pairs:
        resources = gpu_resources(request)
        asks = ", ".join(f"{k}: {v}" for k, v in resources.items()) or "no GPU"
        lines.append(f"# {request.service}: {config.engine} {config.engine_version}, {asks}")
        if "nvidia.com/gpu.shared" in resources:
            lines.append(
                "#   shares its GPU: needs the NVIDIA device plugin's time-slicing "
                "(sharing.timeSlicing, renameByDefault: true); memory is not isolated, "
                "the engine flags keep it within its budget"
            )
    return "\n".join(lines) + "\n"


class _NoAliases(yaml.SafeDumper):
    """Repeated labels are written out, not as ``&id001`` anchors a reader must chase."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def manifests_yaml(
    pairs: Sequence[tuple[LaunchRequest, LaunchConfig]], *, namespace: str | None = None
) -> str:
    """The manifests as one multi-document YAML file, notes as comments at the top."""
    docs = manifests(pairs, namespace=namespace)
    body = yaml.dump_all(docs, Dumper=_NoAliases, sort_keys=False, default_flow_style=False)
    return _notes_comment(pairs) + "---\n" + body
