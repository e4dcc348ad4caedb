#!/usr/bin/env bash
# Peer baseline for optimize-seeds.sh: GEPA (PyPI `gepa` 0.1.4) optimizes the same prompt of the same
# template with the same embedded models (task: Qwen2.5-Coder-0.5B, reflection: 1.5B, served by
# llama.cpp exactly as git-grad serves them) under a budget of task-model calls, then one line of
# figures per seed and the mean/min/max of test accuracy, to sit next to git-grad's table.
# Usage: Benchmarks/gepa-side-by-side.sh [TEMPLATE] [SEEDS...]   (env: BUDGET, TASK, OUT, GEPA_VENV, MINIBATCH)
# BUDGET is GEPA's max_metric_calls = task-model calls (default 560: git-grad's seed-1 run spends 559
# calls in all). TASK_URL and REFLECTION_URL, when both set, are used instead of starting servers.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPLATE="${1:-sample-repo}"; shift || true
SEEDS=("${@:-1 2 3}"); SEEDS=(${SEEDS[@]})
BUDGET="${BUDGET:-560}"
GEPA_VENV="${GEPA_VENV:-$HOME/.cache/git-grad/gepa-venv}"
GRAD_HOME="${GIT_GRAD_HOME:-$HOME/.cache/git-grad}"
export OUT="${OUT:-$(mktemp -d /tmp/gepa-side-by-side.XXXX)}"
mkdir -p "$OUT"

# GEPA lives in its own venv so it never touches the embedded runtime's.
if ! "$GEPA_VENV/bin/python" -c 'import gepa' 2>/dev/null; then
  python3 -m venv "$GEPA_VENV"
  "$GEPA_VENV/bin/pip" install -q gepa==0.1.4
fi

pids=()
stop_servers() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop_servers EXIT

# One llama.cpp server per model, with git-grad's flags and environment (LocalModelServer.swift).
start_server() {  # MODEL_FILE NAME -> sets $url
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  OMP_WAIT_POLICY=PASSIVE "$GRAD_HOME/venv/bin/python" -m llama_cpp.server --model "$GRAD_HOME/models/$1" \
    --host 127.0.0.1 --port "$port" --n_ctx 4096 --n_threads 2 > "$OUT/$2-server.log" 2>&1 < /dev/null &
  pids+=($!)
  url="http://127.0.0.1:$port"
  for _ in $(seq 300); do
    if curl -sf "$url/v1/models" > /dev/null; then return; fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then echo "the $2 server exited; see $OUT/$2-server.log" >&2; tail -3 "$OUT/$2-server.log" >&2; exit 1; fi
    sleep 1
  done
  echo "the $2 server did not answer within 300s; see $OUT/$2-server.log" >&2; exit 1
}
if [ -z "${TASK_URL:-}" ] || [ -z "${REFLECTION_URL:-}" ]; then
  start_server qwen2.5-coder-0.5b-instruct-q4_k_m.gguf task; TASK_URL="$url"
  start_server qwen2.5-coder-1.5b-instruct-q4_k_m.gguf reflection; REFLECTION_URL="$url"
fi
export TASK_URL REFLECTION_URL

echo "GEPA $("$GEPA_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("gepa"))'), template $TEMPLATE, budget $BUDGET, seeds ${SEEDS[*]}, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
"$GEPA_VENV/bin/python" Benchmarks/gepa_side_by_side.py "$TEMPLATE" "$BUDGET" "${SEEDS[@]}"
