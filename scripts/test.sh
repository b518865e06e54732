#!/usr/bin/env bash
# `npm test`: the type check, the format check and every test suite, then one plain
# "N passed, M failed" line that sums them all.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-deps.sh || exit 1

passed=0
failed=0
status=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

step() { # name, command...
  local name=$1
  shift
  echo "== $name"
  # Checks are not tests: they add to the count only when they fail.
  if ! "$@"; then
    failed=$((failed + 1))
    status=1
    echo "!! $name failed"
  fi
}

# Node's test runner prints "# pass N" / "# fail N"; add them to the totals.
node_suite() { # name, files...
  local name=$1
  shift
  [ $# -eq 0 ] && return 0
  echo "== $name"
  node --import tsx --test --test-reporter=spec --test-concurrency=1 "$@" 2>&1 | tee "$log/$name.out"
  local rc=${PIPESTATUS[0]}
  local p f
  p=$(grep -E '^ℹ pass [0-9]+' "$log/$name.out" | awk '{print $3}' | tail -1)
  f=$(grep -E '^ℹ fail [0-9]+' "$log/$name.out" | awk '{print $3}' | tail -1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ "$rc" -ne 0 ]; then
    status=1
    [ "${f:-0}" -eq 0 ] && failed=$((failed + 1)) && echo "!! $name exited $rc"
  fi
}

browser_suite() {
  echo "== browser tests (Chromium)"
  npx wtr --config web-test-runner.config.mjs 2>&1 | tee "$log/browser.out"
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -oE '[0-9]+ passed, [0-9]+ failed' "$log/browser.out" | tail -1)
  passed=$((passed + $(echo "${line:-0 passed}" | awk '{print $1}')))
  failed=$((failed + $(echo "${line:-0 passed, 0 failed}" | awk '{print $3}')))
  if [ "$rc" -ne 0 ]; then
    status=1
    [ -z "$line" ] && failed=$((failed + 1)) && echo "!! browser tests exited $rc"
  fi
}

step typecheck npx tsc --noEmit -p tsconfig.json
step format npx prettier --check . --log-level warn

mapfile -t unit < <(find test -name '*.test.ts' -not -path 'test/browser/*' -not -path 'test/e2e/*' | sort)
node_suite node-tests "${unit[@]}"
browser_suite
if [ -d test/e2e ]; then
  mapfile -t e2e < <(find test/e2e -name '*.test.ts' | sort)
  step build npm run build --silent
  node_suite e2e "${e2e[@]}"
fi

echo
echo "$passed passed, $failed failed"
exit $status
