#!/usr/bin/env bash
# The main job on a fresh machine: install what git-grad needs (libgit2, the embedded task and
# optimizer models), build it, create a prompt repository from sample-repo/ in ./sample-run and
# optimize it. Re-running is safe: installs are skipped when present and a finished run is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! pkg-config --exists libgit2 2>/dev/null || ! command -v git >/dev/null; then
  echo "quickstart: installing libgit2-dev, pkg-config and git with apt-get" >&2
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgit2-dev pkg-config git >/dev/null
fi

# The model install (downloads, and on a new machine llama-cpp-python's compile) runs beside the
# build. A debug build runs the job as fast as a release one (the time is in the models) and
# builds in a fraction of the time.
echo "quickstart: installing the embedded models in the background (log: .build/install-models.log)" >&2
mkdir -p .build
bash scripts/install-local-model.sh > .build/install-models.log 2>&1 &
install_pid=$!
trap 'kill "$install_pid" 2>/dev/null || true' EXIT
echo "quickstart: building git-grad" >&2
swift build --product git-grad
BIN="$(swift build --show-bin-path)/git-grad"
if ! wait "$install_pid"; then
  tail -5 .build/install-models.log >&2
  echo "quickstart: installing the models failed; see .build/install-models.log" >&2
  exit 1
fi

RUN_DIR="${RUN_DIR:-sample-run}"
if [ ! -d "$RUN_DIR/.git" ]; then
  "$BIN" init "$RUN_DIR" --from sample-repo
fi

echo "quickstart: optimizing $RUN_DIR with the embedded models (task 0.5B, optimizer 1.5B)" >&2
# sample-repo holds two tasks; the quickstart optimizes the router (TASK=reviews for the other).
"$BIN" -C "$RUN_DIR" optimize --task "${TASK:-router}" --steps "${STEPS:-3}" --variants "${VARIANTS:-2}" ${SEED:+--seed "$SEED"}

echo
"$BIN" -C "$RUN_DIR" log --task "${TASK:-router}"
