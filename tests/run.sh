#!/usr/bin/env bash
# The test command: guest components (example hook, hostile hooks), unit and
# integration tests (debug build, with the real Caddy, Pebble and Chromium),
# the rendered user-data checked by cloud-init, shellcheck and Caddy, booted by
# real cloud-init in a chroot, and the linode-cli plugin through real linode-cli.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# The Caddy the proxy image ships (2.11.2, installed by .ci/run), before Debian's 2.6.
export PATH="$PWD/target/tools/caddy:$PATH"
tests/build-guests.sh
# The binaries the scripts below run (linode-sim has no integration tests of
# its own, so `cargo test` alone does not build its binary).
cargo build --workspace --locked --bins
cargo test --workspace --locked
tests/check-user-data.sh "$PWD/target/debug/linode-ai"
tests/lke/validate_manifests.py "$PWD/target/debug/linode-ai"
# ... and that each of its checks catches what it is meant to (a broken copy each).
tests/lke/validate_manifests.py --self-test "$PWD/target/debug/linode-ai"
# The Kubernetes API stand-in tests/lke.rs deploys onto (its own tests).
/usr/bin/python3 tests/kube-sim/test_kube_sim.py
tests/chroot/boot_test.py "$PWD/target/debug/linode-ai" "$PWD/target/debug/linode-sim"
# The first boot for real: each stock template on a real Docker engine.
tests/images/contract_test.py /var/cache/linode-ai-ci/images
tests/realboot/boot_real.py "$PWD/target/debug/linode-ai" "$PWD/target/debug/linode-sim"
tests/plugin-test.sh
