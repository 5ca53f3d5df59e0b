#!/usr/bin/env bash
# The zkvault demo: installs what is missing, builds, starts a local ZooKeeper, writes znodes and
# runs zkvault against it (scripts/demo.mjs holds the steps). Exits non-zero at the first failed step.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf 'demo.sh: %s\n' "$*" >&2; }

bash scripts/install-deps.sh || {
  say "FATAL: dependencies are missing (see above); the demo needs ZooKeeper, Java and the npm packages"
  exit 1
}
# npm ci (run by install-deps on a fresh clone) has just built it through the prepare script.
bash scripts/build-if-stale.sh
exec node scripts/demo.mjs "$@"
