#!/usr/bin/env bash
# Add Tailor to the desktop's application menu, so it opens with a double-click.
# The entry runs this checkout's ./tailor, which sets itself up on first use.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
mkdir -p "$apps"
sed -e "s|@ROOT@|$root|g" "$root/installers/linux/tailor.desktop.in" > "$apps/tailor.desktop"
chmod +x "$apps/tailor.desktop"
echo "Installed $apps/tailor.desktop"
