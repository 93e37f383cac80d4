#!/usr/bin/env bash
# Copy what the Vagrant VM made (lab output folders, bench and demo reports) back to
# the host. The Vagrantfile syncs the checkout into the VM with rsync, one way; these
# folders are excluded from it, so `vagrant rsync` and `vagrant reload` never delete
# them in the VM, and this script brings them home:
#   scripts/vagrant-sync-back.sh          (or: make sync-back), on the host
# Folders: labs/ and reports/ of /vagrant (TAPLAB_VM_DIR), into this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

vm_dir=${TAPLAB_VM_DIR:-/vagrant}
config=$(mktemp)
trap 'rm -f "$config"' EXIT
if ! vagrant ssh-config >"$config" 2>/dev/null; then
  echo "vagrant ssh-config failed: is the VM up (vagrant up)?" >&2
  exit 2
fi
host=$(awk '$1 == "Host" { print $2; exit }' "$config")
for folder in labs reports; do
  if ! ssh -F "$config" "$host" test -d "$vm_dir/$folder"; then
    echo "no $folder/ in the VM's $vm_dir (nothing made there yet)"
    continue
  fi
  # Files taplab made as root in the VM: read them with sudo there.
  rsync -a --rsync-path="sudo rsync" -e "ssh -F $config" "$host:$vm_dir/$folder/" "./$folder/"
  echo "copied $folder/ from the VM"
done
