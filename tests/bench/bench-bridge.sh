#!/bin/bash
# Benchmark of the HTTP management bridge against the libsoup ceiling, in the same run.
# Prints figures; it is not a pass/fail test.
#
#   tests/bench/bench-bridge.sh [BUILDDIR]     (a build with -Dbenchmarks=true; needs wrk, dbus-daemon, python3)
#
# For 3, 10 and 100 plugins: wrk -t1 -c32 (keep-alive) against /plugins/status and /plugins/list of
# hkp-plugind (its default server threads; HTTP_THREADS=N for N), and against bench-soup-fixed (one libsoup thread answering a
# fixed body of the same size); then 3 plugins with --http-processes=2.  Then libsoup alone with two threads in one process and with two
# processes on one port (what GLib's process-wide locks cost), /plugins/status p99 while a plugin drains
# for 30 s, /plugins/status under a slowloris of 1,500 connections against its p99 without, and the
# daemon's RSS around 100,000 connections each closed by the client.
source "$(dirname "$0")/bench-lib.sh"
build=$(realpath "${1:-build}")
duration=${DURATION:-10}
run_wrk() { run_wrk_with 1 32 "$duration" "$@"; }

start_bus_and_plugins "$build" "$build"/tests/plugins/*.so

start_daemon() {  # $1: config dir, then extra options
  local dir=$1
  shift
  rm -f "$work/daemon.log"
  http_port=$(free_port)
  LD_LIBRARY_PATH="$build/tests/plugins" HKP_PLUGIN_HOST="$build/src/host/hkp-plugin-host" \
    "$build/src/daemon/hkp-plugind" --config="$work/hkp-plugind.conf" \
    --plugin-dir="$work/plugins" --config-dir="$dir" --state-dir="$work/state" --bus="unix:path=$work/bus.sock" \
    --no-polkit --check-listen="127.0.0.1:$(free_port)" --http-listen="127.0.0.1:$http_port" \
    --http-threads="${HTTP_THREADS:-0}" "$@" \
    2>"$work/daemon.log" &
  daemon_pid=$!
  pids+=($daemon_pid)
  for _ in $(seq 200); do grep -qE " ready$" "$work/daemon.log" 2>/dev/null && break; sleep 0.1; done
  # Worker processes, if any, say when they serve.
  for _ in $(seq 200); do
    [ "$(grep -c "HTTP worker [0-9]* ready" "$work/daemon.log")" -ge "$(grep -c "HTTP worker [0-9]* started" "$work/daemon.log")" ] && break
    sleep 0.1
  done
}
stop_daemon() { kill "$daemon_pid"; wait "$daemon_pid" || true; }

# The libsoup ceiling for a body: one bench-soup-fixed thread serving the file $1; sets ceiling.
measure_ceiling() {
  local port pid
  port=$(free_port)
  "$build/tests/bench/bench-soup-fixed" "$port" "$1" &
  pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
  run_wrk "http://127.0.0.1:$port/"
  ceiling=$rps
  kill "$pid"; wait "$pid" 2>/dev/null || true
}


echo "# wrk -t1 -c32 -d${duration}s keep-alive; $(nproc) CPUs; bridge: default threads (HTTP_THREADS=${HTTP_THREADS:-0}); ceiling: 1 libsoup thread, fixed body"
for n in 3 10 100; do
  dir="$work/plugins.d-$n"
  mkdir -p "$dir"
  for i in $(seq "$n"); do
    printf '{"module": "answer.so", "priority": %d, "config": {"enabled": true, "verdict": "continue"}}\n' "$i" \
      > "$dir/p$i.json"
  done
  start_daemon "$dir"
  for endpoint in status list; do
    curl -sf "http://127.0.0.1:$http_port/plugins/$endpoint" > "$work/body" || { cat "$work/daemon.log"; exit 1; }
    size=$(stat -c %s "$work/body")
    cp "$work/body" "$work/body-$n-$endpoint"
    measure_ceiling "$work/body"
    run_wrk "http://127.0.0.1:$http_port/plugins/$endpoint"
    printf '%3d plugins  /plugins/%-7s %6d B  bridge %9s req/s (p99 %6s ms)  libsoup ceiling %9s  = %sx\n' \
      "$n" "$endpoint" "$size" "$rps" "$p99" "$ceiling" "$(ratio "$rps" "$ceiling")"
  done
  stop_daemon
done

# With worker processes (--http-processes=2: the daemon and one worker, one thread each), 3 plugins.
start_daemon "$work/plugins.d-3" --http-processes=2
for endpoint in status list; do
  measure_ceiling "$work/body-3-$endpoint"
  run_wrk "http://127.0.0.1:$http_port/plugins/$endpoint"
  printf '  3 plugins  /plugins/%-7s --http-processes=2  bridge %9s req/s (p99 %6s ms)  libsoup ceiling %9s  = %sx\n' \
    "$endpoint" "$rps" "$p99" "$ceiling" "$(ratio "$rps" "$ceiling")"
done
stop_daemon

# Where the ceiling comes from: libsoup alone, on the 3-plugin /plugins/status body, with two threads in one
# process and with two single-thread processes sharing the port.
fixed_port=$(free_port)
scale() {  # LABEL: runs wrk against the fixed servers already started, prints the figure
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$fixed_port/" && break; sleep 0.1; done
  run_wrk "http://127.0.0.1:$fixed_port/"
  printf 'libsoup alone, %-26s %9s req/s (p99 %6s ms)  = %sx the 1-thread ceiling\n' "$1" "$rps" "$p99" \
    "$(ratio "$rps" "$solo")"
}
"$build/tests/bench/bench-soup-fixed" "$fixed_port" "$work/body-3-status" 1 &
fixed=($!)
solo=1
scale "1 process x 1 thread:" >/dev/null
solo=$rps
scale "1 process x 1 thread:"
kill "${fixed[@]}"; wait "${fixed[@]}" 2>/dev/null || true
"$build/tests/bench/bench-soup-fixed" "$fixed_port" "$work/body-3-status" 2 &
fixed=($!)
scale "1 process x 2 threads:"
kill "${fixed[@]}"; wait "${fixed[@]}" 2>/dev/null || true
"$build/tests/bench/bench-soup-fixed" "$fixed_port" "$work/body-3-status" 1 &
fixed=($!)
"$build/tests/bench/bench-soup-fixed" "$fixed_port" "$work/body-3-status" 1 &
fixed+=($!)
scale "2 processes x 1 thread:"
kill "${fixed[@]}"; wait "${fixed[@]}" 2>/dev/null || true

# /plugins/status while a plugin drains for 30 s: a check sleeps inside it, then the plugin is reloaded.
dir="$work/plugins.d-drain"
mkdir -p "$dir"
printf '{"module": "sleeper.so", "config": {"enabled": true, "sleep_ms": 30000, "sleep_instances": 1}}\n' > "$dir/slow.json"
start_daemon "$dir"
check_port=$(grep -o "check endpoint listening on 127.0.0.1:[0-9]*" "$work/daemon.log" | cut -d: -f2)
curl -s -o /dev/null -H "X-Original-Method: GET" -H "X-Original-URI: /" -H "X-Real-IP: 192.0.2.1" \
  "http://127.0.0.1:$check_port/check" &
pids+=($!)
sleep 1
busctl --address="unix:path=$work/bus.sock" call org.hkp.PluginManager1 /org/hkp/PluginManager1/plugin/slow \
  org.hkp.PluginManager1.Plugin Reload >/dev/null &
pids+=($!)
sleep 1
draining=$(busctl --address="unix:path=$work/bus.sock" get-property org.hkp.PluginManager1 \
  /org/hkp/PluginManager1/plugin/slow org.hkp.PluginManager1.Plugin ActiveRequests | awk '{print $2}')
run_wrk "http://127.0.0.1:$http_port/plugins/status"
printf 'while draining (%s request(s) held in the old instance)  /plugins/status %s req/s  p99 %s ms\n' \
  "$draining" "$rps" "$p99"
stop_daemon

# /plugins/status under a slowloris of 1,500 connections (bench-hold --slow: each sends the start of
# a head, then a header line a second, and is opened again once closed), against p99 just before; in
# rounds, since other load on the machine drifts.
start_daemon "$work/plugins.d-3"
for round in $(seq "${SLOW_ROUNDS:-3}"); do
  run_wrk "http://127.0.0.1:$http_port/plugins/status"
  free_rps=$rps free_p99=$p99
  coproc hold { "$build/tests/bench/bench-hold" "127.0.0.1:$http_port" "${SLOW:-1500}" --slow; }
  read -r _ held <&"${hold[0]}"
  run_wrk "http://127.0.0.1:$http_port/plugins/status"
  exec {hold[1]}>&-
  wait "$hold_PID" || true
  printf 'round %s: /plugins/status under a slowloris of %s: %s req/s p99 %s ms (without: %s req/s, p99 %s ms)\n' \
    "$round" "$held" "$rps" "$p99" "$free_rps" "$free_p99"
done
stop_daemon

# RSS around 100,000 connections, each closed by the client after its answer.
start_daemon "$work/plugins.d-3"
connections() {
  /usr/bin/python3 - "$http_port" "$1" <<'PY'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
request = b"GET /livez HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(request)
    data = b""
    while not data.endswith(b"ok\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
PY
}
rss() { awk '/VmRSS/ {print $2}' "/proc/$daemon_pid/status"; }
connections 10000
before=$(rss)
connections 100000
after=$(rss)
printf 'RSS around 100,000 client-closed connections: %s kB before, %s kB after (%+d kB)\n' "$before" "$after" \
  $((after - before))
stop_daemon
