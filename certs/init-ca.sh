#!/usr/bin/env bash
# Create a development CA (ca.crt, ca.key 0600) and trust bundle (bundle.pem) in DIR.
# Usage: certs/init-ca.sh DIR [--days N]
set -euo pipefail
dir=${1:?usage: init-ca.sh DIR [--days N]}; shift
exec "${JUKI_PYTHON:-python3}" -m jukinet.cli pki init-ca --dir "$dir" "$@"
