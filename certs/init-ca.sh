#!/usr/bin/env bash
# Create a PKI folder: CA (ca.crt, ca.key 0600), trust bundle (bundle.pem) and empty CRL (crl.pem).
# Usage: certs/init-ca.sh DIR
set -euo pipefail
exec "${JUKI_PYTHON:-python3}" -m jukinet.cli pki init-ca --dir "${1:?usage: init-ca.sh DIR}"
