#!/bin/bash
# Soak: hkp-plugind behind real nginx (our snippet, data/nginx/hkp-plugind.conf) in front of a
# stand-in keyserver, under a steady client load (wrk), while its plugins are reloaded RELOADS times
# and reconfigured CHANGES times, at random, over D-Bus and HTTP; among them plugins that fail init
# (a config change that makes them), that take long requests, that hang in health() and that crash
# (the last two only once plugins run isolated in hkp-plugin-host: without it a crash takes the
# daemon down, so that part is left out and the report says so).  Not part of the test suite.
#
#   tests/soak/soak.sh [BUILDDIR]        (default build; needs nginx, wrk, dbus-daemon, gdbus, curl)
#
# Environment: RELOADS (1000), CHANGES (200), CONNECTIONS (16), SLEEP_MS (how long a long request
# takes, 200), SLEEP_EVERY (one request in so many is long, 50), CRASH_EVERY (one request in so many
# crashes the crasher plugin's host, 500), REPORT (where the report goes besides stdout), KEEP=1
# (keep the scratch directory).  Prints the report and exits 1 if a target is missed: a 5xx, a
# connection error, an unanswered call, or a daemon that did not stop cleanly.
set -euo pipefail
build=$(realpath "${1:-build}")
src=$(cd "$(dirname "$0")/../.." && pwd)
reloads=${RELOADS:-1000}
changes=${CHANGES:-200}
connections=${CONNECTIONS:-16}
export SLEEP_MS=${SLEEP_MS:-200} SLEEP_EVERY=${SLEEP_EVERY:-50}
crash_every=${CRASH_EVERY:-500}
for tool in nginx wrk dbus-daemon gdbus curl; do
  command -v "$tool" >/dev/null || { echo "soak: $tool is missing (apt-get install nginx-core wrk dbus-daemon libglib2.0-bin curl)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/hkp-soak-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ ${KEEP:-0} == 1 ]]; then echo "soak: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
# wait_for SECONDS COMMAND…: runs COMMAND until it succeeds, for at most SECONDS.
wait_for() {
  local deadline=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do
    (($(date +%s) < deadline)) || { echo "soak: timed out waiting for: $*" >&2; return 1; }
    sleep 0.1
  done
}

# ---- a private bus, the plugins, the daemon -------------------------------------------------------------------
dbus-daemon --session --nofork --nopidfile --address="unix:path=$work/bus.sock" 2>"$work/bus.log" &
pids+=($!)
bus="unix:path=$work/bus.sock"
wait_for 10 test -S "$work/bus.sock"

mkdir -p "$work/plugins" "$work/plugins.d" "$work/state"
cp "$build/src/plugins/ipfilter.so" "$build/src/plugins/ratelimit.so" "$build/tests/plugins/answer.so" \
   "$build/tests/plugins/misbehave.so" "$work/plugins/"
printf '[hkp-plugind]\n' > "$work/hkp-plugind.conf"
(umask 077; head -c 24 /dev/urandom | base64 > "$work/token")
token=$(cat "$work/token")

# Every plugin here fails open: whatever befalls one, clients are still served (target: no 5xx).
write_plugin() { printf '%s\n' "$2" > "$work/plugins.d/$1.json"; }
write_plugin ipfilter '{"module": "ipfilter.so", "priority": 1, "failure_mode": "open",
  "config": {"enabled": true, "deny": ["198.51.100.0/24"]}}'
write_plugin ratelimit '{"module": "ratelimit.so", "priority": 2, "failure_mode": "open",
  "config": {"enabled": true, "lookup": {"requests_per_second": 1e6, "burst": 1e6},
             "default": {"requests_per_second": 1e6, "burst": 1e6}}}'
write_plugin flaky '{"module": "answer.so", "priority": 3, "failure_mode": "open",
  "config": {"enabled": true, "verdict": "continue"}}'
# It answers every request (long ones too, "?sleep_ms="), and dies on /boom.
write_plugin crasher '{"module": "misbehave.so", "priority": 4, "failure_mode": "open", "isolation": "process",
  "config": {"mode": "segfault", "path": "/boom"}}'
write_plugin hang '{"module": "misbehave.so", "priority": 5, "failure_mode": "open", "isolation": "process",
  "health_interval_sec": 1, "config": {"mode": "health-hang"}}'

LD_LIBRARY_PATH="$build/tests/plugins" HKP_PLUGIN_HOST="$build/src/host/hkp-plugin-host" \
  "$build/src/daemon/hkp-plugind" --config="$work/hkp-plugind.conf" --plugin-dir="$work/plugins" \
  --config-dir="$work/plugins.d" --state-dir="$work/state" --bus="$bus" --no-polkit --drain-timeout=5 \
  --http-listen=127.0.0.1:0 --http-token-file="$work/token" --check-listen="unix:$work/check.sock" 2>"$work/daemon.log" &
