#!/usr/bin/env bash
# The Debian package (issue 20 item 5), in the 'package' suite: it rebuilds the whole project,
# so scripts/test leaves it out (`meson test -C build --suite package` runs it).
#  - scripts/package builds it from the committed tree;
#  - its contents: binaries, the plugin in GStreamer's folder, the unit where systemd looks, the
#    config and demo channels as conffiles, the console;
#  - its control data: Depends on the GStreamer plugin packages and the libraries it links;
#    maintainer scripts create the iptv user and enable/start iptvd.service (dh_installsystemd);
#  - unpacked (dpkg -x, not installed: an installed libgstiptv.so would sit in the plugin folder
#    every other test scans), its iptvd, worker and plugin serve its demo channels.
# Installing with dpkg -i and starting through systemd needs a clean system with systemd as
# PID 1: docs/deploy.md gives the steps.
set -uo pipefail
src=${IPTV_SOURCE_ROOT:?}
# A fixed folder under the build tree: the same paths in every run, so ccache serves a rebuild.
out=${IPTV_BUILD_ROOT:?}/package-test
rm -rf "$out" && mkdir -p "$out"
trap 'kill $pid 2>/dev/null' EXIT
pid=
fail() { echo "FAIL $*"; exit 1; }
ok() { echo "ok   $*"; }
# IPTV_PACKAGE_DEB: check a package built before (scripts/package) instead of building one.
if [ -n "${IPTV_PACKAGE_DEB:-}" ]; then
  deb=$IPTV_PACKAGE_DEB
else
  "$src/scripts/package" "$out/deb" >/dev/null || fail "scripts/package: $(tail -n 20 "$out/deb/build.log")"
  deb=$(ls "$out"/deb/gst-iptv_*.deb | head -1)
fi
[ -f "$deb" ] || fail "no .deb"
ok "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
list=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/iptvd ./usr/bin/iptvd-worker ./usr/bin/iptvctl \
    ./usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstiptv.so ./lib/systemd/system/iptvd.service \
    ./etc/gst-iptv/iptvd.yaml ./etc/gst-iptv/channels/demo-news.yaml \
    ./usr/share/gst-iptv/console/index.html ./usr/share/doc/gst-iptv/deploy.md; do
  grep -qx "$f" <<<"$list" || fail "missing $f"
done
ok "every file where it belongs"
dpkg-deb -e "$deb" "$out/control"
grep -q "^/etc/gst-iptv/iptvd.yaml$" "$out/control/conffiles" || fail "config is not a conffile"
grep -q "^/etc/gst-iptv/channels/demo-news.yaml$" "$out/control/conffiles" || fail "demo channel is not a conffile"
ok "config and demo channels are conffiles"
deps=$(dpkg-deb -f "$deb" Depends)
for p in gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav libsoup-3.0-0 \
    libsqlite3-0 libyaml-cpp0.7 libgstreamer1.0-0 adduser; do
  grep -q "$p" <<<"$deps" || fail "Depends lacks $p: $deps"
done
ok "Depends: $deps"
grep -q "adduser --system" "$out/control/postinst" || fail "postinst makes no iptv user"
grep -q "iptvd.service" "$out/control/postinst" || fail "postinst does not enable iptvd.service"
sh -n "$out/control/postinst" && sh -n "$out/control/postrm" || fail "maintainer scripts do not parse"
ok "postinst adds the iptv user and enables/starts iptvd.service"
grep -q "^ExecStart=/usr/bin/iptvd --config /etc/gst-iptv/iptvd.yaml" <(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./lib/systemd/system/iptvd.service) ||
  fail "the unit does not run /usr/bin/iptvd with /etc/gst-iptv/iptvd.yaml"
ok "the unit runs the packaged binary with the packaged config"
root=$out/root
dpkg -x "$deb" "$root"
plugdir=$root/usr/lib/x86_64-linux-gnu/gstreamer-1.0
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
env -u IPTVD_WORKER -u LD_LIBRARY_PATH GST_PLUGIN_PATH="$plugdir" GST_PLUGIN_PATH_1_0="$plugdir" \
  GST_REGISTRY="$out/reg.bin" "$root/usr/bin/iptvd" --config "$root/etc/gst-iptv/iptvd.yaml" \
  --channels "$root/etc/gst-iptv/channels" --data "$out/data" --listen "127.0.0.1:$port" \
  > "$out/iptvd.log" 2>&1 &
pid=$!
for _ in $(seq 1 180); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && break
  sleep 0.5
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] ||
  fail "the unpacked iptvd never got ready: $(tail -n 30 "$out/iptvd.log")"
url=$("$root/usr/bin/iptvctl" token --channel demo-music --ttl 300 --key-file "$out/data/token.keys" --base "http://127.0.0.1:$port")
ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$url" > "$out/probe.txt" 2>&1 ||
  fail "ffprobe cannot play $url: $(cat "$out/probe.txt")"
grep -q h264 "$out/probe.txt" || fail "no H.264 in $(cat "$out/probe.txt")"
ok "the unpacked iptvd, worker and plugin serve the demo (ffprobe: $(tr '\n' ' ' < "$out/probe.txt"))"
kill -TERM $pid; wait $pid; rc=$?; pid=
[ $rc = 0 ] || fail "iptvd exited $rc on SIGTERM"
ok "stopped cleanly"
echo "package: all checks passed"
