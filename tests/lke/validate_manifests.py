#!/usr/bin/env python3
"""Validates the Kubernetes objects `linode-ai deploy --target lke --dry-run --json` renders.

Usage: validate_manifests.py [--self-test] LINODE_AI_BINARY

For every stock template, in a throwaway HOME with no Linode token and an
unreachable API (as tests/check-user-data.sh does), it makes a project and
renders its LKE plan. Templates that render have every object validated by
kubernetes-validate (strict schemas: an unknown field fails) for each
Kubernetes version below, then the checks kubernetes-validate does not do:
workload selectors select their own pods, each Service selects exactly one
workload's pods on a port those pods expose, secretKeyRef/configMapKeyRef
(and volume sources) name an object and key in the list, each $(VAR) names
a variable defined before it in the container, each volumeMount names a
volume or volumeClaimTemplate, the LoadBalancer Service exposes 80 and 443,
the Secret shows `<redacted>` for every non-public variable (no value from
the project's .env leaks), names are DNS-1123, and each namespaced object is
in the plan's namespace, and the associative lists (env, ports, volumes,
volumeMounts, containers) hold each key once, as server-side apply
requires. `--replicas 3` is refused, naming the service and
its volumes, when the fronted service keeps state replicas would share; when
its volumes are caches (`volumes_per_replica`: llm-api, embeddings) the 3
replicas land in its StatefulSet, each with its own claims, started
together; for a stateless fronted service (tests/lke/stateless-api, a test
template) they land in its Deployment. Templates refused on LKE (post-start scripts) must exit
non-zero naming the service (or the template) and the reason; copies of them
without their post-start scripts are rendered and checked like the rest.

--self-test renders two plans, then breaks one field at a time in copies of
them and requires each break to be rejected by the check meant for it.

It runs under the Python of the kubernetes-validate venv that .ci/run makes
(target/tools/kubernetes-validate; KUBERNETES_VALIDATE_VENV overrides), and
re-executes itself there. A missing venv is an error, never a skip.
"""

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# The kubernetes-validate release .ci/run installs (keep the two in step).
KUBERNETES_VALIDATE = "1.37.0"
# What LKE offers (GET /lke/versions: 1.34, 1.33, 1.32 as tests/linode-sim
# models it; LKE Enterprise got 1.33 on 2026-06-04 per Akamai's changelog).
# linode-ai creates the cluster with the newest one; 1.33 is checked too so
# objects that need 1.34 are caught before a 1.33 cluster refuses them.
K8S_VERSIONS = ("1.33", "1.34")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VENV = os.environ.get("KUBERNETES_VALIDATE_VENV") or os.path.join(
    REPO, "target", "tools", "kubernetes-validate")
STATELESS_TEMPLATE = os.path.join(HERE, "stateless-api")
REDACTED = "<redacted>"


