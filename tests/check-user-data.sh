#!/usr/bin/env bash
# Renders the user-data of every stock template with `deploy --dry-run --json`
# and checks it with the real tools: `cloud-init schema` (Debian's cloud-init)
# and `shellcheck` on every script it writes (compressed ones decoded), and
# the proxy config with the real Caddy (`caddy adapt`); first the boot's shell
# assets themselves with `shellcheck`. Fails if a tool is missing.
set -euo pipefail
bin=${1:?usage: check-user-data.sh path/to/linode-ai}
for tool in cloud-init shellcheck caddy; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install $tool)" >&2; exit 1; }
done
# The static shell of the boot (host/assets/boot/, embedded with include_str!) as
# files, placeholders and all. The prelude's variables are read by the generated
# rest of the boot script, so SC2034 (unused) does not apply to it alone.
assets=$(cd "$(dirname "$0")/../host/assets/boot" && pwd)
n=0
for f in "$assets"/*.sh; do
  n=$((n + 1))
  if [[ $(basename "$f") == prelude.sh ]]; then
    shellcheck -s bash -e SC2034 "$f"
  else
    shellcheck -s bash "$f"
  fi
done
echo "ok: $n boot asset(s) in host/assets/boot pass shellcheck"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/data" NO_COLOR=1
export LINODE_CLI_TOKEN="" LINODE_CLI_API_HOST=127.0.0.1:9 LINODE_CLI_API_SCHEME=http
mkdir -p "$HOME"
printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test@host\n' > "$work/id.pub"
for t in $("$bin" templates list --json | /usr/bin/python3 -c 'import json,sys; print(" ".join(t["name"] for t in json.load(sys.stdin)))'); do
  dir="$work/$t"
  "$bin" init "$t" --directory "$dir" >/dev/null
  printf "EXTRA=\"two\\\\nlines # not a comment\"\nQUOTED='k \$x \"q\"'\n" >> "$dir/.env"
  "$bin" deploy --dry-run --json --ssh-key "$work/id.pub" --directory "$dir" > "$dir/plan.json"
  /usr/bin/python3 - "$dir" <<'PY'
import base64, gzip, json, os, sys, yaml
d = sys.argv[1]
plan = json.load(open(os.path.join(d, "plan.json")))
doc = plan["user_data"]
open(os.path.join(d, "user-data.yaml"), "w").write(doc)
open(os.path.join(d, "Caddyfile"), "w").write(plan["proxy"]["caddyfile"])
cfg = yaml.safe_load(doc)
for i, f in enumerate(cfg.get("write_files", [])):
    content = f["content"]
    if f.get("encoding") == "gz+b64":
        content = gzip.decompress(base64.b64decode(content)).decode()
    if content.startswith("#!") or "shellcheck shell=bash" in content:
        open(os.path.join(d, f"script-{i}.sh"), "w").write(content)
PY
  cloud-init schema --config-file "$dir/user-data.yaml" >/dev/null || { echo "$t: cloud-init schema rejected the user-data" >&2; cat "$dir/user-data.yaml" >&2; exit 1; }
  shellcheck -s bash "$dir"/script-*.sh
  # Caddy reads the config as the instance would (the key and hostname from the environment).
  LINODE_AI_HOSTNAME=203-0-113-9.ip.linodeusercontent.com CHAT_API_KEY=k VLLM_API_KEY=k API_KEY=k LINODE_AI_API_KEY=k \
    caddy adapt --config "$dir/Caddyfile" --adapter caddyfile >/dev/null 2>"$dir/caddy.err" || { echo "$t: caddy rejected the proxy config" >&2; cat "$dir/caddy.err" "$dir/Caddyfile" >&2; exit 1; }
  echo "ok: $t user-data passes cloud-init schema; $(ls "$dir"/script-*.sh | wc -l) script(s) pass shellcheck; Caddy $(caddy version | cut -d' ' -f1) adapts its proxy config"
done
# The GPU base Image build's user-data (image build --gpu).
dir="$work/gpu-image"
mkdir -p "$dir"
"$bin" image build --gpu --dry-run --json > "$dir/plan.json"
/usr/bin/python3 - "$dir" <<'PY'
import base64, gzip, json, os, sys, yaml
d = sys.argv[1]
doc = json.load(open(os.path.join(d, "plan.json")))["user_data"]
open(os.path.join(d, "user-data.yaml"), "w").write(doc)
for i, f in enumerate(yaml.safe_load(doc)["write_files"]):
    content = gzip.decompress(base64.b64decode(f["content"])).decode() if f.get("encoding") == "gz+b64" else f["content"]
    open(os.path.join(d, f"script-{i}.sh"), "w").write(content)
PY
cloud-init schema --config-file "$dir/user-data.yaml" >/dev/null || { echo "image build --gpu: cloud-init schema rejected the user-data" >&2; cat "$dir/user-data.yaml" >&2; exit 1; }
shellcheck -s bash "$dir"/script-*.sh
echo "ok: image build --gpu user-data passes cloud-init schema; $(ls "$dir"/script-*.sh | wc -l) script(s) pass shellcheck"
