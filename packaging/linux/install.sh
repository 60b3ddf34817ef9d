#!/bin/sh
# Per-user install of the Fracture Triage Linux bundle (no root needed). Run it from the unpacked archive:
#   tar xzf fracture-triage-<version>-linux-x86_64.tar.gz && fracture-triage/install.sh
#   fracture-triage/install.sh --check       # only check the system libraries Qt needs
#   fracture-triage/install.sh --uninstall   # remove the app (your database and settings stay)
#
# Installs the folder to ~/.local/share/fracture-triage-app (replacing an older version), a command
# ~/.local/bin/fracture-triage, a menu entry (~/.local/share/applications) and icons
# (~/.local/share/icons/hicolor). XDG_DATA_HOME and FT_BIN_DIR move them. The app keeps its data in
# ~/.local/share/fracture-triage (database, backups), ~/.config/fracture-triage and
# ~/.local/state/fracture-triage/log: this script never touches those.
#
# The bundle carries Qt's xcb helper libraries (libxcb-cursor0 & co.); the system must still provide
# libxcb, the GL/EGL stack, the D-Bus client library (libdbus-1-3) and fonts. What is missing is listed
# with the exact apt-get command.
set -eu

NAME=fracture-triage
SRC=$(cd "$(dirname "$0")" && pwd)
DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}
APP_DIR=$DATA_HOME/$NAME-app
BIN_DIR=${FT_BIN_DIR:-$HOME/.local/bin}
APPS_DIR=$DATA_HOME/applications
ICON_DIR=$DATA_HOME/icons/hicolor

# shared library -> Debian/Ubuntu package
pkg_for() {
  case "$1" in
    libxcb.so.1) echo libxcb1 ;;
    libX11.so.6) echo libx11-6 ;;
    libX11-xcb.so.1) echo libx11-xcb1 ;;
    libEGL.so.1) echo libegl1 ;;
    libGL.so.1) echo libgl1 ;;
    libOpenGL.so.0) echo libopengl0 ;;
    libGLX.so.0) echo libglx0 ;;
    libfontconfig.so.1) echo libfontconfig1 ;;
    libfreetype.so.6) echo libfreetype6 ;;
    libdbus-1.so.3) echo libdbus-1-3 ;;
    libglib-2.0.so.0|libgthread-2.0.so.0) echo libglib2.0-0 ;;
    libxkbcommon.so.0) echo libxkbcommon0 ;;
    libxkbcommon-x11.so.0) echo libxkbcommon-x11-0 ;;
    libxcb-cursor.so.0) echo libxcb-cursor0 ;;
    libxcb-icccm.so.4) echo libxcb-icccm4 ;;
    libxcb-keysyms.so.1) echo libxcb-keysyms1 ;;
    libxcb-image.so.0) echo libxcb-image0 ;;
    libxcb-render-util.so.0) echo libxcb-render-util0 ;;
    libxcb-util.so.1) echo libxcb-util1 ;;
    libxcb-*.so.*) echo "$1" | sed 's/^lib\(xcb-[a-z0-9-]*\)\.so\.\([0-9]*\)$/lib\1\2/' ;;
    libwayland-client.so.0) echo libwayland-client0 ;;
    libwayland-cursor.so.0) echo libwayland-cursor0 ;;
    libwayland-egl.so.1) echo libwayland-egl1 ;;
    *) echo "?$1" ;;
  esac
}

# Prints the system libraries the bundle's Qt cannot find in $1 (an installed or unpacked bundle).
missing_libs() {
  internal=$1/_internal
  [ -d "$internal" ] || internal=$1
  qt=$internal/PySide6/Qt
  files="$qt/lib/libQt6Gui.so.6 $qt/lib/libQt6Widgets.so.6 $qt/plugins/platforms/libqxcb.so $qt/lib/libQt6XcbQpa.so.6"
  if [ -n "${WAYLAND_DISPLAY:-}" ]; then
    files="$files $qt/plugins/platforms/libqwayland.so $qt/lib/libQt6WaylandClient.so.6"
  fi
  for f in $files; do
    [ -f "$f" ] || continue
    LD_LIBRARY_PATH="$internal:$qt/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$f" 2>/dev/null \
      | awk '/not found/ {print $1}'
  done | sort -u
}

