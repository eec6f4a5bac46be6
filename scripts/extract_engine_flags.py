#!/usr/bin/env python3
"""Extract a serving engine's command-line flags (or env vars) from its own source text.

The launch renderers must only emit flags that exist in the engine release they
target. This script reads that release's argument parser *as text* — no engine
needs to be installed — and writes the flag set as JSON test data under
``tests/launch/data/flags/``, with the repository, release and commit it came from.

    scripts/extract_engine_flags.py vllm  SRC --version 0.33.0 --ref v0.33.0 \
        --commit ... --obtained "PyPI wheel vllm-0.33.0" -o tests/launch/data/flags/vllm-0.33.0.json

SRC is a directory that holds the engine's files at their repository (or wheel)
paths:

* vllm: ``vllm/engine/arg_utils.py`` (EngineArgs.add_cli_args) and
  ``vllm/entrypoints/{common,openai}/cli_args.py`` (FrontendArgs + make_arg_parser);
* sglang: ``[python/]sglang/srt/server_args.py`` (ServerArgs.add_cli_args) and the
  ``arg_groups/fields/*.py`` dataclasses it registers through
  ``add_cli_args_from_dataclass`` (``--field-name``, ``cli_name``, ``aliases``,
  ``no_cli``);
* llama.cpp: ``common/arg.cpp`` — every ``common_arg({...})`` whose examples include
  ``LLAMA_EXAMPLE_SERVER`` or ``LLAMA_EXAMPLE_COMMON`` (or that names none), unless
  ``set_excludes`` names the server, with its ``set_env`` variable;
* ollama: ``envconfig/config.go`` (environment variables) and ``api/types.go``
  (``Options``/``Runner`` JSON tags = Modelfile ``PARAMETER`` names);
* tensorrt-llm: ``tensorrt_llm/commands/serve.py`` — the ``@click.option`` names of
  the ``serve`` command.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import json
import re
import sys
from pathlib import Path


def _python_add_argument_flags(tree: ast.AST) -> set[str]:
    """String flags passed positionally to any ``*.add_argument(...)`` call."""
    flags: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add_argument"
        ):
            for arg in node.args:
                if (
                    isinstance(arg, ast.Constant)
                    and isinstance(arg.value, str)
                    and arg.value.startswith("-")
                ):
                    flags.add(arg.value)
    return flags


def _dataclass_fields(tree: ast.AST, class_suffix: str) -> set[str]:
    """Annotated field names of classes whose name ends in ``class_suffix``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name.endswith(class_suffix):
            for item in node.body:
                if (
                    isinstance(item, ast.AnnAssign)
                    and isinstance(item.target, ast.Name)
                    and not item.target.id.startswith("_")
                ):
                    names.add(item.target.id)
    return names


def _customized_extra_flags(tree: ast.AST) -> set[str]:
    """Short aliases vLLM's frontends add with ``kwargs[...]["flags"] = [...]``."""
    flags: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.slice, ast.Constant)
                    and target.slice.value == "flags"
                    and isinstance(node.value, ast.List)
                ):
                    for elt in node.value.elts:
                        if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                            flags.add(elt.value)
    return flags


def extract_vllm(root: Path) -> tuple[dict[str, list[str]], list[str]]:
    files = [root / "vllm/engine/arg_utils.py"]
    flags = _python_add_argument_flags(ast.parse(files[0].read_text()))
    for rel in ("vllm/entrypoints/common/cli_args.py", "vllm/entrypoints/openai/cli_args.py"):
        path = root / rel
        if not path.exists():
            continue
        files.append(path)
        tree = ast.parse(path.read_text())
        flags |= _python_add_argument_flags(tree)
        flags |= {"--" + name.replace("_", "-") for name in _dataclass_fields(tree, "FrontendArgs")}
        flags |= _customized_extra_flags(tree)
    return {"flags": sorted(flags)}, [str(f.relative_to(root)) for f in files]


def _sglang_root(root: Path) -> Path:
    for base in (root / "python/sglang", root / "sglang"):
        if (base / "srt/server_args.py").exists():
            return base
    raise SystemExit(f"{root}: no sglang/srt/server_args.py")


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _sglang_field_flags(tree: ast.AST) -> set[str]:
    """Flags ``add_cli_args_from_dataclass`` registers for ``A[T, help|Arg(...)]`` fields."""
    flags: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
                continue
            ann = item.annotation
            if not (isinstance(ann, ast.Subscript) and isinstance(ann.value, ast.Name)):
                continue
            if ann.value.id != "A" or not isinstance(ann.slice, ast.Tuple):
                continue
            meta = ann.slice.elts[1] if len(ann.slice.elts) > 1 else None
            if isinstance(meta, ast.Constant) and isinstance(meta.value, str):
                flags.add("--" + item.target.id.replace("_", "-"))
                continue
            if not (isinstance(meta, ast.Call) and getattr(meta.func, "id", "") == "Arg"):
                continue
            no_cli = _keyword(meta, "no_cli")
            if isinstance(no_cli, ast.Constant) and no_cli.value is True:
                continue
            cli_name = _keyword(meta, "cli_name")
            if isinstance(cli_name, ast.Constant) and isinstance(cli_name.value, str):
                flags.add(cli_name.value)
            else:
                flags.add("--" + item.target.id.replace("_", "-"))
            aliases = _keyword(meta, "aliases")
            if isinstance(aliases, ast.List):
                for elt in aliases.elts:
                    if isinstance(elt, ast.Constant) and isinstance(elt.value, str):
                        flags.add(elt.value)
    return flags


