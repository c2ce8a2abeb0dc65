#!/usr/bin/env bash
# The test command: guest components (example hook, hostile hooks), unit and
# integration tests (debug build), the rendered user-data checked by
# cloud-init and shellcheck, and the linode-cli plugin through real linode-cli.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
tests/build-guests.sh
cargo test --workspace --locked
tests/check-user-data.sh "$PWD/target/debug/linode-ai"
tests/plugin-test.sh
