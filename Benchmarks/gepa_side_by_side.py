#!/usr/bin/env python3
"""GEPA (the `gepa` package, 0.1.4) as a peer baseline on the task git-grad optimizes.

    gepa_side_by_side.py TEMPLATE BUDGET SEED...   (env: TASK_URL, REFLECTION_URL, TASK, OUT, MINIBATCH)

Reads the task from TEMPLATE's grad.toml (prompt template, train/holdout/test, a `choice` metric),
optimizes the prompt with gepa.optimize for each seed (train = GEPA's trainset, holdout = its
valset, BUDGET task-model calls), scores the seed and the best prompt on test, and prints one
line per seed and the mean/min/max, in the shape of optimize-seeds.sh's table. Standard library
and gepa only: both models are OpenAI-compatible servers called over urllib.
"""
import json
import os
import re
import statistics
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request

import gepa
from gepa import EvaluationBatch

template_dir, budget, seeds = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3:]]
TASK_URL = os.environ["TASK_URL"].rstrip("/")
REFLECTION_URL = os.environ["REFLECTION_URL"].rstrip("/")
OUT = os.environ.get("OUT") or tempfile.mkdtemp(prefix="gepa-side-by-side.")
# GEPA's default reflection minibatch (3); git-grad's sample-repo uses batch_size 8.
MINIBATCH = int(os.environ.get("MINIBATCH", "3"))

# --- The task, read as git-grad reads grad.toml: `[task]`, or `[tasks.NAME]` picked by TASK. ---
config = tomllib.load(open(os.path.join(template_dir, "grad.toml"), "rb"))
if "task" in config:
    task_name, task = "task", config["task"]
else:
    task_name = os.environ.get("TASK") or ("router" if "router" in config["tasks"] else next(iter(config["tasks"])))
    task = config["tasks"][task_name]
metric = task.get("metric") or config.get("metric") or {}
if metric.get("kind") != "choice" or not metric.get("labels"):
    sys.exit(f"{template_dir}: task {task_name}: only a `choice` metric with labels is supported here")
labels = metric["labels"]
inputs = task.get("input", "input")
inputs = [inputs] if isinstance(inputs, str) else inputs
target = task.get("target", "target")


def rows(key):
    with open(os.path.join(template_dir, task[key])) as f:
        return [json.loads(line) for line in f if line.strip()]


train, holdout, test = rows("train"), rows("holdout"), rows("test")
seed_prompt = open(os.path.join(template_dir, task["prompt"])).read()

# --- git-grad's ChoiceScorer (Sources/Evaluation/Scorers.swift), transcribed: the prediction is
# the label of the LAST explicit answer ("queue: X", "answer is X"), else the LAST label named
# anywhere, labels matched as whole words, longest first, case-insensitive unless case_sensitive. ---
case_sensitive = bool(metric.get("case_sensitive"))
alternatives = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
any_label = re.compile(rf"(?<!\w)({alternatives})(?!\w)", 0 if case_sensitive else re.IGNORECASE)
explicit_answer = re.compile(r"(?:final answer|answer|label|category|class|queue)\s*(?:is)?\s*[:=\-–]?\s*[*\"'`\[(]*"
                             + any_label.pattern, any_label.flags)


def same(a, b):
    return a == b if case_sensitive else a.lower() == b.lower()


def is_correct(output, expected):
    for regex in (explicit_answer, any_label):
        found = regex.findall(output)
        if found:
            return same(found[-1], str(expected))
    return False


