#!/usr/bin/env bash
# CA rollover. `begin`: new CA, bundle trusts old + new, renewals now come from the new CA.
# Renew every certificate (certs/renew.sh), then `finish CERT...`: refused while any listed
# certificate is still from the old CA; otherwise the old CA leaves the bundle.
# Usage: certs/rollover.sh PKI_DIR begin | certs/rollover.sh PKI_DIR finish CERT.crt...
set -euo pipefail
pki=${1:?usage: rollover.sh PKI_DIR begin|finish [CERT...]}; step=${2:?usage: rollover.sh PKI_DIR begin|finish [CERT...]}; shift 2
exec "${JUKI_PYTHON:-python3}" -m jukinet.cli pki rollover "$step" --pki-dir "$pki" --in-use "$@"
