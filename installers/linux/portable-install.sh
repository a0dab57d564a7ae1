#!/usr/bin/env bash
# The portable build: run ./tailor from this folder, anywhere, with nothing installed. This
# script only adds it to your application menu (and offers it for .gguf files), for you alone;
# `./install.sh --remove` takes that away again. Your workspace is never touched.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
apps="$data/applications"
mime="$data/mime"
if [[ "${1:-}" == "--remove" ]]; then
  rm -f "$apps/tailor.desktop" "$mime/packages/tailor-gguf.xml"
  echo "Removed Tailor from the menu. Your workspace stays in $data/Tailor."
  exit 0
fi
mkdir -p "$apps" "$mime/packages"
sed -e "s|@EXEC@|$here/tailor|" -e "s|@ICON@|$here/_internal/resources/icons/tailor.svg|" \
  "$here/_internal/resources/tailor.desktop.in" > "$apps/tailor.desktop"
chmod +x "$apps/tailor.desktop"
cp "$here/_internal/resources/mime/tailor-gguf.xml" "$mime/packages/"
command -v update-mime-database >/dev/null && update-mime-database "$mime" || true
command -v update-desktop-database >/dev/null && update-desktop-database "$apps" || true
echo "Tailor is in your application menu ($apps/tailor.desktop), and opens .gguf files."
