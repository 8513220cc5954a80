#!/usr/bin/env bash
# Install the unpacked Sticker Assistant folder for this user: a launcher in ~/.local/bin, the menu
# entry, the AppStream metadata and the icons (hicolor theme). Run it from inside the unpacked folder.
#   ./install.sh            install      ./install.sh --uninstall    remove
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
bin=$HOME/.local/bin
sizes="16 32 48 64 128 256 512"

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$bin/sticker-assistant" "$data/applications/sticker-assistant.desktop" \
        "$data/metainfo/io.github.stickerassistant.StickerAssistant.metainfo.xml" \
        "$data/icons/hicolor/scalable/apps/sticker-assistant.svg"
  for s in $sizes; do rm -f "$data/icons/hicolor/${s}x${s}/apps/sticker-assistant.png"; done
  echo "removed the launcher, menu entry and icons (your data folder is kept)"
  exit 0
fi

mkdir -p "$bin" "$data/applications" "$data/metainfo" "$data/icons/hicolor/scalable/apps"
ln -sf "$here/sticker-assistant" "$bin/sticker-assistant"
sed "s|^Exec=sticker-assistant|Exec=$here/sticker-assistant|; s|^TryExec=.*|TryExec=$here/sticker-assistant|" \
  "$here/sticker-assistant.desktop" > "$data/applications/sticker-assistant.desktop"
cp "$here/io.github.stickerassistant.StickerAssistant.metainfo.xml" "$data/metainfo/"
for s in $sizes; do
  mkdir -p "$data/icons/hicolor/${s}x${s}/apps"
  cp "$here/icons/sticker-assistant-$s.png" "$data/icons/hicolor/${s}x${s}/apps/sticker-assistant.png"
done
cp "$here/icons/sticker-assistant.svg" "$data/icons/hicolor/scalable/apps/"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
echo "installed: 'Sticker Assistant' is in your applications menu; 'sticker-assistant' in $bin"
