# Written by linode-ai: helper functions of linode-ai-boot (sourced).
# shellcheck shell=bash
step_name="begin"
declare -A pull_pid=()

step() {
  step_name=$1
  echo "linode-ai: $1"
  linode-ai-step "$1"
}

on_error() {
  local code=$?
  trap - ERR
  echo "linode-ai: FAILED at step \"$step_name\" (exit $code); see 'linode-ai logs --boot'" >&2
  linode-ai-step "$step_name" failed || true
  local p
  # Stop the image pulls under way. Each loop is frozen first, so it cannot
  # start its next try (or its retry sleep) between the killing of its docker
  # client and its own end; the pending TERM ends it when it resumes.
  for p in "${pull_pid[@]}"; do
    kill -STOP "$p" 2>/dev/null || continue
    pkill -TERM -P "$p" 2>/dev/null || true
    kill -TERM "$p" 2>/dev/null || true
    kill -CONT "$p" 2>/dev/null || true
  done
  exit "$code"
}

apt_get() {
  apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef -y "$@"
}

# DPkg::Lock::Timeout covers the dpkg locks, not the lists lock that
# `apt-get update` takes (and that unattended-upgrades holds on a fresh VM):
# retry for up to 10 minutes, like the install's own lock wait.
apt_update() {
  local deadline=$((SECONDS + 600))
  until apt-get -o DPkg::Lock::Timeout=600 -q update "$@"; do
    if ((SECONDS >= deadline)); then return 1; fi
    echo "linode-ai: apt-get update failed (the package lists may be locked); retrying" >&2
    sleep 10
  done
}

download() {
  curl -fsSL --retry 5 --retry-delay 3 --retry-all-errors --connect-timeout 15 -o "$2" "$1"
  [[ -s $2 ]]
}

# Image pulls run in the background from the start (three tries each, no
# sleep after the last); each service waits for its own as a step of its own.
start_pulls() {
  local img
  for img in "$@"; do
    (
      trap - ERR
      for i in 1 2 3; do
        if docker pull -q "$img"; then exit 0; fi
        echo "linode-ai: pull of $img failed (try $i of 3)"
        if ((i < 3)); then sleep $((i * 5)); fi
      done
      exit 1
    ) >>/var/log/linode-ai-pull.log 2>&1 &
    pull_pid[$img]=$!
  done
}

await_pull() {
  local img=$1 pid=${pull_pid[$1]:-}
  step "pull $img"
  unset 'pull_pid[$img]'
  if [[ -z $pid ]]; then
    docker image inspect "$img" >/dev/null 2>&1 || docker pull -q "$img"
    return
  fi
  if wait "$pid"; then return 0; fi
  echo "linode-ai: could not pull $img (3 tries); the pull log says:" >&2
  grep -F -- "$img" /var/log/linode-ai-pull.log | tail -n 5 >&2 || true
  return 1
}

# The project's env values, exported: called only in a subshell, so they
# reach what that subshell starts and nothing else.
load_env() {
  set -a
  # shellcheck source=/dev/null
  . "$LINODE_AI_ENV_FILE"
  set +a
}

# Names in the env file matching the given glob patterns.
env_names() {
  local name pat
  while IFS='=' read -r name _; do
    [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    for pat in "$@"; do
      # shellcheck disable=SC2053 # the pattern is a glob on purpose
      if [[ $name == $pat ]]; then printf '%s\n' "$name"; break; fi
    done
  done < "$LINODE_AI_ENV_FILE"
}

container_ip() {
  docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"
}

# The container's last log lines, with every secret value cut out.
last_logs() {
  docker logs --tail 30 "$1" 2>&1 | linode-ai-redact >&2 || true
}

# Health checks run from the host: many images have no curl inside. A
# container that exited or restarts stops the wait at once.
wait_healthy() {
  local name=$1 port=$2 path=$3 timeout=$4 ip code="" ok state
  shift 4
  local deadline=$((SECONDS + timeout))
  while :; do
    state=$(docker inspect -f '{{.State.Status}} {{.RestartCount}}' "$name" 2>/dev/null || echo "missing 0")
    if [[ $state != "running 0" ]]; then
      echo "linode-ai: $name is not running (state: ${state% *}, restarts: ${state##* }): it exited or keeps restarting; its last log lines:" >&2
      last_logs "$name"
      return 1
    fi
    ip=$(container_ip "$name" 2>/dev/null || true)
    if [[ -n $ip ]]; then
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$ip:$port$path" || true)
      for ok in "$@"; do
        if [[ $code == "$ok" ]]; then return 0; fi
      done
    fi
    if ((SECONDS >= deadline)); then
      echo "linode-ai: $name did not answer $path within ${timeout}s (last: ${code:-no answer}); its last log lines:" >&2
      last_logs "$name"
      return 1
    fi
    sleep 2
  done
}

public_ipv4() {
  local ip
  while read -r ip; do
    case $ip in
      10.* | 127.* | 169.254.* | 192.168.* | 172.1[6-9].* | 172.2[0-9].* | 172.3[01].* | 100.6[4-9].* | 100.[7-9][0-9].* | 100.1[01][0-9].* | 100.12[0-7].*) ;;
      *)
        echo "$ip"
        return 0
        ;;
    esac
  done < <(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1)
  echo "linode-ai: no public IPv4 address found" >&2
  return 1
}
