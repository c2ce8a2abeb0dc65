#!/bin/bash
# Written by linode-ai: containers may not reach the metadata service (it serves every secret).
set -euo pipefail
rule=(-d @ADDRESS@/32 -j REJECT)
iptables -w -N DOCKER-USER 2>/dev/null || true
iptables -w -C DOCKER-USER "${rule[@]}" 2>/dev/null || iptables -w -I DOCKER-USER "${rule[@]}"
