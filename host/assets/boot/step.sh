#!/bin/bash
# linode-ai-step NAME [running|failed|done]: the boot step shown at /healthz/boot (public: plain characters only).
set -euo pipefail
dir=@STATUS_DIR@
name=$(printf '%s' "${1:-}" | tr -cd 'A-Za-z0-9 ._:/+=-' | cut -c1-120)
state=${2:-running}
case $state in running | failed | done) ;; *) state=running ;; esac
mkdir -p "$dir"
printf '{"state":"%s","step":"%s","at":"%s"}\n' "$state" "$name" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$dir/.boot.json.tmp"
chmod 0644 "$dir/.boot.json.tmp"
mv -f "$dir/.boot.json.tmp" "$dir/boot.json"
# The timeline: when each step began (root only, like the boot log).
printf '%s %s %s\n' "$(date -u +%s.%N)" "$state" "$name" >> /var/log/linode-ai-steps.log
