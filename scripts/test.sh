#!/usr/bin/env bash
# Runs every test: unit, integration (real ZooKeeper) and end-to-end (the built CLI), with node's
# built-in runner, one test file at a time (2 cores and several JVMs do not mix well in parallel).
#   bash scripts/test.sh                                  # everything
#   bash scripts/test.sh test/integration/harness.test.ts # some files or directories (.ts or dist/.js)
# Installs what is missing first (scripts/install-deps.sh) and builds when a source changed. Exits with the runner's status.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf 'test.sh: %s\n' "$*" >&2; }

deps_status=0
bash scripts/install-deps.sh || deps_status=$?
if [ "$deps_status" -eq 3 ]; then
  if [ "${CI:-}" = true ]; then
    say "FATAL: ZooKeeper or Java is missing and could not be installed; the integration tests cannot run in CI."
    exit 1
  fi
  say "WARNING: ZooKeeper or Java is missing: every test that needs a server will FAIL (they never skip)."
elif [ "$deps_status" -ne 0 ]; then
  say "FATAL: installing dependencies failed"
  exit "$deps_status"
fi

# The tests talk to nothing but loopback: never let the AWS SDK probe an instance-metadata address.
export AWS_EC2_METADATA_DISABLED=true
# npm ci (run by install-deps on a fresh clone) has just built it through the prepare script.
bash scripts/build-if-stale.sh
# The code's shape first (format, lint, layers, unused code, file size): a failure here fails the run.
say "checking the code (scripts/check.sh)"
check_status=0
bash scripts/check.sh || check_status=$?

# Test sources map to their compiled files (test/x/y.test.ts -> dist/test/x/y.test.js). Listing
# sources rather than dist/ keeps stale compiled tests of deleted sources from running.
to_dist() {
  local f=$1
  case "$f" in
    dist/*) printf '%s\n' "$f" ;;
    *.ts) f=${f%.ts}.js; printf 'dist/%s\n' "${f#./}" ;;
    *) printf '%s\n' "$f" ;;
  esac
}
files=()
if [ "$#" -eq 0 ]; then
  set -- test/unit src test/integration test/e2e
fi
for arg in "$@"; do
  arg=${arg%/}
  if [ -d "$arg" ]; then
    while IFS= read -r f; do files+=("$(to_dist "$f")"); done < <(find "$arg" \( -name '*.test.ts' -o -name '*.test.js' \) -not -path '*/node_modules/*' | sort)
  elif [ -f "$arg" ]; then
    files+=("$(to_dist "$arg")")
  else
    say "no such test file or directory: $arg"
    exit 2
  fi
done
if [ "${#files[@]}" -eq 0 ]; then
  say "no test files found"
  exit 1
fi
for f in "${files[@]}"; do
  [ -f "$f" ] || { say "not built: $f (did the build skip it?)"; exit 1; }
done

if [ "${CI:-}" = true ] && [ "$deps_status" -eq 0 ]; then
  # Belt and braces: the harness would fail each test anyway, but say it once and early.
  node -e "import('./dist/test/support/zk-harness.js').then(m => m.requireZooKeeper())" || {
    say "FATAL: the test harness cannot find ZooKeeper/Java"
    exit 1
  }
fi

# Tags this run's ZooKeeper JVMs, so a leak check afterwards cannot mistake another run's servers.
export ZKVAULT_TEST_RUN="$$-$(date +%s)"
say "running ${#files[@]} test files"
status=0
node --test --test-concurrency=1 "${files[@]}" || status=$?

leaked=$(pgrep -f -- "-Dzkvault.harness.run=$ZKVAULT_TEST_RUN( |\$)" || true)
if [ -n "$leaked" ]; then
  say "ERROR: the tests left ZooKeeper JVMs running (pids: $(echo $leaked)); killing them"
  # The harness's reaper kills JVMs whose test process is gone and removes their temp dirs.
  node -e "import('./dist/test/support/zk-harness.js').then((m) => m.reapOrphans())" || true
  kill -9 $leaked 2>/dev/null || true
  [ "$status" -ne 0 ] || status=1
fi
if [ "$check_status" -ne 0 ]; then
  say "ERROR: scripts/check.sh failed (see its output above); the run fails even if every test passed"
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
