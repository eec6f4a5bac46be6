# shellcheck shell=bash
# llama.cpp as a real OpenAI-compatible server on CPU, for the tuning and serving tests.
#
# Sourced by .ci/run (cwd = repo root); also runnable as `bash scripts/ci/20-llama-cpp.sh`.
# Installs into the project's .venv:
#   - llama-cpp-python[server] (`python -m llama_cpp.server`), built from the PyPI sdist
#     once (~4.5 min on 2 cores) and cached as a wheel;
#   - llama.cpp's own `llama-server` (has /health and /metrics, starts in ~0.05 s), built
#     with cmake from the llama.cpp copy vendored in that same sdist, cached as a binary.
# Exports GPUPLAN_LLAMA_SERVER and puts llama-server on PATH. Idempotent: a second run, or a
# machine that kept ${XDG_CACHE_HOME:-$HOME/.cache}/gpuplan-ci, builds nothing.
# Set GPUPLAN_SKIP_LLAMA_SERVER_BUILD=1 to skip the llama-server binary.

_gpuplan_llama_setup() {
    local version=0.3.36 # pinned: the cached wheel and binary are keyed by it
    local cache="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/gpuplan-ci"
    local wheels="$cache/wheels"
    local bindir="$cache/bin"
    local server_bin="$bindir/llama-server-$version"
    local python="${PYTHON:-python3}"
    mkdir -p "$wheels" "$bindir"

    if [ ! -x .venv/bin/python ]; then
        echo "--> creating .venv"
        "$python" -m venv .venv || return 1
    fi

    # Both builds need a C++ toolchain; a fresh machine may have only gcc.
    if ! command -v cmake >/dev/null || ! command -v g++ >/dev/null || ! command -v make >/dev/null; then
        echo "--> installing cmake, g++ and make (apt)"
        apt-get update -qq && apt-get install -y -qq cmake g++ make >/dev/null || return 1
    fi

    # 1. The Python server, from a cached wheel when there is one.
    if .venv/bin/python -c "import llama_cpp, llama_cpp.server" 2>/dev/null &&
        [ "$(.venv/bin/python -c 'import llama_cpp; print(llama_cpp.__version__)')" = "$version" ]; then
        echo "--> llama-cpp-python $version already installed"
    else
        if ! compgen -G "$wheels/llama_cpp_python-$version-*.whl" >/dev/null; then
            echo "--> building llama-cpp-python $version wheel (takes minutes on 2 cores)"
            CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
                .venv/bin/python -m pip wheel --quiet --no-deps --no-binary llama-cpp-python \
                -w "$wheels" "llama-cpp-python==$version" || return 1
        fi
        echo "--> installing llama-cpp-python[server] $version from $wheels"
        .venv/bin/python -m pip install --quiet --find-links "$wheels" \
            "llama-cpp-python[server]==$version" || return 1
    fi

    # 2. llama.cpp's own server binary, from the same source.
    if [ "${GPUPLAN_SKIP_LLAMA_SERVER_BUILD:-0}" != 1 ] && [ ! -x "$server_bin" ]; then
        local work
        work="$(mktemp -d)"
        echo "--> building llama-server from llama-cpp-python $version's vendored llama.cpp"
        .venv/bin/python -m pip download --quiet --no-deps --no-binary :all: \
            -d "$work" "llama-cpp-python==$version" || return 1
        tar -xzf "$work"/llama_cpp_python-"$version".tar.gz -C "$work" || return 1
        cmake -S "$work/llama_cpp_python-$version/vendor/llama.cpp" -B "$work/build" \
            -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DBUILD_SHARED_LIBS=OFF \
            -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
            -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF >"$work/cmake.log" 2>&1 ||
            { tail -20 "$work/cmake.log"; return 1; }
        cmake --build "$work/build" --target llama-server -j "$(nproc)" >"$work/build.log" 2>&1 ||
            { tail -40 "$work/build.log"; return 1; }
        install -m 0755 "$work/build/bin/llama-server" "$server_bin" || return 1
        rm -rf "$work"
    fi
    if [ -x "$server_bin" ]; then
        ln -sf "$server_bin" .venv/bin/llama-server
        ln -sf "$server_bin" "$bindir/llama-server"
        # Rendered launch configs call plain `llama-server`: put it on PATH too.
        case ":$PATH:" in *":$bindir:"*) ;; *) export PATH="$bindir:$PATH" ;; esac
        export GPUPLAN_LLAMA_SERVER="$server_bin"
        echo "--> GPUPLAN_LLAMA_SERVER=$GPUPLAN_LLAMA_SERVER (llama-server on PATH)"
    fi
}

_gpuplan_llama_setup || {
    echo "error: llama.cpp setup failed (scripts/ci/20-llama-cpp.sh)" >&2
    false
}