# --- The two models: one chat-completions POST each, as git-grad's OpenAI-compatible provider. ---
def chat(url, model, content, temperature, max_tokens, seed):
    messages = content if isinstance(content, list) else [{"role": "user", "content": content}]
    body = json.dumps({"model": model, "messages": messages, "temperature": temperature,
                       "max_tokens": max_tokens, "seed": seed}).encode()
    request = urllib.request.Request(url + "/v1/chat/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=900) as reply:
        return json.loads(reply.read())["choices"][0]["message"]["content"] or ""


placeholder = re.compile(r"\{\{\s*(" + "|".join(map(re.escape, inputs)) + r")\s*\}\}")


class TemplateAdapter:
    """A gepa.GEPAAdapter (duck-typed: the protocol has no base behaviour) for one `prompt` component."""

    propose_new_texts = None  # GEPA's own reflective proposer writes the candidates

    def __init__(self, seed):
        self.seed = seed
        self.task_calls = 0
        self.fixed = set()  # candidates that lost every placeholder (each counted once)

    def runnable(self, prompt):
        # A prompt that no longer shows the row would score the model's guess: append the row.
        if placeholder.search(prompt):
            return prompt
        if prompt not in self.fixed:
            self.fixed.add(prompt)
            print(f"  note: seed {self.seed}: a candidate lost its {{{{{inputs[0]}}}}} placeholder; appended one", flush=True)
        return prompt + f"\n\n{inputs[0].capitalize()}: {{{{{inputs[0]}}}}}"

    def run(self, prompt, row):
        filled = placeholder.sub(lambda m: str(row.get(m.group(1), "")), self.runnable(prompt))
        self.task_calls += 1
        try:
            return chat(TASK_URL, "qwen2.5-coder-0.5b-instruct", filled, 0.0, 24, self.seed)
        except urllib.error.HTTPError as error:  # e.g. a prompt past n_ctx: this row fails, not the run
            return f"error: HTTP {error.code} {error.read()[:200]!r}"

    def evaluate(self, batch, candidate, capture_traces=False):
        outputs = [self.run(candidate["prompt"], row) for row in batch]
        scores = [1.0 if is_correct(out, row[target]) else 0.0 for out, row in zip(outputs, batch)]
        traces = [{"row": row, "output": out, "score": s} for row, out, s in zip(batch, outputs, scores)]
        return EvaluationBatch(outputs=outputs, scores=scores, trajectories=traces if capture_traces else None)

    def make_reflective_dataset(self, candidate, eval_batch, components_to_update):
        records = [{"Inputs": t["row"][inputs[0]] if len(inputs) == 1 else {f: t["row"][f] for f in inputs},
                    "Generated Outputs": t["output"],
                    "Feedback": "correct" if t["score"] else f"wrong: the correct queue is {t['row'][target]}"}
                   for t in eval_batch.trajectories]
        return {name: records for name in components_to_update}


class ReflectionLM:
    """str (or messages) -> str on the optimizer model, counted; a fresh sampling seed per call."""

    def __init__(self, seed):
        self.seed, self.calls = seed, 0

    def __call__(self, prompt):
        self.calls += 1
        return chat(REFLECTION_URL, "qwen2.5-coder-1.5b-instruct", prompt, 0.7, 700, self.seed * 1000 + self.calls)


class FileLog:
    """GEPA's progress log, kept out of the table (gepa's own Logger would tee sys.stdout)."""

    def __init__(self, path):
        self.file = open(path, "w")

    def log(self, message):
        print(message, file=self.file, flush=True)


print(f"task {task_name}: train {len(train)}, holdout {len(holdout)}, test {len(test)}; budget {budget} task calls, "
      f"reflection minibatch {MINIBATCH}; logs and prompts in {OUT}", flush=True)
print(f"{'seed':<5} {'holdout':<15} {'test':<15} {'candidates':<11} {'task calls':<11} {'reflections':<12} {'fixed':<6} wall")
tests, holdouts = [], []
for seed in seeds:
    start = time.time()
    adapter, reflection = TemplateAdapter(seed), ReflectionLM(seed)
    result = gepa.optimize(seed_candidate={"prompt": seed_prompt}, trainset=train, valset=holdout, adapter=adapter,
                           reflection_lm=reflection, max_metric_calls=budget, reflection_minibatch_size=MINIBATCH,
                           seed=seed, logger=FileLog(f"{OUT}/seed{seed}.gepa.log"))
    optimize_calls = adapter.task_calls  # the budget GEPA actually spent (it can overrun by one full holdout pass)
    best = result.best_candidate["prompt"]

    def test_score(prompt):  # test calls are reported, not part of the budget
        return statistics.mean(adapter.evaluate(test, {"prompt": prompt}).scores)

    seed_test = test_score(seed_prompt)
    best_test = seed_test if best == seed_prompt else test_score(best)
    wall = time.time() - start
    with open(f"{OUT}/seed{seed}.prompt.txt", "w") as f:
        f.write(adapter.runnable(best))  # what was actually run, placeholder included
    with open(f"{OUT}/seed{seed}.result.json", "w") as f:
        json.dump(result.to_dict(), f, indent=1, default=str)
    seed_holdout, best_holdout = result.val_aggregate_scores[0], result.val_aggregate_scores[result.best_idx]
    print(f"{seed:<5} {seed_holdout:.3f} -> {best_holdout:.3f}  {seed_test:.3f} -> {best_test:.3f}  "
          f"{result.num_candidates:<11} {optimize_calls:<11} {reflection.calls:<12} {len(adapter.fixed):<6} {wall:.0f}s", flush=True)
    tests.append(best_test)
    holdouts.append(best_holdout)
for name, xs in (("holdout", holdouts), ("test", tests)):
    print(f"{name} accuracy over {len(xs)} seeds: mean {statistics.mean(xs):.3f}, min {min(xs):.3f}, max {max(xs):.3f}")
print(f"best prompts in {OUT}/seed<N>.prompt.txt, GEPA logs in {OUT}/seed<N>.gepa.log")
