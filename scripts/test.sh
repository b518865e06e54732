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

# Each node test file gets this long: a hang (say, a server that a failed test left open) fails
# that file instead of stalling the whole run. The slowest files take about 40 s here
# (test/e2e/chaos-restarts.test.ts; test/server/store/dynamo-store-contract.test.ts about 12 s).
NODE_TEST_TIMEOUT_MS=120000
# Prefixed to node_suite's command (e.g. faketime); empty: node as it is.
node_prefix=()

# Node's test runner prints "# pass N" / "# fail N"; add them to the totals.
node_suite() { # name, files...
  local name=$1
  shift
  [ $# -eq 0 ] && return 0
  echo "== $name"
  "${node_prefix[@]}" node --import tsx --test --test-reporter=spec --test-concurrency=1 \
    --test-timeout="$NODE_TEST_TIMEOUT_MS" "$@" 2>&1 | tee "$log/$name.out"
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

# The store and widget unit suites once more with the clock a year ahead (faketime shifts it for
# node and every process it starts): a test that writes with a fixed date but reads with the real
# clock, or otherwise depends on today's date, fails here today instead of on some later day.
YEAR_AHEAD=365
year_ahead() {
  local name=clock-a-year-ahead
  local files
  mapfile -t files < <(find test/server/store test/widget -name '*.test.ts' | sort)
  # Checked where the tests run, in a process node starts: how many days ahead its clock is.
  local ahead
  ahead=$(faketime -f "+${YEAR_AHEAD}d" node -e '
    const { execFileSync } = require("node:child_process");
    const child = Number(execFileSync(process.execPath, ["-e", "process.stdout.write(String(Date.now()))"]));
    console.log(Math.round((child - Number(process.argv[1])) / 86_400_000));' "$(date +%s%3N)")
  if [ "$ahead" != "$YEAR_AHEAD" ]; then
    echo "== $name"
    echo "!! $name: faketime -f +${YEAR_AHEAD}d did not move node's clock ${YEAR_AHEAD} days ahead (got: ${ahead:-nothing})"
    failed=$((failed + 1))
    status=1
    return
  fi
  node_prefix=(faketime -f "+${YEAR_AHEAD}d")
  node_suite "$name" "${files[@]}"
  node_prefix=()
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
year_ahead
browser_suite
if [ -d test/e2e ]; then
  mapfile -t e2e < <(find test/e2e -name '*.test.ts' | sort)
  step build npm run build --silent
  node_suite e2e "${e2e[@]}"
fi

echo
echo "$passed passed, $failed failed"
exit $status
