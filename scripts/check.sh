#!/usr/bin/env bash
# The checks that keep the code's shape (docs/architecture.md), run by scripts/test.sh before the tests:
# formatting, type-aware lint, the dependency rules between layers, unused files/exports/dependencies,
# and file size. Each names what is wrong; `npm run format` fixes formatting.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf 'check: %s\n' "$*" >&2; }
status=0
say "formatting (prettier --check)"; npm run --silent format:check || status=1
say "lint (eslint, type-aware)"; npm run --silent lint || status=1
say "dependency rules (dependency-cruiser)"; npm run --silent deps || status=1
say "unused files, exports and dependencies (knip)"; npm run --silent knip || status=1
say "file size and service imports"; node scripts/check-layout.mjs || status=1
[ "$status" -eq 0 ] && say "all checks passed" || say "FAILED: see above"
exit "$status"
