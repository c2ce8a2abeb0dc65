#!/usr/bin/env bash
# Builds the example hook and the hostile test guests as wasm32-wasip2
# components, once per run, into target/guests/ (and the example's hook.wasm).
# Uses rustup's wasm32-wasip2 target when installed, else Debian's toolchain
# (rustc-web + rust-web-src, -Zbuild-std), see shared notes/wasm-toolchain.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/target/guests"
export CARGO_TARGET_DIR="$root/target/wasm"
mkdir -p "$out"

if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  cargo_wasm() { cargo build --release --target wasm32-wasip2 "$@"; }
else
  echo "wasm32-wasip2 not installed for rustup; using Debian's toolchain with -Zbuild-std" >&2
  cargo_wasm() {
    PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS="-L native=/usr/lib/wasm32-wasi" \
      /usr/bin/cargo build --release -Zbuild-std=std,panic_abort --target wasm32-wasip2 "$@"
  }
fi

(cd "$root/templates/examples/ollama-ready/hook" && cargo_wasm -q)
cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/ollama_ready_hook.wasm" "$root/templates/examples/ollama-ready/hook.wasm"

cd "$root/tests/guests"
for f in endless-loop memory-bomb oversized invalid-yaml trap file-read socket sleep; do
  cargo_wasm -q -p hostile --features "$f"
  cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/hostile.wasm" "$out/$f.wasm"
done
cargo_wasm -q -p wrong-version
cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/wrong_version.wasm" "$out/wrong-version.wasm"
ls -l "$out" "$root/templates/examples/ollama-ready/hook.wasm" | awk '{print $5, $NF}' >&2
