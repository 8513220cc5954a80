#!/usr/bin/env bash
# Turn the one-folder build into an AppImage (one file users mark executable and double-click).
# Needs appimagetool on PATH (https://github.com/AppImage/appimagetool/releases); without it this
# script still lays out the AppDir, so the last step can be run where the tool is available.
#   make_appimage.sh APPDIR OUTDIR VERSION
set -euo pipefail
appdir=${1:?one-folder build, e.g. dist/sticker-assistant}
outdir=${2:?output folder}
version=${3:?version}
arch=$(uname -m)
here=$(cd "$(dirname "$0")" && pwd)
root="$outdir/StickerAssistant.AppDir"

rm -rf "$root"
mkdir -p "$root/usr/bin" "$root/usr/share/applications" "$root/usr/share/metainfo" \
         "$root/usr/share/icons/hicolor/scalable/apps"
cp -a "$appdir" "$root/usr/lib-sticker-assistant"
ln -s ../lib-sticker-assistant/sticker-assistant "$root/usr/bin/sticker-assistant"
cp "$here/sticker-assistant.desktop" "$root/usr/share/applications/"
cp "$here/sticker-assistant.desktop" "$root/"
cp "$here/io.github.stickerassistant.StickerAssistant.metainfo.xml" "$root/usr/share/metainfo/"
for s in 16 32 48 64 128 256 512; do
  mkdir -p "$root/usr/share/icons/hicolor/${s}x${s}/apps"
  cp "$appdir/icons/sticker-assistant-$s.png" "$root/usr/share/icons/hicolor/${s}x${s}/apps/sticker-assistant.png"
done
cp "$appdir/icons/sticker-assistant.svg" "$root/usr/share/icons/hicolor/scalable/apps/"
cp "$appdir/icons/sticker-assistant-256.png" "$root/sticker-assistant.png"
ln -s sticker-assistant.png "$root/.DirIcon"
cat > "$root/AppRun" <<'RUN'
#!/bin/sh
here=$(dirname "$(readlink -f "$0")")
exec "$here/usr/lib-sticker-assistant/sticker-assistant" "$@"
RUN
chmod +x "$root/AppRun"

if command -v appimagetool >/dev/null; then
  ARCH=$arch appimagetool --no-appstream "$root" "$outdir/Sticker_Assistant-${version}-${arch}.AppImage"
  echo "AppImage: $outdir/Sticker_Assistant-${version}-${arch}.AppImage"
else
  echo "AppDir ready at $root; appimagetool is not installed, so run:"
  echo "  ARCH=$arch appimagetool $root $outdir/Sticker_Assistant-${version}-${arch}.AppImage"
fi
