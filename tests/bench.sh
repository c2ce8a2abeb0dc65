#!/usr/bin/env bash
# All benchmarks, one command. hyperfine: templates list direct, through the
# linode-cli plugin and linode-cli --version (plugin rows need the venv that
# tests/plugin-test.sh makes); status over 100 and 1,000 HTTPS deployments
# behind 100 ms of API latency (with the API requests counted); deploy
# --dry-run with Rust, Python and JavaScript hooks (first run compiles, then
# cached).
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

# status over 100 and 1,000 HTTPS deployments (each its own hostname under a
# wildcard certificate) behind 100 ms injected latency on every API call; the
# API requests one status makes are counted from the stand-in's log.
for n in 100 1000; do
  "$root/target/release/linode-sim" --latency-ms 100 --seed "$n" --app "$work/ca-$n.pem" > "$work/sim-$n.out" & pids+=($!)
  for _ in $(seq 100); do [ "$(wc -l < "$work/sim-$n.out")" -ge 2 ] && break; sleep 0.1; done
  sim_port=$(sed -nE '1s#.*:([0-9]+)/v4#\1#p' "$work/sim-$n.out")
  app_port=$(sed -n 2p "$work/sim-$n.out")
  reg="$work/status-$n/linode-ai/ai-deployments.json"
  python3 - "$reg" "$app_port" "$n" <<'PY'
import json, os, sys
path, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(os.path.dirname(path), exist_ok=True)
deps = [{"deployment_id": f"d{i}", "app_name": f"app{i}", "env": "default", "template": "embeddings",
         "template_version": "0.2.0", "region": "us-ord", "linode_type": "g6-standard-2", "linode_id": 1001 + i,
         "ipv4": "127.0.0.1", "hostname": f"app{i}.linode-ai.test", "url": f"https://app{i}.linode-ai.test:{port}",
         "health": {"http_path": "/healthz/tei", "port": port},
         "probes": [{"service": "tei", "path": "/healthz/tei", "success_codes": [200], "timeout_seconds": 5}],
         "created_at": "2026-11-26T14:30:00Z", "last_status": "running"} for i in range(n)]
with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
    json.dump({"deployments": deps}, f)
PY
  st_env=(env XDG_CONFIG_HOME="$work/status-$n" LINODE_CLI_API_HOST="127.0.0.1:$sim_port" LINODE_CLI_API_SCHEME=http
          LINODE_CLI_TOKEN=test-token LINODE_AI_PROBE_CA="$work/ca-$n.pem")
  count() { python3 -c "import json,urllib.request; print(len(json.load(urllib.request.urlopen('http://127.0.0.1:$sim_port/__sim/requests'))))"; }
  # The first status of the day also asks for plans and prices; later ones use the copy.
  rm -f "$XDG_CACHE_HOME/linode-ai/linode-types.json"
  for run in first later; do
    before=$(count)
    "${st_env[@]}" XDG_CACHE_HOME="$XDG_CACHE_HOME" "$bin" status --json > "$work/status-$n.json"
    after=$(count)
    python3 - "$work/status-$n.json" "$n" "$((after - before))" "$run" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
n, requests, run = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
bad = [r for r in rows if r["status"] != "running"]
assert len(rows) == n and not bad, f"status bench setup is broken: {len(rows)} rows, e.g. {bad[:1]}"
print(f"status over {n} HTTPS deployments (each with its firewall), {run} run: {requests} API requests")
PY
  done
  hyperfine -N --warmup 1 --runs 10 -n "status, $n HTTPS deployments, 100 ms API latency" \
    "${st_env[*]} $bin status" --export-markdown "$work/status-$n.md" >/dev/null
  cat "$work/status-$n.md"
done

# Hook overhead on deploy --dry-run: the first run compiles the component,
# later runs load it from the cache. Rust (290 KB), Python (18 MB) and
# JavaScript (12 MB) components, when built (tests/build-guests.sh).
"$bin" init chat-agent --directory "$work/plain" >/dev/null
rows=(-n "dry-run, stock template (no hook)" "$bin deploy --dry-run --directory $work/plain")
first=()
for ex in ollama-ready ollama-ready-py ollama-ready-js; do
  [ -f "templates/examples/$ex/hook.wasm" ] || { echo "($ex skipped: run tests/build-guests.sh first)"; continue; }
  "$bin" templates add --force "templates/examples/$ex" >/dev/null
  "$bin" init "$ex" --directory "$work/$ex" >/dev/null
  rows+=(-n "dry-run, $ex hook, cached" "$bin deploy --dry-run --directory $work/$ex")
  first+=(-n "dry-run, $ex hook, first run (compile)" "$bin deploy --dry-run --directory $work/$ex")
done
export LINODE_CLI_API_HOST=127.0.0.1:9
if [ ${#first[@]} -gt 0 ]; then
  hyperfine -N --warmup 0 --runs 3 --prepare "rm -rf $XDG_CACHE_HOME/linode-ai" "${first[@]}" \
    --export-markdown "$work/hook1.md" >/dev/null
  cat "$work/hook1.md"
fi
hyperfine -N --warmup 2 --runs 20 "${rows[@]}" --export-markdown "$work/hook2.md" >/dev/null
cat "$work/hook2.md"

# Cloud-init rendering, in-process (criterion).
HOME="$real_home" cargo bench -q -p linode-ai --bench render | grep -E "^[a-z+].*|time:"
