#!/usr/bin/env bash
# Show a certificate's SPIFFE ID, serial, issuer, validity and (with a bundle) whether it chains to
# it and whether the CRL beside the bundle revokes it.
# Usage: certs/inspect.sh CERT.pem [BUNDLE.pem]
set -euo pipefail
ARGC=$#; source "$(dirname "$0")/juki.sh"
need 1 "CERT.pem [BUNDLE.pem]"
if [ $# -ge 2 ]; then
  juki_net pki inspect "$1" --bundle "$2"
fi
juki_net pki inspect "$1"
