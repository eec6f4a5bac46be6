"""How experiments are started per mode: the runtime's own flags, GPU requests, manifests."""

from __future__ import annotations

from gpuplan.launch.engines import default_image
from gpuplan.tuning.commands import docker_argv, local_launch, ome_manifest
from gpuplan.tuning.factory import TaskContext, build_task
from gpuplan.tuning.model import TaskConfig
from gpuplan.tuning.service import render_plan


def config(runtime: str, mode: str = "docker", **fields: object) -> TaskConfig:
    context = TaskContext(
        model_name="meta-llama/Llama-3.2-1B-Instruct",
        base_runtime=runtime,
        deployment_mode=mode,
        task_name="t",
        **fields,
    )
    return build_task(context).config


def test_vllm_local_argv_uses_vllm_flags() -> None:
    cfg = config("vllm", "local")
    launch = local_launch(cfg, {"tensor-parallel-size": 2, "gpu-memory-utilization": 0.9}, 8123)
    assert launch.argv[:3] == ("vllm", "serve", "meta-llama/Llama-3.2-1B-Instruct")
    assert "--tensor-parallel-size" in launch.argv and "--tp-size" not in launch.argv
    assert launch.argv[launch.argv.index("--port") + 1] == "8123"
    assert launch.health_path == "/health"


def test_vllm_booleans_are_flags() -> None:
    cfg = config("vllm", "local")
    on = local_launch(cfg, {"enable-chunked-prefill": True}, 1).argv
    off = local_launch(cfg, {"enable-chunked-prefill": False}, 1).argv
    assert "--enable-chunked-prefill" in on and "--no-enable-chunked-prefill" in off


def test_sglang_local_argv() -> None:
    cfg = config("sglang", "local")
    argv = local_launch(cfg, {"tp-size": 2, "mem-fraction-static": 0.85}, 30000, python="py").argv
    assert argv[:3] == ("py", "-m", "sglang.launch_server")
    assert argv[argv.index("--tp-size") + 1] == "2"
    assert argv[argv.index("--mem-fraction-static") + 1] == "0.85"


def test_llama_cpp_python_server_gets_its_own_spelling() -> None:
    cfg = config("llamacpp", "local")
    launch = local_launch(
        cfg,
        {"parallel": 2, "ctx-size": 1024},
        9000,
        llamacpp=("llama_cpp.server", ("python", "-m", "llama_cpp.server")),
    )
    assert "--n_ctx" in launch.argv and "--ctx-size" not in launch.argv
    assert launch.argv[launch.argv.index("--interrupt_requests") + 1] == "False"
    assert launch.health_path == "/v1/models"
    assert any("no --parallel" in note for note in launch.notes)


def test_docker_requests_exactly_the_experiments_gpus() -> None:
    cfg = config("sglang", "docker", profiles=["balanced"])
    argv = docker_argv(cfg, {"tp-size": 2, "mem-fraction-static": 0.8}, "exp1", [0, 1])
    assert argv[:3] == ("docker", "run", "--rm")
    assert argv[argv.index("--gpus") + 1] == '"device=0,1"'
    image = argv.index(str(default_image("sglang", amd=False)))
    assert argv[image + 1 : image + 4] == ("python3", "-m", "sglang.launch_server")
    assert argv[argv.index("--host") + 1] == "0.0.0.0"


def test_tuning_runs_the_image_launch_files_serve() -> None:
    """What is tuned is what `gpuplan render` serves: one image table for both."""
    for runtime, engine in (("vllm", "vllm"), ("sglang", "sglang"), ("llamacpp", "llama.cpp")):
        for vendor in ("nvidia", "amd"):
            cfg = config(runtime, hardware={"vendor": vendor, "gpus": 1})
            image = default_image(engine, amd=vendor == "amd")
            assert cfg.deployment["image"] == image, (runtime, vendor)


def test_docker_on_amd_passes_rocm_devices_not_gpu_requests() -> None:
    cfg = config("vllm", "docker", hardware={"vendor": "amd", "gpus": 2})
    argv = docker_argv(cfg, {"tensor-parallel-size": 2}, "exp1", [0, 1])
    assert "--gpus" not in argv
    assert argv[argv.index("--device") + 1] == "/dev/kfd" and "/dev/dri" in argv
    assert "HIP_VISIBLE_DEVICES=0,1" in argv
    assert "rocm/vllm:latest" in argv


def test_ome_manifest_on_amd_requests_amd_gpus() -> None:
    cfg = config("vllm", "ome", hardware={"vendor": "amd", "gpus": 8})
    deployment, _ = ome_manifest(cfg, {"tensor-parallel-size": 8}, "t-exp1")
    limits = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"amd.com/gpu": 8}


def test_ome_manifest_requests_gpus_in_the_namespace() -> None:
    cfg = config("vllm", "ome", profiles=["balanced"])
    deployment, service = ome_manifest(cfg, {"tensor-parallel-size": 4}, "t-exp1")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 4
    assert deployment["metadata"]["namespace"] == "autotuner"
    assert "--tensor-parallel-size" in container["args"]
    assert service["kind"] == "Service"


def test_render_plan_follows_the_strategy() -> None:
    cfg = config("sglang", "docker", profiles=["balanced"],
                 user_overrides={"optimization": {"max_iterations": 3}})  # fmt: skip
    plan = render_plan(cfg)
    assert [p["params"]["tp-size"] for p in plan] == [1, 2, 4]
    assert [p["gpus"] for p in plan] == [1, 2, 4]
    assert '"device=0,1,2,3"' in plan[2]["argv"]


def test_docker_and_ome_on_a_cpu_host_request_no_gpu() -> None:
    """review2: the CPU image was chosen, yet `--gpus "device=0"` made the run fail on a
    host without GPUs (docker: could not select device driver with capabilities [[gpu]])."""
    cfg = config("llamacpp", "docker", hardware={"vendor": "cpu", "gpus": 0})
    argv = docker_argv(cfg, {"parallel": 1}, "exp1", [0])
    assert "--gpus" not in argv and "--device" not in argv
    assert str(default_image("llama.cpp", amd=False, gpus=False)) in argv
    ome = config("llamacpp", "ome", hardware={"vendor": "cpu", "gpus": 0})
    deployment, _ = ome_manifest(ome, {"parallel": 1}, "t-exp1")
    limits = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {}


def test_llama_server_downloads_a_repo_id_and_opens_a_file() -> None:
    """llama-server's --model wants a GGUF path; a Hugging Face repo id goes to --hf-repo."""
    repo = local_launch(config("llamacpp", "local"), {}, 9000).argv
    assert repo[repo.index("--hf-repo") + 1] == "meta-llama/Llama-3.2-1B-Instruct"
    assert "--model" not in repo
    cfg = config("llamacpp", "local")
    cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"id_or_path": "m.gguf"})})
    local = local_launch(cfg, {}, 9000).argv
    assert local[local.index("--model") + 1] == "m.gguf"