def die(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def enter_venv():
    """Re-executes under the venv's Python unless already there."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.access(python, os.X_OK):
        die(f"the kubernetes-validate venv is missing ({python} not found): "
            f"run .ci/run, or: python3 -m venv {VENV} && "
            f"{VENV}/bin/pip install kubernetes-validate=={KUBERNETES_VALIDATE}")
    os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])


# ---------------------------------------------------------------------------
# Failures

class Failure(Exception):
    """A check failed: `check` names it, the message says what and where."""

    def __init__(self, check, msg):
        super().__init__(msg)
        self.check = check
        self.msg = msg


def fail(check, msg):
    raise Failure(check, msg)


def oid(obj):
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def path_str(parts):
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(the object)"


# ---------------------------------------------------------------------------
# Names (k8s.io/apimachinery/pkg/util/validation)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def is_dns_label(s):
    return isinstance(s, str) and len(s) <= 63 and bool(DNS_LABEL.match(s))


def is_dns_subdomain(s):
    return (isinstance(s, str) and 0 < len(s) <= 253
            and all(DNS_LABEL.match(p) for p in s.split(".")))


def is_port_name(s):
    return (isinstance(s, str) and len(s) <= 15 and bool(IANA_SVC_NAME.match(s))
            and "--" not in s and re.search("[a-z]", s) is not None)


def is_qualified_key(k):
    prefix, _, name = k.rpartition("/")
    if "/" in k and not is_dns_subdomain(prefix):
        return False
    return len(name) <= 63 and bool(QUALIFIED_NAME.match(name))


# Kinds by scope; an unknown kind fails, so a new one is looked at here first.
NAMESPACED = {"ConfigMap", "Secret", "Service", "Deployment", "StatefulSet", "DaemonSet",
              "Job", "CronJob", "PersistentVolumeClaim", "ServiceAccount", "Role",
              "RoleBinding", "NetworkPolicy", "Ingress", "PodDisruptionBudget",
              "HorizontalPodAutoscaler", "ResourceQuota", "LimitRange"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass",
                  "PersistentVolume", "PriorityClass"}
# Names that become a DNS label (a pod hostname, a Service's DNS name, a namespace).
LABEL_NAMED = {"Namespace", "Service", "StatefulSet"}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


def pod_template(obj):
    if obj["kind"] in WORKLOADS:
        return obj.get("spec", {}).get("template", {})
    if obj["kind"] == "CronJob":
        return obj.get("spec", {}).get("jobTemplate", {}).get("spec", {}).get("template", {})
    return None


def containers_of(pod_spec):
    for field in ("initContainers", "containers"):
        for i, c in enumerate(pod_spec.get(field) or []):
            yield f"{field}[{i}]", c


# ---------------------------------------------------------------------------
# The checks of one rendered plan

def check_schema(objects, kv):
    """kubernetes-validate, strict, for each Kubernetes version."""
    for obj in objects:
        for version in K8S_VERSIONS:
            try:
                kv.validate(obj, version, strict=True)
            except kv.ValidationError as e:
                fail("schema", f"{oid(obj)}: kubernetes-validate {KUBERNETES_VALIDATE} (strict, "
                               f"Kubernetes {version}) rejects {path_str(list(e.absolute_path))}: {e.message}")
            except kv.SchemaNotFoundError as e:
                fail("schema", f"{oid(obj)}: {e.message}")


def check_names(objects, namespace):
    seen = set()
    if not is_dns_label(namespace):
        fail("names", f"the plan's namespace {namespace!r} is not a DNS-1123 label")
    for obj in objects:
        kind, meta = obj.get("kind"), obj.get("metadata", {})
        name = meta.get("name")
        if kind not in NAMESPACED and kind not in CLUSTER_SCOPED:
            fail("names", f"{oid(obj)}: kind {kind!r} is unknown to these checks (is it namespaced?)")
        if (kind, name) in seen:
            fail("names", f"{oid(obj)}: two objects of this kind have this name")
        seen.add((kind, name))
        if kind in LABEL_NAMED:
            if not is_dns_label(name):
                fail("names", f"{oid(obj)}: metadata.name {name!r} is not a DNS-1123 label "
                              "(lower case letters, digits, '-', at most 63)")
        elif not is_dns_subdomain(name):
            fail("names", f"{oid(obj)}: metadata.name {name!r} is not a DNS-1123 subdomain")
        label_maps = [("metadata.labels", meta.get("labels")),
                      ("metadata.annotations", meta.get("annotations"))]
        tpl = pod_template(obj)
        if tpl is not None:
            label_maps.append(("spec.template.metadata.labels", tpl.get("metadata", {}).get("labels")))
            label_maps.append(("spec.selector.matchLabels", obj["spec"].get("selector", {}).get("matchLabels")))
            pod = tpl.get("spec", {})
            for v in pod.get("volumes") or []:
                if not is_dns_label(v.get("name")):
                    fail("names", f"{oid(obj)}: volume name {v.get('name')!r} is not a DNS-1123 label")
            for where, c in containers_of(pod):
                if not is_dns_label(c.get("name")):
                    fail("names", f"{oid(obj)}: spec.template.spec.{where}.name {c.get('name')!r} "
                                  "is not a DNS-1123 label")
                for p in c.get("ports") or []:
                    if "name" in p and not is_port_name(p["name"]):
                        fail("names", f"{oid(obj)}: container {c['name']} port name {p['name']!r} "
                                      "is not an IANA service name (at most 15, lower case, a letter)")
                for e in c.get("env") or []:
                    if not ENV_NAME.match(e.get("name", "")):
                        fail("names", f"{oid(obj)}: container {c['name']} env name {e.get('name')!r} is not valid")
        if kind == "StatefulSet":
            for vct in obj["spec"].get("volumeClaimTemplates") or []:
                vname = vct.get("metadata", {}).get("name")
                if not is_dns_label(vname):
                    fail("names", f"{oid(obj)}: volumeClaimTemplate name {vname!r} is not a DNS-1123 label")
                label_maps.append(("volumeClaimTemplates.metadata.labels", vct.get("metadata", {}).get("labels")))
        if kind == "Service":
            label_maps.append(("spec.selector", obj.get("spec", {}).get("selector")))
            for p in obj.get("spec", {}).get("ports") or []:
                if "name" in p and not is_port_name(p["name"]):
                    fail("names", f"{oid(obj)}: port name {p['name']!r} is not an IANA service name")
        if kind in ("ConfigMap", "Secret"):
            for field in ("data", "stringData", "binaryData"):
                for k in obj.get(field) or {}:
                    if len(k) > 253 or not CONFIG_KEY.match(k):
                        fail("names", f"{oid(obj)}: {field} key {k!r} is not a valid key ([-._a-zA-Z0-9]+)")
        for where, m in label_maps:
            for k, v in (m or {}).items():
                if not is_qualified_key(k):
                    fail("names", f"{oid(obj)}: {where} key {k!r} is not a qualified name")
                if where != "metadata.annotations" and (
                        not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.match(v)):
                    fail("names", f"{oid(obj)}: {where} value {v!r} (key {k}) is not a valid label value")


def dup_keys(items, key):
    """(first index, second index, key) of the first key seen twice in a list."""
    seen = {}
    for i, item in enumerate(items or []):
        k = key(item)
        if k in seen:
            return seen[k], i, k
        seen[k] = i
    return None


def check_duplicates(objects):
    """Associative lists (+listType=map in k8s.io/api) hold each key once: server-side
    apply refuses the object otherwise ("duplicate entries for key")."""
    def need_unique(obj, where, items, key, what):
        d = dup_keys(items, key)
        if d:
            i, j, k = d
            fail("duplicates", f"{oid(obj)}: {where}[{i}] and {where}[{j}] have the same {what} {k!r}; "
                               f"{where} is keyed by {what} (server-side apply refuses duplicate entries)")

    def port_key(p):
        return p.get("containerPort", p.get("port")), p.get("protocol", "TCP")

    for obj in objects:
        if obj["kind"] == "Service":
            need_unique(obj, "spec.ports", obj["spec"].get("ports"), port_key, "port/protocol")
            need_unique(obj, "spec.ports", [p for p in obj["spec"].get("ports") or [] if "name" in p],
                        lambda p: p["name"], "name")
        tpl = pod_template(obj)
        if tpl is None:
            continue
        pod = tpl.get("spec", {})
        base = "spec.template.spec"
        need_unique(obj, f"{base}.volumes", pod.get("volumes"), lambda v: v.get("name"), "name")
        need_unique(obj, f"{base}.containers+initContainers",
                    (pod.get("initContainers") or []) + (pod.get("containers") or []), lambda c: c.get("name"), "name")
        for cwhere, c in containers_of(pod):
            need_unique(obj, f"{base}.{cwhere}.env", c.get("env"), lambda e: e.get("name"), "name")
            need_unique(obj, f"{base}.{cwhere}.ports", c.get("ports"), port_key, "containerPort/protocol")
            need_unique(obj, f"{base}.{cwhere}.ports", [p for p in c.get("ports") or [] if "name" in p],
                        lambda p: p["name"], "name")
            need_unique(obj, f"{base}.{cwhere}.volumeMounts", c.get("volumeMounts"),
                        lambda m: m.get("mountPath"), "mountPath")


def check_namespaces(objects, namespace):
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    if [o["metadata"]["name"] for o in namespaces] != [namespace]:
        fail("namespace", f"the plan's namespace is {namespace!r} but the Namespace objects are "
                          f"{[o['metadata']['name'] for o in namespaces]}")
    if objects[0]["kind"] != "Namespace":
        fail("namespace", f"the Namespace is not the first object (the first is {oid(objects[0])}): "
                          "applied in order, the others would have no namespace yet")
    for obj in objects:
        ns = obj["metadata"].get("namespace")
        if obj["kind"] in NAMESPACED and ns != namespace:
            fail("namespace", f"{oid(obj)}: metadata.namespace is {ns!r}, not the plan's {namespace!r}")
        if obj["kind"] in CLUSTER_SCOPED and ns is not None:
            fail("namespace", f"{oid(obj)}: a cluster-scoped object has metadata.namespace {ns!r}")


def selects(selector, labels):
    """Whether a LabelSelector (matchLabels and matchExpressions) selects labels."""
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        k, op, values = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in values:
            return False
        if op == "NotIn" and k in labels and labels[k] in values:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def check_workload_selectors(objects):
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        sel = obj["spec"].get("selector") or {}
        labels = obj["spec"]["template"].get("metadata", {}).get("labels") or {}
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            fail("workload-selector", f"{oid(obj)}: spec.selector is empty")
        if not selects(sel, labels):
            fail("workload-selector", f"{oid(obj)}: spec.selector {json.dumps(sel, sort_keys=True)} does not "
                                      f"select its own pod template's labels {json.dumps(labels, sort_keys=True)}")


def check_services(objects):
    workloads = [o for o in objects if pod_template(o) is not None]
    for svc in (o for o in objects if o["kind"] == "Service"):
        spec = svc.get("spec", {})
        sel = spec.get("selector")
        if not sel:
            fail("service-selector", f"{oid(svc)}: spec.selector is empty (it would select no pods)")
        hits = [w for w in workloads
                if selects({"matchLabels": sel}, pod_template(w).get("metadata", {}).get("labels"))]
        if len(hits) != 1:
            fail("service-selector", f"{oid(svc)}: spec.selector {json.dumps(sel, sort_keys=True)} selects the pods of "
                                     f"{len(hits)} workloads ({', '.join(oid(w) for w in hits) or 'none'}), not exactly one")
        pod = pod_template(hits[0]).get("spec", {})
        ports = [p for _, c in containers_of(pod) for p in c.get("ports") or []]
        for i, p in enumerate(spec.get("ports") or []):
            target = p.get("targetPort", p.get("port"))
            if isinstance(target, int):
                ok = any(cp.get("containerPort") == target for cp in ports)
            else:
                ok = any(cp.get("name") == target for cp in ports)
            if not ok:
                fail("service-selector", f"{oid(svc)}: spec.ports[{i}].targetPort {target!r} is not a port "
                                         f"of the pods of {oid(hits[0])}")


def check_refs(objects):
    """secretKeyRef, configMapKeyRef, envFrom and volume sources name objects and keys in the list."""
    stores = {}
    for o in objects:
        if o["kind"] in ("Secret", "ConfigMap"):
            keys = set()
            for field in ("data", "stringData", "binaryData"):
                keys |= set(o.get(field) or {})
            stores[(o["kind"], o["metadata"]["name"])] = keys
    claims = {o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"}

    def need(obj, where, kind, name, key=None):
        if (kind, name) not in stores:
            fail("refs", f"{oid(obj)}: {where} names {kind} {name!r}, which is not in the objects")
        if key is not None and key not in stores[(kind, name)]:
            fail("refs", f"{oid(obj)}: {where} names key {key!r} of {kind} {name!r}, which has only "
                         f"{sorted(stores[(kind, name)])}")

    for obj in objects:
        tpl = pod_template(obj)
        if tpl is None:
            continue
        pod = tpl.get("spec", {})
        volumes = {}
        for i, v in enumerate(pod.get("volumes") or []):
            where = f"spec.template.spec.volumes[{i}]"
            volumes[v["name"]] = v
            if "configMap" in v:
                need(obj, where + ".configMap", "ConfigMap", v["configMap"].get("name"))
                for it in v["configMap"].get("items") or []:
                    need(obj, where + ".configMap.items", "ConfigMap", v["configMap"]["name"], it["key"])
            if "secret" in v:
                need(obj, where + ".secret", "Secret", v["secret"].get("secretName"))
                for it in v["secret"].get("items") or []:
                    need(obj, where + ".secret.items", "Secret", v["secret"]["secretName"], it["key"])
            if "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"].get("claimName")
                if claim not in claims:
                    fail("refs", f"{oid(obj)}: {where}.persistentVolumeClaim.claimName {claim!r} is not a "
                                 "PersistentVolumeClaim in the objects")
        for cwhere, c in containers_of(pod):
            base = f"spec.template.spec.{cwhere}"
            for j, e in enumerate(c.get("env") or []):
                src = e.get("valueFrom") or {}
                if "secretKeyRef" in src:
                    r = src["secretKeyRef"]
                    need(obj, f"{base}.env[{j}] ({e['name']}).valueFrom.secretKeyRef", "Secret", r.get("name"), r.get("key"))
                if "configMapKeyRef" in src:
                    r = src["configMapKeyRef"]
                    need(obj, f"{base}.env[{j}] ({e['name']}).valueFrom.configMapKeyRef", "ConfigMap", r.get("name"), r.get("key"))
            for j, ef in enumerate(c.get("envFrom") or []):
                if "secretRef" in ef:
                    need(obj, f"{base}.envFrom[{j}].secretRef", "Secret", ef["secretRef"].get("name"))
                if "configMapRef" in ef:
                    need(obj, f"{base}.envFrom[{j}].configMapRef", "ConfigMap", ef["configMapRef"].get("name"))
            for j, m in enumerate(c.get("volumeMounts") or []):
                v = volumes.get(m.get("name"))
                if v is not None and m.get("subPath") and "configMap" in v and not v["configMap"].get("items"):
                    need(obj, f"{base}.volumeMounts[{j}].subPath", "ConfigMap", v["configMap"]["name"], m["subPath"])


def var_refs(s):
    """The $(VAR) references Kubernetes expands in s ($$ is a literal $)."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "$" and i + 1 < len(s):
            if s[i + 1] == "$":
                i += 2
                continue
            if s[i + 1] == "(":
                end = s.find(")", i + 2)
                if end != -1:
                    out.append(s[i + 2:end])
                    i = end + 1
                    continue
        i += 1
    return out


def check_var_refs(objects):
    stores = {(o["kind"], o["metadata"]["name"]): set(o.get("data") or {}) | set(o.get("stringData") or {})
              for o in objects if o["kind"] in ("Secret", "ConfigMap")}
    for obj in objects:
        tpl = pod_template(obj)
        if tpl is None:
            continue
        for cwhere, c in containers_of(tpl.get("spec", {})):
            base = f"spec.template.spec.{cwhere}"
            defined = set()
            for ef in c.get("envFrom") or []:
                ref = ef.get("secretRef") or ef.get("configMapRef") or {}
                kind = "Secret" if "secretRef" in ef else "ConfigMap"
                defined |= {ef.get("prefix", "") + k for k in stores.get((kind, ref.get("name")), ())}
            env = c.get("env") or []
            everything = defined | {e["name"] for e in env}
            for j, e in enumerate(env):
                value = e.get("value")
                if isinstance(value, str):
                    if "${" in value:
                        fail("var-refs", f"{oid(obj)}: {base}.env[{j}] ({e['name']}) keeps a ${{VAR}} "
                                         f"form Kubernetes does not expand: {value!r}")
                    for ref in var_refs(value):
                        if ref not in defined:
                            later = "defined only after it" if ref in everything else "not defined in the container"
                            fail("var-refs", f"{oid(obj)}: {base}.env[{j}] ({e['name']}) refers to $({ref}), "
                                             f"{later}: Kubernetes leaves it unexpanded")
                defined.add(e["name"])
            for field in ("command", "args"):
                for j, a in enumerate(c.get(field) or []):
                    # A Job's script (SHELL -c SCRIPT): its ${VAR} are the shell's.
                    script = obj["kind"] == "Job" and field == "command" and j == 2
                    if "${" in a and not script:
                        fail("var-refs", f"{oid(obj)}: {base}.{field}[{j}] keeps a ${{VAR}} form "
                                         f"Kubernetes does not expand: {a!r}")
                    for ref in var_refs(a):
                        if ref not in everything:
                            fail("var-refs", f"{oid(obj)}: {base}.{field}[{j}] refers to $({ref}), which is not "
                                             "an env var of the container: Kubernetes leaves it unexpanded")


def check_volume_mounts(objects):
    for obj in objects:
        tpl = pod_template(obj)
        if tpl is None:
            continue
        pod = tpl.get("spec", {})
        names = {v["name"] for v in pod.get("volumes") or []}
        claim_names = {v["metadata"]["name"] for v in obj["spec"].get("volumeClaimTemplates") or []}
        clash = names & claim_names
        if clash:
            fail("volume-mounts", f"{oid(obj)}: {sorted(clash)} is both a volume and a volumeClaimTemplate")
        for cwhere, c in containers_of(pod):
            for j, m in enumerate(c.get("volumeMounts") or []):
                if m.get("name") not in names | claim_names:
                    fail("volume-mounts", f"{oid(obj)}: spec.template.spec.{cwhere}.volumeMounts[{j}] names volume "
                                          f"{m.get('name')!r}, which is neither a volume "
                                          f"{sorted(names)} nor a volumeClaimTemplate {sorted(claim_names)}")


def check_load_balancer(objects):
    lbs = [o for o in objects if o["kind"] == "Service" and o.get("spec", {}).get("type") == "LoadBalancer"]
    if len(lbs) != 1:
        fail("load-balancer", f"{len(lbs)} Services of type LoadBalancer ({', '.join(map(oid, lbs)) or 'none'}), "
                              "not exactly one (each makes a NodeBalancer)")
    ports = {(p.get("port"), p.get("protocol", "TCP")) for p in lbs[0]["spec"].get("ports") or []}
    for port in (80, 443):
        if (port, "TCP") not in ports:
            fail("load-balancer", f"{oid(lbs[0])}: spec.ports has no TCP port {port} "
                                  f"(it has {sorted(p for p, _ in ports)})")


def check_secret(objects, ctx, raw):
    """Non-public variables show as <redacted>; public ones as the project has them; nothing leaks."""
    for obj in (o for o in objects if o["kind"] == "Secret"):
        values = dict(obj.get("stringData") or {})
        for k, v in (obj.get("data") or {}).items():
            values[k] = base64.b64decode(v).decode()
        for k, v in values.items():
            if k in ctx["public"]:
                want = ctx["env"].get(k, ctx["defaults"].get(k))
                if v != want:
                    fail("secret", f"{oid(obj)}: public variable {k} is {v!r}, but the project has {want!r}")
            elif v != REDACTED:
                fail("secret", f"{oid(obj)}: variable {k} is not public, so the dry run must show "
                               f"{REDACTED!r}, but it shows a value ({len(v)} characters)")
        missing = sorted(k for k, v in ctx["env"].items() if v and k not in values)
        if missing:
            fail("secret", f"{oid(obj)}: the project's variables {missing} are not in the Secret")
    for k, v in ctx["env"].items():
        # Long values only: a short one (a "2") would match anywhere.
        if k not in ctx["public"] and len(v) >= 12 and v in raw:
            fail("secret", f"the value of the non-public variable {k} from the project's .env "
                           "appears in the dry run's output")


def check_replicas(plan, ctx):
    objects = plan["objects"]
    fronted = ctx["fronted"]
    want = ctx["replicas"]
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        got = obj["spec"].get("replicas", 1)
        name = obj["metadata"]["name"]
        expected = want if name == fronted else 1
        if got != expected:
            fail("replicas", f"{oid(obj)}: spec.replicas is {got}, expected {expected}"
                             + (f" (--replicas {want} of the fronted service)" if name == fronted else ""))
        if name == fronted and want > 1:
            per_replica = ctx.get("fronted_volumes") and ctx.get("fronted_per_replica")
            kind = "StatefulSet" if per_replica else "Deployment"
            if obj["kind"] != kind:
                fail("replicas", f"{oid(obj)}: the fronted service scaled to {want} should be a {kind}")
            if per_replica:
                claims = sorted(c["metadata"]["name"] for c in obj["spec"].get("volumeClaimTemplates") or [])
                if claims != sorted(ctx["fronted_volumes"]):
                    fail("replicas", f"{oid(obj)}: each replica should claim {ctx['fronted_volumes']}, claims {claims}")
                if obj["spec"].get("podManagementPolicy") != "Parallel":
                    fail("replicas", f"{oid(obj)}: replicas of a cache should start together (podManagementPolicy Parallel)")
    if not any(o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["name"] == fronted for o in objects):
        fail("replicas", f"no Deployment or StatefulSet is named after the fronted service {fronted!r}")
    nodes = sum(p.get("count", 0) for p in plan.get("cluster", {}).get("node_pools") or [])
    if nodes < want:
        fail("replicas", f"cluster.node_pools have {nodes} node(s) for {want} replicas (one node each)")


def check_jobs(objects, ctx):
    """One Job per post_start_jobs entry, never restarted in place, its
    script as the template gives it (Kubernetes' `$(` escaped), and
    shellcheck-clean for the shell its command names."""
    jobs = [o for o in objects if o["kind"] == "Job"]
    names = sorted(o["metadata"]["labels"]["app.kubernetes.io/name"].removeprefix("job-") for o in jobs)
    if names != sorted(ctx.get("post_start_jobs") or []):
        fail("jobs", f"Jobs {names} for post_start_jobs {ctx.get('post_start_jobs')}")
    for o in jobs:
        spec = o["spec"]["template"]["spec"]
        if spec.get("restartPolicy") != "Never":
            fail("jobs", f"{oid(o)}: restartPolicy {spec.get('restartPolicy')!r}, expected Never (a new pod per try)")
        cmd = spec["containers"][0]["command"]
        if len(cmd) != 3 or cmd[1] != "-c":
            fail("jobs", f"{oid(o)}: command {cmd[:2]} is not SHELL -c SCRIPT")
        script = re.sub(r"\$\$\(", "$(", cmd[2])
        if re.search(r"(?<!\$)\$\((?!\()", cmd[2].replace("$$(", "")):
            fail("jobs", f"{oid(o)}: the script has a `$(` Kubernetes would expand")
        shell = "bash" if cmd[0].endswith("bash") else "sh"
        if shutil.which("shellcheck"):
            with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
                f.write(script if script.startswith("#!") else "#!/bin/sh\n" + script)
            r = subprocess.run(["shellcheck", "-s", shell, f.name], capture_output=True, text=True)
            os.unlink(f.name)
            if r.returncode != 0:
                fail("jobs", f"{oid(o)}: shellcheck -s {shell}: {r.stdout[:400]}")


def check_plan(plan, ctx, raw, kv):
    """Every check of one rendered plan; raises Failure at the first problem."""
    for key in ("objects", "cluster", "namespace", "monthly_usd", "notes"):
        if key not in plan:
            fail("plan", f"the JSON has no {key!r}")
    objects, namespace = plan["objects"], plan["namespace"]
    check_schema(objects, kv)
    check_names(objects, namespace)
    check_duplicates(objects)
    check_namespaces(objects, namespace)
    check_workload_selectors(objects)
    check_services(objects)
    check_refs(objects)
    check_var_refs(objects)
    check_volume_mounts(objects)
    check_load_balancer(objects)
    check_secret(objects, ctx, raw)
    check_replicas(plan, ctx)
    check_jobs(objects, ctx)


# ---------------------------------------------------------------------------
# Refusals

def check_stateful_refusal(rc, out, err, fronted, volumes):
    msg = err.strip()
    if rc == 0:
        fail("refusal", f"--replicas 3 was accepted although service {fronted!r} keeps state in volumes {volumes}")
    for part in ("--replicas 3", f'service "{fronted}"', "keeps state in volumes") + tuple(volumes):
        if part not in msg:
            fail("refusal", f"--replicas 3 was refused (exit {rc}) but the message does not say {part!r}: {msg!r}")
    if out.strip():
        fail("refusal", f"--replicas 3 was refused but printed a plan on stdout anyway: {out[:200]!r}")


def check_post_start_refusal(rc, out, err, owners, also_ok=()):
    """owners: 'service "NAME"' for each service with a post-start script, or "the template's"."""
    msg = err.strip()
    if rc == 0:
        fail("refusal", f"the template has post-start scripts ({', '.join(owners)}) but LKE rendered it (exit 0)")
    if out.strip():
        fail("refusal", f"refused (exit {rc}) but printed a plan on stdout anyway: {out[:200]!r}")
    if any(all(p in msg for p in parts) for parts in also_ok):
        return
    if "LKE does not run it yet" not in msg or "post-start script" not in msg:
        fail("refusal", f"refused (exit {rc}) but the message does not say it is the post-start script "
                        f"LKE does not run yet: {msg!r}")
    if not any(o in msg for o in owners):
        fail("refusal", f"refused (exit {rc}) but the message names none of {owners}: {msg!r}")


# ---------------------------------------------------------------------------
# Running linode-ai

class Runner:
    def __init__(self, binary, work):
        self.binary = binary
        self.work = work
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("LINODE_", "XDG_"))}
        self.env.update({
            "HOME": os.path.join(work, "home"),
            "XDG_CONFIG_HOME": os.path.join(work, "config"),
            "XDG_DATA_HOME": os.path.join(work, "data"),
            "XDG_CACHE_HOME": os.path.join(work, "cache"),
            "XDG_STATE_HOME": os.path.join(work, "state"),
            "NO_COLOR": "1",
            "LINODE_CLI_TOKEN": "",
            "LINODE_CLI_API_HOST": "127.0.0.1:9",
            "LINODE_CLI_API_SCHEME": "http",
        })
        os.makedirs(self.env["HOME"], exist_ok=True)

    def run(self, *args):
        p = subprocess.run([self.binary, *args], env=self.env, capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args):
        rc, out, err = self.run(*args)
        if rc != 0:
            die(f"`linode-ai {' '.join(args)}` failed (exit {rc}): {err.strip()}")
        return out

    def json(self, *args):
        out = self.ok(*args)
        try:
            return json.loads(out)
        except ValueError as e:
            die(f"`linode-ai {' '.join(args)}` did not print JSON ({e}): {out[:300]!r}")

    def project(self, template):
        d = os.path.join(self.work, "projects", template)
        self.ok("init", template, "--directory", d)
        # Values of every quoting form, and a secret no template declares: the
        # dry run must redact them all (as tests/check-user-data.sh adds).
        with open(os.path.join(d, ".env"), "a") as f:
            f.write('EXTRA="two\\nlines # not a comment"\n')
            f.write("QUOTED='k $x \"q\" $(y)'\n")
            f.write(f"LKE_TEST_SECRET=s3cr3t-{os.urandom(8).hex()}\n")
        return d

    def lke(self, directory, replicas=None):
        args = ["deploy", "--target", "lke", "--dry-run", "--json", "--directory", directory]
        if replicas is not None:
            args += ["--replicas", str(replicas)]
        return self.run(*args)


