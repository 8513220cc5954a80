#!/usr/bin/env bash
# Pack the one-folder build as a tarball a Linux user unpacks anywhere and runs, or installs for
# their account with the included install.sh (menu entry + icons, no root needed).
#   make_tarball.sh APPDIR OUTDIR VERSION
set -euo pipefail
appdir=${1:?one-folder build, e.g. dist/sticker-assistant}
outdir=${2:?output folder}
version=${3:?version}
arch=$(uname -m)
name="sticker-assistant-${version}-linux-${arch}"
here=$(cd "$(dirname "$0")" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

cp -a "$appdir" "$stage/$name"
cp "$here/sticker-assistant.desktop" "$here/io.github.stickerassistant.StickerAssistant.metainfo.xml" "$stage/$name/"
cp "$here/install.sh" "$stage/$name/install.sh"
chmod +x "$stage/$name/install.sh"
tar -C "$stage" -czf "$outdir/$name.tar.gz" "$name"
du -h "$outdir/$name.tar.gz" | awk '{print "tarball: " $2 " (" $1 ")"}'
