#!/usr/bin/env bash
# Builds the linodecli-ai wheel (maturin, debug profile: reuses the test
# build), installs it with the real linode-cli from PyPI into a venv under
# target/, and runs tests/plugin_test.py. Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/target/plugin-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check linode-cli maturin
rm -rf "$root/target/wheels"
(cd "$root/host" && "$venv/bin/maturin" build -q --profile dev --strip -o "$root/target/wheels")
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$root"/target/wheels/linodecli_ai-*.whl
cargo build -q -p linode-sim
"$venv/bin/python" "$root/tests/plugin_test.py"
