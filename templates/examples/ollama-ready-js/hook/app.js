// Hook of the `ollama-ready-js` template, in JavaScript (componentize-js).
//
// The same behaviour as the Rust example `ollama-ready`: pull the model at
// boot, and report "starting: pulling model X" until Ollama lists it in
// /api/tags. Written from wit/hooks.wit alone.

import { log } from "linode-ai:hooks/host@0.2.0";

const DEFAULT_MODEL = "llama3.2:1b";
const MODEL_NAME = /^[A-Za-z0-9._:\/-]+$/;

function model(ctx) {
  const v = ctx.envVars.find((e) => e.name === "OLLAMA_MODEL" && e.value !== "");
  return v ? v.value : DEFAULT_MODEL;
}

// Appends one command to the document's runcmd list. linode-ai writes runcmd
// in block style (`- - bash`); an item in flow style (a JSON array is valid
// YAML) goes after the last one, so it runs after the containers start.
function addRuncmd(doc, argv) {
  const lines = doc.split("\n");
  const item = "- " + JSON.stringify(argv);
  let end = lines.indexOf("runcmd:");
  if (end < 0) {
    return doc.replace(/\n*$/, "\n") + "runcmd:\n" + item + "\n";
  }
  end += 1;
  while (end < lines.length && (lines[end].startsWith("- ") || lines[end].startsWith("  "))) {
    end += 1;
  }
  lines.splice(end, 0, item);
  return lines.join("\n");
}

export const guest = {
  renderUserData(ctx, defaultUserData) {
    const name = model(ctx);
    if (!MODEL_NAME.test(name)) {
      // A thrown value is the err(...) of the result.
      throw `OLLAMA_MODEL "${name}" is not a model name`;
    }
    const script =
      "for _ in $(seq 1 60); do docker exec app ollama list >/dev/null 2>&1 && break; " +
      `sleep 2; done; docker exec app ollama pull ${name}`;
    log("info", `added pull of ${name}`);
    return addRuncmd(defaultUserData, ["bash", "-c", script]);
  },

  evaluateHealth(ctx, probes) {
    // The fronted service (Ollama) comes first; its health check is /api/tags.
    if (probes.length === 0) return undefined;
    const probe = probes[0].probe;
    if (probe.tag !== "response" || probe.val.status !== 200) return undefined;
    const name = model(ctx);
    let tags;
    try {
      tags = JSON.parse(probe.val.body);
    } catch {
      return { tag: "unhealthy", val: "/api/tags did not answer JSON" };
    }
    const listed = new Set(
      (Array.isArray(tags?.models) ? tags.models : []).map((m) => (m && typeof m.name === "string" ? m.name : "")),
    );
    if (listed.has(name) || (!name.includes(":") && listed.has(`${name}:latest`))) {
      return { tag: "healthy" };
    }
    return { tag: "starting", val: `pulling model ${name}` };
  },
};
