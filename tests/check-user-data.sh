#!/usr/bin/env bash
# Renders the user-data of every stock template with `deploy --dry-run --json`
# and checks it with the real tools: `cloud-init schema` (Debian's cloud-init)
# and `shellcheck` on every script it writes. Fails if a tool is missing.
set -euo pipefail
bin=${1:?usage: check-user-data.sh path/to/linode-ai}
command -v cloud-init >/dev/null || { echo "cloud-init is not installed (apt-get install cloud-init)" >&2; exit 1; }
command -v shellcheck >/dev/null || { echo "shellcheck is not installed (apt-get install shellcheck)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" NO_COLOR=1
export LINODE_CLI_TOKEN="" LINODE_CLI_API_HOST=127.0.0.1:9 LINODE_CLI_API_SCHEME=http
mkdir -p "$HOME"
for t in chat-agent llm-api embeddings; do
  dir="$work/$t"
  "$bin" init "$t" --directory "$dir" >/dev/null
  printf "VLLM_API_KEY=abc\nAPI_KEY='k \$x \"q\"'\nEXTRA=\"two\\\\nlines # not a comment\"\n" > "$dir/.env"
  "$bin" deploy --dry-run --json --directory "$dir" > "$dir/plan.json"
  /usr/bin/python3 - "$dir" <<'PY'
import json, sys, os, yaml
d = sys.argv[1]
doc = json.load(open(os.path.join(d, "plan.json")))["user_data"]
open(os.path.join(d, "user-data.yaml"), "w").write(doc)
cfg = yaml.safe_load(doc)
for i, f in enumerate(cfg.get("write_files", [])):
    if f["content"].startswith("#!"):
        open(os.path.join(d, f"script-{i}.sh"), "w").write(f["content"])
PY
  cloud-init schema --config-file "$dir/user-data.yaml" >/dev/null || { echo "$t: cloud-init schema rejected the user-data" >&2; cat "$dir/user-data.yaml" >&2; exit 1; }
  shellcheck -s bash "$dir"/script-*.sh
  echo "ok: $t user-data passes cloud-init schema; $(ls "$dir"/script-*.sh | wc -l) script(s) pass shellcheck"
done
