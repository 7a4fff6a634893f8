#!/bin/sh
# The systemd unit verifies cleanly against the built binary, scores no worse than 1.8 on systemd-analyze
# security, and runs the check endpoint on a unix socket only the web server's group can open.
# Usage: test-unit.sh UNIT BINARY
set -eu
unit=$1 binary=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "1..0 # SKIP systemd-analyze is not installed (Debian package systemd)"
  exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# The built binary in place of the installed one; its arguments stay.
sed "s|^ExecStart=[^ ]*|ExecStart=$binary|" "$unit" > "$dir/hkp-plugind.service"

echo "1..3"
if out=$(systemd-analyze verify --man=no "$dir/hkp-plugind.service" 2>&1) && [ -z "$out" ]; then
  echo "ok 1 systemd-analyze verify is clean"
else
  echo "not ok 1 systemd-analyze verify: $out"
  failed=1
fi
score=$(systemd-analyze security --offline=yes "$dir/hkp-plugind.service" 2>/dev/null \
        | sed -n 's/.*Overall exposure level for hkp-plugind.service: \([0-9.]*\).*/\1/p')
if [ -n "$score" ] && awk "BEGIN { exit !($score <= 1.8) }"; then
  echo "ok 2 exposure level $score (target <= 1.8)"
else
  echo "not ok 2 exposure level '$score' (target <= 1.8)"
  failed=1
fi
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
if grep -qx 'RuntimeDirectory=hkp-plugind' "$unit" &&
   case "$exec_start" in
     *" --check-listen=unix:/run/hkp-plugind/check.sock"*" --check-socket-group=www-data"*) true ;;
     *) false ;;
   esac; then
  echo "ok 3 the check endpoint is /run/hkp-plugind/check.sock, group www-data"
else
  echo "not ok 3 ExecStart=$exec_start: not the check socket in the runtime directory for www-data"
  failed=1
fi
exit ${failed:-0}
