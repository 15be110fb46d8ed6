#!/usr/bin/env bash
# CA rollover. `begin`: new CA, bundle trusts old + new, renewals now come from the new CA.
# Renew every certificate (certs/renew.sh), then `finish CERT...`: refused while any listed
# certificate is still from the old CA; otherwise the old CA leaves the bundle.
# Usage: certs/rollover.sh PKI_DIR begin | certs/rollover.sh PKI_DIR finish CERT.crt...
set -euo pipefail
ARGC=$#; source "$(dirname "$0")/juki.sh"
need 2 "PKI_DIR begin|finish [CERT...]"
pki=$1 step=$2; shift 2
juki_net pki rollover "$step" --pki-dir "$pki" --in-use "$@"
