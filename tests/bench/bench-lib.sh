# Shared by the benchmark scripts (sourced): a scratch directory, children stopped on exit, free
# ports, and wrk figures.  Expects $work unset; sets work, pids, rps, p99.
set -euo pipefail
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A TCP port on 127.0.0.1 that was free a moment ago.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wrk against URL with the given extra arguments: sets rps (requests/s) and p99 (ms); wrk's output in $work/wrk.out.
run_wrk_with() {  # THREADS CONNECTIONS SECONDS URL [wrk args…]
  local threads=$1 conns=$2 seconds=$3 url=$4
  shift 4
  wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency "$@" "$url" > "$work/wrk.out"
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$work/wrk.out")
}

# a / b to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Starts an nginx of its own in DIR with WORKERS worker processes and the given http{} body (server
# blocks…), its temp files and logs kept in DIR.
start_nginx() {  # DIR WORKERS HTTP_BODY
  local dir=$1 workers=$2 body=$3
  mkdir -p "$dir"
  cat > "$dir/nginx.conf" <<CONF
$( [ "$(id -u)" = 0 ] && echo "user root;" )
worker_processes $workers;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir;
  uwsgi_temp_path $dir; scgi_temp_path $dir;
  keepalive_requests 1000000;
$body
}
CONF
  nginx -e stderr -p "$dir" -c "$dir/nginx.conf" &
  pids+=($!)
}

# A private bus at $work/bus.sock, and the modules named (default: the shipped ipfilter and ratelimit
# of BUILDDIR) in $work/plugins, with $work/plugins.d, $work/state and an empty main config beside them.
start_bus_and_plugins() {  # BUILDDIR [MODULE…]
  local build=$1
  shift
  [ $# -gt 0 ] || set -- "$build/src/plugins/ipfilter.so" "$build/src/plugins/ratelimit.so"
  dbus-daemon --session --nofork --nopidfile --address="unix:path=$work/bus.sock" &
  pids+=($!)
  mkdir -p "$work/plugins" "$work/plugins.d" "$work/state"
  cp "$@" "$work/plugins/"
  printf '[hkp-plugind]\n' > "$work/hkp-plugind.conf"
  for _ in $(seq 50); do [ -S "$work/bus.sock" ] && break; sleep 0.1; done
}

# User and system CPU time, in µs, that the processes named and their children have used so far.
cpu_usec() {  # PID…
  local pid ticks=0
  for pid in "$@" $(for p in "$@"; do pgrep -P "$p" || true; done); do
    # After "pid (comm) ", utime and stime are the 12th and 13th fields (comm may hold spaces).
    ticks=$((ticks + $(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}' || echo 0)))
  done
  echo $((ticks * 1000000 / $(getconf CLK_TCK)))
}

# Context switches so far (voluntary and not) of every thread of the processes named and their children.
switches() {  # PID…
  local pid
  for pid in "$@" $(for p in "$@"; do pgrep -P "$p" || true; done); do
    cat /proc/"$pid"/task/*/status 2>/dev/null || true
  done | awk '/ctxt_switches/ {n += $2} END {print n + 0}'
}

# Context switches per request: those since BEFORE of the processes named, over the requests of wrk's last run.
switches_per_request() {  # BEFORE PID…
  local before=$1
  shift
  awk -v used="$(( $(switches "$@") - before ))" -v n="$(awk '/requests in/ {print $1}' "$work/wrk.out")" \
    'BEGIN { printf "%.2f", used / n }'
}

# CPU µs per request: the CPU µs used since BEFORE by the processes named, over the requests of wrk's last run.
cpu_per_request() {  # BEFORE PID…
  local before=$1
  shift
  local requests
  requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  awk -v used="$(( $(cpu_usec "$@") - before ))" -v n="$requests" 'BEGIN { printf "%.1f", used / n }'
}
