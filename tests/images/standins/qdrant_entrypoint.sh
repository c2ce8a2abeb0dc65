#!/usr/bin/env bash
# linode-ai test stand-in for qdrant/qdrant:v1.19.0's /qdrant/entrypoint.sh (tests only).
# The real script runs `./qdrant "$@"` in the background, forwards SIGTERM/SIGINT to it and
# exits with its status (plus an optional OOM recovery mode, QDRANT_ALLOW_RECOVERY_MODE, that
# the stand-in does not model). exec gives the same signals and exit status.
exec ./qdrant "$@"
