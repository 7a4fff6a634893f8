#!/bin/bash
# What isolation (plugins in plugin hosts) costs, against plugins in the daemon, in the same run.
# Prints figures; it is not a pass/fail test.
#
#   tests/bench/bench-isolation.sh [BUILDDIR]     (default: build; needs wrk, nginx, dbus-daemon, curl)
#
# With ipfilter + ratelimit, wrk -t1 -c32 keep-alive for $DURATION seconds each, the runs alternated
# (in process, isolated, in process, isolated):
#   1. the check endpoint alone: rate and p99, isolated against in process;
#   2. end to end: nginx auth_request in front of a stand-in keyserver, asking hkp-plugind (isolated)
#      against the same nginx asking an ideal check server (another nginx process, "return 204");
#   3. a crash: SIGKILL of ratelimit's host, the time until the next check is answered and until a
#      new host serves (from the daemon's journal lines);
#   4. the RSS of a plugin host with ratelimit.
# CPU and context switches per check count the daemon's and its hosts' (threads that ended are left out): on a
# virtual machine each wake-up of another thread or process costs several µs.  In process, a check wakes a pool
# thread and then its connection's thread again; isolated, each host and the daemon's I/O thread for it.
# Each daemon runs under the scheduling policy the packaged unit gives it (CPUSchedulingPolicy=batch), which
# its hosts inherit: a woken thread then does not preempt the running one, so requests and answers are
# passed in batches rather than one wake-up each.  SCHED=other runs them under the default policy instead.
# BASELINE=OTHER_BUILDDIR adds a third daemon to each round, that build's with its plugins in its default
# isolation (no "isolation" key: a build older than plugin hosts takes none), e.g. the tree before them:
#   git worktree add /tmp/old 79ba9ea~1 && meson setup /tmp/old/build /tmp/old -Dbuildtype=debugoptimized &&
#   ninja -C /tmp/old/build && BASELINE=/tmp/old/build tests/bench/bench-isolation.sh build-bench
source "$(dirname "$0")/bench-lib.sh"
build=$(realpath "${1:-build}")
baseline=${BASELINE:+$(realpath "$BASELINE")}
duration=${DURATION:-10}
sched=${SCHED:-batch}
rounds=${ROUNDS:-2}
export HKP_PLUGIN_HOST=$build/src/host/hkp-plugin-host

check_port=$(free_port)
ideal_port=$(free_port)
keyserver_port=$(free_port)
front_hkp_port=$(free_port)
front_ideal_port=$(free_port)
headers=(-H "X-Original-Method: GET" -H "X-Original-URI: /pks/lookup?op=get&search=0x1234" -H "X-Real-IP: 192.0.2.1")

# nginx: an ideal check server, a stand-in keyserver, and two fronts doing auth_request (ideal, hkp-plugind).
front() {  # PORT CHECK_PORT
  cat <<CONF
  upstream check_$1 { server 127.0.0.1:$2; keepalive 32; }
  server {
    listen 127.0.0.1:$1;
    location / { auth_request /_check; proxy_pass http://keyserver; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location = /_check {
      internal;
      proxy_pass http://check_$1/check;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-Method \$request_method;
      proxy_set_header X-Original-URI \$request_uri;
      proxy_set_header X-Real-IP \$remote_addr;
    }
  }
CONF
}
start_nginx "$work/nginx" 1 "  server { listen 127.0.0.1:$keyserver_port; location / { return 200 \"key\\n\"; } }
  upstream keyserver { server 127.0.0.1:$keyserver_port; keepalive 32; }
$(front "$front_ideal_port" "$ideal_port")
$(front "$front_hkp_port" "$check_port")"
# The ideal check server is a process of its own, as hkp-plugind is, so neither steals the front's worker.
start_nginx "$work/ideal" 1 "  server { listen 127.0.0.1:$ideal_port; location / { return 204; } }"
ideal_pid=${pids[-1]}

start_bus_and_plugins "$build"
if [ -n "$baseline" ]; then
  mkdir -p "$work/plugins-baseline"
  cp "$baseline/src/plugins/ipfilter.so" "$baseline/src/plugins/ratelimit.so" "$work/plugins-baseline/"
fi

start_daemon() {  # ISOLATION (none, process, or baseline: BASELINE's daemon and plugins, no isolation key)
  local key="\"isolation\": \"$1\", " daemon=$build plugins=$work/plugins
  [ "$1" = baseline ] && key="" daemon=$baseline plugins=$work/plugins-baseline
  rm -f "$work/daemon.log"
  echo "{\"module\": \"ipfilter.so\", \"priority\": 1, $key\"config\": {\"enabled\": true, \"deny\": [\"198.51.100.0/24\"]}}" \
    > "$work/plugins.d/ipfilter.json"
  echo "{\"module\": \"ratelimit.so\", \"priority\": 2, $key\"failure_mode\": \"open\", \"config\": {\"enabled\": true, \"lookup\": {\"requests_per_second\": 1e6, \"burst\": 1e6}}}" \
    > "$work/plugins.d/ratelimit.json"
  chrt "--$sched" 0 "$daemon/src/daemon/hkp-plugind" --config="$work/hkp-plugind.conf" --plugin-dir="$plugins" \
    --config-dir="$work/plugins.d" --state-dir="$work/state" --bus="unix:path=$work/bus.sock" --no-polkit \
    --http-listen=none --check-listen="127.0.0.1:$check_port" 2>"$work/daemon.log" &
  daemon_pid=$!
  pids+=($daemon_pid)
  for _ in $(seq 100); do grep -qE " ready$" "$work/daemon.log" 2>/dev/null && break; sleep 0.1; done
}
stop_daemon() { kill "$daemon_pid"; wait "$daemon_pid" || true; }

