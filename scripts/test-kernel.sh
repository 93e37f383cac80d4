#!/usr/bin/env bash
# make test-kernel: boot Debian's own kernel (the Vagrant VM's) in QEMU on this checkout
# and run the tests marked `kernel` inside it. No KVM needed (TCG emulation).
#   scripts/test-kernel.sh [PYTEST ARGS...]     e.g. -k gre
# The guest sees this machine's root file system read-only over virtio-9p with a tmpfs
# overlay on top, boots from a busybox initramfs built here, and writes junit.xml,
# pytest.log, provision.log, doctor.txt and console.log to build/kernel/ (TAPLAB_KERNEL_OUT).
# Exit code: pytest's in the guest; 3 when the guest cannot boot or does not finish.
# Measured here (2 cores, no KVM): the guest reaches its first command after 5 s of
# uptime (virtme-ng: 24 s), and the whole lane takes about 22 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECKOUT=$PWD
OUT=${TAPLAB_KERNEL_OUT:-$CHECKOUT/build/kernel}
LIMIT=${TAPLAB_KERNEL_TIMEOUT:-2700}  # seconds for the whole guest run
BOOT=${TAPLAB_KERNEL_BOOT:-/boot}      # where to look for Debian's kernel images
MODULES="virtio_pci 9pnet_virtio 9p overlay"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
cannot_boot() { echo "test-kernel: cannot boot the guest: $*" >&2; exit 3; }

[ "$(id -u)" = 0 ] || { echo "make test-kernel needs root: run it with sudo." >&2; exit 2; }

for tool in qemu-system-x86_64 busybox cpio; do
  command -v "$tool" >/dev/null || cannot_boot "$tool is missing (scripts/install.sh --kernel installs it)"
done

# The newest Debian kernel whose modules and headers (for bcc) are both installed.
kver=""
for image in $(ls "$BOOT"/vmlinuz-*-amd64 2>/dev/null | sort -V -r); do
  v=${image#"$BOOT"/vmlinuz-}
  if [ -e "/lib/modules/$v/modules.dep" ] && [ -e "/lib/modules/$v/build/include/generated" ]; then
    kver=$v
    break
  fi
done
[ -n "$kver" ] || cannot_boot "no $BOOT/vmlinuz-*-amd64 with its modules and headers installed" \
  "(apt-get install linux-image-amd64 linux-headers-amd64)"
[ -x .venv/bin/pytest ] || cannot_boot "no .venv with pytest in $CHECKOUT (run make install first)"

rm -rf "$OUT"
mkdir -p "$OUT/initramfs/bin"
say "building the guest's initramfs for Linux $kver"
cp /bin/busybox "$OUT/initramfs/bin/busybox"
cp scripts/kernel-guest/init "$OUT/initramfs/init"
for mod in $MODULES; do
  modprobe -S "$kver" --show-depends "$mod" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' >"$OUT/initramfs/modules.list"
while read -r ko; do
  mkdir -p "$OUT/initramfs$(dirname "$ko")" && cp "$ko" "$OUT/initramfs$ko"
done <"$OUT/initramfs/modules.list"
(cd "$OUT/initramfs" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT/initramfs.cpio.gz"
rm -rf "$OUT/initramfs"

printf 'CHECKOUT=%q\n' "$CHECKOUT" >"$OUT/guest.env"
[ $# = 0 ] || printf '%s\0' "$@" >"$OUT/pytest.args"
say "booting Linux $kver in QEMU (TCG, 2 CPUs, 3 GiB); console in $OUT/console.log"
start=$(date +%s)
set +e
timeout --foreground -k 10 "$LIMIT" qemu-system-x86_64 \
  -machine q35 -accel tcg,thread=multi -cpu qemu64 -m 3072 -smp 2 \
  -nographic -no-reboot -net none \
  -kernel "$BOOT/vmlinuz-$kver" -initrd "$OUT/initramfs.cpio.gz" \
  -append "console=ttyS0 quiet panic=-1 rdinit=/init" \
  -fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=root,mount_tag=hostroot \
  -fsdev local,id=out,path="$OUT",security_model=none,multidevs=remap \
  -device virtio-9p-pci,fsdev=out,mount_tag=results \
  </dev/null 2>&1 | tee "$OUT/console.log"
qemu=${PIPESTATUS[0]}
set -e
say "guest ran $(( $(date +%s) - start )) s"
if [ ! -s "$OUT/rc" ]; then
  [ "$qemu" = 124 ] && cannot_boot "the guest did not finish within $LIMIT s (see $OUT/console.log)"
  cannot_boot "the guest stopped before the tests finished (qemu exit $qemu; see $OUT/console.log)"
fi
rc=$(cat "$OUT/rc")
say "kernel tests exited $rc; JUnit XML in $OUT/junit.xml"
exit "$rc"
