"""scripts/extract_engine_flags.py reads each engine's parser as text: checked on small sources."""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO_ROOT
from tests.launch.cases import DATA, ENGINES


def _script() -> ModuleType:
    path = REPO_ROOT / "scripts" / "extract_engine_flags.py"
    spec = importlib.util.spec_from_file_location("extract_engine_flags", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def test_vllm_add_argument_strings_and_frontend_dataclass_fields(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "vllm/engine/arg_utils.py",
        """
        def add_cli_args(parser):
            group.add_argument("--max-model-len", **kw["max_model_len"])
            group.add_argument("--tensor-parallel-size", "-tp", type=int)
    """,
    )
    _write(
        tmp_path,
        "vllm/entrypoints/common/cli_args.py",
        """
        class FrontendArgs:
            host: str | None = None
            _private: int = 0
        def make_arg_parser(parser):
            parser.add_argument("--headless", action="store_true")
    """,
    )
    sets, files = _script().extract_vllm(tmp_path)
    assert sets["flags"] == [
        "--headless",
        "--host",
        "--max-model-len",
        "--tensor-parallel-size",
        "-tp",
    ]
    assert files[0] == "vllm/engine/arg_utils.py"


def test_sglang_dataclass_fields_honour_cli_name_aliases_and_no_cli(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "python/sglang/srt/server_args.py",
        """
        def add_cli_args(parser):
            parser.add_argument("--config", type=str)
    """,
    )
    _write(
        tmp_path,
        "python/sglang/srt/arg_groups/fields/memory.py",
        """
        class Memory:
            mem_fraction_static: A[float, Arg(help="x")] = None
            tp_size: A[int, Arg(cli_name="--tp-size", aliases=["--tensor-parallel-size"])] = 1
            hidden: A[bool, Arg(no_cli=True)] = False
            plain: A[int, "help text"] = 0
            not_cli: int = 0
    """,
    )
    sets, _ = _script().extract_sglang(tmp_path)
    assert sets["flags"] == [
        "--config",
        "--mem-fraction-static",
        "--plain",
        "--tensor-parallel-size",
        "--tp-size",
    ]


def test_llama_cpp_keeps_server_and_common_options_with_their_env(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "common/arg.cpp",
        """
        add_opt(common_arg(
            {"-c", "--ctx-size"}, "N", "size",
            [](common_params & params, int value) {}
        ).set_env("LLAMA_ARG_CTX_SIZE"));
        add_opt(common_arg(
            {"-np", "--parallel"}, "N", "slots", [](common_params & p, int v) {}
        ).set_examples({LLAMA_EXAMPLE_SERVER}).set_env("LLAMA_ARG_N_PARALLEL"));
        add_opt(common_arg(
            {"-m", "--model"}, "FNAME", "model", [](common_params & p, const std::string & v) {}
        ).set_examples({LLAMA_EXAMPLE_COMMON, LLAMA_EXAMPLE_EXPORT_LORA}));
        add_opt(common_arg(
            {"--perplexity"}, "only elsewhere", [](common_params & p) {}
        ).set_examples({LLAMA_EXAMPLE_PERPLEXITY}));
        add_opt(common_arg(
            {"-p", "--prompt"}, "PROMPT", "not the server", [](common_params & p) {}
        ).set_excludes({LLAMA_EXAMPLE_SERVER}));
    """,
    )
    sets, _ = _script().extract_llama_cpp(tmp_path)
    assert sets["flags"] == ["--ctx-size", "--model", "--parallel", "-c", "-m", "-np"]
    assert sets["env"] == ["LLAMA_ARG_CTX_SIZE", "LLAMA_ARG_N_PARALLEL"]


def test_ollama_env_and_modelfile_parameters(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "envconfig/config.go",
        """
        func AsMap() map[string]EnvVar {
            return map[string]EnvVar{"OLLAMA_HOST": {"OLLAMA_HOST", Host(), "addr"}}
        }
        var KvCacheType = String("OLLAMA_KV_CACHE_TYPE")
    """,
    )
    _write(
        tmp_path,
        "api/types.go",
        """
        type Runner struct {
            NumCtx int `json:"num_ctx,omitempty"`
        }

        type Other struct {
            Model string `json:"model"`
        }
    """,
    )
    sets, _ = _script().extract_ollama(tmp_path)
    assert sets == {"env": ["OLLAMA_HOST", "OLLAMA_KV_CACHE_TYPE"], "parameters": ["num_ctx"]}


def test_trtllm_serve_command_options_only(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "tensorrt_llm/commands/serve.py",
        """
        @click.command("serve")
        @click.option("--tp_size", "--tensor_parallel_size", type=int)
        def serve(): ...

        @click.command("grpc")
        @click.option("--grpc_only")
        def grpc(): ...
    """,
    )
    sets, _ = _script().extract_trtllm(tmp_path)
    assert sets["flags"] == ["--tensor_parallel_size", "--tp_size"]


@pytest.mark.parametrize("engine", ENGINES)
def test_committed_flag_sets_name_their_source(engine: str) -> None:
    from gpuplan.launch import ENGINE_VERSIONS

    data = json.loads((DATA / "flags" / f"{engine}-{ENGINE_VERSIONS[engine]}.json").read_text())
    assert data["engine"] == engine
    assert data["source"]["repo"] and data["source"]["ref"] and data["source"]["obtained"]
    assert data["extracted_by"] == "scripts/extract_engine_flags.py"
    assert data.get("flags") or data.get("env")
