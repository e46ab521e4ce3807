#!/usr/bin/env bash
# Set up DOS64 Lab on a Debian or Ubuntu machine: system packages (apt), the
# Python venv in .venv with dos64lab installed editable, and the DOS64 kernel.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

# --- 1. Debian packages ------------------------------------------------------
# command to look for -> package that provides it (apt.txt lists the same packages)
declare -A need=(
  [qemu-system-x86_64]=qemu-system-x86 [gcc]=gcc [make]=make [ld]=binutils
  [objcopy]=binutils [tshark]=tshark
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[ -e /usr/share/misc/pci.ids ] || [ -e /usr/share/hwdata/pci.ids ] || missing+=(pci.ids)

PY=""
for cand in python3.13 python3.12 python3.11 python3; do
  if command -v "$cand" >/dev/null 2>&1 &&
     "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PY=$(command -v "$cand"); break
  fi
done
if [ -z "$PY" ]; then
  missing+=(python3)
elif [ ! -x .venv/bin/python ] && ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
  missing+=("python3-venv")
fi

if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | xargs)
  if [ "$(id -u)" -eq 0 ]; then SUDO=""
  elif command -v sudo >/dev/null 2>&1 && sudo -v 2>/dev/null; then SUDO="sudo"
  else die "missing Debian packages: $pkgs
Install them as root (apt-get install $pkgs) or run this as a user with sudo."
  fi
  command -v apt-get >/dev/null 2>&1 ||
    die "missing packages ($pkgs) and no apt-get: this set-up supports Debian and Ubuntu."
  say "installing Debian packages: $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  if [ -z "$PY" ]; then
    PY=$(command -v python3)
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
      die "$PY is $("$PY" -V 2>&1); DOS64 Lab needs Python 3.11 or newer."
  fi
fi

# --- 2. Python venv ------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$PY" -V)"
  "$PY" -m venv .venv || die "could not create .venv (is python3-venv installed?)"
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  say "installing dos64lab and its dependencies into .venv (about a minute the first time)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[lab,test]'
  touch .venv/.installed
fi

# --- 3. The DOS64 kernel ---------------------------------------------------------
make -s -C kernel
say "ready: $(.venv/bin/python -V), $(qemu-system-x86_64 --version | head -1)"
