#!/usr/bin/env bash
# Renew a certificate: new key and certificate (same identity, names, lifetime) written beside the old.
# Usage: certs/renew.sh PKI_DIR CERT.crt        (the key is CERT.key)
set -euo pipefail
ARGC=$#; source "$(dirname "$0")/juki.sh"
need 2 "PKI_DIR CERT.crt"
juki_net pki renew --pki-dir "$1" --cert "$2"
