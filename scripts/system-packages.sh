#!/usr/bin/env bash
# Install the Debian packages the tests use where they are missing and we may (root with apt-get;
# runs apt-get update first): postgresql (the PostgreSQL storage tests and benchmark), faketime
# (the injected clock of the 48-simulated-hours test), iproute2 (`ip netns`, the multi-host
# tests), kubernetes-client (`kubectl kustomize`, rendering the deployment manifests) and
# nodejs with npm (the client outside Python, tests/clients/node). Prints nothing; exits 0 either
# way. Sourced by test.sh and bench.sh.
missing=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 ] || missing+=(faketime)
command -v ip >/dev/null || missing+=(iproute2)
command -v kubectl >/dev/null || missing+=(kubernetes-client)
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
