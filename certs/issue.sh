#!/usr/bin/env bash
# Issue a certificate for a SPIFFE ID from the PKI folder's signing CA; writes OUT/STEM.crt and OUT/STEM.key (0600).
# Usage: certs/issue.sh PKI_DIR SPIFFE_ID OUT STEM [--hours H] [--dns NAME]... [--ip ADDR]...
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: issue.sh PKI_DIR SPIFFE_ID OUT STEM [--hours H] [--dns NAME]... [--ip ADDR]..." >&2
  exit 2
fi
pki=$1 id=$2 out=$3 stem=$4; shift 4
exec "${JUKI_PYTHON:-python3}" -m jukinet.cli pki issue --pki-dir "$pki" --spiffe-id "$id" --out "$out" --stem "$stem" "$@"
