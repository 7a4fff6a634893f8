#!/bin/sh
# The systemd unit verifies cleanly against the built binary and scores <= 2.0 on systemd-analyze security.
# Usage: test-unit.sh UNIT BINARY
set -eu
unit=$1 binary=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "1..0 # SKIP systemd-analyze is not installed (Debian package systemd)"
  exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=.*|ExecStart=$binary|" "$unit" > "$dir/hkp-plugind.service"

echo "1..2"
if out=$(systemd-analyze verify --man=no "$dir/hkp-plugind.service" 2>&1) && [ -z "$out" ]; then
  echo "ok 1 systemd-analyze verify is clean"
else
  echo "not ok 1 systemd-analyze verify: $out"
  failed=1
fi
score=$(systemd-analyze security --offline=yes "$dir/hkp-plugind.service" 2>/dev/null \
        | sed -n 's/.*Overall exposure level for hkp-plugind.service: \([0-9.]*\).*/\1/p')
if [ -n "$score" ] && awk "BEGIN { exit !($score <= 2.0) }"; then
  echo "ok 2 exposure level $score (target <= 2.0)"
else
  echo "not ok 2 exposure level '$score' (target <= 2.0)"
  failed=1
fi
exit ${failed:-0}
