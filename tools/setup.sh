#!/usr/bin/env bash
# Set up DOS64 Lab on a Debian or Ubuntu machine: system packages (apt), the
# Python venv in .venv with dos64lab installed editable, and the DOS64 kernel.
# Safe to run again: each step is skipped when already done.
#
#   bash tools/setup.sh              set up (what `make lab` and `make test` run first)
#   bash tools/setup.sh --packages   print every Debian package it may install
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

# --- What DOS64 Lab needs from Debian -------------------------------------------
# One line each: a check, then the package that satisfies it. A check is a
# command looked up on PATH, an absolute path (alternatives joined by |), or one
# of the functions below ending in "()". apt.txt lists the same packages
# (tests/test_setup_packages.py keeps the two in step): add a line here and there.
PACKAGES='
python_ok()                                         python3
venv_ok()                                           python3-venv
qemu-system-x86_64                                  qemu-system-x86
gcc                                                 gcc
ld                                                  binutils
objcopy                                             binutils
tshark                                              tshark
/usr/share/misc/pci.ids|/usr/share/hwdata/pci.ids   pci.ids
/usr/sbin/debootstrap                               debootstrap
slirp4netns                                         slirp4netns
/usr/sbin/dnsmasq                                   dnsmasq-base
curl                                                curl
telnet                                              telnet
/usr/bin/chromium                                   chromium
node                                                nodejs
npm                                                 npm
'
# make and git are not here: a bare machine needs them before this script runs
# (README: apt-get install -y git make).

if [ "${1:-}" = --packages ]; then
  awk 'NF == 2 { print $2 }' <<<"$PACKAGES" | awk '!seen[$0]++'
  exit 0
fi

MIN_PY=(3 11)
venv_works() { [ -x .venv/bin/python ] && .venv/bin/python -m pip --version >/dev/null 2>&1; }
py_new_enough() { "$1" -c "import sys; sys.exit(sys.version_info < (${MIN_PY[0]}, ${MIN_PY[1]}))" 2>/dev/null; }
py_can_venv() { "$1" -c 'import ensurepip, venv' 2>/dev/null; }

# PY: the Python to create .venv with: the first new enough one that can make a
# venv, else the first new enough one at all (then python3-venv is missing).
find_python() {
  PY="" PY_FALLBACK=""
  local cand path
  for cand in python3.13 python3.12 python3.11 python3; do
    path=$(command -v "$cand" 2>/dev/null) || continue
    py_new_enough "$path" || continue
    if py_can_venv "$path"; then PY=$path; return 0; fi
    [ -n "$PY_FALLBACK" ] || PY_FALLBACK=$path
  done
  PY=$PY_FALLBACK
}

# A working .venv needs neither: only creating one needs a Python >= 3.11 with
# venv and ensurepip (Debian's python3 has them only with python3-venv).
python_ok() { [ -n "$VENV_WORKS" ] || [ -n "$PY" ]; }
venv_ok() { [ -n "$VENV_WORKS" ] || { [ -n "$PY" ] && py_can_venv "$PY"; }; }

check() {
  local what=$1 alt
  case $what in
    *"()") "${what%"()"}" ;;
    /*) for alt in ${what//|/ }; do [ -e "$alt" ] && return 0; done; return 1 ;;
    *) command -v "$what" >/dev/null 2>&1 ;;
  esac
}

# Every missing package, in one pass over the table.
missing_packages() {
  find_python
  VENV_WORKS=$(venv_works && echo yes || true)
  local what pkg
  missing=()
  while read -r what pkg; do
    [ -n "$what" ] || continue
    check "$what" || missing+=("$pkg")
  done <<<"$PACKAGES"
  pkgs=$(printf '%s\n' "${missing[@]}" | awk 'NF && !seen[$0]++' | xargs)
}

# --- 1. Debian packages ------------------------------------------------------
command -v make >/dev/null 2>&1 ||
  die "make is missing. A bare machine needs git and make first: apt-get install -y git make"

missing_packages
if [ -n "$pkgs" ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""
  elif command -v sudo >/dev/null 2>&1 && sudo -v 2>/dev/null; then SUDO="sudo"
  else die "missing Debian packages: $pkgs
Install them as root, then run this again:
  apt-get update && apt-get install -y $pkgs"
  fi
  command -v apt-get >/dev/null 2>&1 ||
    die "missing packages ($pkgs) and no apt-get: this set-up supports Debian and Ubuntu."
  say "installing Debian packages: $pkgs"
  # env: sudo would drop DEBIAN_FRONTEND (tshark's debconf question must not stop us)
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
    die "apt-get update failed"
  # shellcheck disable=SC2086
  $SUDO env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends $pkgs >/dev/null ||
    die "apt-get install $pkgs failed"
  hash -r
  missing_packages     # check again: did apt give us what the checks look for?
  if [ -n "$pkgs" ]; then
    if [[ " $pkgs " == *" python3 "* ]]; then
      found=$(python3 -V 2>&1 || echo "no python3")
      die "no Python ${MIN_PY[0]}.${MIN_PY[1]} or newer after installing python3 (found: $found).
DOS64 Lab needs Python >= ${MIN_PY[0]}.${MIN_PY[1]}: Debian 12 and Ubuntu 24.04 have it."
    elif [[ " $pkgs " == *" python3-venv "* ]]; then
      die "$PY still cannot create a venv (import ensurepip, venv fails) after installing python3-venv.
Install the venv package of that Python (e.g. python3.X-venv) or put a Python >= ${MIN_PY[0]}.${MIN_PY[1]} with venv first on PATH."
    fi
    die "still missing after apt-get install: $pkgs"
  fi
fi

# --- 2. Python venv ------------------------------------------------------------
# Done only when its pip runs: a set-up that stopped half-way leaves a .venv
# without pip, which is rebuilt here.
if [ -e .venv ] && ! venv_works; then
  say "rebuilding .venv: its pip does not work (an earlier set-up stopped half-way?)"
  rm -rf .venv
fi
if [ ! -e .venv ]; then
  say "creating .venv with $("$PY" -V)"
  "$PY" -m venv .venv || { rm -rf .venv; die "could not create .venv with $PY"; }
  venv_works || { rm -rf .venv; die "the new .venv has no working pip ($PY -m venv)"; }
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
