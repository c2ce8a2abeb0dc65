# The cache volume (Block Storage, kept by `destroy --keep-volume`): Docker's data
# (images, and the named volumes holding the models and the certificate)
# lives on it, so a new Linode on the same volume downloads nothing again.
# A blank volume is formatted; one holding anything else is never touched.
mount_cache() {
  local dev=/dev/disk/by-id/scsi-0Linode_Volume_@LABEL@ dir=@DIR@ probe rc=0 i
  for ((i = 0; i < 300; i++)); do
    [[ -b $dev ]] && break
    sleep 1
  done
  if [[ ! -b $dev ]]; then
    echo "linode-ai: the cache volume $dev did not appear within 300 s; is it attached to this Linode?" >&2
    return 1
  fi
  if ! mountpoint -q "$dir"; then
    # blkid -p reads the device itself (no cache): exit 2 means no signature at all.
    probe=$(blkid -p -o export "$dev") || rc=$?
    if ((rc == 2)); then
      echo "linode-ai: the cache volume is blank: formatting it (ext4)"
      mkfs.ext4 -q -m 0 -L linode-ai-cache "$dev"
    elif ((rc != 0)); then
      echo "linode-ai: cannot probe the cache volume $dev (blkid exit $rc)" >&2
      return 1
    elif ! grep -qx 'TYPE=ext4' <<< "$probe"; then
      echo "linode-ai: the cache volume $dev holds something other than an ext4 filesystem ($(tr '\n' ' ' <<< "$probe")); it is left untouched" >&2
      return 1
    else
      echo "linode-ai: the cache volume holds a filesystem: kept"
    fi
    mkdir -p "$dir"
    mount -o noatime "$dev" "$dir"
  fi
  grep -qF " $dir " /etc/fstab || echo "$dev $dir ext4 defaults,noatime,nofail 0 2" >> /etc/fstab
  mkdir -p "$dir/docker"
  # Docker may already run from the package install (on the root disk):
  # stopped before its data root moves; the next step starts it.
  rc=0
  python3 - "$dir/docker" <<'PY' || rc=$?
import json, os, sys
p = "/etc/docker/daemon.json"
d = json.load(open(p)) if os.path.exists(p) and os.path.getsize(p) else {}
if d.get("data-root") == sys.argv[1]:
    sys.exit(0)
d["data-root"] = sys.argv[1]
os.makedirs("/etc/docker", exist_ok=True)
with open(p + ".tmp", "w") as f:
    json.dump(d, f, indent=2)
os.replace(p + ".tmp", p)
sys.exit(3)
PY
  if ((rc == 3)); then
    systemctl stop docker.socket docker.service 2>/dev/null || true
  elif ((rc != 0)); then
    return 1
  fi
}

# The images not on the volume yet (those that are: said in the pull log, and
# not pulled again; await_pull finds them).
missing_images() {
  local img
  for img in "$@"; do
    if docker image inspect "$img" >/dev/null 2>&1; then
      echo "linode-ai: $img is already here" >> /var/log/linode-ai-pull.log
    else
      echo "$img"
    fi
  done
}