echo "# wrk -t1 -c32 -d${duration}s, keep-alive; $(nproc) CPUs; ipfilter + ratelimit; $rounds rounds alternated;" \
  "daemons under SCHED_${sched^^}"
for round in $(seq "$rounds"); do
  for isolation in none process ${baseline:+baseline}; do
    start_daemon "$isolation"
    cpu=$(cpu_usec "$daemon_pid") switched=$(switches "$daemon_pid")
    run_wrk_with 1 32 "$duration" "http://127.0.0.1:$check_port/check" "${headers[@]}"
    printf 'round %s  check endpoint, %-8s %10s req/s  p99 %6s ms  CPU %s µs/check, %s context switches/check (daemon and hosts)\n' \
      "$round" "$isolation" "$rps" "$p99" "$(cpu_per_request "$cpu" "$daemon_pid")" "$(switches_per_request "$switched" "$daemon_pid")"
    eval "check_${isolation}_$round=$rps; p99_${isolation}_$round=$p99"
    cpu=$(cpu_usec "$ideal_pid")
    run_wrk_with 1 32 "$duration" "http://127.0.0.1:$front_ideal_port/pks/lookup?op=get&search=0x1234"
    ideal=$rps ideal_p99=$p99
    ideal_cpu=$(cpu_per_request "$cpu" "$ideal_pid")
    cpu=$(cpu_usec "$daemon_pid") switched=$(switches "$daemon_pid")
    run_wrk_with 1 32 "$duration" "http://127.0.0.1:$front_hkp_port/pks/lookup?op=get&search=0x1234"
    printf 'round %s  through nginx: ideal check %s req/s (p99 %s ms, %s µs/check), hkp-plugind %-8s %s req/s (p99 %s ms, %s µs, %s switches/check) = %sx\n' \
      "$round" "$ideal" "$ideal_p99" "$ideal_cpu" "$isolation" "$rps" "$p99" "$(cpu_per_request "$cpu" "$daemon_pid")" \
      "$(switches_per_request "$switched" "$daemon_pid")" "$(ratio "$rps" "$ideal")"
    stop_daemon
  done
  printf 'round %s  isolated / in process: rate %sx, p99 %sx\n' "$round" \
    "$(eval ratio "\$check_process_$round" "\$check_none_$round")" "$(eval ratio "\$p99_process_$round" "\$p99_none_$round")"
done

# A crash, in the isolated daemon: the next check, and the new host.
start_daemon process
host=$(busctl --address="unix:path=$work/bus.sock" get-property org.hkp.PluginManager1 \
  /org/hkp/PluginManager1/plugin/ratelimit org.hkp.PluginManager1.Plugin HostPID | awk '{print $2}')
ps -o rss= -p "$host" | awk '{printf "RSS of the ratelimit plugin host: %s kB\n", $1}'
/usr/bin/python3 - "$host" "$check_port" <<'PY'
import os, signal, socket, sys, time
pid, port = int(sys.argv[1]), int(sys.argv[2])
request = (b"GET /check HTTP/1.1\r\nHost: x\r\nX-Original-Method: GET\r\n"
           b"X-Original-URI: /pks/lookup?op=get&search=0x1234\r\nX-Real-IP: 192.0.2.1\r\n\r\n")
s = socket.create_connection(("127.0.0.1", port))
s.sendall(request); s.recv(65536)
os.kill(pid, signal.SIGKILL)
start = time.monotonic()
s.sendall(request); answer = s.recv(65536)
print("after SIGKILL of the host: next check answered in %.2f ms (%s)" % ((time.monotonic() - start) * 1000,
      answer.split(b"\r\n")[0].decode()))
PY
for _ in $(seq 100); do grep -q "plugin ratelimit active" <(sed -n '/its host/,$p' "$work/daemon.log") && break; sleep 0.05; done
awk '/its host \(pid/ {split($1, t, ":"); killed = t[1]*3600000 + t[2]*60000 + t[3]*1000}
     killed && /plugin ratelimit active/ {split($1, t, ":"); printf "a new host serves %.0f ms after the old one was seen dead\n", t[1]*3600000 + t[2]*60000 + t[3]*1000 - killed; exit}' \
  "$work/daemon.log"
stop_daemon