def parse_dotenv(text):
    """The project's .env as linode-ai reads it (host/src/blueprint/envfile.rs)."""
    out, i, n = {}, 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        eq = text.find("=", i)
        nl = text.find("\n", i)
        if eq == -1 or (nl != -1 and nl < eq):
            raise ValueError(f"line without '=': {text[i:nl]!r}")
        key = text[i:eq].strip()
        if key.startswith("export "):
            key = key[len("export "):].strip()
        i = eq + 1
        while i < n and text[i] in " \t":
            i += 1
        value = ""
        if i < n and text[i] == "'":
            end = text.index("'", i + 1)
            value, i = text[i + 1:end], end + 1
        elif i < n and text[i] == '"':
            i += 1
            escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
            while text[i] != '"':
                if text[i] == "\\" and i + 1 < n and text[i + 1] in escapes:
                    value += escapes[text[i + 1]]
                    i += 2
                else:
                    value += text[i]
                    i += 1
            i += 1
        else:
            start = i
            while i < n and text[i] != "\n":
                if text[i] == "#" and (i == start or text[i - 1] in " \t"):
                    break
                i += 1
            value = text[start:i].strip()
        while i < n and text[i] != "\n":
            i += 1
        out[key] = value
    return out


def dns_label(s):
    """As host/src/targets/lke/manifests.rs names objects after services."""
    out = "".join(c if c.isascii() and c.isalnum() else "-" for c in s.lower())[:63]
    return out.strip("-")


