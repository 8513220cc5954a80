#!/usr/bin/env bash
# Build Sticker Assistant for macOS: "Sticker Assistant.app" (one-folder PyInstaller bundle), self-tested,
# optionally signed and notarised, then put in a .dmg. Run from the repository root:
#   packaging/macos/build.sh
# Signing: CODESIGN_IDENTITY="Developer ID Application: …" (and NOTARY_PROFILE for `notarytool`).
# GPU: torch uses Metal (MPS) on Apple silicon out of the box; llama.cpp builds with Metal by default.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
[ -x .venv/bin/python ] || python3.11 -m venv .venv
py=$root/.venv/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK=1
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
"$py" -m pip install -q --upgrade pip wheel setuptools
"$py" -m pip install -c constraints.txt -e .
"$py" -m pip install -c constraints.txt pyinstaller==6.22.3

cd packaging
"$py" make_icons.py build/icons
if [ ! -s build/icons/sticker-assistant.icns ]; then   # Pillow without ICNS support: use iconutil
  set=build/icons/sticker-assistant.iconset; mkdir -p "$set"
  for s in 16 32 128 256 512; do
    sips -z $s $s build/icons/sticker-assistant-512.png --out "$set/icon_${s}x${s}.png" >/dev/null
    d=$((s * 2)); [ $d -le 1024 ] && sips -z $d $d build/icons/sticker-assistant-512.png --out "$set/icon_${s}x${s}@2x.png" >/dev/null
  done
  iconutil -c icns "$set" -o build/icons/sticker-assistant.icns
fi
STICKER_ASSISTANT_VARIANT=cpu "$py" -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller sticker-assistant.spec

app="dist/Sticker Assistant.app"
start=$(date +%s)
QT_QPA_PLATFORM=offscreen "$app/Contents/MacOS/sticker-assistant" --selftest
echo "start-up to self-test exit: $(( $(date +%s) - start )) s; size: $(du -sh "$app" | cut -f1)"

if [ -n "${CODESIGN_IDENTITY:-}" ]; then
  codesign --deep --force --options runtime --timestamp --sign "$CODESIGN_IDENTITY" "$app"
fi
version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' ../assistant/__init__.py)
dmg="dist/sticker-assistant-$version-macos-$(uname -m).dmg"
rm -f "$dmg"
hdiutil create -volname "Sticker Assistant" -srcfolder "$app" -ov -format UDZO "$dmg"
if [ -n "${NOTARY_PROFILE:-}" ]; then
  xcrun notarytool submit "$dmg" --keychain-profile "$NOTARY_PROFILE" --wait && xcrun stapler staple "$dmg"
fi
echo "$dmg"
