#!/usr/bin/env bash
# Add Tailor to the desktop's application menu, so it opens with a double-click, and offer it
# for .gguf files.
# The entry runs this checkout's ./tailor, which sets itself up on first use.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
mkdir -p "$apps"
sed -e "s|@EXEC@|$root/tailor|" -e "s|@ICON@|$root/resources/icons/tailor.svg|" "$root/installers/linux/tailor.desktop.in" > "$apps/tailor.desktop"
chmod +x "$apps/tailor.desktop"
# GGUF files: "Open with Tailor" imports the model (into the window already open, if any).
mime="${XDG_DATA_HOME:-$HOME/.local/share}/mime"
mkdir -p "$mime/packages"
cp "$root/resources/mime/tailor-gguf.xml" "$mime/packages/"
command -v update-mime-database >/dev/null && update-mime-database "$mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
echo "Installed $apps/tailor.desktop (and GGUF files open with Tailor)"
