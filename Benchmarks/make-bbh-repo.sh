#!/usr/bin/env bash
# Builds a prompt-repository template from a BIG-Bench Hard task in ../shared/data/bbh (the data
# stays outside the project): a seeded train/holdout/test split, a plain seed prompt and grad.toml.
# Usage: Benchmarks/make-bbh-repo.sh TASK OUT_DIR [TRAIN HOLDOUT TEST]
# METRIC=choice (default: the task's answers are the label set) or METRIC=number (a count, as in
# object_counting: the last number in the answer must equal the target).
set -euo pipefail
cd "$(dirname "$0")/.."
TASK="$1"; OUT="$2"; TRAIN="${3:-50}"; HOLDOUT="${4:-60}"; TEST="${5:-100}"
DATA="${SHARED:-../shared}/data/bbh/$TASK.json"
[ -f "$DATA" ] || { echo "make-bbh-repo: no $DATA" >&2; exit 1; }
rm -rf "$OUT"; mkdir -p "$OUT/data" "$OUT/prompts"
python3 - "$DATA" "$OUT" "$TRAIN" "$HOLDOUT" "$TEST" "${METRIC:-choice}" <<'PY'
import json, random, sys, collections
data, out, n_train, n_holdout, n_test = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
metric = sys.argv[6]
examples = json.load(open(data))["examples"]
random.Random(2026).shuffle(examples)
labels = sorted({e["target"] for e in examples})
splits = {"train": examples[:n_train], "holdout": examples[n_train:n_train + n_holdout],
          "test": examples[n_train + n_holdout:n_train + n_holdout + n_test]}
for name, rows in splits.items():
    with open(f"{out}/data/{name}.jsonl", "w") as f:
        for i, e in enumerate(rows):
            f.write(json.dumps({"id": f"{name}-{i + 1:03d}", "input": e["input"], "label": e["target"]}) + "\n")
    counts = collections.Counter(e["target"] for e in rows)
    print(f"{name}: {len(rows)} rows, majority {counts.most_common(1)[0][0]} {counts.most_common(1)[0][1] / len(rows):.3f}", file=sys.stderr)
open(f"{out}/prompts/task.md", "w").write("Answer the question.\n\n{{input}}\n\nAnswer:\n")
open(f"{out}/grad.toml", "w").write(f'''[task]
prompt = "prompts/task.md"
train = "data/train.jsonl"
holdout = "data/holdout.jsonl"
test = "data/test.jsonl"
input = "input"
target = "label"
id = "id"

[metric]
{'kind = "choice"' + chr(10) + 'labels = ' + json.dumps(labels) if metric == "choice" else 'kind = "number"'}

[model]
temperature = 0.0
max_tokens = 16

[optimizer]
temperature = 0.7
max_tokens = 400
''')
PY
echo "make-bbh-repo: $OUT (labels from $DATA)" >&2
