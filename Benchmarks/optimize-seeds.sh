#!/usr/bin/env bash
# Quality benchmark of the main job: for each seed, a fresh prompt repository from a template
# (default sample-repo/), `git grad optimize` with the quickstart's settings and the embedded
# models, then one line of figures per seed and the mean/min/max of test accuracy.
# Usage: Benchmarks/optimize-seeds.sh [TEMPLATE] [SEEDS...]   (env: BIN, STEPS, VARIANTS, OUT, TASK)
# VARIANTS unset keeps the template's grad.toml (its default: 2).
# TASK picks a task of a template with several (sample-repo: router, the default, or reviews);
# OPERATORS and SETTINGS (space-separated NAME=VALUE) pass --operators and --set to optimize.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPLATE="${1:-sample-repo}"; shift || true
SEEDS=("${@:-1 2 3}"); SEEDS=(${SEEDS[@]})
BIN="${BIN:-$(swift build --show-bin-path)/git-grad}"
OUT="${OUT:-$(mktemp -d /tmp/git-grad-seeds.XXXX)}"
STEPS="${STEPS:-3}"; VARIANTS="${VARIANTS:-}"
if [ -z "${TASK:-}" ] && [ "$TEMPLATE" = "sample-repo" ]; then TASK=router; fi
echo "template $TEMPLATE, steps $STEPS, variants ${VARIANTS:-from grad.toml}, seeds ${SEEDS[*]}, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
printf '%-5s %-15s %-15s %-9s %-44s %-6s %-6s\n' seed holdout test accepted "by operator (accepted/rejected)" calls wall
tests=()
for seed in "${SEEDS[@]}"; do
  repo="$OUT/seed$seed"
  # A seed whose run already finished (an interrupted benchmark) is reported, not run again.
  if ! grep -q '"event":"summary"' "$repo.events.jsonl" 2>/dev/null; then
    rm -rf "$repo"
    "$BIN" init "$repo" --from "$TEMPLATE" >/dev/null
    start=$(date +%s)
    extra=(); for setting in ${SETTINGS:-}; do extra+=(--set "$setting"); done
    "$BIN" -C "$repo" optimize ${TASK:+--task "$TASK"} ${OPERATORS:+--operators "$OPERATORS"} "${extra[@]}" --steps "$STEPS" ${VARIANTS:+--variants "$VARIANTS"} --seed "$seed" --json > "$repo.events.jsonl" 2> "$repo.stderr"
    echo $(( $(date +%s) - start )) > "$repo.wall"
  fi
done
python3 - "$OUT" "${SEEDS[@]}" <<'PY'
import json, sys, statistics
out, seeds = sys.argv[1], sys.argv[2:]
tests, holdouts = [], []
for seed in seeds:
    events = [json.loads(line) for line in open(f"{out}/seed{seed}.events.jsonl") if line.strip()]
    s = next(e["data"]["summary"] for e in events if e["event"] == "summary")
    wall = open(f"{out}/seed{seed}.wall").read().strip()
    ops = ", ".join(f"{k} {v['accepted']}/{v['rejected']}" for k, v in sorted(s["operators"].items()))
    print(f"{seed:<5} {s['seedHoldout']:.3f} -> {s['finalHoldout']:.3f}  {s['seedTest'] or 0:.3f} -> {s['finalTest'] or 0:.3f}  "
          f"{s['accepted']}/{s['accepted'] + s['rejected']:<7} {ops:<44} {s['usage']['calls']:<6} {wall}s")
    tests.append(s["finalTest"] or 0); holdouts.append(s["finalHoldout"])
for name, xs in (("holdout", holdouts), ("test", tests)):
    print(f"{name} accuracy over {len(xs)} seeds: mean {statistics.mean(xs):.3f}, min {min(xs):.3f}, max {max(xs):.3f}")
PY
echo "repositories kept in $OUT"
