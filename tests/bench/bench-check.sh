#!/bin/bash
# Benchmark of the check endpoint against nginx "return 204;" on the same machine, in the same run.
# Prints figures; it is not a pass/fail test.
#
#   tests/bench/bench-check.sh [BUILDDIR]        (default: build; needs wrk, nginx, dbus-daemon, python3-dbus)
#
# Measures, with wrk -t1 -c32 keep-alive for $DURATION seconds each:
#   nginx return 204 (the HTTP ceiling here); hkp-plugind with 0, 1 (ipfilter) and 2 (ipfilter +
#   ratelimit) plugins; p99 steady and during a reload storm of ratelimit; the same with
#   "Connection: close"; the daemon's RSS before and after a million checks; and the rate while
#   10,000 idle connections are held (bench-hold), against the rate just before without them.
# wrk speaks as nginx over TCP would, with the proxy secret (--check-proxy-secret-file).
#
#   BASELINE=OTHER_BUILDDIR tests/bench/bench-check.sh BUILDDIR
# measures instead the cost of a change in the daemon: BUILDDIR's hkp-plugind and OTHER_BUILDDIR's
# (a build of the code before the change, taking the same options), each with the same 2 plugins,
# taking turns for $ROUNDS rounds (default 5), so machine noise falls on both alike.
source "$(dirname "$0")/bench-lib.sh"
build=$(realpath "${1:-build}")
duration=${DURATION:-10}
threads=${WRK_THREADS:-1}
conns=${WRK_CONNECTIONS:-32}
run_wrk() {
  run_wrk_with "$threads" "$conns" "$duration" "$@"
  errors=$(awk '/Non-2xx|Socket errors/ {print}' "$work/wrk.out" | tr '\n' ' ')
}

# nginx: the ceiling.
nginx_port=$(free_port)
start_nginx "$work/nginx" auto "  server { listen 127.0.0.1:$nginx_port; location / { return 204; } }"

# A private bus and hkp-plugind.
start_bus_and_plugins "$build"
(umask 077; echo "bench-proxy-secret" > "$work/proxy-secret")
check_port=$(free_port)

start_daemon() {  # [BUILDDIR whose hkp-plugind to run; default $build]
  rm -f "$work/daemon.log"
  # Plugins run in that build's plugin host (isolation "process", the default).
  HKP_PLUGIN_HOST="${1:-$build}/src/host/hkp-plugin-host" \
  "${1:-$build}/src/daemon/hkp-plugind" --config="$work/hkp-plugind.conf" --plugin-dir="$work/plugins" \
    --config-dir="$work/plugins.d" --state-dir="$work/state" --bus="unix:path=$work/bus.sock" --no-polkit \
    --http-listen=none --check-listen="127.0.0.1:$check_port" --check-proxy-secret-file="$work/proxy-secret" \
    ${CHECK_ARGS:-} 2>"$work/daemon.log" &
  daemon_pid=$!
  pids+=($daemon_pid)
  for _ in $(seq 100); do grep -qE " ready$" "$work/daemon.log" 2>/dev/null && break; sleep 0.1; done
}
stop_daemon() { kill "$daemon_pid"; wait "$daemon_pid" || true; }

headers=(-H "X-Original-Method: GET" -H "X-Original-URI: /pks/lookup?op=get&search=0x1234" -H "X-Real-IP: 192.0.2.1"
         -H "X-Hkp-Proxy-Secret: bench-proxy-secret")

if [ -n "${BASELINE:-}" ]; then
  baseline=$(realpath "$BASELINE")
  rounds=${ROUNDS:-5}
  echo '{"module": "ipfilter.so", "priority": 1, "config": {"enabled": true, "deny": ["198.51.100.0/24"]}}' > "$work/plugins.d/ipfilter.json"
  echo '{"module": "ratelimit.so", "priority": 2, "config": {"enabled": true, "lookup": {"requests_per_second": 1e6, "burst": 1e6}}}' > "$work/plugins.d/ratelimit.json"
  echo "# wrk -t$threads -c$conns -d${duration}s, keep-alive; $(nproc) CPUs; 2 plugins; $rounds rounds, taking turns"
  echo "#   with:    $build"
  echo "#   without: $baseline"
  with=() without=()
  for round in $(seq "$rounds"); do
    for which in without with; do
      if [ "$which" = with ]; then start_daemon "$build"; else start_daemon "$baseline"; fi
      run_wrk "http://127.0.0.1:$check_port/check" "${headers[@]}"
      stop_daemon
      printf '%-8s round %s %10s req/s  p99 %6s ms %s\n' "$which" "$round" "$rps" "$p99" "$errors"
      if [ "$which" = with ]; then with+=("$rps"); else without+=("$rps"); fi
    done
  done
  median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  printf 'median: with %s req/s, without %s req/s: %sx\n' "$(median "${with[@]}")" "$(median "${without[@]}")" \
    "$(ratio "$(median "${with[@]}")" "$(median "${without[@]}")")"
  exit 0