check_libs() {
  if ! command -v ldd >/dev/null 2>&1; then
    echo "note: ldd not found; cannot check the system libraries Qt needs" >&2
    return 0
  fi
  libs=$(missing_libs "$1")
  [ -z "$libs" ] && { echo "System libraries: all found."; return 0; }
  pkgs=""; unknown=""
  for l in $libs; do
    p=$(pkg_for "$l")
    case "$p" in \?*) unknown="$unknown ${p#?}" ;; *) pkgs="$pkgs $p" ;; esac
  done
  echo "" >&2
  echo "MISSING system libraries the desktop window needs:$(printf ' %s' $libs)" >&2
  if [ -n "$pkgs" ]; then
    echo "Install them with:" >&2
    echo "    sudo apt-get install -y$(printf ' %s' $(echo $pkgs | tr ' ' '\n' | sort -u))" >&2
    echo "(Fedora: sudo dnf install libxcb libX11 mesa-libEGL mesa-libGL dbus-libs fontconfig)" >&2
  fi
  [ -n "$unknown" ] && echo "Also needed (find the package that provides them):$unknown" >&2
  echo "The headless commands (fracture-triage scan/info) work without them." >&2
  return 1
}

uninstall() {
  if [ -L "$BIN_DIR/$NAME" ] && [ "$(readlink "$BIN_DIR/$NAME")" = "$APP_DIR/$NAME" ]; then
    rm -f "$BIN_DIR/$NAME"
  fi
  rm -f "$APPS_DIR/$NAME.desktop"
  rm -f "$ICON_DIR"/*/apps/$NAME.png "$ICON_DIR"/scalable/apps/$NAME.svg
  rm -rf "$APP_DIR"
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS_DIR" 2>/dev/null || true
  echo "Removed $NAME. Your database, settings and logs were left in place:"
  echo "    $DATA_HOME/$NAME  ${XDG_CONFIG_HOME:-$HOME/.config}/$NAME  ${XDG_STATE_HOME:-$HOME/.local/state}/$NAME"
}

case "${1:-}" in
  --check) check_libs "$SRC"; exit $? ;;
  --uninstall) uninstall; exit 0 ;;
  -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "usage: $0 [--check | --uninstall]" >&2; exit 2 ;;
esac

[ -x "$SRC/$NAME" ] && [ -d "$SRC/_internal" ] || {
  echo "error: run install.sh from the unpacked $NAME folder (no $SRC/$NAME here)" >&2; exit 1; }
[ "$SRC" = "$APP_DIR" ] && { echo "error: already installed at $APP_DIR" >&2; exit 1; }

# Copy next to the target, then swap: an interrupted install never leaves a half-copied app.
mkdir -p "$DATA_HOME" "$BIN_DIR" "$APPS_DIR"
tmp="$APP_DIR.new.$$"
rm -rf "$tmp"
cp -a "$SRC" "$tmp"
if [ -d "$APP_DIR" ]; then mv "$APP_DIR" "$APP_DIR.old.$$"; fi
mv "$tmp" "$APP_DIR"
rm -rf "$APP_DIR.old.$$"

ln -sfn "$APP_DIR/$NAME" "$BIN_DIR/$NAME"
for png in "$APP_DIR"/share/icons/$NAME-*.png; do
  [ -f "$png" ] || continue
  n=$(basename "$png" .png); n=${n##*-}
  mkdir -p "$ICON_DIR/${n}x${n}/apps"
  cp "$png" "$ICON_DIR/${n}x${n}/apps/$NAME.png"
done
if [ -f "$APP_DIR/share/icons/$NAME.svg" ]; then
  mkdir -p "$ICON_DIR/scalable/apps" && cp "$APP_DIR/share/icons/$NAME.svg" "$ICON_DIR/scalable/apps/$NAME.svg"
fi
sed -e "s|^Exec=.*|Exec=\"$APP_DIR/$NAME\" %f|" -e "s|^TryExec=.*|TryExec=$APP_DIR/$NAME|" \
  "$APP_DIR/share/$NAME.desktop" > "$APPS_DIR/$NAME.desktop"
chmod 644 "$APPS_DIR/$NAME.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS_DIR" 2>/dev/null || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$ICON_DIR" 2>/dev/null || true

version=$("$APP_DIR/$NAME" --version 2>/dev/null || echo "$NAME (version unknown)")
echo "Installed $version to $APP_DIR"
echo "    command: $BIN_DIR/$NAME    menu: Fracture Triage"
case ":$PATH:" in *":$BIN_DIR:"*) ;; *) echo "    note: $BIN_DIR is not on your PATH; add it, or start the app from the menu" ;; esac
check_libs "$APP_DIR" || true
