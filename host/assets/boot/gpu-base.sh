#!/bin/bash
# Written by linode-ai (image build --gpu): makes this Linode a GPU base
# Image. Docker, the NVIDIA driver for this kernel and the container toolkit
# are installed, the disk is made small, cloud-init forgets this instance and
# the Linode powers off; linode-ai then captures its disk. A failed step
# leaves the Linode running, the reason on its console (Lish).
set -Eeuo pipefail
export DEBIAN_FRONTEND=noninteractive
# shellcheck source=/dev/null
. @LIB@
trap on_error ERR
# No upgrade under way while the disk is built and captured: a new kernel
# would boot without the driver built here.
systemctl stop unattended-upgrades.service apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service 2>/dev/null || true
step "install Docker"
apt_update
apt_get install docker.io
systemctl enable --now docker
setup_gpu
step "check the kernel the image boots"
newest=$({ find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' 2>/dev/null || true; } | sed 's/^vmlinuz-//' | sort -V | tail -n 1)
if [[ -n $newest && $newest != "$(uname -r)" ]]; then
  echo "linode-ai: kernel $newest was installed during the build, but the driver is for $(uname -r), which runs; the image would boot without it" >&2
  false
fi
step "record what the image holds"
mkdir -p "$(dirname @MARKER@)"
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n 1)
printf 'driver %s (%s)\nkernel %s\nbuilt %s\n' "$driver" @BRANCH@ "$(uname -r)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > @MARKER@.tmp
mv -f @MARKER@.tmp @MARKER@
step "make the disk small"
apt-get clean
rm -rf /var/lib/apt/lists/* /var/tmp/*
journalctl --vacuum-size=1M >/dev/null 2>&1 || true
used=$(df -m --output=used / | tail -n 1 | tr -d ' ')
max=@MAX_MB@
echo "linode-ai: the disk holds $used MB (a private Image holds at most $max)"
if ((used > max)); then
  echo "linode-ai: too large for a private Image" >&2
  false
fi
step "seal and power off"
linode-ai-step "seal and power off" "done"
# Once cloud-init is done with this boot: it forgets the instance (a Linode
# made from the Image runs its own user-data, with new SSH host keys and a
# new machine id), then the Linode powers off for the capture.
# A clean that fails leaves the Linode on (not captured half-sealed).
systemd-run --no-block --unit=linode-ai-seal --collect bash -c 'cloud-init status --wait >/dev/null 2>&1 || true; cloud-init clean --logs --machine-id && rm -rf @STATUS_DIR@ /var/log/linode-ai-* && sync && systemctl poweroff'
