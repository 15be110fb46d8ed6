#!/usr/bin/env bash
# Issue a certificate for a SPIFFE ID from the PKI folder's signing CA; writes OUT/STEM.crt and
# OUT/STEM.key (0600). A node's certificate also gets the DNS name its peers check.
# Usage: certs/issue.sh PKI_DIR SPIFFE_ID OUT STEM [--hours H] [--dns NAME]... [--ip ADDR]...
set -euo pipefail
ARGC=$#; source "$(dirname "$0")/juki.sh"
need 4 "PKI_DIR SPIFFE_ID OUT STEM [--hours H] [--dns NAME]... [--ip ADDR]..."
pki=$1 id=$2 out=$3 stem=$4; shift 4
juki_net pki issue --pki-dir "$pki" --spiffe-id "$id" --out "$out" --stem "$stem" "$@"
