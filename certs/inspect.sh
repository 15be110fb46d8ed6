#!/usr/bin/env bash
# Show a certificate's SPIFFE ID, serial, issuer, validity and (with a bundle) whether it chains to it.
# Usage: certs/inspect.sh CERT.pem [BUNDLE.pem]
set -euo pipefail
cert=${1:?usage: inspect.sh CERT.pem [BUNDLE.pem]}
if [ $# -ge 2 ]; then
  exec "${JUKI_PYTHON:-python3}" -m jukinet.cli pki inspect "$cert" --bundle "$2"
fi
exec "${JUKI_PYTHON:-python3}" -m jukinet.cli pki inspect "$cert"
