#!/usr/bin/env bash
# Command 1: install juki-net and run the local network (8 nodes, dev PKI, SQLite) with its demo.
# Usage: scripts/up.sh [--state-dir DIR] [--no-demo]      (default DIR: .juki-state)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev # the locked versions the suite ran on (requirements/dev.txt)
args=("$@")
[[ " ${args[*]-} " == *" --state-dir "* ]] || args+=(--state-dir .juki-state)
exec .venv/bin/juki-net up "${args[@]}"
