"""Hook of the `ollama-ready-py` template, in Python (componentize-py).

The same behaviour as the Rust example `ollama-ready`: pull the model at
boot, and report "starting: pulling model X" until Ollama lists it in
/api/tags. Written from wit/hooks.wit alone: `componentize-py bindings`
generates the `wit_world` package imported here.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host, types

DEFAULT_MODEL = "llama3.2:1b"
MODEL_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/")


def model(ctx: types.DeployContext) -> str:
    for var in ctx.env_vars:
        if var.name == "OLLAMA_MODEL" and var.value:
            return var.value
    return DEFAULT_MODEL


def add_runcmd(doc: str, argv: list) -> str:
    """Appends one command to the document's runcmd list.

    linode-ai writes runcmd in block style (`- - bash`); an item in flow
    style (a JSON array is valid YAML) goes after the last one, so it runs
    after the containers are started.
    """
    lines = doc.split("\n")
    item = "- " + json.dumps(argv)
    if "runcmd:" not in lines:
        return doc.rstrip("\n") + "\nruncmd:\n" + item + "\n"
    end = lines.index("runcmd:") + 1
    while end < len(lines) and (lines[end].startswith("- ") or lines[end].startswith("  ")):
        end += 1
    lines.insert(end, item)
    return "\n".join(lines)


class Guest(exports.Guest):
    def render_user_data(self, ctx: types.DeployContext, default_user_data: str):
        name = model(ctx)
        if not set(name) <= MODEL_CHARS:
            raise Err(f'OLLAMA_MODEL "{name}" is not a model name')
        script = (
            "for _ in $(seq 1 60); do docker exec app ollama list >/dev/null 2>&1 && break; "
            f"sleep 2; done; docker exec app ollama pull {name}"
        )
        host.log(types.LogLevel.INFO, f"added pull of {name}")
        return add_runcmd(default_user_data, ["bash", "-c", script])

    def evaluate_health(self, ctx: types.DeployContext, probes: list):
        # The fronted service (Ollama) comes first; its health check is /api/tags.
        if not probes:
            return None
        probe = probes[0].probe
        if not isinstance(probe, types.ProbeResult_Response) or probe.value.status != 200:
            return None
        name = model(ctx)
        try:
            tags = json.loads(probe.value.body)
        except ValueError:
            return types.HealthVerdict_Unhealthy("/api/tags did not answer JSON")
        listed = {
            m.get("name", "") for m in tags.get("models", []) if isinstance(m, dict)
        } if isinstance(tags, dict) else set()
        if name in listed or (":" not in name and f"{name}:latest" in listed):
            return types.HealthVerdict_Healthy()
        return types.HealthVerdict_Starting(f"pulling model {name}")
