#!/bin/bash
# PID 1 of the test guest once it has switched to the host's root (overlaid, writable
# in memory): mount what a booted Debian has, run the VM's provisioning (scripts/install.sh:
# modules, OVS, mounts, headers), then the tests marked `kernel`. Results go to
# /kernel-out (a host folder): junit.xml, pytest.log, provision.log and rc; then power off.
set -u
OUT=/kernel-out
. "$OUT/guest.env"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
export TAPLAB_KERNEL_LANE=1  # tests marked kernel fail here when a feature is missing

finish() {
  echo "$1" >"$OUT/rc"
  sync
  busybox poweroff -f
}
trap 'finish 1' ERR

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t tmpfs run /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
hostname taplab-kernel
echo "127.0.1.1 taplab-kernel" >>/etc/hosts
ip link set lo up
# A fresh Open vSwitch database: the host's belongs to the host's switches.
rm -f /etc/openvswitch/conf.db /etc/openvswitch/.conf.db.~lock~
trap - ERR

cd "$CHECKOUT"
echo "taplab-guest: $(uname -r) up after $(cut -d' ' -f1 /proc/uptime) s; provisioning"
if ! { scripts/provision-vagrant.sh check && scripts/install.sh; } >"$OUT/provision.log" 2>&1; then
  echo "taplab-guest: provisioning failed (the VM's steps that need no network):"
  tail -20 "$OUT/provision.log"
  finish 1
fi
.venv/bin/taplab doctor --refresh | tee "$OUT/doctor.txt"
echo "taplab-guest: running the kernel tests at $(cut -d' ' -f1 /proc/uptime) s"
PYTEST_ARGS=()
[ ! -e "$OUT/pytest.args" ] || mapfile -d '' -t PYTEST_ARGS <"$OUT/pytest.args"
# Per-test limit 5x the suite's: everything here runs 10-50x slower.
.venv/bin/pytest -m kernel -p no:cacheprovider --timeout=1500 -rA \
  --junitxml="$OUT/junit.xml" "${PYTEST_ARGS[@]}" 2>&1 | tee "$OUT/pytest.log"
rc=${PIPESTATUS[0]}
echo "taplab-guest: pytest exited $rc at $(cut -d' ' -f1 /proc/uptime) s"
finish "$rc"