def extract_sglang(root: Path) -> tuple[dict[str, list[str]], list[str]]:
    base = _sglang_root(root)
    files = [base / "srt/server_args.py"]
    flags = _python_add_argument_flags(ast.parse(files[0].read_text()))
    fields_dir = base / "srt/arg_groups/fields"
    for path in sorted(fields_dir.glob("*.py")) if fields_dir.is_dir() else []:
        files.append(path)
        flags |= _sglang_field_flags(ast.parse(path.read_text()))
    return {"flags": sorted(flags)}, [str(f.relative_to(root)) for f in files]


_COMMON_ARG = re.compile(r"add_opt\(\s*common_arg\(\s*\{([^}]*)\}")
_QUOTED = re.compile(r'"([^"]+)"')


def extract_llama_cpp(root: Path) -> tuple[dict[str, list[str]], list[str]]:
    path = root / "common/arg.cpp"
    text = path.read_text()
    starts = [m.start() for m in _COMMON_ARG.finditer(text)] + [len(text)]
    flags: set[str] = set()
    env: set[str] = set()
    for begin, end in itertools.pairwise(starts):
        block = text[begin:end]
        head = _COMMON_ARG.match(block)
        assert head is not None
        examples = re.search(r"\.set_examples\(\{([^}]*)\}", block)
        if examples and not re.search(r"LLAMA_EXAMPLE_(SERVER|COMMON)\b", examples.group(1)):
            continue
        excludes = re.search(r"\.set_excludes\(\{([^}]*)\}", block)
        if excludes and "LLAMA_EXAMPLE_SERVER" in excludes.group(1):
            continue
        names = [n for n in _QUOTED.findall(head.group(1)) if n.startswith("-")]
        flags.update(names)
        env.update(re.findall(r'\.set_env\("([A-Z0-9_]+)"\)', block))
    return {"flags": sorted(flags), "env": sorted(env)}, [str(path.relative_to(root))]


def extract_ollama(root: Path) -> tuple[dict[str, list[str]], list[str]]:
    config = root / "envconfig/config.go"
    types = root / "api/types.go"
    env = set(re.findall(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"', config.read_text()))
    text = types.read_text()
    params: set[str] = set()
    for struct in ("Options", "Runner"):
        body = re.search(r"type " + struct + r" struct \{(.*?)\n\}", text, re.S)
        if body:
            params.update(re.findall(r'json:"([a-z_]+)(?:,omitempty)?"', body.group(1)))
    return (
        {"env": sorted(env), "parameters": sorted(params)},
        [str(config.relative_to(root)), str(types.relative_to(root))],
    )


def extract_trtllm(root: Path) -> tuple[dict[str, list[str]], list[str]]:
    path = root / "tensorrt_llm/commands/serve.py"
    tree = ast.parse(path.read_text())
    flags: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.FunctionDef) and node.name == "serve"):
            continue
        for deco in node.decorator_list:
            if (
                isinstance(deco, ast.Call)
                and isinstance(deco.func, ast.Attribute)
                and deco.func.attr == "option"
            ):
                for arg in deco.args:
                    if (
                        isinstance(arg, ast.Constant)
                        and isinstance(arg.value, str)
                        and arg.value.startswith("-")
                    ):
                        flags.add(arg.value)
    return {"flags": sorted(flags)}, [str(path.relative_to(root))]


EXTRACTORS = {
    "vllm": (extract_vllm, "vllm-project/vllm"),
    "sglang": (extract_sglang, "sgl-project/sglang"),
    "llama.cpp": (extract_llama_cpp, "ggml-org/llama.cpp"),
    "ollama": (extract_ollama, "ollama/ollama"),
    "tensorrt-llm": (extract_trtllm, "NVIDIA/TensorRT-LLM"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine", choices=sorted(EXTRACTORS))
    parser.add_argument("source", type=Path, help="directory holding the engine's files")
    parser.add_argument("--version", required=True, help="engine release the files belong to")
    parser.add_argument("--ref", required=True, help="git tag (or other ref) of that release")
    parser.add_argument("--commit", default=None, help="commit of the source, when known")
    parser.add_argument("--obtained", required=True, help="where the source text came from")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    extract, repo = EXTRACTORS[args.engine]
    sets, files = extract(args.source)
    if not any(sets.values()):
        print(f"{args.engine}: nothing extracted from {args.source}", file=sys.stderr)
        return 1
    document = {
        "engine": args.engine,
        "version": args.version,
        "source": {
            "repo": repo,
            "ref": args.ref,
            "commit": args.commit,
            "files": files,
            "obtained": args.obtained,
        },
        "extracted_by": "scripts/extract_engine_flags.py",
        **sets,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
    counts = ", ".join(f"{len(v)} {k}" for k, v in sets.items())
    print(f"{args.output}: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
