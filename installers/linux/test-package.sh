#!/usr/bin/env bash
# The package test: the .deb installed into a clean Debian root, used as a newcomer would, with
# no network and an empty home.
#
#   sudo installers/linux/test-package.sh [dist/tailor_VERSION_ARCH.deb]
#
# 1. A clean Debian 12 root (debootstrap --variant=minbase, kept in TAILOR_CLEAN_ROOT and copied
#    for each run), no Python in it. apt installs the .deb with its Depends (this step needs
#    the Debian mirror), plus the test's own tools: Xvfb, xwd and xdotool.
# 2. Inside it, under `unshare -n` (no network at all) with an empty HOME:
#    `tailor --version`; the bundled model answers on the command line; the app opens under
#    Xvfb with a folder (as "Open with Tailor" does) and indexes it; a question typed into the
#    window is answered from that folder with its source cited (screenshots in
#    docs/screenshots/installed-*.png); the cold start to a shown window, 5 times.
# 3. An upgrade: the same package with a higher version installed over it opens the same
#    workspace (the knowledge base and the conversation are still there).
# 4. Removing the package keeps the workspace and says where it is.
# Needs root (chroot, mount, unshare), debootstrap and ImageMagick (the screenshots). Prints PASS
# or the step that failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
deb="${1:-$(ls -t "$here"/dist/tailor_*.deb 2>/dev/null | head -n1)}"
[[ -f "$deb" ]] || { echo "No .deb: build it with installers/linux/build.sh" >&2; exit 2; }
clean="${TAILOR_CLEAN_ROOT:-/var/cache/tailor-root/bookworm}"
work="${TAILOR_BUILD_DIR:-$here/build}/package-test"
shots="$here/docs/screenshots"
say() { printf '\033[1mpackage test:\033[0m %s\n' "$*" >&2; }

if [[ ! -x "$clean/bin/sh" ]]; then
  say "making a clean Debian root in $clean (once)"
  mkdir -p "$(dirname "$clean")"
  debootstrap --variant=minbase bookworm "$clean" http://deb.debian.org/debian >/dev/null
fi

say "copying the clean root"
rm -rf "$work"
mkdir -p "$work"
cp -a "$clean" "$work/root"
R="$work/root"
cleanup() {
  for m in dev/pts dev proc; do umount -l "$R/$m" 2>/dev/null || true; done
}
trap cleanup EXIT
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mount --bind /dev/pts "$R/dev/pts"
cp /etc/resolv.conf "$R/etc/resolv.conf"
cp "$deb" "$R/tmp/tailor.deb"

say "installing $(basename "$deb") with apt (its Depends come from the mirror)"
chroot "$R" apt-get update -qq
chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  /tmp/tailor.deb xvfb x11-apps xdotool >"$work/apt.log" 2>&1 \
  || { tail -20 "$work/apt.log"; exit 1; }
if chroot "$R" sh -c 'command -v python3 || ls /usr/lib/python3*' >/dev/null 2>&1; then
  say "note: the root has a system Python (a test tool brought it); Tailor does not use it"
fi
installed_mb=$(chroot "$R" du -sm /opt/tailor | cut -f1)

# The steps inside: an empty home, no network, a virtual screen.
cat > "$R/tmp/inside.sh" <<'EOF'
set -euo pipefail
export HOME=/home/newcomer LANG=C.UTF-8 PATH=/usr/bin:/bin
mkdir -p "$HOME/Field notes" /tmp/out
cat > "$HOME/Field notes/festival.txt" <<'TXT'
The Zorblat lantern festival is held every March in the harbour town of Quenby.
Visitors float blue paper lanterns on the harbour and eat saffron pancakes at dawn.
TXT
step() { echo "== $*"; }
step "no network"
if (exec 3<>/dev/tcp/1.1.1.1/80) 2>/dev/null; then echo "FAIL: the network is reachable"; exit 1; fi
step "version"; tailor --version
step "the bundled model answers"
tailor chat "Say hello in one short sentence." > /tmp/out/chat.txt
test -s /tmp/out/chat.txt && head -c 300 /tmp/out/chat.txt; echo

Xvfb :99 -screen 0 1280x820x24 -nolisten tcp >/tmp/out/xvfb.log 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT  # nothing of the test outlives it
export DISPLAY=:99
sleep 2

step "cold start to a shown window, 5 times"
for i in 1 2 3 4 5; do
  t0=$(date +%s%N)
  TAILOR_REPORT_STARTUP=1 tailor > /tmp/out/start-$i.txt 2>&1 &
  pid=$!
  until grep -q window_shown_s /tmp/out/start-$i.txt 2>/dev/null; do
    kill -0 $pid 2>/dev/null || { cat /tmp/out/start-$i.txt; echo "FAIL: no window"; exit 1; }
    sleep 0.05
  done
  t1=$(date +%s%N)
  echo "start $i: $(( (t1 - t0) / 1000000 )) ms"
  wait $pid || true
