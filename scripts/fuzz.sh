#!/usr/bin/env bash
# The long run of the parsers' property tests: every parser of outside bytes (envelopes, backups
# and key files, bulk CSV, node config, network.json, notes and cosignatures, proofs, organ
# queries, trust material, record fields) fed JUKI_FUZZ_SCALE times the suite's examples
# (default 50: minutes, not seconds). Run after scripts/test.sh has made the virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
export JUKI_FUZZ_SCALE="${JUKI_FUZZ_SCALE:-50}"
exec .venv/bin/pytest -q -p no:cacheprovider --timeout=0 \
  tests/test_parsers.py tests/test_backup.py tests/test_distribution.py \
  tests/test_organ_query.py tests/test_pki.py -k "test_any_" "$@"
