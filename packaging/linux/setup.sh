#!/bin/sh
# Sets up a source install on a fresh Debian/Ubuntu machine: the system libraries Qt needs (the xcb
# platform plugin's libraries are missing on many stock desktops), a virtual environment in .venv,
# and the app installed into it. Used by the README's two commands and by CI.
#   sh packaging/linux/setup.sh          # the app (+ the demo radiographs)
#   sh packaging/linux/setup.sh --test   # the app + test tools
set -eu
cd "$(dirname "$0")/../.."

extras="demo"
[ "${1:-}" = "--test" ] && extras="test,demo"

PKGS="python3-venv libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0 \
libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 \
libxcb-randr0 libxcb-xfixes0 fonts-dejavu-core"
if command -v dpkg >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  missing=""
  for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "Installing system libraries:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
  fi
else
  echo "Not a Debian/Ubuntu system: install Python 3.11+ with venv and Qt's xcb libraries yourself." >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[$extras]"
echo "Ready: .venv/bin/fracture-triage"
