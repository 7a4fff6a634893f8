#!/bin/bash
# hkp-pluginctl list against busctl's bare GetManagedObjects, with the same 1,000 plugins, in the same
# run.  Prints figures; it is not a pass/fail test (the target is a ratio of at most 2).
#
#   tests/bench/bench-ctl.sh [BUILDDIR]          (default: build; needs dbus-daemon and busctl)
#
# Both read every plugin's properties in one call; hkp-pluginctl also parses them, sorts them and
# prints the table.  Each is run $RUNS times (default 20); the median wall time of one run is printed.
source "$(dirname "$0")/bench-lib.sh"
build=$(realpath "${1:-build}")
plugins=${PLUGINS:-1000}
runs=${RUNS:-20}

# A private bus, and hkp-plugind on it.
start_bus_and_plugins "$build" "$build/tests/plugins/answer.so"
address="unix:path=$work/bus.sock"
# In the daemon's process: the figure is about reading 1,000 plugins, not about hosting them.
for i in $(seq -w 1 "$plugins"); do
  printf '{"module": "answer.so", "priority": %d, "isolation": "none", "config": {"verdict": "continue"}}\n' \
    "$((10#$i))" \
    > "$work/plugins.d/plugin-$i.json"
done

LD_LIBRARY_PATH="$build/tests/plugins" "$build/src/daemon/hkp-plugind" --config="$work/hkp-plugind.conf" \
  --plugin-dir="$work/plugins" --config-dir="$work/plugins.d" --state-dir="$work/state" --bus="$address" \
  --no-polkit --http-listen=none --check-listen=none 2> "$work/daemon.log" &
pids+=($!)
for _ in $(seq 600); do grep -qE " ready$" "$work/daemon.log" 2>/dev/null && break; sleep 0.1; done
grep -qE " ready$" "$work/daemon.log" || { echo "hkp-plugind did not start:"; tail "$work/daemon.log"; exit 1; }

# median_ms COMMAND…: runs it $runs times (output discarded), prints the median wall time in ms.
median_ms() {
  local times=() start end
  for _ in $(seq "$runs"); do
    start=$(date +%s%N)
    "$@" > /dev/null
    end=$(date +%s%N)
    times+=($(((end - start) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{ t[NR] = $1 } END { printf "%.1f", t[int((NR + 1) / 2)] / 1000 }'
}

listed=$("$build/src/ctl/hkp-pluginctl" --address="$address" list --no-legend | wc -l)
[ "$listed" = "$plugins" ] || { echo "hkp-pluginctl listed $listed plugins, not $plugins"; exit 1; }
busctl_ms=$(median_ms busctl --address="$address" call org.hkp.PluginManager1 /org/hkp/PluginManager1 \
  org.freedesktop.DBus.ObjectManager GetManagedObjects)
list_ms=$(median_ms "$build/src/ctl/hkp-pluginctl" --address="$address" list)
json_ms=$(median_ms "$build/src/ctl/hkp-pluginctl" --address="$address" list --json=short)
status_ms=$(median_ms "$build/src/ctl/hkp-pluginctl" --address="$address" status)
printf '%-56s %8s ms\n' "busctl call … GetManagedObjects ($plugins plugins)" "$busctl_ms"
printf '%-56s %8s ms  %sx busctl\n' "hkp-pluginctl list" "$list_ms" "$(ratio "$list_ms" "$busctl_ms")"
printf '%-56s %8s ms  %sx busctl\n' "hkp-pluginctl list --json=short" "$json_ms" "$(ratio "$json_ms" "$busctl_ms")"
printf '%-56s %8s ms  %sx busctl\n' "hkp-pluginctl status" "$status_ms" "$(ratio "$status_ms" "$busctl_ms")"
