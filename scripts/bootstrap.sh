#!/usr/bin/env bash
# Create (or reuse) .venv with Python >= 3.11 and install juki-net into it.
# Usage: scripts/bootstrap.sh [EXTRAS]   e.g. scripts/bootstrap.sh dev
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "juki-net needs Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }
extras=${1:-}
# Only the extras pyproject.toml declares (pip would warn about another and carry on).
known=$("$python" -c 'import tomllib
print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]))')
for extra in ${extras//,/ }; do
  [[ " $known " == *" $extra "* ]] || {
    echo "bootstrap.sh: no extra '$extra' (${known// /, }; comma-separated)" >&2; exit 2; }
done
[ -x .venv/bin/python ] || "$python" -m venv .venv
target="."
[ -n "$extras" ] && target=".[$extras]"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"
