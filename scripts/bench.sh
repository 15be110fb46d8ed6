#!/usr/bin/env bash
# The benchmark on a fresh clone: install what it needs, then bench/run.py with your flags.
# As root with apt it installs Debian's postgresql package (the run covers SQLite and
# PostgreSQL); elsewhere without PostgreSQL pass --databases sqlite.
# Quick: scripts/bench.sh     Full: scripts/bench.sh --residents 1000000 --changes 20000 \
#                                      --queries 2000 --link-calls 1000 --json bench-full.json
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/system-packages.sh
scripts/bootstrap.sh dev
exec .venv/bin/python bench/run.py "$@"
