#!/usr/bin/env bash
# Install Debian's postgresql package if PostgreSQL is missing and we may (root with apt-get:
# runs apt-get update first). Prints nothing; exits 0 either way. Sourced by test.sh and bench.sh.
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
fi