done | tee /tmp/out/starts.txt

step "Open with Tailor: a folder"
tailor "$HOME/Field notes" > /tmp/out/window.txt 2>&1 &
app=$!
xdotool search --sync --name "^Tailor" >/dev/null
for i in $(seq 1 120); do
  tailor kb status "Field notes" 2>/dev/null | grep -q "1 file" && break
  sleep 1
done
sleep 2
xwd -root -silent > /tmp/out/installed-knowledge.xwd
kill $app; wait $app 2>/dev/null || true
tailor kb status "Field notes"

step "Open with Tailor: a .gguf file is imported"
grep -q "^Exec=/opt/tailor/tailor %F" /usr/share/applications/tailor.desktop
grep -q "application/x-gguf" /usr/share/applications/tailor.desktop
test -f /usr/share/icons/hicolor/scalable/apps/tailor.svg
mkdir -p "$HOME/Downloads"
cp "$(find /opt/tailor -name '*.gguf' | head -n1)" "$HOME/Downloads/pocket-model.gguf"
tailor "$HOME/Downloads/pocket-model.gguf" > /tmp/out/window-gguf.txt 2>&1 &
app=$!
for i in $(seq 1 60); do tailor models list 2>/dev/null | grep -q pocket-model && break; sleep 1; done
kill $app; wait $app 2>/dev/null || true
tailor models list | grep pocket-model || { echo "FAIL: the .gguf was not imported"; exit 1; }

step "a question in the window, answered from the folder with its source"
tailor assistants edit "Default assistant" --kb "Field notes" --note "answers from Field notes"
tailor > /tmp/out/window2.txt 2>&1 &
app=$!
win=$(xdotool search --sync --name "^Tailor" | head -n1)
sleep 6  # the model loads in the background
# No window manager gives focus under a bare Xvfb: click into the message box (the window
# opens at the screen's top left, its message box at the bottom right), then type.
eval "$(xdotool getwindowgeometry --shell "$win")"
xdotool mousemove $(( X + WIDTH * 3 / 4 )) $(( Y + HEIGHT - 70 )) click 1
sleep 0.5
xdotool type --delay 20 "When is the Zorblat lantern festival held?"
xdotool key Return
sleep 90  # the embedder and the model load, then the answer streams (a loaded 2-core machine)
xwd -root -silent > /tmp/out/installed-chat.xwd
kill $app; wait $app 2>/dev/null || true
tailor chat -a "Default assistant" "When is the Zorblat lantern festival held?" \
  > /tmp/out/cited.txt
cat /tmp/out/cited.txt
grep -q "festival.txt" /tmp/out/cited.txt || { echo "FAIL: no citation"; exit 1; }
echo "INSIDE OK"
EOF

say "running it with no network (unshare -n), an empty home and Xvfb"
unshare -n chroot "$R" /bin/bash /tmp/inside.sh 2>&1 | tee "$work/inside.log"
grep -q "INSIDE OK" "$work/inside.log" || { say "FAIL (see $work/inside.log)"; exit 1; }

say "upgrade: a newer package over this one keeps the workspace"
mkdir -p "$work/newer"
dpkg-deb -R "$deb" "$work/newer/tree"
sed -i 's/^Version: \(.*\)$/Version: \1+1/' "$work/newer/tree/DEBIAN/control"
dpkg-deb --root-owner-group -Znone -b "$work/newer/tree" "$R/tmp/tailor-newer.deb" >/dev/null
chroot "$R" dpkg -i /tmp/tailor-newer.deb >/dev/null
unshare -n chroot "$R" env -i HOME=/home/newcomer PATH=/usr/bin:/bin LANG=C.UTF-8 \
  sh -c 'tailor kb list && tailor assistants show "Default assistant"' | tee "$work/upgrade.log"
grep -q "Field notes" "$work/upgrade.log" || { say "FAIL: the upgrade lost the workspace"; exit 1; }

say "removing keeps the workspace and says where"
chroot "$R" dpkg -r tailor | tee "$work/remove.log"
grep -q "kept in ~/.local/share/Tailor" "$work/remove.log"
test -d "$R/home/newcomer/.local/share/Tailor" || { say "FAIL: the workspace went"; exit 1; }
test ! -e "$R/opt/tailor" || { say "FAIL: /opt/tailor is still there"; exit 1; }

mkdir -p "$shots"
for name in installed-knowledge installed-chat; do
  # ImageMagick's own convert (a stand-in may come first on PATH).
  /usr/bin/convert "xwd:$R/tmp/out/$name.xwd" "$shots/$name.png"
done
cp "$R/tmp/out/starts.txt" "$work/starts.txt"
median=$(grep -o '[0-9]* ms' "$work/starts.txt" | cut -d' ' -f1 | sort -n | sed -n 3p)
say "installed: ${installed_mb} MB in /opt/tailor; cold start to a shown window, median of 5: ${median} ms"
say "screenshots: $shots/installed-knowledge.png, $shots/installed-chat.png"
echo PASS
