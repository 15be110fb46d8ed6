#!/usr/bin/env bash
# Renew a certificate: new key and certificate (same identity, names, lifetime) written beside the old.
# Usage: certs/renew.sh PKI_DIR CERT.crt        (the key is CERT.key)
set -euo pipefail
exec "${JUKI_PYTHON:-python3}" -m jukinet.cli pki renew --pki-dir "${1:?usage: renew.sh PKI_DIR CERT.crt}" --cert "${2:?usage: renew.sh PKI_DIR CERT.crt}"
