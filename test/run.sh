#!/usr/bin/env bash
# The one test command: system dependencies, node modules, then every test/**/*.test.ts.
# Extra arguments go to `node --test` (e.g. --test-name-pattern=redis).
#
# Two phases: most files run two at a time; files that measure latency or timing under load (they carry
# the line `// caretaker-test: run-alone`) then run one at a time, so another test's servers do not take
# the cores they measure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/install-deps.sh
if [[ ! -d node_modules ]]; then
  npm ci
fi

mapfile -t files < <(find test -name '*.test.ts' -not -path '*/node_modules/*' | LC_ALL=C sort)
if ((${#files[@]} == 0)); then
  echo "no test files found under test/" >&2
  exit 1
fi
shared=()
alone=()
for file in "${files[@]}"; do
  if grep -q '^// caretaker-test: run-alone' "$file"; then alone+=("$file"); else shared+=("$file"); fi
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
run() {
  local concurrency=$1
  shift
  node --import tsx --test --test-concurrency="$concurrency" --test-timeout=180000 "${extra[@]}" "$@" | tee -a "$log" || status=1
}
extra=("$@")
run 2 "${shared[@]}"
if ((${#alone[@]} > 0)); then
  run 1 "${alone[@]}"
fi

# Each phase prints its own summary; one line for both.
passed=$(awk '/^# pass /{n+=$3} END{print n+0}' "$log")
failed=$(awk '/^# fail /{n+=$3} END{print n+0}' "$log")
echo "tests: ${passed} passed, ${failed} failed"
exit "$status"
