#!/usr/bin/env bash
# Provisioning of the Vagrant VM, from any debian/bookworm64 box however old: Debian's
# archive keeps headers only for recent kernels, so the VM moves to Debian's current
# kernel and its headers (bcc needs both of one version) before taplab is installed.
#   provision-vagrant.sh kernel           install the current kernel and headers (the
#                                         Vagrantfile then reboots the VM into them)
#   provision-vagrant.sh taplab           check that kernel runs, then make install
#   provision-vagrant.sh check [RUNNING] [BOOT]   exit 1 unless RUNNING (uname -r) is
#                                         the newest kernel in BOOT (/boot)
set -euo pipefail
cd "$(dirname "$0")/.."

newest() { ls "$1" | sed -n 's/^vmlinuz-//p' | sort -V | tail -1; }

check() {
  local running=${1:-$(uname -r)} boot=${2:-/boot} want
  want=$(newest "$boot")
  if [ -z "$want" ]; then
    echo "no kernel image in $boot" >&2
    return 1
  fi
  if [ "$running" != "$want" ]; then
    echo "the VM runs Linux $running but its newest kernel is $want: reboot into it" \
      "(vagrant reload --provision)." >&2
    return 1
  fi
}

case "${1:-}" in
  kernel)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q make linux-image-amd64 linux-headers-amd64
    ;;
  taplab)
    check
    make install
    ;;
  check)
    shift
    check "$@"
    ;;
  *)
    echo "usage: $0 kernel|taplab|check [RUNNING] [BOOT]" >&2
    exit 2
    ;;
esac
