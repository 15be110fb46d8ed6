#!/usr/bin/env bash
# Revoke a certificate: adds it to its CA's CRL in PKI_DIR/crl.pem, which every node re-reads on its next call.
# Usage: certs/revoke.sh PKI_DIR CERT.crt
set -euo pipefail
exec "${JUKI_PYTHON:-python3}" -m jukinet.cli pki revoke --pki-dir "${1:?usage: revoke.sh PKI_DIR CERT.crt}" --cert "${2:?usage: revoke.sh PKI_DIR CERT.crt}"
