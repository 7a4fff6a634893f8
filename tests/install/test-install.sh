#!/bin/sh
# meson install into a DESTDIR puts every file where a Debian package would, and nothing is missing.
# Usage: test-install.sh BUILDDIR PREFIX SBINDIR INCLUDEDIR LIBDIR SYSCONFDIR DATADIR MANDIR LIBEXECDIR
set -eu
build=$1 prefix=$2 sbindir=$3 includedir=$4 libdir=$5 sysconfdir=$6 datadir=$7 mandir=$8 libexecdir=$9
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null

status=0
for file in \
  "$sbindir/hkp-plugind" \
  "$prefix/bin/hkp-pluginctl" \
  "$datadir/bash-completion/completions/hkp-pluginctl" \
  "$mandir/man1/hkp-pluginctl.1" \
  "$libexecdir/hkp-plugind/hkp-plugin-host" \
  "$includedir/hkp-plugind/hkp-plugin.h" \
  "$libdir/pkgconfig/hkp-plugin.pc" \
  "$sysconfdir/hkp-plugind/hkp-plugind.conf" \
  "$datadir/dbus-1/system.d/org.hkp.PluginManager1.conf" \
  "$datadir/dbus-1/system-services/org.hkp.PluginManager1.service" \
  "$datadir/dbus-1/interfaces/org.hkp.PluginManager1.xml" \
  "$datadir/polkit-1/actions/org.hkp.PluginManager1.policy" \
  "$datadir/doc/hkp-plugind/examples/hkp-plugind.rules.example" \
  "$datadir/doc/hkp-plugind/examples/plugins.d/ipfilter.json" \
  "$datadir/doc/hkp-plugind/examples/plugins.d/ratelimit.json" \
  "$datadir/doc/hkp-plugind/examples/nginx/hkp-plugind.conf" \
  "$prefix/lib/systemd/system/hkp-plugind.service" \
  "$mandir/man8/hkp-plugind.8" \
  "$mandir/man5/hkp-plugind.conf.5" \
  "$mandir/man7/hkp-plugin.7" \
  "$libdir/hkp-plugind/plugins/ipfilter.so" \
  "$libdir/hkp-plugind/plugins/ratelimit.so"
do
  if [ -f "$dest$file" ]; then
    echo "ok: $file"
  else
    echo "missing: $file"
    status=1
  fi
done
[ -d "$dest$sysconfdir/hkp-plugind/plugins.d" ] || { echo "missing: $sysconfdir/hkp-plugind/plugins.d/"; status=1; }
[ -x "$dest$sbindir/hkp-plugind" ] || { echo "not executable: $sbindir/hkp-plugind"; status=1; }
[ -x "$dest$libexecdir/hkp-plugind/hkp-plugin-host" ] || { echo "not executable: $libexecdir/hkp-plugind/hkp-plugin-host"; status=1; }
grep -Eq "^ExecStart=$sbindir/hkp-plugind( |\$)" "$dest$prefix/lib/systemd/system/hkp-plugind.service" \
  || { echo "the unit does not start $sbindir/hkp-plugind"; status=1; }
# The Cockpit page, when it was built (src/cockpit/node_modules present): its four files, and an
# index.html whose scripts are all files (Cockpit's content security policy blocks inline ones).
page=$datadir/cockpit/hkp-plugind
if [ -f "$build/src/cockpit/index.js.gz" ]; then
  for file in manifest.json index.html index.js.gz index.css.gz; do
    [ -f "$dest$page/$file" ] && echo "ok: $page/$file" || { echo "missing: $page/$file"; status=1; }
  done
  if grep -E -q '<script( [^>]*)?>[^<]' "$dest$page/index.html" || ! grep -q 'src="../base1/cockpit.js"' "$dest$page/index.html"; then
    echo "$page/index.html has an inline script or does not load ../base1/cockpit.js"
    status=1
  fi
  /usr/bin/python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$dest$page/manifest.json" \
    || { echo "$page/manifest.json is not JSON"; status=1; }
else
  echo "skipped: $page (the Cockpit page was not built)"
fi
# The installed SDK is usable as documented: pkg-config finds the header.
PKG_CONFIG_PATH="$dest$libdir/pkgconfig" pkg-config --define-variable=prefix="$dest$prefix" --cflags hkp-plugin \
  | grep -q "hkp-plugind" || { echo "pkg-config hkp-plugin gives no include path"; status=1; }
exit $status
