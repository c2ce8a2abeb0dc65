setup_gpu() {
  local branch=@BRANCH@ kernel tmp user_ver modules_ver
  kernel=$(uname -r)
  # A Linode made from a GPU base Image (linode-ai image build --gpu) has the
  # driver for its kernel and the toolkit: nothing to install.
  if [[ -s @MARKER@ ]] && command -v nvidia-ctk >/dev/null && nvidia-smi >/dev/null 2>&1; then
    step "NVIDIA: driver from the GPU base image"
    sed -n 's/^/linode-ai: image /p' @MARKER@
    nvidia-ctk runtime configure --runtime=docker
    systemctl reload docker
    return 0
  fi
  step "NVIDIA: blacklist nouveau"
  mkdir -p /etc/modprobe.d
  printf 'blacklist nouveau\noptions nouveau modeset=0\n' > /etc/modprobe.d/blacklist-nouveau.conf
  modprobe -r nouveau 2>/dev/null || true
  step "NVIDIA: find the driver for $kernel"
  user_ver=$(apt-cache policy "nvidia-utils-$branch" 2>/dev/null | sed -n 's/^ *Candidate: *\([0-9][0-9.]*\).*/\1/p') || true
  modules_ver=$(apt-cache show "linux-modules-nvidia-$branch-$kernel" 2>/dev/null | sed -n "s/.*nvidia-kernel-common-$branch (>= \([0-9][0-9.]*\)).*/\1/p" | head -n 1) || true
  if [[ -z $user_ver ]]; then
    echo "linode-ai: the package archive has no nvidia-utils-$branch" >&2
    return 1
  fi
  if [[ $modules_ver == "$user_ver" ]]; then
    step "NVIDIA: driver $user_ver, signed modules for $kernel"
    apt_get install --no-install-recommends "linux-modules-nvidia-$branch-$kernel" "nvidia-headless-no-dkms-$branch" "nvidia-utils-$branch"
  else
    echo "linode-ai: signed modules for $kernel: ${modules_ver:-none}; user space: $user_ver; building with DKMS"
    step "NVIDIA: driver $user_ver, DKMS for $kernel"
    apt_get install --no-install-recommends "linux-headers-$kernel" "nvidia-headless-$branch" "nvidia-utils-$branch"
  fi
  step "NVIDIA: load the kernel module"
  modprobe nvidia
  modprobe nvidia_uvm
  step "NVIDIA: container toolkit repository"
  tmp=$(mktemp -d)
  download https://nvidia.github.io/libnvidia-container/gpgkey "$tmp/key"
  gpg --batch --yes --dearmor -o "$tmp/keyring.gpg" "$tmp/key"
  [[ -s $tmp/keyring.gpg ]]
  download https://nvidia.github.io/libnvidia-container/stable/deb/nvidia-container-toolkit.list "$tmp/list"
  sed 's#deb https://#deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://#g' "$tmp/list" > "$tmp/list.signed"
  grep -q '^deb \[signed-by=' "$tmp/list.signed"
  # Installed only once both are complete: never an empty keyring or list.
  install -m 0644 "$tmp/keyring.gpg" /usr/share/keyrings/nvidia-container-toolkit-keyring.gpg
  install -m 0644 "$tmp/list.signed" /etc/apt/sources.list.d/nvidia-container-toolkit.list
  rm -rf "$tmp"
  step "NVIDIA: container toolkit"
  # Only NVIDIA's list is read again (the lists lock is retried).
  apt_update -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/nvidia-container-toolkit.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0
  apt_get install nvidia-container-toolkit
  nvidia-ctk runtime configure --runtime=docker
  # A reload adds the `nvidia` runtime without stopping the image pulls under
  # way. (`--gpus` would need a restart: Docker looks for the NVIDIA hook only
  # when it starts.)
  systemctl reload docker
  step "NVIDIA: check the GPU with nvidia-smi"
  nvidia-smi
}