fi

echo "# wrk -t$threads -c$conns -d${duration}s, keep-alive; $(nproc) CPUs"
run_wrk "http://127.0.0.1:$nginx_port/"
nginx_rps=$rps
printf '%-44s %10s req/s  p99 %6s ms\n' "nginx return 204" "$nginx_rps" "$p99"

for n in 0 1 2; do
  rm -f "$work/plugins.d/"*.json
  [ "$n" -ge 1 ] && echo '{"module": "ipfilter.so", "priority": 1, "config": {"enabled": true, "deny": ["198.51.100.0/24"]}}' > "$work/plugins.d/ipfilter.json"
  [ "$n" -ge 2 ] && echo '{"module": "ratelimit.so", "priority": 2, "config": {"enabled": true, "lookup": {"requests_per_second": 1e6, "burst": 1e6}}}' > "$work/plugins.d/ratelimit.json"
  start_daemon
  run_wrk "http://127.0.0.1:$check_port/check" "${headers[@]}"
  printf '%-44s %10s req/s  p99 %6s ms  %sx nginx %s\n' "hkp-plugind, $n plugin(s)" "$rps" "$p99" "$(ratio "$rps" "$nginx_rps")" "$errors"
  if [ "$n" -eq 2 ]; then
    steady_p99=$p99
    steady_rps=$rps
    # The same while ratelimit is reloaded over and over.
    # One client process (python3-dbus) so the storm's own cost is the reloads, not process start-up.
    /usr/bin/python3 -P - "unix:path=$work/bus.sock" "$duration" "${RELOAD_HZ:-10}" > "$work/reloads" <<'PY' &
import sys, time, dbus
bus = dbus.bus.BusConnection(sys.argv[1])
plugin = dbus.Interface(bus.get_object("org.hkp.PluginManager1", "/org/hkp/PluginManager1/plugin/ratelimit"),
                        "org.hkp.PluginManager1.Plugin")
end, period, n = time.monotonic() + float(sys.argv[2]), 1.0 / float(sys.argv[3]), 0
while time.monotonic() < end:
    plugin.Reload()
    n += 1
    time.sleep(period)
print(n)
PY
    storm=$!
    run_wrk "http://127.0.0.1:$check_port/check" "${headers[@]}"
    wait $storm
    printf '%-44s %10s req/s  p99 %6s ms  (%sx steady p99) %s\n' "  during $(cat "$work/reloads") reloads" "$rps" "$p99" \
      "$(ratio "$p99" "$steady_p99")" "$errors"

    # Connection: close (auth_request without upstream keepalive).
    run_wrk "http://127.0.0.1:$nginx_port/" -H "Connection: close"
    nginx_close=$rps
    run_wrk "http://127.0.0.1:$check_port/check" "${headers[@]}" -H "Connection: close"
    printf '%-44s %10s req/s vs nginx %s: %sx\n' "  Connection: close" "$rps" "$nginx_close" "$(ratio "$rps" "$nginx_close")"

    # Memory: RSS after a warm-up, then after a million more checks.
    rss() { awk '/VmRSS/ {print $2}' "/proc/$daemon_pid/status"; }
    before=$(rss)
    seconds=$(awk -v r="$steady_rps" 'BEGIN { printf "%d", 1300000 / r + 1 }')
    wrk -t"$threads" -c"$conns" -d"${seconds}s" "${headers[@]}" "http://127.0.0.1:$check_port/check" \
      > "$work/wrk-million.out"
    after=$(rss)
    printf '%-44s %s kB before, %s kB after (%s)\n' "  RSS around 1,000,000 checks" "$before" "$after" \
      "$(awk '/requests in/ {print $1, "requests"}' "$work/wrk-million.out")"

    # Real clients while 10,000 idle connections are held (the daemon holds 10,000 with a hard file
    # limit of 20,000: wrk's connections each close the longest-idle), against the rate just before;
    # in rounds, since other load on the machine drifts: each round's ratio, and their median.
    ratios=()
    for round in $(seq "${HOLD_ROUNDS:-3}"); do
      run_wrk "http://127.0.0.1:$check_port/check" "${headers[@]}"
      free_rps=$rps free_p99=$p99
      coproc hold { "$build/tests/bench/bench-hold" "127.0.0.1:$check_port" "${IDLE:-10000}"; }
      read -r _ held <&"${hold[0]}"
      run_wrk "http://127.0.0.1:$check_port/check" "${headers[@]}"
      exec {hold[1]}>&-
      wait "$hold_PID" || true
      ratios+=("$(ratio "$rps" "$free_rps")")
      printf '%-44s %10s req/s  p99 %6s ms  (without: %s req/s, p99 %s ms) = %sx %s\n' \
        "  round $round: $held idle connections held" "$rps" "$p99" "$free_rps" "$free_p99" "${ratios[-1]}" "$errors"
    done
    printf '%-44s %sx\n' "  with idle connections held, median" \
      "$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')"
  fi
  stop_daemon
done