daemon=$!
pids+=($daemon)
wait_for 60 grep -q ' ready$' "$work/daemon.log"
bridge=$(sed -n 's/.*HTTP bridge listening on \([^ ]*\).*/\1/p' "$work/daemon.log" | head -1)

# ---- nginx with our snippet, and the stand-in keyserver --------------------------------------------------------
front_port=$(free_port)
backend_port=$(free_port)
# nginx asks the check endpoint on a unix socket, as in the packaged setup (only the proxy names clients).
sed -e "s|unix:/run/hkp-plugind/check.sock|unix:$work/check.sock|" -e "s/127.0.0.1:11372/127.0.0.1:$backend_port/" \
    -e "s/listen 11371;/listen 127.0.0.1:$front_port;/" "$src/data/nginx/hkp-plugind.conf" > "$work/hkp-plugind-nginx.conf"
mkdir -p "$work/nginx-tmp"
cat > "$work/nginx.conf" <<CONF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes 2;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx-tmp; proxy_temp_path $work/nginx-tmp; fastcgi_temp_path $work/nginx-tmp;
  uwsgi_temp_path $work/nginx-tmp; scgi_temp_path $work/nginx-tmp;
  include $work/hkp-plugind-nginx.conf;
  server {
    listen 127.0.0.1:$backend_port;
    keepalive_requests 1000000;
    location / { default_type text/plain; return 200 "keyserver: \$request_method \$uri\n"; }
  }
}
CONF
nginx -e stderr -p "$work" -c "$work/nginx.conf" 2>"$work/nginx.log" &
nginx=$!
pids+=($nginx)
wait_for 10 curl -sf "http://127.0.0.1:$front_port/pks/lookup?op=get&search=0x1"

