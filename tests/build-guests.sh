#!/usr/bin/env bash
# Builds the example hook and the test guests as wasm32-wasip2 components,
# once per run, into target/guests/ (and the example's hook.wasm). Guests for
# interface variants get their WIT derived from wit/hooks.wit here.
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

# Interface variants: a future version, an export that only starts like ours,
# and 0.1's evaluate-health under 0.2's name.
wit="$root/target/guests-wit"
mkdir -p "$wit"/{wrong-version,guestx,bad-signature}
sed 's/^package linode-ai:hooks@0.2.0;/package linode-ai:hooks@0.9.0;/' "$root/wit/hooks.wit" > "$wit/wrong-version/hooks.wit"
sed -e 's/^interface guest {/interface guestx {/' -e 's/    export guest;/    export guestx;/' "$root/wit/hooks.wit" > "$wit/guestx/hooks.wit"
sed -e 's/use types.{deploy-context, service-probe, health-verdict};/use types.{deploy-context, probe-result, health-verdict};/' \
    -e 's/evaluate-health: func(ctx: deploy-context, probes: list<service-probe>)/evaluate-health: func(ctx: deploy-context, probe: probe-result)/' \
    "$root/wit/hooks.wit" > "$wit/bad-signature/hooks.wit"
grep -q 'probe: probe-result) ->' "$wit/bad-signature/hooks.wit"
grep -q 'export guestx;' "$wit/guestx/hooks.wit"

(cd "$root/templates/examples/ollama-ready/hook" && cargo_wasm -q)
cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/ollama_ready_hook.wasm" "$root/templates/examples/ollama-ready/hook.wasm"

# Hooks in other languages, built with their own toolchains when installed
# (.ci/run installs them from PyPI and npm); otherwise a note says why not.
ex="$root/templates/examples"
rm -f "$out"/skipped-*
pybin="$root/target/tools/py/bin"
if [ -x "$pybin/componentize-py" ] || command -v componentize-py >/dev/null; then
  (cd "$ex/ollama-ready-py" && PATH="$pybin:$PATH" ./build.sh >/dev/null)
else
  echo "componentize-py is not installed (pip install componentize-py)" > "$out/skipped-python"
  echo "skipping the Python hook example: $(cat "$out/skipped-python")" >&2
fi
if [ -x "$ex/ollama-ready-js/node_modules/.bin/componentize-js" ]; then
  (cd "$ex/ollama-ready-js" && npm run --silent build >/dev/null)
else
  echo "componentize-js is not installed (npm ci in templates/examples/ollama-ready-js)" > "$out/skipped-js"
  echo "skipping the JavaScript hook example: $(cat "$out/skipped-js")" >&2
fi

cd "$root/tests/guests"
for f in endless-loop memory-bomb oversized invalid-yaml trap file-read socket sleep \
         err-secrets log-secrets ansi clocks health-loop; do
  cargo_wasm -q -p hostile --features "$f"
  cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/hostile.wasm" "$out/$f.wasm"
done
for g in wrong-version guestx bad-signature v01-hook; do
  cargo_wasm -q -p "$g"
  cp "$CARGO_TARGET_DIR/wasm32-wasip2/release/${g//-/_}.wasm" "$out/$g.wasm"
done
ls -l "$out" "$ex"/*/hook.wasm | awk '{print $5, $NF}' >&2
