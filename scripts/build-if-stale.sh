#!/usr/bin/env bash
# Builds (npm run build) only when there is no complete build or a source is newer than it. On a
# fresh clone `npm ci` has just built through the prepare script, so the demo and the tests use that
# build instead of compiling everything again.
#   bash scripts/build-if-stale.sh [DIR]   # DIR: the checkout (default: this script's)
set -euo pipefail
cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}"
say() { printf 'build: %s\n' "$*" >&2; }
# npm run build writes the stamp after tsc succeeds: a failed build never counts as one.
stamp=dist/.built
if [ -f "$stamp" ]; then
  newer=$(find src test bench tsconfig.json package.json package-lock.json -newer "$stamp" -type f -print -quit 2>/dev/null || true)
  if [ -z "$newer" ]; then
    say "up to date (nothing in src, test or bench is newer than the last build)"
    exit 0
  fi
  say "building (npm run build): $newer changed since the last build"
else
  say "building (npm run build)"
fi
npm run --silent build
