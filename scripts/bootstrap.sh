#!/usr/bin/env bash
# Create .venv holding exactly one lock's versions (requirements/LOCK.txt, hashes required; see
# scripts/lock.sh), then install juki-net itself into it without resolving anything again.
# Usage: scripts/bootstrap.sh [LOCK]   LOCK: dev (default; everything up.sh and test.sh use)
#                                            or runtime (a node, as the container image has it)
# The venv is made again from nothing whenever the lock file (or the Python) differs from the
# one it was made from, so nothing older or extra stays in it.
set -euo pipefail
cd "$(dirname "$0")/.."
lock=${1:-dev}
[[ "$lock" =~ ^[a-z]+$ && -f "requirements/$lock.txt" ]] || {
  known=$(cd requirements && ls -- *.txt | sed 's/\.txt$//' | paste -sd, | sed 's/,/, /g')
  echo "bootstrap.sh: no lock '$lock' (one of: $known)" >&2; exit 2; }
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' || {
  echo "bootstrap.sh: juki-net's lock is for Python 3.11 to 3.13 (set PYTHON=...)" >&2; exit 1; }
pip=(.venv/bin/python -m pip --quiet --disable-pip-version-check)
stamp="$lock $(sha256sum <"requirements/$lock.txt" | cut -c1-64) $("$python" -V)"
if [ "$(cat .venv/juki-lock 2>/dev/null)" != "$stamp" ]; then
  rm -rf .venv
  "$python" -m venv .venv
  "${pip[@]}" install --require-hashes -r "requirements/$lock.txt"
  echo "$stamp" >.venv/juki-lock # only once every locked package is in
fi
# juki-net itself, built with the locked setuptools; its dependencies are all in already.
project="$(sha256sum <pyproject.toml | cut -c1-64)"
if [ "$(cat .venv/juki-project 2>/dev/null)" != "$project" ]; then
  "${pip[@]}" install --no-deps --no-build-isolation -e .
  echo "$project" >.venv/juki-project
fi
