#!/usr/bin/env bash
# Revoke a certificate: adds it to its CA's CRL in PKI_DIR/crl.pem, which every node re-reads on its next call.
# Usage: certs/revoke.sh PKI_DIR CERT.crt
set -euo pipefail
ARGC=$#; source "$(dirname "$0")/juki.sh"
need 2 "PKI_DIR CERT.crt"
juki_net pki revoke --pki-dir "$1" --cert "$2"
