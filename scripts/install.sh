#!/usr/bin/env bash
# Install everything taplab needs on Debian 12; safe to run again (a no-op run takes seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="mininet openvswitch-switch python3-bpfcc bpfcc-tools iproute2 iptables ethtool
  tcpdump iperf3 hping3 nmap bridge-utils iputils-ping python3-venv tmux bpftool socat
  procps psmisc util-linux curl nftables apache2-utils nginx-light
  nghttp2-client graphviz libcap2-bin"
# Only what the test suite needs on top (vagrant validates the Vagrantfile).
[ "${1:-}" = "--test" ] && APT_PACKAGES="$APT_PACKAGES vagrant"
# What make test-kernel boots: QEMU, Debian's kernel with its headers, a busybox initramfs.
[ "${1:-}" = "--kernel" ] && APT_PACKAGES="$APT_PACKAGES qemu-system-x86 linux-image-amd64
  linux-headers-amd64 busybox-static cpio"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "make install needs root: run it with sudo." >&2
  exit 2
fi

missing=""
for pkg in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  say "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends $missing
fi

# Lambdas run as this unprivileged user (controllers/lambda_sandbox.py).
if ! id -u taplab-lambda >/dev/null 2>&1; then
  say "creating the user taplab-lambda"
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin taplab-lambda
fi

# Kernel headers for bcc: the running kernel's if Debian has them, else Debian's
# current ones (enough for the UAPI-level programs taplab compiles).
kdir="/lib/modules/$(uname -r)"
if [ ! -e "$kdir/build/include/linux/kconfig.h" ] && [ ! -e "$kdir/source/include/linux/kconfig.h" ]; then
  say "installing kernel headers for bcc"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q "linux-headers-$(uname -r)" 2>/dev/null; then
    arch="$(dpkg --print-architecture)"
    apt-get install -y -q "linux-headers-$arch" || { apt-get update -q; apt-get install -y -q "linux-headers-$arch"; }
    build="$(ls -d /usr/src/linux-headers-*-"$arch" | sort -V | tail -1)"
    mkdir -p "$kdir"
    ln -sfn "$build" "$kdir/build"
    ln -sfn "${build%-$arch}-common" "$kdir/source"
  fi
fi

# Kernel file systems that tracepoints and pinned eBPF programs use.
mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing || true
mountpoint -q /sys/kernel/debug || mount -t debugfs nodev /sys/kernel/debug || true
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || true
mkdir -p /run/netns

# Modules Debian's kernel has but nothing loads for taplab: br_netfilter (bridged traffic
# walks iptables, as on a Kubernetes node) and tun (OVS's userspace datapath). Loaded now
# and at every boot; where they are built in (or absent), `taplab doctor` says so.
KERNEL_MODULES="br_netfilter tun"
for mod in $KERNEL_MODULES; do modprobe -q "$mod" 2>/dev/null || true; done
[ -d /etc/modules-load.d ] && printf '%s\n' $KERNEL_MODULES >/etc/modules-load.d/taplab.conf

if ! ovs-vsctl --timeout=3 show >/dev/null 2>&1; then
  say "starting Open vSwitch"
  /usr/share/openvswitch/scripts/ovs-ctl start --system-id=random >/dev/null
fi

# The venv comes from Debian's interpreter so that Debian's mininet and bcc import.
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
if [ ! -e .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  say "installing taplab into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  touch .venv/.installed
fi
ln -sfn "$PWD/.venv/bin/taplab" /usr/local/bin/taplab
# ryu-manager as the Ryu book types it, unless a real Ryu's command is already there.
if [ ! -e /usr/local/bin/ryu-manager ] || [ -L /usr/local/bin/ryu-manager ]; then
  ln -sfn "$PWD/.venv/bin/ryu-manager" /usr/local/bin/ryu-manager
fi
# Shell completion and the man page, both written from taplab's command line parser.
mkdir -p /usr/share/bash-completion/completions /usr/local/share/man/man1
.venv/bin/python -m shtab --shell=bash --error-unimportable taplab.cli.build_parser \
  >/usr/share/bash-completion/completions/taplab
.venv/bin/python -m taplab.manpage >/usr/local/share/man/man1/taplab.1
# What doctor found before this install (a missing tool, the lambda user) is probed again.
rm -f "${TAPLAB_RUN_DIR:-/run/taplab}/capabilities.json"
say "taplab is installed: try 'sudo taplab doctor'"
