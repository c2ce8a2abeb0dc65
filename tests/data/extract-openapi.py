#!/usr/bin/env python3
"""Extracts the request-body schemas linode-ai sends from the official Linode
OpenAPI spec (v4.189.0, linode/linode-api-docs) into linode-openapi-subset.json,
so tests can validate request bodies without the 3.6 MB spec.

Usage: tests/data/extract-openapi.py path/to/openapi-v4.189.0.yaml
"""
import json
import os
import sys

import yaml

WANTED = [
    ("/{apiVersion}/networking/firewalls", "post"),
    ("/{apiVersion}/linode/instances", "post"),
    # The tags naming the DNS records made for a deployment.
    ("/{apiVersion}/linode/instances/{linodeId}", "put"),
    ("/{apiVersion}/networking/firewalls/{firewallId}", "put"),
    ("/{apiVersion}/domains/{domainId}/records", "post"),
    # The cache volume.
    ("/{apiVersion}/volumes", "post"),
    ("/{apiVersion}/volumes/{volumeId}/attach", "post"),
    # The GPU base Image (image build --gpu).
    ("/{apiVersion}/images", "post"),
    # deploy --target lke: the cluster.
    ("/{apiVersion}/lke/clusters", "post"),
]

def merge(a, b):
    """Deep merge of two schemas of the same thing: properties merged, required united."""
    out = dict(a)
    for k, v in b.items():
        if k == "properties":
            props = dict(out.get("properties", {}))
            for name, sub in v.items():
                props[name] = merge(props[name], sub) if name in props else sub
            out["properties"] = props
        elif k == "required":
            out["required"] = out.get("required", []) + [r for r in v if r not in out.get("required", [])]
        elif k == "items" and "items" in out:
            out["items"] = merge(out["items"], v)
        elif k not in out:
            out[k] = v
    return out


def flatten(schema):
    """Merges `allOf` parts into one object schema, as OpenAPI tools read them:
    each part says `additionalProperties: false`, which plain JSON Schema would
    apply part by part and so reject every real body."""
    if isinstance(schema, list):
        return [flatten(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {k: flatten(v) for k, v in schema.items()}
    parts = schema.pop("allOf", None)
    if parts:
        merged = {"type": "object"}
        for p in parts + [schema]:
            merged = merge(merged, p)
        return merged
    return schema


spec = yaml.safe_load(open(sys.argv[1]))
out = {"source": "linode/linode-api-docs openapi " + spec["info"]["version"], "requests": {}}
for path, method in WANTED:
    op = spec["paths"][path][method]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    out["requests"][method.upper() + " " + path.replace("/{apiVersion}", "")] = flatten(schema)
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "linode-openapi-subset.json"), "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote", len(out["requests"]), "schemas from", out["source"])