# ---- is the plugin host there? ----------------------------------------------------------------------------------
plugin_path() { echo "/org/hkp/PluginManager1/plugin/$(/usr/bin/python3 -c 'import sys
n = sys.argv[1]
print("".join(c if c.isalnum() else "_%02x" % ord(c) for c in n))' "$1")"; }
host_pid() {
  gdbus call --address "$bus" --dest org.hkp.PluginManager1 --object-path "$(plugin_path "$1")" \
    --method org.freedesktop.DBus.Properties.Get org.hkp.PluginManager1.Plugin HostPID 2>/dev/null |
    sed -n 's/.*uint32 \([0-9]*\).*/\1/p'
}
isolated=no
if [[ $(host_pid crasher) =~ ^[1-9] ]]; then isolated=yes; fi
targets=(ipfilter ratelimit flaky)
if [[ $isolated == yes ]]; then
  targets+=(crasher hang)
  export CRASH_EVERY=$crash_every
else
  export CRASH_EVERY=0
fi

# ---- resources -----------------------------------------------------------------------------------------------------
rss_kib() { awk '/^VmRSS:/ {n = $2} END {print n + 0}' "/proc/$1/status" 2>/dev/null || echo 0; }
# A host may end between being listed and being looked at (hosts come and go): that counts as nothing.
fd_count() { { ls "/proc/$1/fd" 2>/dev/null || true; } | wc -l; }
host_pids() { pgrep -P "$daemon" -f hkp-plugin-host || true; }
# resources LABEL: one line "LABEL daemon_rss daemon_fds n_hosts hosts_rss hosts_fds"
resources() {
  local rss=0 fds=0 n=0
  for pid in $(host_pids); do rss=$((rss + $(rss_kib "$pid"))); fds=$((fds + $(fd_count "$pid"))); n=$((n + 1)); done
  echo "$1 $(rss_kib "$daemon") $(fd_count "$daemon") $n $rss $fds"
}

# ---- the load, and what is done to the plugins meanwhile ----------------------------------------------------------
wrk -t2 -c"$connections" -d3600s --timeout 30s -s "$src/tests/soak/load.lua" "http://127.0.0.1:$front_port/" \
  > "$work/wrk.out" 2>&1 &
wrk_pid=$!
pids+=($wrk_pid)
start=$(now)
sleep 5 # the load settles before the first figures
resources start > "$work/resources"
# The daemon's and the hosts' RSS every 5 s while it runs, to see whether it levels off.
(while kill -0 "$wrk_pid" 2>/dev/null; do resources sample >> "$work/samples"; sleep 5; done) &
sampler=$!
pids+=($sampler)

# outcome VIA: reads a gdbus or curl result on stdin (see below) and prints one word for it.
classify_dbus() {  # exit status, then gdbus's stderr
  local status=$1 err=$2
  if ((status == 0)); then echo applied; return; fi
  case $err in
    *Error.ReloadFailed*) echo rolled-back ;;
    *Error.Busy*) echo busy ;;
    *Error.Disabled*) echo disabled ;;
    *Error.InvalidConfig*) echo refused ;;
    *NoReply*|*Timeout*|*timed\ out*) echo unanswered ;;
    *) echo "other:$(echo "$err" | grep -o 'Error\.[A-Za-z.]*' | head -1)" ;;
  esac
}
classify_http() {  # status code
  case $1 in
    200) echo applied ;; 500) echo rolled-back ;; 409) echo busy ;; 422) echo refused ;;
    000) echo unanswered ;; *) echo "other:$1" ;;
  esac
}
dbus_call() {  # PLUGIN METHOD [ARG]
  local err status=0
  err=$(gdbus call --address "$bus" --dest org.hkp.PluginManager1 --object-path "$(plugin_path "$1")" \
        --timeout 120 --method "org.hkp.PluginManager1.Plugin.$2" ${3+"$3"} 2>&1 >/dev/null) || status=$?
  classify_dbus "$status" "$err"
}
http_call() {  # METHOD PLUGIN PATH [BODY]
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 120 -X "$1" -H "Authorization: Bearer $token" \
         -H 'Content-Type: application/json' ${4+--data "$4"} "http://$bridge$3?plugin=$2") || true
  classify_http "$code"
}
random_config() {  # PLUGIN: a config it takes, or (flaky, one time in three) one its init refuses
  local r=$((RANDOM % 1000))
  case $1 in
    ipfilter) echo "{\"enabled\": true, \"deny\": [\"198.51.100.$((r % 256))/32\", \"203.0.113.0/24\"]}" ;;
    ratelimit) echo "{\"enabled\": true, \"lookup\": {\"requests_per_second\": $((500000 + r)), \"burst\": 1e6}, \"default\": {\"requests_per_second\": 1e6, \"burst\": 1e6}}" ;;
    flaky) if ((RANDOM % 3 == 0)); then echo '{"enabled": true, "verdict": "continue", "fail_init": "no database (on purpose)"}'
           else echo "{\"enabled\": true, \"verdict\": \"continue\", \"reason\": \"v$r\"}"; fi ;;
    crasher) echo '{"mode": "segfault", "path": "/boom"}' ;;
    hang) echo '{"mode": "health-hang"}' ;;
  esac
}
reload_loop() {  # COUNT OUTFILE
  for ((i = 0; i < $1; i++)); do
    local plugin=${targets[RANDOM % ${#targets[@]}]}
    if ((RANDOM % 2)); then echo "reload dbus $(dbus_call "$plugin" Reload)"
    else echo "reload http $(http_call POST "$plugin" /plugins/reload)"; fi
  done > "$2"
}
change_loop() {  # COUNT OUTFILE
  for ((i = 0; i < $1; i++)); do
    local plugin=${targets[RANDOM % ${#targets[@]}]} config
    config=$(random_config "$plugin")
    if ((RANDOM % 2)); then echo "change dbus $(dbus_call "$plugin" SetConfig "$config")"
    else echo "change http $(http_call PUT "$plugin" /plugins/config "$config")"; fi
  done > "$2"
}
reload_loop $((reloads / 2)) "$work/outcomes.1" &
r1=$!
reload_loop $((reloads - reloads / 2)) "$work/outcomes.2" &
r2=$!
change_loop "$changes" "$work/outcomes.3" &
c1=$!
wait $r1 $r2 $c1
sleep 5 # the last changes' drains end under load too
kill -INT "$wrk_pid"
wait "$wrk_pid" || true
wait "$sampler" || true
load_seconds=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }')
sleep 3 # the last requests leave
resources end >> "$work/resources"
# Requests still inside plugins once the load is gone (each should be 0).
plugin_uint() {  # PLUGIN PROPERTY
  gdbus call --address "$bus" --dest org.hkp.PluginManager1 --object-path "$(plugin_path "$1")" \
    --method org.freedesktop.DBus.Properties.Get org.hkp.PluginManager1.Plugin "$2" 2>/dev/null |
    sed -n 's/.*uint32 \([0-9]*\).*/\1/p'
}
still_active=""
for plugin in ipfilter ratelimit flaky crasher hang; do
  still_active+="$plugin $(plugin_uint "$plugin" ActiveRequests)/$(plugin_uint "$plugin" DrainingRequests), "
done

# ---- the daemon stops cleanly ---------------------------------------------------------------------------------------
stop_start=$(now)
kill -TERM "$daemon"
daemon_status=0
wait "$daemon" || daemon_status=$?
stop_seconds=$(awk -v a="$stop_start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')

# ---- the report -------------------------------------------------------------------------------------------------------
load() { awk -v k="$1" '$1 == "soak-load" && $2 == k {print $3}' "$work/wrk.out"; }
count() { cat "$work"/outcomes.* | awk -v kind="$1" -v how="$2" '$1 == kind && $3 == how' | wc -l; }
count_via() { cat "$work"/outcomes.* | awk -v kind="$1" -v via="$2" '$1 == kind && $2 == via' | wc -l; }
others() { cat "$work"/outcomes.* | awk -v kind="$1" '$1 == kind && $3 ~ /^other/ {print $3}' | sort | uniq -c | tr -s ' ' | tr '\n' ' '; }
res() { awk -v label="$1" -v field="$2" '$1 == label {print $field}' "$work/resources"; }
answered=$(load requests)
conn_errors=$(( $(load connect_errors) + $(load read_errors) + $(load write_errors) + $(load timeouts) ))
crashes=$(grep -cE 'its host \(pid [0-9]+\) killed by signal 11' "$work/daemon.log" || true)
killed=$(grep -c 'its host did not stop cleanly: killed by signal 9' "$work/daemon.log" || true)
criticals=$(grep -cE ' (critical|error) ' "$work/daemon.log" || true)
unanswered=$(( $(count reload unanswered) + $(count change unanswered) ))
{
  echo "hkp-plugind soak, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "load: wrk -t2 -c$connections for ${load_seconds} s through nginx auth_request (our snippet) to a stand-in keyserver;"
  echo "      one request in $SLEEP_EVERY takes ${SLEEP_MS} ms in a plugin; plugin hosts: $isolated$(
    if [[ $isolated != yes ]]; then echo " (crash and health-hang reloads left out: plugins run in the daemon)"
    elif ((CRASH_EVERY > 0)); then echo ", one request in $CRASH_EVERY crashes one"
    else echo ", no request crashes one (CRASH_EVERY=0)"; fi)"
  printf '%-24s %s\n' "requests sent" "$((answered + $(load read_errors) + $(load timeouts)))"
  printf '%-24s %s (2xx %s, 3xx %s, 4xx %s, 5xx %s), p99 %s ms\n' "requests answered" "$answered" "$(load 2xx)" \
    "$(load 3xx)" "$(load 4xx)" "$(load 5xx)" "$(load p99_ms)"
  printf '%-24s %s (connect %s, read %s, write %s, timeout %s)\n' "connection errors" "$conn_errors" \
    "$(load connect_errors)" "$(load read_errors)" "$(load write_errors)" "$(load timeouts)"
  for kind in reload change; do
    printf '%-24s %s over D-Bus, %s over HTTP: applied %s, rolled back %s, refused %s, busy %s, disabled %s, unanswered %s %s\n' \
      "${kind}s" "$(count_via $kind dbus)" "$(count_via $kind http)" "$(count $kind applied)" "$(count $kind rolled-back)" \
      "$(count $kind refused)" "$(count $kind busy)" "$(count $kind disabled)" "$(count $kind unanswered)" "$(others $kind)"
  done
  printf '%-24s %s crashed (SIGSEGV), %s killed by the daemon (stuck, or past their stop time)\n' "plugin hosts" \
    "$crashes" "$killed"
  printf '%-24s %s\n' "left in plugins" "${still_active%, } (active/draining requests, after the load)"
  printf '%-24s %12s %12s\n' "" "start" "end"
  printf '%-24s %9s KiB %9s KiB   (every 5 s: %s KiB)\n' "daemon RSS" "$(res start 2)" "$(res end 2)" \
    "$(awk '{print $2}' "$work/samples" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
  printf '%-24s %12s %12s\n' "daemon fds" "$(res start 3)" "$(res end 3)"
  printf '%-24s %12s %12s\n' "plugin hosts" "$(res start 4)" "$(res end 4)"
  printf '%-24s %9s KiB %9s KiB\n' "hosts RSS (sum)" "$(res start 5)" "$(res end 5)"
  printf '%-24s %12s %12s\n' "hosts fds (sum)" "$(res start 6)" "$(res end 6)"
  printf '%-24s exit status %s, %s s after SIGTERM; %s critical or error lines in its log\n' "daemon stop" \
    "$daemon_status" "$stop_seconds" "$criticals"
  grep -E ' (critical|error) ' "$work/daemon.log" | sort -k3 | uniq -c -f2 | head -5 | sed 's/^/    /' || true
} | tee "$work/report" ${REPORT:+"$REPORT"}

missed=()
(( $(load 5xx) == 0 )) || missed+=("5xx answers")
(( conn_errors == 0 )) || missed+=("connection errors")
(( unanswered == 0 )) || missed+=("unanswered calls")
(( daemon_status == 0 )) || missed+=("the daemon's exit status")
if ((${#missed[@]})); then
  echo "soak: missed: ${missed[*]} (daemon log: ${KEEP:+$work/}daemon.log)" >&2
  exit 1
fi
