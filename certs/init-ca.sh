#!/usr/bin/env bash
# Create a PKI folder: CA (ca.crt, ca.key 0600), trust bundle (bundle.pem) and empty CRL (crl.pem).
# Usage: certs/init-ca.sh DIR
set -euo pipefail
ARGC=$#; source "$(dirname "$0")/juki.sh"
need 1 "DIR"
juki_net pki init-ca --dir "$1"
