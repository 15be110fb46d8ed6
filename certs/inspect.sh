#!/usr/bin/env bash
# Show a certificate's SPIFFE ID, serial, issuer and validity as JSON.
# Usage: certs/inspect.sh CERT.pem
set -euo pipefail
exec "${JUKI_PYTHON:-python3}" -m jukinet.cli pki inspect "${1:?usage: inspect.sh CERT.pem}"