def template_facts(runner, name):
    t = runner.json("templates", "show", name, "--json")
    linode = t["deploy"]["linode"]
    services = linode["services"]
    fronts = [s["name"] for s in services if s.get("front")]
    with_port = [s["name"] for s in services if s.get("port")]
    routed = [r["service"] for r in linode.get("proxy", {}).get("routes") or [] if r.get("service")]
    # What the proxy fronts, as the stack decides it (host/src/blueprint/stack.rs).
    fronted = fronts[0] if fronts else (with_port[0] if len(with_port) == 1 else routed[0])
    specs = (t.get("env") or {}).get("optional", []) + (t.get("env") or {}).get("required", [])
    owners = [f'service "{s["name"]}"' for s in services if s.get("post_start_script")]
    if linode.get("post_start_script"):
        owners.append("the template's")
    jobs = [j["name"] for j in linode.get("post_start_jobs") or []]
    if jobs:
        # On LKE its post_start_jobs stand for the scripts.
        owners = []
    front_spec = next(s for s in services if s["name"] == fronted)
    return {
        "name": name,
        "fronted": dns_label(fronted),
        "fronted_service": fronted,
        "fronted_volumes": [v.split(":")[0] for v in front_spec.get("volumes") or []],
        "fronted_per_replica": bool(front_spec.get("volumes_per_replica")),
        "public": {s["name"] for s in specs if s.get("public")},
        "defaults": {s["name"]: s["default"] for s in specs if s.get("default") is not None},
        "post_start_owners": owners,
        "post_start_jobs": jobs,
    }


