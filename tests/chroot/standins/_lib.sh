# Sourced by every stand-in: records the call (never an env value) and reads
# the scenario's settings.
# shellcheck shell=bash
STANDIN_LOG=/var/log/standin.log
# shellcheck source=/dev/null
[ -f /etc/standin.conf ] && . /etc/standin.conf
record() { printf '%s\n' "$*" >> "$STANDIN_LOG"; }
