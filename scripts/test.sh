#!/usr/bin/env bash
# Command 2: install everything the suite needs, then run the quality gates and every test.
# As root with apt (CI, fresh machines) it installs Debian's postgresql package for the
# PostgreSQL storage tests; otherwise those tests skip if PostgreSQL is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/system-packages.sh
if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  export JUKI_REQUIRE_POSTGRES=1
fi
scripts/bootstrap.sh dev
if command -v npm >/dev/null; then  # the client outside Python, exactly as locked (with hashes)
  npm ci --prefix tests/clients/node --no-audit --no-fund --ignore-scripts --silent
  export JUKI_REQUIRE_NODE=1
fi
export PATH="$PWD/.venv/bin:$PATH"
if [ "${JUKI_REQUIRE_NODE:-}" = 1 ]; then  # the protos as a contract: lint, and nothing broken
  release=$(ls protos/releases/*.binpb | sort -V | tail -1)
  echo "== buf lint; buf breaking against $release"
  tests/clients/node/node_modules/.bin/buf lint
  tests/clients/node/node_modules/.bin/buf breaking --against "$release"
fi
echo "== ruff"; ruff check .; ruff format --check .  # separate: set -e stops at either
echo "== mypy (strict on jukinet and services)"; mypy
echo "== import-linter (lower layers never import higher ones)"; lint-imports --no-cache
echo "== pytest"; pytest --timeout=180 -q "$@"
