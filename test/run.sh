#!/usr/bin/env bash
# The one test command: system dependencies, node modules, then every test/**/*.test.ts.
# Extra arguments go to `node --test` (e.g. --test-name-pattern=redis).
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

exec node --import tsx --test --test-concurrency=2 --test-timeout=180000 "$@" "${files[@]}"
