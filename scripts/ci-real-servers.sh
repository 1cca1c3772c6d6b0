#!/usr/bin/env bash
# ci-real-servers.sh — make the real servers the conformance and real-browser tests need
# available, installing what is absent, and print the environment that turns those tests on.
#
# Usage (from the repository root; .ci/run does this):
#   eval "$(scripts/ci-real-servers.sh)"
#
# What it provides:
#   OpenBao   ../shared/tools/openbao/bao (a real OpenBao build), or $BAO_BIN if set
#   moto      moto_server on PATH (the AWS IAM emulator); pip install 'moto[server]' if absent
#   Postgres  PostgreSQL 15 server binaries; apt-get install postgresql-15 if absent
#   Chromium  /usr/bin/chromium; apt-get install chromium if absent
#   Temporal  the Temporal CLI v1.5.1 (dev server + Web UI); go install if absent
# Everything listens on 127.0.0.1 only, started by the tests themselves.
# Progress goes to stderr; stdout is only the export lines.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { echo "ci-real-servers: $*" >&2; }

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
  say "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

bao=${BAO_BIN:-$root/../shared/tools/openbao/bao}
if [ ! -x "$bao" ]; then
  say "no OpenBao at $bao (set BAO_BIN)"; exit 1
fi
bao=$(cd "$(dirname "$bao")" && pwd)/$(basename "$bao")
"$bao" version >&2   # unpacks it on first use

if ! command -v moto_server >/dev/null; then
  say "moto_server not on PATH: pip install 'moto[server]'"
  pip install -q 'moto[server]' >&2
fi

pgbin=/usr/lib/postgresql/15/bin
if [ ! -x "$pgbin/initdb" ]; then
  apt_install postgresql-15
fi

chromium=${CHROMIUM_BIN:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  apt_install chromium
fi

gobin=$(go env GOPATH)/bin
temporal=${TEMPORAL_CLI:-$gobin/temporal}
if [ ! -x "$temporal" ] || ! go version -m "$temporal" 2>/dev/null | grep -qE '^\s+mod\s+github.com/temporalio/cli\s+v1\.5\.1'; then
  say "go install github.com/temporalio/cli/cmd/temporal@v1.5.1 (a few minutes on a cold cache)"
  GOFLAGS= go install github.com/temporalio/cli/cmd/temporal@v1.5.1 >&2
  temporal=$gobin/temporal
fi

# Tests that look bao up on PATH find it through this directory.
shim=$(mktemp -d)
ln -s "$bao" "$shim/bao"

cat <<ENV
export BAO_BIN='$bao'
export PG_BIN='$pgbin'
export CHROMIUM_BIN='$chromium'
export TEMPORAL_CLI='$temporal'
export PATH='$shim':"\$PATH"
export FIREBREAK_WEBUI_TEST=1
export FIREBREAK_REAL_SERVERS=required
ENV
