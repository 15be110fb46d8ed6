# Sourced by the scripts in certs/: `need N USAGE` checks the argument count, `juki_net ARGS…`
# runs the project's CLI. The interpreter is $JUKI_PYTHON if set, else the project's .venv
# (made by scripts/bootstrap.sh), else python3; one without juki-net installed is refused in one
# line (exit 2) instead of failing with a Python traceback.
script=$(basename "$0")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
juki_python=${JUKI_PYTHON:-}
if [ -z "$juki_python" ]; then
  if [ -x "$here/../.venv/bin/python" ]; then juki_python="$here/../.venv/bin/python"; else juki_python=python3; fi
fi
need() {  # need COUNT "USAGE": exit 2 with the usage unless at least COUNT arguments were given
  if [ "$ARGC" -lt "$1" ]; then echo "usage: $script $2" >&2; exit 2; fi
}
juki_net() {
  if ! "$juki_python" -c 'import jukinet.cli' 2>/dev/null; then
    echo "$script: juki-net is not installed for $juki_python; run scripts/bootstrap.sh or set JUKI_PYTHON" >&2
    exit 2
  fi
  exec "$juki_python" -m jukinet.cli "$@"
}
