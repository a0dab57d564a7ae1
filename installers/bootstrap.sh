#!/usr/bin/env bash
# Sets up Tailor's virtual environment on first use and keeps it in step with pyproject.toml.
#
# llama-cpp-python has no binary wheel on the package index and takes 8-10 minutes to build on
# two cores, so the built wheel is kept in a cache outside the checkout and reused by every later
# set-up (and by CI on the same machine). With nothing cached it is simply built once.
#
#   TAILOR_CUDA=1        build llama.cpp with CUDA (needs an NVIDIA GPU and the CUDA toolkit)
#   TAILOR_VENV=DIR      where the virtual environment lives (default: .venv in the checkout)
#   TAILOR_WHEEL_CACHE   where built wheels are kept (default: ~/.cache/tailor/wheels)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${TAILOR_VENV:-$root/.venv}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
llama_version=0.3.36

if [[ "${TAILOR_CUDA:-0}" == "1" ]]; then
  flavour=cuda
  cmake_args="-DGGML_CUDA=on -DGGML_NATIVE=OFF"
else
  flavour=cpu
  # GGML_NATIVE=OFF: a portable build (still AVX2/FMA) that any x86-64 machine of this decade runs.
  cmake_args="-DGGML_NATIVE=OFF"
fi
wheels="${TAILOR_WHEEL_CACHE:-$HOME/.cache/tailor/wheels}/$flavour"

say() { printf '\033[1mtailor setup:\033[0m %s\n' "$*" >&2; }

if [[ ! -x "$venv/bin/python" ]]; then
  say "creating the virtual environment in $venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip wheel
fi

mkdir -p "$wheels"
if ! ls "$wheels"/llama_cpp_python-"$llama_version"-*.whl >/dev/null 2>&1; then
  say "building llama-cpp-python $llama_version ($flavour) once; this takes about 10 minutes"
  CMAKE_ARGS="$cmake_args" "$venv/bin/python" -m pip wheel --quiet --no-deps \
    -w "$wheels" "llama-cpp-python==$llama_version"
fi

# Reinstall only when the project's requirements or the llama.cpp flavour changed.
stamp="$venv/.tailor-installed"
lock="$root/resources/components/training.lock"
want="$(cat "$root/pyproject.toml" "$lock" | sha256sum | cut -d' ' -f1)-$flavour"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  say "installing Tailor and its dependencies (first time: a few minutes)"
  # The training packages at the versions of the installed app's training component (its lock),
  # so that what the tests train with is what users install.
  "$venv/bin/python" -m pip install --quiet --find-links "$wheels" -c "$lock" -e "$root[dev]"
  # This flavour's build, replacing the other one after a switch between CPU and CUDA.
  "$venv/bin/python" -m pip install --quiet --no-deps --force-reinstall \
    "$wheels"/llama_cpp_python-"$llama_version"-*.whl
  echo "$want" > "$stamp"
  installed=1
fi

# The embedder's ONNX Runtime model: an int8 export of the bundled all-MiniLM-L6-v2 weights,
# made once here (it needs torch, about half a minute), so that embedding never imports torch.
# Without it the first use makes it; if it cannot be made, the embedder runs on torch.
embedders="${TAILOR_EMBEDDER_CACHE:-$venv/tailor-cache/embedders}"
if [[ -n "${installed:-}" ]] || ! compgen -G "$embedders/*.onnx" >/dev/null; then
  say "exporting the embedder to ONNX (once)"
  (cd "$root" && "$venv/bin/python" -m engine.onnx_embedder >/dev/null 2>&1) \
    || say "the embedder's ONNX export failed; embedding uses torch until it is made"
fi
