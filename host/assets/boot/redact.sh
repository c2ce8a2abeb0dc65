#!/bin/bash
# linode-ai-redact: copies stdin to stdout with the value of every secret
# variable of the env file replaced by [redacted] (the logs linode-ai prints).
set -uo pipefail
names=(@NAMES@)
secrets=()
if [[ -r @ENV_FILE@ && ${#names[@]} -gt 0 ]]; then
  # shellcheck source=/dev/null
  mapfile -d '' secrets < <(set -a; . @ENV_FILE@ >/dev/null 2>&1; for n in "${names[@]}"; do if [[ -n ${!n:-} ]]; then printf '%s\0' "${!n}"; fi; done)
fi
while IFS= read -r line || [[ -n $line ]]; do
  for v in "${secrets[@]}"; do line=${line//"$v"/[redacted]}; done
  printf '%s\n' "$line"
done