def render(runner, facts, directory, replicas, kv_check, kv, label=None):
    """Renders and checks one plan; returns it."""
    label = label or facts["name"]
    rc, out, err = runner.lke(directory, replicas)
    if rc != 0:
        die(f"{label}: `deploy --target lke --dry-run --json"
            f"{f' --replicas {replicas}' if replicas else ''}` failed (exit {rc}): {err.strip()}")
    try:
        plan = json.loads(out)
    except ValueError as e:
        die(f"{label}: the LKE dry run did not print JSON ({e})")
    with open(os.path.join(directory, ".env")) as f:
        env = parse_dotenv(f.read())
    ctx = dict(facts, env=env, replicas=replicas or 1)
    if kv_check:
        try:
            check_plan(plan, ctx, out, kv)
        except Failure as e:
            die(f"{label}{f' --replicas {replicas}' if replicas else ''}: [{e.check}] {e.msg}")
    return plan, ctx, out


def template_copy(name, work, suffix, edit):
    """A copy of the stock template `name`, changed by `edit(doc)`, to install as `name-suffix`."""
    import yaml
    with open(os.path.join(REPO, "templates", "index.yml")) as f:
        index = yaml.safe_load(f)
    path = next(t["path"] for t in index["templates"] if t["name"] == name)
    with open(os.path.join(REPO, "templates", path)) as f:
        doc = yaml.safe_load(f)
    edit(doc)
    doc["name"] = f"{name}-{suffix}"
    d = os.path.join(work, "copies", doc["name"])
    os.makedirs(d)
    with open(os.path.join(d, "template.yml"), "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return d, doc["name"]


def without_jobs(name, work):
    """A copy without its post_start_jobs (its scripts kept): refused on LKE."""
    return template_copy(name, work, "nojobs", lambda doc: doc["deploy"]["linode"].pop("post_start_jobs", None))


def without_post_start(name, work):
    """A copy without its post-start scripts, to install."""
    def edit(doc):
        linode = doc["deploy"]["linode"]
        linode.pop("post_start_script", None)
        for s in linode["services"]:
            s.pop("post_start_script", None)
    return template_copy(name, work, "nopost", edit)


# ---------------------------------------------------------------------------

def validate_all(runner, kv):
    stock = [t["name"] for t in runner.json("templates", "list", "--json") if t.get("source") == "stock"]
    if not stock:
        die("`templates list --json` lists no stock template")
    runner.ok("templates", "add", STATELESS_TEMPLATE)
    refused = []
    for name in stock + ["stateless-api"]:
        facts = template_facts(runner, name)
        d = runner.project(name)
        label = name if name in stock else f"{name} (test template tests/lke/stateless-api)"
        if facts["post_start_owners"]:
            rc, out, err = runner.lke(d)
            try:
                check_post_start_refusal(rc, out, err, facts["post_start_owners"])
                # With --replicas 3 either reason may come first.
                rc3, out3, err3 = runner.lke(d, 3)
                check_post_start_refusal(rc3, out3, err3, facts["post_start_owners"],
                                         also_ok=[("--replicas 3", 'service "', "keeps state in volumes")])
            except Failure as e:
                die(f"{name}: [{e.check}] {e.msg}")
            print(f"ok: {name}: refused on LKE (exit {rc}): {err.strip().removeprefix('error: ')}")
            refused.append(name)
            continue
        plan, ctx, _ = render(runner, facts, d, None, True, kv)
        n = len(plan["objects"])
        if facts["post_start_jobs"]:
            # Without them, the scripts alone are refused.
            cd, copy_name = without_jobs(name, runner.work)
            runner.ok("templates", "add", cd)
            cfacts = template_facts(runner, copy_name)
            rc, out, err = runner.lke(runner.project(copy_name))
            try:
                check_post_start_refusal(rc, out, err, cfacts["post_start_owners"])
            except Failure as e:
                die(f"{name} without its post_start_jobs: [{e.check}] {e.msg}")
        rc, out, err = runner.lke(d, 3)
        if facts["fronted_volumes"] and not facts["fronted_per_replica"]:
            try:
                check_stateful_refusal(rc, out, err, facts["fronted"], facts["fronted_volumes"])
            except Failure as e:
                die(f"{name}: [{e.check}] {e.msg}")
            scaled = f"--replicas 3 refused ({facts['fronted']} keeps state in {', '.join(facts['fronted_volumes'])})"
        else:
            plan3, _, _ = render(runner, facts, d, 3, True, kv)
            kind = "StatefulSet" if facts["fronted_volumes"] else "Deployment"
            scaled = f"--replicas 3 puts 3 replicas in {kind}/{facts['fronted']} ({len(plan3['objects'])} objects, checked)"
        print(f"ok: {label}: {n} objects pass kubernetes-validate {KUBERNETES_VALIDATE} (strict, Kubernetes "
              f"{' and '.join(K8S_VERSIONS)}) and the structural checks; {scaled}")
    # What the refused templates would render once post-start scripts run on LKE.
    for name in refused:
        d, copy_name = without_post_start(name, runner.work)
        runner.ok("templates", "add", d)
        facts = template_facts(runner, copy_name)
        plan, _, _ = render(runner, facts, runner.project(copy_name), None, True, kv,
                            label=f"{name} without its post-start scripts (test copy {copy_name})")
        print(f"ok: {name} without its post-start scripts (a test copy): {len(plan['objects'])} objects pass "
              "kubernetes-validate and the structural checks")


def self_test(runner, kv):
    """Breaks one thing at a time in copies of good plans; each must be caught by its check."""
    runner.ok("templates", "add", STATELESS_TEMPLATE)
    plans = {}
    for name, replicas in (("stateless-api", 3), ("llm-api", None), ("chat-webui", None)):
        facts = template_facts(runner, name)
        d = runner.project(name)
        plans[name] = render(runner, facts, d, replicas, True, kv)
        print(f"self-test: {name}: the unbroken plan passes every check")

    def obj(plan, kind, name):
        return next(o for o in plan["objects"] if o["kind"] == kind and o["metadata"]["name"] == name)

    def api(p):
        return obj(p, "Deployment", "api")

    def api_c(p):
        return api(p)["spec"]["template"]["spec"]["containers"][0]

    def proxy_c(p):
        return obj(p, "Deployment", "proxy")["spec"]["template"]["spec"]["containers"][0]

    def env_named(c, name):
        return next(e for e in c["env"] if e["name"] == name)

    def move_banner_first(p):
        env = api_c(p)["env"]
        banner = env_named(api_c(p), "BANNER")
        env.remove(banner)
        env.insert(0, banner)

    def leak_secret(p, ctx):
        obj(p, "Secret", "app-env")["stringData"]["API_KEY"] = ctx["env"]["API_KEY"]

    def leak_in_annotation(p, ctx):
        api(p)["metadata"]["annotations"] = {"note": ctx["env"]["LKE_TEST_SECRET"]}

    def job_c(p, which):
        return next(o for o in p["objects"] if o["kind"] == "Job"
                    and o["metadata"]["name"].startswith(which))["spec"]["template"]["spec"]["containers"][0]

    S, L, W = "stateless-api", "llm-api", "chat-webui"
    cases = [
        ("schema", S, "an unknown container field (strict)", lambda p, c: api_c(p).update(bogusField=1)),
        ("schema", S, "replicas as a string", lambda p, c: api(p)["spec"].update(replicas="3")),
        ("schema", L, "a Service port without its number", lambda p, c: obj(p, "Service", "vllm")["spec"]["ports"][0].pop("port")),
        ("names", S, "an upper-case Deployment name", lambda p, c: obj(p, "Deployment", "proxy")["metadata"].update(name="Proxy")),
        ("names", S, "an underscore in a Service name", lambda p, c: obj(p, "Service", "api")["metadata"].update(name="api_svc")),
        ("names", S, "a 16-character port name", lambda p, c: api_c(p)["ports"][0].update(name="http-api-primary")),
        ("names", S, "a label value with a space", lambda p, c: api(p)["metadata"]["labels"].update({"linode-ai/env": "a b"})),
        ("duplicates", S, "an env var defined twice", lambda p, c: api_c(p)["env"].append({"name": "API_KEY", "value": "x"})),
        ("duplicates", S, "a Service port listed twice", lambda p, c: obj(p, "Service", "proxy")["spec"]["ports"].append({"name": "https2", "port": 443})),
        ("duplicates", S, "a path mounted twice", lambda p, c: proxy_c(p)["volumeMounts"].append({"name": "data", "mountPath": "/data"})),
        ("namespace", S, "a Service in another namespace", lambda p, c: obj(p, "Service", "api")["metadata"].update(namespace="default")),
        ("namespace", S, "a ConfigMap without a namespace", lambda p, c: obj(p, "ConfigMap", "app-boot")["metadata"].pop("namespace")),
        ("workload-selector", S, "a Deployment selector changed", lambda p, c: api(p)["spec"]["selector"]["matchLabels"].update({"app.kubernetes.io/name": "apii"})),
        ("workload-selector", L, "a StatefulSet selector with an extra label", lambda p, c: obj(p, "StatefulSet", "vllm")["spec"]["selector"]["matchLabels"].update(tier="x")),
        ("service-selector", S, "a Service selecting no pods", lambda p, c: obj(p, "Service", "api")["spec"]["selector"].update({"app.kubernetes.io/name": "nope"})),
        ("service-selector", S, "a Service selecting every workload", lambda p, c: obj(p, "Service", "api")["spec"].update(selector={"app.kubernetes.io/managed-by": "linode-ai"})),
        ("service-selector", S, "a Service targeting a port the pods lack", lambda p, c: obj(p, "Service", "cache")["spec"]["ports"][0].update(targetPort=6334)),
        ("refs", S, "a secretKeyRef key not in the Secret", lambda p, c: env_named(api_c(p), "API_KEY")["valueFrom"]["secretKeyRef"].update(key="API_KEY2")),
        ("refs", S, "a secretKeyRef naming no Secret", lambda p, c: env_named(proxy_c(p), "API_KEY")["valueFrom"]["secretKeyRef"].update(name="app-envs")),
        ("refs", S, "a configMapKeyRef key not in the ConfigMap", lambda p, c: env_named(proxy_c(p), "LINODE_AI_HOSTNAME")["valueFrom"]["configMapKeyRef"].update(key="HOSTNAME")),
        ("refs", S, "a subPath naming no ConfigMap key", lambda p, c: proxy_c(p)["volumeMounts"][0].update(subPath="Caddyfile.old")),
        ("refs", S, "a claimName naming no PVC", lambda p, c: obj(p, "Deployment", "proxy")["spec"]["template"]["spec"]["volumes"][1]["persistentVolumeClaim"].update(claimName="proxy-store")),
        ("var-refs", S, "an arg naming an undefined $(VAR)", lambda p, c: api_c(p)["args"].append("$(NOT_DEFINED)")),
        ("var-refs", S, "an env value using a variable defined after it", lambda p, c: move_banner_first(p)),
        ("var-refs", L, "an arg left in ${VAR} form", lambda p, c: obj(p, "StatefulSet", "vllm")["spec"]["template"]["spec"]["containers"][0]["args"].__setitem__(1, "${LLM_MODEL}")),
        ("volume-mounts", S, "a volumeMount naming no volume", lambda p, c: proxy_c(p)["volumeMounts"][2].update(name="certs")),
        ("volume-mounts", L, "a mount naming no volumeClaimTemplate", lambda p, c: obj(p, "StatefulSet", "vllm")["spec"]["volumeClaimTemplates"][0]["metadata"].update(name="hf-cache2")),
        ("load-balancer", S, "the LoadBalancer without 443", lambda p, c: obj(p, "Service", "proxy")["spec"]["ports"].pop(1)),
        ("load-balancer", S, "a second LoadBalancer", lambda p, c: obj(p, "Service", "api")["spec"].update(type="LoadBalancer")),
        ("secret", S, "the real API key in the Secret", leak_secret),
        ("secret", S, "an undeclared secret shown", lambda p, c: obj(p, "Secret", "app-env")["stringData"].update(LKE_TEST_SECRET=c["env"]["LKE_TEST_SECRET"])),
        ("secret", S, "a secret value in an annotation", leak_in_annotation),
        ("secret", L, "a public variable with another value", lambda p, c: obj(p, "Secret", "app-env")["stringData"].update(LLM_MODEL="other/model")),
        ("secret", S, "a project variable missing from the Secret", lambda p, c: obj(p, "Secret", "app-env")["stringData"].pop("QUOTED")),
        ("replicas", S, "the fronted Deployment at 1 replica", lambda p, c: api(p)["spec"].update(replicas=1)),
        ("replicas", S, "the stateful service scaled too", lambda p, c: obj(p, "StatefulSet", "cache")["spec"].update(replicas=3)),
        ("replicas", S, "fewer nodes than replicas", lambda p, c: p["cluster"]["node_pools"][0].update(count=1)),
        ("jobs", W, "a post-start Job missing", lambda p, c: p["objects"].remove(next(o for o in p["objects"] if o["kind"] == "Job"))),
        ("jobs", W, "a Job restarted in place", lambda p, c: next(o for o in p["objects"] if o["kind"] == "Job")["spec"]["template"]["spec"].update(restartPolicy="OnFailure")),
        ("jobs", W, "a script's $(VAR) Kubernetes would expand before the shell", lambda p, c: job_c(p, "pull-model").__setitem__("command", ["/bin/sh", "-c", "echo $(OLLAMA_MODEL)\n"])),
        ("jobs", W, "a script shellcheck refuses", lambda p, c: job_c(p, "pull-model").__setitem__("command", ["/bin/sh", "-c", "cd $HOME\nls [ x\n"])),
    ]
    for check, name, what, mutate in cases:
        plan, ctx, raw = plans[name]
        broken = copy.deepcopy(plan)
        mutate(broken, ctx)
        broken_raw = raw if check != "secret" else json.dumps(broken)
        try:
            check_plan(broken, ctx, broken_raw, kv)
        except Failure as e:
            if e.check != check:
                die(f"self-test: {what}: caught by [{e.check}], not by [{check}]: {e.msg}")
            print(f"self-test: ok: [{check}] {what}: {e.msg}")
            continue
        die(f"self-test: {what} ({name}) was not caught by any check")

    # The refusal checks, on made-up answers.
    refusals = [
        ("an accepted --replicas 3 on a stateful service",
         lambda: check_stateful_refusal(0, "{}", "", "vllm", ["hf-cache"])),
        ("a stateful refusal not naming the service",
         lambda: check_stateful_refusal(1, "", "error: --replicas 3: a service keeps state in volumes (hf-cache:/x)", "vllm", ["hf-cache"])),
        ("a stateful refusal not naming the volume",
         lambda: check_stateful_refusal(1, "", 'error: --replicas 3: service "vllm" keeps state in volumes', "vllm", ["hf-cache"])),
        ("a post-start template rendered",
         lambda: check_post_start_refusal(0, "{}", "", ['service "ollama"'])),
        ("a post-start refusal not naming the service",
         lambda: check_post_start_refusal(1, "", "error: a post-start script runs on a VM only; LKE does not run it yet", ['service "ollama"'])),
        ("a post-start refusal without the reason",
         lambda: check_post_start_refusal(1, "", 'error: service "ollama" cannot be deployed', ['service "ollama"'])),
    ]
    for what, call in refusals:
        try:
            call()
        except Failure as e:
            print(f"self-test: ok: [refusal] {what}: {e.msg}")
            continue
        die(f"self-test: {what} was not caught")
    print(f"self-test: ok: {len(cases) + len(refusals)} broken copies, each rejected by the check meant for it")


def main():
    args = sys.argv[1:]
    selftest = "--self-test" in args
    args = [a for a in args if a != "--self-test"]
    if len(args) != 1:
        die("usage: validate_manifests.py [--self-test] LINODE_AI_BINARY")
    binary = os.path.abspath(args[0])
    if not os.access(binary, os.X_OK):
        die(f"{binary} is not an executable linode-ai")
    enter_venv()
    try:
        import kubernetes_validate.utils as kv
        from kubernetes_validate.version import __version__
    except ImportError as e:
        die(f"kubernetes_validate cannot be imported from {VENV} ({e}): run .ci/run")
    if __version__ != KUBERNETES_VALIDATE:
        die(f"{VENV} has kubernetes-validate {__version__}, not {KUBERNETES_VALIDATE}: run .ci/run")
    supported = {kv.major_minor(v) for v in kv.all_versions()}
    for v in K8S_VERSIONS:
        if v not in supported:
            die(f"kubernetes-validate {__version__} has no schemas for Kubernetes {v}")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lke-validate-") as work:
        runner = Runner(binary, work)
        if selftest:
            self_test(runner, kv)
        else:
            validate_all(runner, kv)
    print(f"ok: LKE objects checked in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
