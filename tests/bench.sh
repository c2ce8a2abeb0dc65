#!/usr/bin/env bash
# All benchmarks, one command. hyperfine: templates list direct, through the
# linode-cli plugin and linode-cli --version (plugin rows need the venv that
# tests/plugin-test.sh makes); status over 100 deployments behind 100 ms of
# API latency; deploy --dry-run with a hook (first run compiles, then cached).
# criterion: cloud-init rendering. Release build.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command -v hyperfine >/dev/null || { echo "hyperfine missing: apt-get install hyperfine" >&2; exit 1; }
cargo build --release -q -p linode-ai -p linode-sim
bin="$root/target/release/linode-ai"
work=$(mktemp -d)
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
pids=()
trap cleanup EXIT
real_home=$HOME
export HOME="$work/home" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" XDG_CACHE_HOME="$work/cache" NO_COLOR=1
mkdir -p "$HOME"

# templates list: direct, through the linode-cli plugin, and linode-cli's own start-up.
# Uses the venv tests/plugin-test.sh builds (real linode-cli from PyPI + the linodecli-ai wheel).
venv="$root/target/plugin-venv"
cmds=(-n "linode-ai templates list" "$bin templates list")
if [ -x "$venv/bin/linode-cli" ] && "$venv/bin/python" -c 'import linodecli_ai' 2>/dev/null; then
  # The plugin execs the same release binary as the direct row.
  export LINODE_CLI_CONFIG="$work/linode-cli.ini" LINODE_AI_BIN="$bin"
  printf '[DEFAULT]\ndefault-user = bench\n\n[bench]\ntoken = bench-token\n' > "$LINODE_CLI_CONFIG"
  "$venv/bin/linode-cli" register-plugin linodecli_ai < /dev/null > /dev/null
  cmds+=(-n "linode-cli ai templates list (plugin)" "$venv/bin/linode-cli ai templates list")
  cmds+=(-n "linode-cli --version" "$venv/bin/linode-cli --version")
else
  echo "(plugin rows skipped: run tests/plugin-test.sh first)"
fi
hyperfine -N --warmup 3 "${cmds[@]}" --export-markdown "$work/list.md" >/dev/null
cat "$work/list.md"
unset LINODE_CLI_CONFIG LINODE_AI_BIN

# status: 100 deployments, 100 ms injected latency on every API call.
"$root/target/release/linode-sim" --latency-ms 100 --seed 100 --app > "$work/sim.url" & pids+=($!)
for _ in $(seq 50); do [ "$(wc -l < "$work/sim.url")" -ge 2 ] && break; sleep 0.1; done
sim_port=$(sed -nE '1s#.*:([0-9]+)/v4#\1#p' "$work/sim.url")
app_port=$(sed -nE '2s#.*:([0-9]+)/health#\1#p' "$work/sim.url")
python3 - "$XDG_CONFIG_HOME/linode-ai/ai-deployments.json" "$app_port" <<'PY'
import json, os, sys
path, port = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.dirname(path), exist_ok=True)
deps = [{"deployment_id": f"d{i}", "app_name": f"app{i}", "env": "default", "template": "embeddings",
         "template_version": "0.1.0", "region": "us-ord", "linode_id": 1001 + i, "ipv4": "127.0.0.1",
         "hostname": "localhost", "url": f"http://localhost:{port}", "health": {"http_path": "/health", "port": port},
         "created_at": "2026-11-26T14:30:00Z", "last_status": "provisioning"} for i in range(100)]
json.dump({"deployments": deps}, open(path, "w"))
PY
export LINODE_CLI_API_HOST="127.0.0.1:$sim_port" LINODE_CLI_API_SCHEME=http LINODE_CLI_TOKEN=test-token
"$bin" status --json | python3 -c 'import json,sys; r=json.load(sys.stdin); assert len(r) == 100 and all(x["status"] == "running" for x in r), "status bench setup is broken"'
hyperfine -N --warmup 1 --runs 10 "$bin status" --export-markdown "$work/status.md" >/dev/null
cat "$work/status.md"

# Hook overhead on deploy --dry-run: first run compiles, later runs use the cache.
if [ -f templates/examples/ollama-ready/hook.wasm ]; then
  "$bin" templates add templates/examples/ollama-ready >/dev/null
  "$bin" init ollama-ready --directory "$work/hooked" >/dev/null
  "$bin" init chat-agent --directory "$work/plain" >/dev/null
  export LINODE_CLI_API_HOST=127.0.0.1:9
  hyperfine -N --warmup 2 --runs 20 \
    --prepare "rm -rf $XDG_CACHE_HOME/linode-ai" -n "dry-run with hook, first run (compile)" "$bin deploy --dry-run --directory $work/hooked" \
    --export-markdown "$work/hook1.md" >/dev/null
  hyperfine -N --warmup 2 --runs 20 \
    -n "dry-run with hook, cached" "$bin deploy --dry-run --directory $work/hooked" \
    -n "dry-run, stock template (no hook)" "$bin deploy --dry-run --directory $work/plain" \
    --export-markdown "$work/hook2.md" >/dev/null
  cat "$work/hook1.md" "$work/hook2.md"
else
  echo "(hook benchmark skipped: run tests/build-guests.sh first)"
fi

# Cloud-init rendering, in-process (criterion).
HOME="$real_home" cargo bench -q -p linode-ai --bench render | grep -E "^[a-z+].*|time:"
