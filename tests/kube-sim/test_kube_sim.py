#!/usr/bin/env python3
"""Tests for kube_sim.py: python3 tests/kube-sim/test_kube_sim.py

One stand-in for the whole module, fast timings, a namespace per test (GpuNodes starts
a second one with GPU nodes, since nodes are built at start).  Nothing asserts on
wall-clock time: state changes are awaited by polling (wait_for), whose timeout is
only a hang guard.
"""

import http.client
import json
import os
import re
import socket
import ssl
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kube_sim_client import APPLY, KubeSim, wait_for  # noqa: E402

K = None
FAST = {"ready_ms": 150, "lb_ms": 150, "delete_ms": 150, "observe_ms": 20, "tick_ms": 10}
SAFE = "[bcdfghjklmnpqrstvwxz2456789]"


def setUpModule():
    global K
    K = KubeSim(config=FAST)
    K.start()


def tearDownModule():
    K.stop()


def ns_obj(name, labels=None):
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def make_ns(name):
    status, obj = K.apply("/api/v1/namespaces/" + name, ns_obj(name))
    assert status in (200, 201), (status, obj)
    return obj


def deployment(name, ns, replicas=1, labels=None, image="nginx:1.25", containers=None, **spec_extra):
    labels = labels or {"app": name}
    spec = {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)},
                         "spec": {"containers": containers or [{"name": "app", "image": image,
                                                                "ports": [{"containerPort": 8080, "name": "http"}]}]}}}
    spec.update(spec_extra)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": spec}


def dep_path(ns, name):
    return "/apis/apps/v1/namespaces/%s/deployments/%s" % (ns, name)


def deployment_ready(ns, name):
    status, d = K.get(dep_path(ns, name))
    if status != 200:
        return None
    st = d.get("status") or {}
    want = d["spec"]["replicas"]
    avail = {c["type"]: c["status"] for c in st.get("conditions") or []}.get("Available")
    if st.get("observedGeneration") == d["metadata"]["generation"] and st.get("readyReplicas", 0) == want and \
            st.get("updatedReplicas", 0) == want and st.get("replicas", 0) == want and avail == "True":
        return d
    return None


def pods(ns, selector=None, k=None):
    q = {"labelSelector": selector} if selector else None
    status, lst = (k or K).get("/api/v1/namespaces/%s/pods" % ns, query=q)
    assert status == 200, lst
    return lst["items"]


def daemonset(name, ns, labels=None, image="busybox:1.36", containers=None, **spec_extra):
    labels = labels or {"app": name}
    spec = {"selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)},
                         "spec": {"containers": containers or [{"name": "agent", "image": image}]}}}
    spec.update(spec_extra)
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": ns},
            "spec": spec}


def ds_path(ns, name):
    return "/apis/apps/v1/namespaces/%s/daemonsets/%s" % (ns, name)


def daemonset_ready(ns, name, k=None):
    status, d = (k or K).get(ds_path(ns, name))
    if status != 200:
        return None
    st, gen = d.get("status") or {}, d["metadata"]["generation"]
    want = st.get("desiredNumberScheduled")
    if st.get("observedGeneration") == gen and st.get("numberReady") == want and \
            st.get("updatedNumberScheduled", 0) == want and st.get("numberAvailable", 0) == want:
        return d
    return None


def unschedulable(ns, k=None):
    """The PodScheduled=False conditions of the namespace's pods."""
    out = []
    for p in pods(ns, k=k):
        for c in p["status"].get("conditions") or []:
            if c["type"] == "PodScheduled" and c["status"] == "False":
                out.append(c)
    return out


def gpu_deployment(name, ns, replicas=1, **spec_extra):
    gpu = {"name": "llm", "image": "vllm/vllm-openai:v0.10.2", "resources": {"limits": {"nvidia.com/gpu": 1}}}
    return deployment(name, ns, replicas=replicas, containers=[gpu], **spec_extra)


def job(name, ns, restart_policy="Never", image="busybox:1.36", containers=None, **spec_extra):
    pod_spec = {"containers": containers or [{"name": "task", "image": image}]}
    if restart_policy is not None:
        pod_spec["restartPolicy"] = restart_policy
    spec = {"template": {"spec": pod_spec}}
    spec.update(spec_extra)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": ns}, "spec": spec}


def job_path(ns, name):
    return "/apis/batch/v1/namespaces/%s/jobs/%s" % (ns, name)


def job_with(ns, name, ctype):
    """The Job once it has condition ctype True."""
    status, j = K.get(job_path(ns, name))
    if status == 200 and any(c["type"] == ctype and c["status"] == "True"
                             for c in (j.get("status") or {}).get("conditions") or []):
        return j
    return None


def container_state(pod):
    return (pod["status"].get("containerStatuses") or [{}])[0].get("state") or {}


# deployments/static/nvidia-device-plugin.yml of NVIDIA/k8s-device-plugin, as a cluster admin applies it
DEVICE_PLUGIN = {
    "apiVersion": "apps/v1", "kind": "DaemonSet",
    "metadata": {"name": "nvidia-device-plugin-daemonset", "namespace": "kube-system"},
    "spec": {"selector": {"matchLabels": {"name": "nvidia-device-plugin-ds"}},
             "updateStrategy": {"type": "RollingUpdate"},
             "template": {"metadata": {"labels": {"name": "nvidia-device-plugin-ds"}},
                          "spec": {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists",
                                                    "effect": "NoSchedule"}],
                                   "priorityClassName": "system-node-critical",
                                   "containers": [{"image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.0",
                                                   "name": "nvidia-device-plugin-ctr",
                                                   "env": [{"name": "FAIL_ON_INIT_ERROR", "value": "false"}],
                                                   "securityContext": {"allowPrivilegeEscalation": False,
                                                                       "capabilities": {"drop": ["ALL"]}},
                                                   "volumeMounts": [{"name": "device-plugin",
                                                                     "mountPath": "/var/lib/kubelet/device-plugins"}]}],
                                   "volumes": [{"name": "device-plugin",
                                                "hostPath": {"path": "/var/lib/kubelet/device-plugins"}}]}}}}
DEVICE_PLUGIN_PATH = ds_path("kube-system", "nvidia-device-plugin-daemonset")


class AuthAndTLS(unittest.TestCase):
    def test_requests_without_or_with_a_wrong_token_get_the_401_status(self):
        for token in (False, "wrong-token"):
            status, obj = K.json("GET", "/api/v1/namespaces", token=token)
            self.assertEqual(status, 401)
            self.assertEqual(obj, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                   "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        status, _ = K.json("PATCH", "/api/v1/namespaces/x", "{}", APPLY, token=False)
        self.assertEqual(status, 401)
        status, obj = K.get("/api/v1/namespaces")
        self.assertEqual(status, 200)

    def test_the_certificate_verifies_for_127_0_0_1_and_localhost_with_the_printed_ca(self):
        port = int(K.server.rsplit(":", 1)[1])
        for host in ("127.0.0.1", "localhost"):
            ctx = ssl.create_default_context(cadata=K.info["ca_pem"])
            with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                with ctx.wrap_socket(raw, server_hostname=host) as tls:
                    self.assertTrue(tls.getpeercert())
        ctx = ssl.create_default_context()  # the system store does not know the stand-in's CA
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with self.assertRaises(ssl.SSLError):
                ctx.wrap_socket(raw, server_hostname="127.0.0.1")

    def test_the_kubeconfig_is_lke_shaped(self):
        with open(K.info["kubeconfig"]) as f:
            text = f.read()
        self.assertIn("server: " + K.server, text)
        self.assertIn("token: " + K.info["token"], text)
        self.assertIn("certificate-authority-data: ", text)
        self.assertIn("current-context: lke424242-ctx", text)


class Discovery(unittest.TestCase):
    def test_version_and_group_documents(self):
        status, v = K.get("/version")
        self.assertEqual(status, 200)
        self.assertEqual((v["major"], v["minor"]), ("1", "33"))
        self.assertTrue(v["gitVersion"].startswith("v1.33."))
        self.assertEqual(K.get("/api")[1]["versions"], ["v1"])
        groups = {g["name"]: g for g in K.get("/apis")[1]["groups"]}
        self.assertEqual(groups["apps"]["preferredVersion"], {"groupVersion": "apps/v1", "version": "v1"})
        self.assertEqual(K.get("/apis/apps")[1]["kind"], "APIGroup")

    def test_resource_lists_name_kind_scope_and_verbs(self):
        core = {r["name"]: r for r in K.get("/api/v1")[1]["resources"]}
        self.assertEqual(core["namespaces"]["namespaced"], False)
        self.assertEqual(core["namespaces"]["kind"], "Namespace")
        self.assertNotIn("deletecollection", core["namespaces"]["verbs"])
        for name, kind in (("secrets", "Secret"), ("configmaps", "ConfigMap"), ("services", "Service"),
                           ("persistentvolumeclaims", "PersistentVolumeClaim"), ("pods", "Pod")):
            self.assertTrue(core[name]["namespaced"], name)
            self.assertEqual(core[name]["kind"], kind)
            self.assertEqual(core[name]["verbs"], ["create", "delete", "deletecollection", "get", "list", "patch",
                                                   "update", "watch"])
        self.assertEqual(core["pods/log"]["verbs"], ["get"])
        self.assertEqual(core["persistentvolumeclaims"]["shortNames"], ["pvc"])
        apps = K.get("/apis/apps/v1")[1]
        self.assertEqual(apps["groupVersion"], "apps/v1")
        names = {r["name"]: r for r in apps["resources"]}
        self.assertEqual(names["deployments"]["kind"], "Deployment")
        self.assertEqual(names["statefulsets"]["shortNames"], ["sts"])
        self.assertEqual(names["deployments/scale"]["group"], "autoscaling")

    def test_unknown_paths_are_404_status(self):
        for path in ("/apis/networking.k8s.io/v1", "/api/v1/widgets", "/openapi/v2", "/api/v1/pods/x"):
            status, obj = K.get(path)
            self.assertEqual(status, 404, path)
            self.assertEqual(obj["reason"], "NotFound")
            self.assertEqual(obj["message"], "the server could not find the requested resource")

    def test_watch_is_refused_with_a_status(self):
        status, obj = K.get("/api/v1/namespaces/default/pods?watch=1")
        self.assertEqual(status, 400)
        self.assertIn("watch is not supported", obj["message"])


class Apply(unittest.TestCase):
    def test_create_then_update_resource_version_and_generation(self):
        ns = make_ns("apply-basics")
        self.assertEqual(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "apply-basics")
        self.assertEqual(ns["status"], {"phase": "Active"})
        status, d = K.apply(dep_path("apply-basics", "web"), deployment("web", "apply-basics", replicas=1))
        self.assertEqual(status, 201)
        m = d["metadata"]
        self.assertEqual(m["generation"], 1)
        self.assertRegex(m["uid"], r"^[0-9a-f-]{36}$")
        self.assertTrue(m["creationTimestamp"].endswith("Z"))
        self.assertEqual(m["managedFields"][0]["manager"], "linode-ai")
        self.assertEqual(m["managedFields"][0]["operation"], "Apply")
        self.assertIn("f:replicas", m["managedFields"][0]["fieldsV1"]["f:spec"])
        self.assertEqual(d["spec"]["strategy"]["type"], "RollingUpdate")      # defaults as the apiserver
        self.assertEqual(d["spec"]["revisionHistoryLimit"], 10)
        c = d["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(c["imagePullPolicy"], "IfNotPresent")
        self.assertEqual(c["ports"][0]["protocol"], "TCP")
        self.assertEqual(d["status"], {})
        rv1 = int(m["resourceVersion"])

        status, same = K.apply(dep_path("apply-basics", "web"), deployment("web", "apply-basics", replicas=1))
        self.assertEqual(status, 200)
        self.assertGreaterEqual(int(same["metadata"]["resourceVersion"]), rv1)  # the controller may have written
        self.assertEqual(same["metadata"]["generation"], 1)

        status, d2 = K.apply(dep_path("apply-basics", "web"), deployment("web", "apply-basics", replicas=3))
        self.assertEqual(status, 200)
        self.assertEqual(d2["metadata"]["generation"], 2)
        self.assertEqual(d2["spec"]["replicas"], 3)
        self.assertGreater(int(d2["metadata"]["resourceVersion"]), int(same["metadata"]["resourceVersion"]))
        self.assertEqual(d2["metadata"]["uid"], m["uid"])

        labelled = deployment("web", "apply-basics", replicas=3)
        labelled["metadata"]["labels"] = {"tier": "front"}
        status, d3 = K.apply(dep_path("apply-basics", "web"), labelled)
        self.assertEqual(status, 200)
        self.assertEqual(d3["metadata"]["generation"], 2)          # labels are not spec
        self.assertEqual(d3["metadata"]["labels"], {"tier": "front"})

    def test_a_no_op_apply_does_not_bump_the_resource_version(self):
        make_ns("apply-noop")
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apply-noop"},
              "data": {"a": "1"}}
        status, a = K.apply("/api/v1/namespaces/apply-noop/configmaps/c", cm)
        self.assertEqual(status, 201)
        self.assertNotIn("generation", a["metadata"])
        status, b = K.apply("/api/v1/namespaces/apply-noop/configmaps/c", cm)
        self.assertEqual(status, 200)
        self.assertEqual(a["metadata"]["resourceVersion"], b["metadata"]["resourceVersion"])

    def test_yaml_bodies_and_secret_string_data(self):
        make_ns("apply-yaml")
        body = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: apply-yaml\n"
                "stringData:\n  token: hunter2\ndata:\n  raw: aGk=\n")
        status, s = K.apply("/api/v1/namespaces/apply-yaml/secrets/s", body)
        self.assertEqual(status, 201, s)
        self.assertEqual(s["type"], "Opaque")
        self.assertEqual(s["data"], {"raw": "aGk=", "token": "aHVudGVyMg=="})
        self.assertNotIn("stringData", s)

    def test_fields_a_manager_stops_applying_are_removed(self):
        make_ns("apply-prune")
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apply-prune"},
              "data": {"a": "1", "b": "2"}}
        K.apply("/api/v1/namespaces/apply-prune/configmaps/c", cm)
        cm["data"] = {"a": "1"}
        status, out = K.apply("/api/v1/namespaces/apply-prune/configmaps/c", cm)
        self.assertEqual(status, 200)
        self.assertEqual(out["data"], {"a": "1"})

    def test_conflicts_between_managers_and_force(self):
        make_ns("apply-conflict")
        path = dep_path("apply-conflict", "web")
        K.apply(path, deployment("web", "apply-conflict", replicas=1))
        status, err = K.apply(path, deployment("web", "apply-conflict", replicas=4), manager="kubectl")
        self.assertEqual(status, 409)
        self.assertEqual(err["reason"], "Conflict")
        self.assertEqual(err["message"], 'Apply failed with 1 conflict: conflict with "linode-ai": .spec.replicas')
        self.assertEqual(err["details"]["causes"], [{"reason": "FieldManagerConflict",
                                                     "message": 'conflict with "linode-ai"',
                                                     "field": ".spec.replicas"}])
        status, out = K.apply(path, deployment("web", "apply-conflict", replicas=4), manager="kubectl", force=True)
        self.assertEqual(status, 200)
        self.assertEqual(out["spec"]["replicas"], 4)
        mine = [m for m in out["metadata"]["managedFields"] if m["manager"] == "linode-ai"][0]
        self.assertNotIn("f:replicas", mine["fieldsV1"]["f:spec"])
        # the same value from two managers is shared ownership, not a conflict
        status, out = K.apply(path, deployment("web", "apply-conflict", replicas=4), manager="linode-ai")
        self.assertEqual(status, 200)

    def test_unowned_defaults_stay_so_recreate_needs_rolling_update_null(self):
        make_ns("apply-recreate")
        path = dep_path("apply-recreate", "web")
        K.apply(path, deployment("web", "apply-recreate"))
        status, err = K.apply(path, deployment("web", "apply-recreate", strategy={"type": "Recreate"}))
        self.assertEqual(status, 422)                   # the defaulted rollingUpdate is nobody's: it stays
        self.assertIn("spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
                      "'Recreate'", err["message"])
        status, d = K.apply(path, deployment("web", "apply-recreate",
                                             strategy={"type": "Recreate", "rollingUpdate": None}))
        self.assertEqual(status, 200, d)
        self.assertEqual(d["spec"]["strategy"], {"type": "Recreate"})

    def test_stale_resource_version_in_the_body_is_a_conflict(self):
        make_ns("apply-rv")
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apply-rv"}}
        K.apply("/api/v1/namespaces/apply-rv/configmaps/c", cm)
        cm["metadata"]["resourceVersion"] = "1"
        cm["data"] = {"x": "y"}
        status, err = K.apply("/api/v1/namespaces/apply-rv/configmaps/c", cm)
        self.assertEqual(status, 409)
        self.assertIn("the object has been modified", err["message"])

    def test_dry_run_stores_nothing(self):
        make_ns("apply-dry")
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "apply-dry"}}
        status, _ = K.json("PATCH", "/api/v1/namespaces/apply-dry/configmaps/c?fieldManager=x&dryRun=All",
                           json.dumps(cm), APPLY)
        self.assertEqual(status, 201)
        self.assertEqual(K.get("/api/v1/namespaces/apply-dry/configmaps/c")[0], 404)


class ApplyErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        make_ns("errs")

    def test_selector_not_matching_the_template_is_422(self):
        d = deployment("web", "errs")
        d["spec"]["selector"] = {"matchLabels": {"app": "other"}}
        status, err = K.apply(dep_path("errs", "web"), d)
        self.assertEqual(status, 422)
        self.assertEqual(err["reason"], "Invalid")
        self.assertEqual(err["details"]["kind"], "Deployment")
        self.assertEqual(err["details"]["group"], "apps")
        self.assertEqual(err["details"]["causes"][0]["field"], "spec.template.metadata.labels")
        self.assertEqual(err["message"], 'Deployment.apps "web" is invalid: spec.template.metadata.labels: '
                                         'Invalid value: {"app":"web"}: `selector` does not match template `labels`')
        self.assertEqual(K.get(dep_path("errs", "web"))[0], 404)

    def test_bad_names(self):
        status, err = K.apply(dep_path("errs", "Bad_Name"), deployment("Bad_Name", "errs"))
        self.assertEqual(status, 422)
        self.assertEqual(err["details"]["causes"][0]["field"], "metadata.name")
        self.assertIn("a lowercase RFC 1123 subdomain must consist of", err["message"])
        svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1api"},
               "spec": {"ports": [{"port": 80}]}}
        status, err = K.apply("/api/v1/namespaces/errs/services/1api", svc)
        self.assertEqual(status, 422)
        self.assertIn("a DNS-1035 label must consist of", err["message"])
        status, err = K.apply("/api/v1/namespaces/a.b", ns_obj("a.b"))
        self.assertEqual(status, 422)
        self.assertIn("must not contain dots", err["message"])

    def test_container_env_and_port_rules(self):
        d = deployment("web", "errs", containers=[
            {"name": "App_1", "image": "x", "env": [{"name": "1BAD", "value": "v"}],
             "ports": [{"containerPort": 70000, "name": "a-very-long-port-name"}],
             "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
            {"name": "gpu", "image": "y", "resources": {"requests": {"nvidia.com/gpu": 1}}}])
        status, err = K.apply(dep_path("errs", "web"), d)
        self.assertEqual(status, 422)
        fields = {c["field"] for c in err["details"]["causes"]}
        self.assertEqual(fields, {"spec.template.spec.containers[0].name",
                                  "spec.template.spec.containers[0].env[0].name",
                                  "spec.template.spec.containers[0].ports[0].containerPort",
                                  "spec.template.spec.containers[0].ports[0].name",
                                  "spec.template.spec.containers[0].volumeMounts[0].name",
                                  "spec.template.spec.containers[1].resources.limits"})
        self.assertIn("Limit must be set for non overcommitable resources", err["message"])
        self.assertIn('Not found: "data"', err["message"])

    def test_missing_field_manager_is_the_patch_options_422(self):
        status, err = K.apply("/api/v1/namespaces/errs", ns_obj("errs"), manager=None)
        self.assertEqual(status, 422)
        self.assertEqual(err["message"], 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                                         'is required for apply patch')
        self.assertEqual(err["details"], {"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
            {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch",
             "field": "fieldManager"}]})

    def test_other_content_types_are_415(self):
        for ctype in ("application/merge-patch+json", "application/json", "application/strategic-merge-patch+json"):
            status, err = K.apply("/api/v1/namespaces/errs", ns_obj("errs"), content_type=ctype)
            self.assertEqual(status, 415, ctype)
            self.assertEqual(err["reason"], "UnsupportedMediaType")
            self.assertTrue(err["message"].startswith("the body of the request was in an unknown format"))

    def test_url_and_body_must_agree(self):
        status, err = K.apply(dep_path("errs", "web"), deployment("other", "errs"))
        self.assertEqual((status, err["reason"]), (400, "BadRequest"))
        self.assertEqual(err["message"], "the name of the object (other) does not match the name on the URL (web)")
        status, err = K.apply(dep_path("errs", "web"), deployment("web", "elsewhere"))
        self.assertEqual(status, 400)
        self.assertIn("does not match the namespace on the request", err["message"])
        d = deployment("web", "errs")
        d["apiVersion"] = "v1"
        status, err = K.apply(dep_path("errs", "web"), d)
        self.assertEqual((status, err["message"]), (400, "invalid object type: /v1, Kind=Deployment"))
        status, err = K.apply("/api/v1/namespaces/errs/services/web", deployment("web", "errs"))
        self.assertEqual((status, err["message"]), (400, "invalid object type: apps/v1, Kind=Deployment"))
        status, err = K.apply(dep_path("nope", "web"), deployment("web", "nope"))
        self.assertEqual((status, err["message"]), (404, 'namespaces "nope" not found'))

    def test_schema_errors_are_the_typed_patch_500(self):
        d = deployment("web", "errs", containers=[{"name": "app", "image": "x", "env": [{"name": "P", "value": 80}],
                                                   "imagePullPolicyy": "Always"}])
        status, err = K.apply(dep_path("errs", "web"), d)
        self.assertEqual(status, 500)
        self.assertNotIn("reason", err)
        self.assertTrue(err["message"].startswith("failed to create typed patch object (errs/web; "
                                                  "apps/v1, Kind=Deployment): errors:\n"), err["message"])
        self.assertIn('.spec.template.spec.containers[name="app"].env[name="P"].value: expected string, '
                      'got &value.valueUnstructured{Value:80}', err["message"])
        self.assertIn('.spec.template.spec.containers[name="app"].imagePullPolicyy: field not declared in schema',
                      err["message"])

    def test_service_secret_and_pvc_rules(self):
        svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
               "spec": {"ports": [{"port": 0}, {"port": 80, "nodePort": 80}], "type": "NodePort"}}
        status, err = K.apply("/api/v1/namespaces/errs/services/api", svc)
        self.assertEqual(status, 422)
        self.assertIn("spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive", err["message"])
        self.assertIn("spec.ports[0].name: Required value", err["message"])
        self.assertIn("spec.ports[1].nodePort: Invalid value: 80: provided port is not in the valid range",
                      err["message"])
        sec = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "admin"}}
        status, err = K.apply("/api/v1/namespaces/errs/secrets/s", sec)
        self.assertEqual((status, err["reason"]), (400, "BadRequest"))
        self.assertIn("illegal base64 data at input byte 4", err["message"])
        pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "p"}, "spec": {}}
        status, err = K.apply("/api/v1/namespaces/errs/persistentvolumeclaims/p", pvc)
        self.assertEqual(status, 422)
        self.assertIn("spec.accessModes: Required value: at least 1 access mode is required", err["message"])
        self.assertIn("spec.resources[storage]: Required value", err["message"])

    def test_selector_is_immutable(self):
        K.apply(dep_path("errs", "imm"), deployment("imm", "errs"))
        d = deployment("imm", "errs", labels={"app": "imm", "v": "2"})
        status, err = K.apply(dep_path("errs", "imm"), d)
        self.assertEqual(status, 422)
        self.assertIn("spec.selector: Invalid value: ", err["message"])
        self.assertIn("field is immutable", err["message"])

    def test_post_and_put_are_not_implemented(self):
        status, err = K.json("POST", "/api/v1/namespaces/errs/configmaps",
                             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
        self.assertEqual((status, err["reason"]), (405, "MethodNotAllowed"))
        self.assertIn("not implemented by this stand-in", err["message"])


class Lists(unittest.TestCase):
    def test_label_selectors_per_namespace_and_across_namespaces(self):
        for ns in ("list-a", "list-b"):
            make_ns(ns)
            for name, tier in (("one", "web"), ("two", "db"), ("three", "web")):
                K.apply("/api/v1/namespaces/%s/configmaps/%s" % (ns, name),
                        {"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": name, "labels": {"tier": tier, "app": "demo"}}})
        status, lst = K.get("/api/v1/namespaces/list-a/configmaps", query={"labelSelector": "tier=web"})
        self.assertEqual(status, 200)
        self.assertEqual(lst["kind"], "ConfigMapList")
        self.assertEqual(lst["apiVersion"], "v1")
        self.assertRegex(lst["metadata"]["resourceVersion"], r"^\d+$")
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["one", "three"])
        self.assertNotIn("kind", lst["items"][0])          # like the real server
        everywhere = K.get("/api/v1/configmaps", query={"labelSelector": "app=demo,tier!=web"})[1]
        self.assertEqual([(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere["items"]],
                         [("list-a", "two"), ("list-b", "two")])
        sets = K.get("/api/v1/configmaps", query={"labelSelector": "tier in (db),app"})[1]
        self.assertEqual(len(sets["items"]), 2)
        page = K.get("/api/v1/namespaces/list-b/configmaps", query={"limit": "2"})[1]
        self.assertEqual(len(page["items"]), 2)
        self.assertEqual(page["metadata"]["remainingItemCount"], 1)
        rest = K.get("/api/v1/namespaces/list-b/configmaps",
                     query={"limit": "2", "continue": page["metadata"]["continue"]})[1]
        self.assertEqual([i["metadata"]["name"] for i in rest["items"]], ["two"])
        status, err = K.get("/api/v1/configmaps", query={"fieldSelector": "spec.foo=bar"})
        self.assertEqual((status, err["message"]), (400, "field label not supported: spec.foo"))
        names = K.get("/api/v1/configmaps", query={"fieldSelector": "metadata.name=three"})[1]
        self.assertEqual(len(names["items"]), 2)

    def test_get_of_a_missing_object_is_404_with_details(self):
        status, err = K.get(dep_path("default", "ghost"))
        self.assertEqual(status, 404)
        self.assertEqual(err["message"], 'deployments.apps "ghost" not found')
        self.assertEqual(err["details"], {"name": "ghost", "group": "apps", "kind": "deployments"})
        status, err = K.get("/api/v1/namespaces/ghost")
        self.assertEqual(err["details"], {"name": "ghost", "kind": "namespaces"})


class Simulation(unittest.TestCase):
    def test_a_deployment_becomes_ready_with_pods_and_a_replicaset(self):
        make_ns("sim-dep")
        status, d = K.apply(dep_path("sim-dep", "web"), deployment("web", "sim-dep", replicas=2))
        self.assertEqual(status, 201)
        d = wait_for(lambda: deployment_ready("sim-dep", "web"), what="deployment ready")
        self.assertEqual(d["status"]["availableReplicas"], 2)
        self.assertNotIn("unavailableReplicas", d["status"])
        self.assertEqual(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1")
        conds = {c["type"]: c for c in d["status"]["conditions"]}
        self.assertEqual(conds["Progressing"]["reason"], "NewReplicaSetAvailable")
        ps = pods("sim-dep", "app=web")
        self.assertEqual(len(ps), 2)
        for p in ps:
            self.assertRegex(p["metadata"]["name"], r"^web-%s{6,10}-%s{5}$" % (SAFE, SAFE))
            self.assertEqual(p["metadata"]["labels"]["app"], "web")
            self.assertIn("pod-template-hash", p["metadata"]["labels"])
            self.assertEqual(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet")
            self.assertEqual(p["status"]["phase"], "Running")
            self.assertTrue(all(c["ready"] for c in p["status"]["containerStatuses"]))
            self.assertTrue(p["spec"]["nodeName"].startswith("lke424242-"))
        rs = K.get("/apis/apps/v1/namespaces/sim-dep/replicasets")[1]["items"]
        self.assertEqual([r["metadata"]["name"] for r in rs], [ps[0]["metadata"]["ownerReferences"][0]["name"]])
        # a template change rolls: generation 2, a new hash, the old pods go
        status, d2 = K.apply(dep_path("sim-dep", "web"), deployment("web", "sim-dep", replicas=2, image="nginx:1.27"))
        self.assertEqual(d2["metadata"]["generation"], 2)
        wait_for(lambda: deployment_ready("sim-dep", "web"), what="rollout")
        wait_for(lambda: all(p["spec"]["containers"][0]["image"] == "nginx:1.27" for p in pods("sim-dep"))
                 and len(pods("sim-dep")) == 2, what="old pods gone")

    def test_hold_crashloop_then_release(self):
        make_ns("sim-crash")
        K.admin("POST", "/hold", {"namespace": "sim-crash", "kind": "Deployment", "name": "bad",
                                  "state": "crashloop"})
        K.apply(dep_path("sim-crash", "bad"), deployment("bad", "sim-crash"))

        def crashing():
            ps = pods("sim-crash")
            if ps and (ps[0]["status"].get("containerStatuses") or [{}])[0].get("state", {}).get("waiting", {}) \
                    .get("reason") == "CrashLoopBackOff":
                return ps[0]
        p = wait_for(crashing, what="CrashLoopBackOff")
        self.assertEqual(p["status"]["phase"], "Running")
        self.assertGreaterEqual(p["status"]["containerStatuses"][0]["restartCount"], 1)
        self.assertEqual(p["status"]["containerStatuses"][0]["lastState"]["terminated"]["exitCode"], 1)
        d = K.get(dep_path("sim-crash", "bad"))[1]
        self.assertNotIn("readyReplicas", d["status"])                     # omitempty, like the real one
        self.assertEqual({c["type"]: c["status"] for c in d["status"]["conditions"]}["Available"], "False")
        status, text = K.request("GET", "/api/v1/namespaces/sim-crash/pods/%s/log?previous=true"
                                 % p["metadata"]["name"])[::2]
        self.assertEqual(status, 200)
        self.assertIn(b"exited with code 1", text)
        K.admin("POST", "/config", {"progress_deadline_ms": 100})
        try:
            wait_for(lambda: {c["type"]: c.get("reason") for c in
                              K.get(dep_path("sim-crash", "bad"))[1]["status"]["conditions"]}["Progressing"]
                     == "ProgressDeadlineExceeded", what="ProgressDeadlineExceeded")
        finally:
            K.admin("POST", "/config", {"progress_deadline_ms": None})
        K.admin("POST", "/hold", {"namespace": "sim-crash", "kind": "Deployment", "name": "bad", "state": "auto"})
        wait_for(lambda: deployment_ready("sim-crash", "bad"), what="released")

    def test_a_missing_secret_keeps_the_pod_from_starting(self):
        make_ns("sim-secret")
        d = deployment("web", "sim-secret", containers=[{
            "name": "app", "image": "x:1", "env": [{"name": "TOKEN", "valueFrom": {
                "secretKeyRef": {"name": "creds", "key": "token"}}}]}])
        K.apply(dep_path("sim-secret", "web"), d)
        wait_for(lambda: any((p["status"].get("containerStatuses") or [{}])[0].get("state", {}).get("waiting", {})
                             .get("reason") == "CreateContainerConfigError" for p in pods("sim-secret")),
                 what="CreateContainerConfigError")
        K.apply("/api/v1/namespaces/sim-secret/secrets/creds",
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"token": "t"}})
        wait_for(lambda: deployment_ready("sim-secret", "web"), what="ready once the secret exists")

    def test_statefulset_pods_in_order_with_bound_claims(self):
        make_ns("sim-sts")
        sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
               "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                        "template": {"metadata": {"labels": {"app": "db"}},
                                     "spec": {"containers": [{"name": "db", "image": "postgres:16",
                                                              "volumeMounts": [{"name": "data",
                                                                                "mountPath": "/var/lib/pg"}]}]}},
                        "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                                  "spec": {"accessModes": ["ReadWriteOnce"],
                                                           "resources": {"requests": {"storage": "1Gi"}}}}]}}
        status, s = K.apply("/apis/apps/v1/namespaces/sim-sts/statefulsets/db", sts)
        self.assertEqual(status, 201)
        self.assertEqual(s["status"], {"replicas": 0, "availableReplicas": 0})

        def ready():
            s = K.get("/apis/apps/v1/namespaces/sim-sts/statefulsets/db")[1]
            return s if s["status"].get("readyReplicas") == 2 and s["status"]["observedGeneration"] == 1 else None
        s = wait_for(ready, what="statefulset ready")
        self.assertEqual(s["status"]["currentRevision"], s["status"]["updateRevision"])
        self.assertNotIn("conditions", s["status"])
        self.assertEqual(sorted(p["metadata"]["name"] for p in pods("sim-sts")), ["db-0", "db-1"])
        p0 = [p for p in pods("sim-sts") if p["metadata"]["name"] == "db-0"][0]
        self.assertEqual(p0["metadata"]["labels"]["apps.kubernetes.io/pod-index"], "0")
        self.assertLessEqual(p0["metadata"]["creationTimestamp"],
                             [p for p in pods("sim-sts") if p["metadata"]["name"] == "db-1"][0]["metadata"][
                                 "creationTimestamp"])
        claims = K.get("/api/v1/namespaces/sim-sts/persistentvolumeclaims")[1]["items"]
        self.assertEqual(sorted(c["metadata"]["name"] for c in claims), ["data-db-0", "data-db-1"])
        self.assertEqual({c["status"]["phase"] for c in claims}, {"Bound"})
        # volumeClaimTemplates may not change
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "2Gi"
        status, err = K.apply("/apis/apps/v1/namespaces/sim-sts/statefulsets/db", sts)
        self.assertEqual(status, 422)
        self.assertIn("updates to statefulset spec for fields other than", err["message"])

    def test_pvc_binds_with_the_default_class_and_the_linode_minimum(self):
        make_ns("sim-pvc")
        pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "cache"},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
        status, p = K.apply("/api/v1/namespaces/sim-pvc/persistentvolumeclaims/cache", pvc)
        self.assertEqual(status, 201)
        self.assertEqual(p["spec"]["storageClassName"], "linode-block-storage-retain")
        self.assertEqual(p["status"], {"phase": "Pending"})
        p = wait_for(lambda: (lambda o: o if o["status"]["phase"] == "Bound" else None)(
            K.get("/api/v1/namespaces/sim-pvc/persistentvolumeclaims/cache")[1]), what="Bound")
        self.assertEqual(p["status"]["capacity"], {"storage": "10Gi"})
        self.assertEqual(p["spec"]["volumeName"], "pvc-" + p["metadata"]["uid"])
        status, again = K.apply("/api/v1/namespaces/sim-pvc/persistentvolumeclaims/cache", pvc)
        self.assertEqual(status, 200)                          # re-applying keeps the class and the volume
        self.assertEqual(again["spec"]["volumeName"], p["spec"]["volumeName"])
        pvc["spec"]["storageClassName"] = "linode-block-storage"
        status, err = K.apply("/api/v1/namespaces/sim-pvc/persistentvolumeclaims/cache", pvc)
        self.assertEqual(status, 422)
        self.assertIn("spec is immutable after creation", err["message"])

    def test_loadbalancer_ingress_and_cluster_ips(self):
        make_ns("sim-lb")
        svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
               "spec": {"type": "LoadBalancer", "selector": {"app": "api"},
                        "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
        status, s = K.apply("/api/v1/namespaces/sim-lb/services/api", svc)
        self.assertEqual(status, 201)
        self.assertRegex(s["spec"]["clusterIP"], r"^10\.128\.\d+\.\d+$")
        self.assertTrue(30000 <= s["spec"]["ports"][0]["nodePort"] <= 32767)
        self.assertEqual(s["status"], {"loadBalancer": {}})
        s = wait_for(lambda: (lambda o: o if o["status"]["loadBalancer"].get("ingress") else None)(
            K.get("/api/v1/namespaces/sim-lb/services/api")[1]), what="ingress")
        ing = s["status"]["loadBalancer"]["ingress"][0]
        self.assertEqual((ing["ip"], ing["hostname"]), ("127.0.0.1", "nb-127-0-0-1.us-ord.nodebalancer.linode.com"))
        self.assertIn("service.kubernetes.io/load-balancer-cleanup", s["metadata"]["finalizers"])
        status, again = K.apply("/api/v1/namespaces/sim-lb/services/api", svc)
        self.assertEqual(again["spec"]["clusterIP"], s["spec"]["clusterIP"])      # allocations are kept
        self.assertEqual(again["spec"]["ports"][0]["nodePort"], s["spec"]["ports"][0]["nodePort"])
        K.admin("POST", "/config", {"lb_ip": "127.0.0.2", "lb_hostname": "nb-127-0-0-2.example"})
        try:
            svc2 = json.loads(json.dumps(svc))
            svc2["metadata"]["name"] = "api2"
            K.apply("/api/v1/namespaces/sim-lb/services/api2", svc2)
            s2 = wait_for(lambda: (lambda o: o if o["status"]["loadBalancer"].get("ingress") else None)(
                K.get("/api/v1/namespaces/sim-lb/services/api2")[1]), what="ingress 2")
            self.assertEqual(s2["status"]["loadBalancer"]["ingress"][0]["ip"], "127.0.0.2")
        finally:
            K.admin("POST", "/config", {"lb_ip": "127.0.0.1",
                                        "lb_hostname": "nb-127-0-0-1.us-ord.nodebalancer.linode.com"})
        cip = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "internal"},
               "spec": {"selector": {"app": "api"}, "ports": [{"port": 80}]}}
        status, c = K.apply("/api/v1/namespaces/sim-lb/services/internal", cip)
        self.assertEqual(c["spec"]["type"], "ClusterIP")
        self.assertEqual(c["spec"]["ports"][0]["targetPort"], 80)
        self.assertNotIn("nodePort", c["spec"]["ports"][0])
        K.admin("POST", "/hold", {"namespace": "sim-lb", "kind": "Service", "name": "held", "state": "pending"})
        held = dict(svc, metadata={"name": "held"})
        K.apply("/api/v1/namespaces/sim-lb/services/held", held)
        wait_for(lambda: K.get("/api/v1/namespaces/sim-lb/services/api2")[1]["status"]["loadBalancer"], what="tick")
        self.assertEqual(K.get("/api/v1/namespaces/sim-lb/services/held")[1]["status"], {"loadBalancer": {}})

    def test_a_deleted_pod_lingers_then_is_replaced(self):
        make_ns("sim-podrm")
        K.apply(dep_path("sim-podrm", "web"), deployment("web", "sim-podrm"))
        wait_for(lambda: deployment_ready("sim-podrm", "web"), what="ready")
        name = pods("sim-podrm")[0]["metadata"]["name"]
        status, p = K.delete("/api/v1/namespaces/sim-podrm/pods/" + name)
        self.assertEqual((status, p["kind"]), (200, "Pod"))
        self.assertEqual(p["metadata"]["deletionGracePeriodSeconds"], 30)
        self.assertIn("deletionTimestamp", p["metadata"])
        wait_for(lambda: [x["metadata"]["name"] for x in pods("sim-podrm")] not in ([], [name])
                 and name not in [x["metadata"]["name"] for x in pods("sim-podrm")], what="replacement")
        wait_for(lambda: deployment_ready("sim-podrm", "web"), what="ready again")

    def test_gpu_capacity_keeps_a_rolling_update_pending(self):
        make_ns("sim-gpu")
        K.admin("POST", "/config", {"gpu_capacity": 1})
        try:
            gpu = {"name": "llm", "image": "vllm:1", "resources": {"limits": {"nvidia.com/gpu": 1}}}
            K.apply(dep_path("sim-gpu", "llm"), deployment("llm", "sim-gpu", containers=[gpu]))
            wait_for(lambda: deployment_ready("sim-gpu", "llm"), what="first rollout")
            K.apply(dep_path("sim-gpu", "llm"), deployment("llm", "sim-gpu", containers=[dict(gpu, image="vllm:2")]))

            def pending_pod():
                for p in pods("sim-gpu"):
                    for c in p["status"].get("conditions") or []:
                        if c["type"] == "PodScheduled" and c["status"] == "False":
                            return c
            c = wait_for(pending_pod, what="an unschedulable pod")
            self.assertEqual(c["reason"], "Unschedulable")
            self.assertIn("Insufficient nvidia.com/gpu", c["message"])
            d = K.get(dep_path("sim-gpu", "llm"))[1]
            self.assertEqual((d["status"]["updatedReplicas"], d["status"]["readyReplicas"]), (1, 1))  # the old pod
            self.assertIsNone(deployment_ready("sim-gpu", "llm"))
            K.apply(dep_path("sim-gpu", "llm"), deployment("llm", "sim-gpu", containers=[dict(gpu, image="vllm:2")],
                                                           strategy={"type": "Recreate", "rollingUpdate": None}))
            wait_for(lambda: deployment_ready("sim-gpu", "llm"), what="Recreate frees the GPU first")
        finally:
            K.admin("POST", "/config", {"gpu_capacity": None})

    def test_follow_streams_appended_lines_until_the_pod_goes(self):
        make_ns("sim-follow")
        K.apply(dep_path("sim-follow", "web"), deployment("web", "sim-follow"))
        wait_for(lambda: deployment_ready("sim-follow", "web"), what="ready")
        pod = pods("sim-follow")[0]["metadata"]["name"]
        c = http.client.HTTPSConnection("127.0.0.1", int(K.server.rsplit(":", 1)[1]), context=K.ctx, timeout=10)
        c.request("GET", "/api/v1/namespaces/sim-follow/pods/%s/log?follow=true" % pod,
                  headers={"Authorization": "Bearer " + K.info["token"]})
        r = c.getresponse()
        self.assertEqual((r.status, r.getheader("Transfer-Encoding")), (200, "chunked"))
        self.assertIn(b"started", r.read1())
        K.admin("POST", "/logs", {"namespace": "sim-follow", "pod": pod, "container": "app",
                                  "lines": ["later"], "append": True})
        got = b""
        while b"later" not in got:
            got += r.read1()
        K.delete("/api/v1/namespaces/sim-follow/pods/%s?gracePeriodSeconds=0" % pod)
        while r.read1():
            pass
        c.close()

    def test_pod_logs(self):
        make_ns("sim-logs")
        d = deployment("web", "sim-logs", containers=[{"name": "app", "image": "a:1"},
                                                      {"name": "side", "image": "b:1"}])
        K.apply(dep_path("sim-logs", "web"), d)
        wait_for(lambda: deployment_ready("sim-logs", "web"), what="ready")
        pod = pods("sim-logs")[0]["metadata"]["name"]
        base = "/api/v1/namespaces/sim-logs/pods/%s/log" % pod
        status, err = K.get(base)
        self.assertEqual(status, 400)
        self.assertEqual(err["message"], "a container name must be specified for pod %s, choose one of: "
                                         "[app side]" % pod)
        status, err = K.get(base + "?container=nope")
        self.assertEqual(err["message"], "container nope is not valid for pod %s" % pod)
        status, headers, text = K.request("GET", base + "?container=side")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        self.assertIn(b"container side of pod", text)
        K.admin("POST", "/logs", {"namespace": "sim-logs", "pod": pod, "container": "app",
                                  "lines": ["one", "two", "three"]})
        self.assertEqual(K.request("GET", base + "?container=app")[2], b"one\ntwo\nthree\n")
        self.assertEqual(K.request("GET", base + "?container=app&tailLines=2")[2], b"two\nthree\n")
        stamped = K.request("GET", base + "?container=app&tailLines=1&timestamps=true")[2].decode()
        self.assertRegex(stamped, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$")
        K.admin("POST", "/logs", {"namespace": "sim-logs", "workload": "web", "container": "side",
                                  "lines": ["from the workload"]})
        self.assertEqual(K.request("GET", base + "?container=side")[2], b"from the workload\n")
        self.assertEqual(K.get("/api/v1/namespaces/sim-logs/pods/ghost/log")[0], 404)

    def test_namespace_deletion_goes_through_terminating(self):
        make_ns("sim-del")
        K.apply("/api/v1/namespaces/sim-del/configmaps/c",
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        K.apply(dep_path("sim-del", "web"), deployment("web", "sim-del"))
        status, ns = K.delete("/api/v1/namespaces/sim-del")
        self.assertEqual(status, 200)
        self.assertEqual(ns["kind"], "Namespace")
        self.assertEqual(ns["status"]["phase"], "Terminating")
        self.assertIn("deletionTimestamp", ns["metadata"])
        status, again = K.delete("/api/v1/namespaces/sim-del")
        self.assertEqual(status, 409)
        self.assertIn("The system is ensuring all content is removed from this namespace", again["message"])
        status, err = K.apply("/api/v1/namespaces/sim-del/configmaps/new",
                              {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}})
        self.assertEqual((status, err["reason"]), (403, "Forbidden"))
        self.assertEqual(err["message"], 'configmaps "new" is forbidden: unable to create new content in namespace '
                                         'sim-del because it is being terminated')
        wait_for(lambda: K.get("/api/v1/namespaces/sim-del")[0] == 404, what="namespace gone")
        self.assertEqual(K.get("/api/v1/namespaces/sim-del/configmaps/c")[0], 404)
        self.assertEqual(K.get("/api/v1/namespaces/sim-del/pods")[1]["items"], [])
        status, err = K.delete("/api/v1/namespaces/default")
        self.assertEqual(status, 403)

    def test_deleting_single_objects(self):
        make_ns("sim-rm")
        K.apply("/api/v1/namespaces/sim-rm/configmaps/c",
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        status, st = K.delete("/api/v1/namespaces/sim-rm/configmaps/c")
        self.assertEqual(status, 200)
        self.assertEqual((st["kind"], st["status"]), ("Status", "Success"))
        self.assertEqual(st["details"]["kind"], "configmaps")
        self.assertEqual(K.delete("/api/v1/namespaces/sim-rm/configmaps/c")[0], 404)
        K.apply(dep_path("sim-rm", "web"), deployment("web", "sim-rm"))
        wait_for(lambda: deployment_ready("sim-rm", "web"), what="ready")
        status, st = K.delete(dep_path("sim-rm", "web"))
        self.assertEqual((status, st["details"]["group"]), (200, "apps"))
        wait_for(lambda: pods("sim-rm") == [], what="pods gone")
        self.assertEqual(K.get("/apis/apps/v1/namespaces/sim-rm/replicasets")[1]["items"], [])


class DaemonSets(unittest.TestCase):
    def test_apply_defaults_one_pod_per_node_status_get_list_and_delete(self):
        make_ns("ds-basics")
        path = ds_path("ds-basics", "agent")
        status, d = K.apply(path, daemonset("agent", "ds-basics"))
        self.assertEqual(status, 201, d)
        self.assertEqual(d["metadata"]["generation"], 1)
        self.assertEqual(d["metadata"]["annotations"], {"deprecated.daemonset.template.generation": "1"})
        self.assertEqual(d["spec"]["updateStrategy"], {"type": "RollingUpdate",
                                                       "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        self.assertEqual(d["spec"]["revisionHistoryLimit"], 10)
        self.assertEqual(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent")
        # the four counters without omitempty are there from the start, the others only when non-zero
        self.assertEqual(d["status"], {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                                       "desiredNumberScheduled": 0, "numberReady": 0})
        d = wait_for(lambda: daemonset_ready("ds-basics", "agent"), what="daemonset ready")
        self.assertEqual(d["status"], {"currentNumberScheduled": 3, "numberMisscheduled": 0,
                                       "desiredNumberScheduled": 3, "numberReady": 3, "observedGeneration": 1,
                                       "updatedNumberScheduled": 3, "numberAvailable": 3})
        nodes = sorted(n["metadata"]["name"] for n in K.get("/api/v1/nodes")[1]["items"])
        ps = pods("ds-basics", "app=agent")
        self.assertEqual(sorted(p["spec"]["nodeName"] for p in ps), nodes)          # one pod per node
        for p in ps:
            m = p["metadata"]
            self.assertRegex(m["name"], r"^agent-%s{5}$" % SAFE)
            self.assertEqual(m["generateName"], "agent-")
            self.assertEqual(m["labels"]["pod-template-generation"], "1")
            self.assertIn("controller-revision-hash", m["labels"])
            self.assertEqual((m["ownerReferences"][0]["kind"], m["ownerReferences"][0]["name"]),
                             ("DaemonSet", "agent"))
            self.assertIn({"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
                          p["spec"]["tolerations"])
            self.assertIn({"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
                          p["spec"]["tolerations"])
            terms = p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            self.assertEqual(terms["nodeSelectorTerms"], [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": [p["spec"]["nodeName"]]}]}])
        status, one = K.get(path)
        self.assertEqual((status, one["kind"], one["apiVersion"]), (200, "DaemonSet", "apps/v1"))
        self.assertEqual(K.get(path + "/status")[1]["status"], one["status"])
        lst = K.get("/apis/apps/v1/namespaces/ds-basics/daemonsets")[1]
        self.assertEqual((lst["kind"], lst["apiVersion"]), ("DaemonSetList", "apps/v1"))
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["agent"])
        self.assertNotIn("kind", lst["items"][0])
        everywhere = K.get("/apis/apps/v1/daemonsets")[1]["items"]
        self.assertIn(("ds-basics", "agent"), [(i["metadata"]["namespace"], i["metadata"]["name"])
                                               for i in everywhere])
        apps = {r["name"]: r for r in K.get("/apis/apps/v1")[1]["resources"]}
        self.assertEqual(apps["daemonsets"], {"name": "daemonsets", "singularName": "daemonset", "namespaced": True,
                                              "kind": "DaemonSet", "verbs": ["create", "delete", "deletecollection",
                                                                             "get", "list", "patch", "update",
                                                                             "watch"],
                                              "shortNames": ["ds"], "categories": ["all"]})
        self.assertEqual(apps["daemonsets/status"]["verbs"], ["get", "patch", "update"])
        status, st = K.delete(path)
        self.assertEqual(status, 200)
        self.assertEqual(st, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "details": {"name": "agent", "group": "apps", "kind": "daemonsets",
                                          "uid": d["metadata"]["uid"]}})
        wait_for(lambda: pods("ds-basics") == [], what="pods gone")
        status, err = K.get(path)
        self.assertEqual((status, err["message"]), (404, 'daemonsets.apps "agent" not found'))

    def test_a_template_change_rolls_one_node_at_a_time_and_node_selectors_pick_nodes(self):
        make_ns("ds-roll")
        path = ds_path("ds-roll", "agent")
        K.apply(path, daemonset("agent", "ds-roll"))
        wait_for(lambda: daemonset_ready("ds-roll", "agent"), what="first rollout")
        status, d = K.apply(path, daemonset("agent", "ds-roll", image="busybox:1.37"))
        self.assertEqual((status, d["metadata"]["generation"]), (200, 2))
        self.assertEqual(d["metadata"]["annotations"]["deprecated.daemonset.template.generation"], "2")
        least = [3]

        def rolled():
            st = K.get(path)[1]["status"]
            least[0] = min(least[0], st.get("numberAvailable", 0))
            ps = pods("ds-roll")
            return daemonset_ready("ds-roll", "agent") and len(ps) == 3 and all(
                p["spec"]["containers"][0]["image"] == "busybox:1.37" and
                p["metadata"]["labels"]["pod-template-generation"] == "2" for p in ps)
        wait_for(rolled, what="rolled")
        self.assertEqual(least[0], 2)                 # maxUnavailable 1: never more than one node without
        # a nodeSelector no node matches: nothing to run, and the status says so
        picky = daemonset("picky", "ds-roll",
                          template={"metadata": {"labels": {"app": "picky"}},
                                    "spec": {"nodeSelector": {"node.kubernetes.io/instance-type": "g1-gpu-rtx6000-1"},
                                             "containers": [{"name": "agent", "image": "busybox:1.36"}]}})
        K.apply(ds_path("ds-roll", "picky"), picky)
        d = wait_for(lambda: (lambda o: o if o["status"].get("observedGeneration") == 1 else None)(
            K.get(ds_path("ds-roll", "picky"))[1]), what="observed")
        self.assertEqual(d["status"], {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                                       "desiredNumberScheduled": 0, "numberReady": 0, "observedGeneration": 1})
        self.assertEqual(pods("ds-roll", "app=picky"), [])

    def test_validation(self):
        make_ns("ds-errs")
        path = ds_path("ds-errs", "bad")
        d = daemonset("bad", "ds-errs")
        d["spec"]["selector"] = {"matchLabels": {"app": "other"}}
        status, err = K.apply(path, d)
        self.assertEqual(status, 422)
        self.assertEqual(err["message"], 'DaemonSet.apps "bad" is invalid: spec.template.metadata.labels: '
                                         'Invalid value: {"app":"bad"}: `selector` does not match template `labels`')
        self.assertEqual(err["details"]["kind"], "DaemonSet")
        del d["spec"]["selector"]                     # no "Required value" for a DaemonSet: only the mismatch
        status, err = K.apply(path, d)
        self.assertEqual([c["field"] for c in err["details"]["causes"]], ["spec.template.metadata.labels"])
        d = daemonset("bad", "ds-errs", updateStrategy={"rollingUpdate": {"maxSurge": 1}})
        status, err = K.apply(path, d)                # maxUnavailable defaults to 1: one of the two must be 0
        self.assertEqual(status, 422)
        self.assertIn("spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when "
                      "maxUnavailable is non-zero", err["message"])
        d["spec"]["updateStrategy"]["type"] = "Sometimes"
        status, err = K.apply(path, d)
        self.assertEqual(err["details"]["causes"][0]["field"], "spec.updateStrategy")
        self.assertIn('supported values: "RollingUpdate", "OnDelete"', err["message"])
        d = daemonset("bad", "ds-errs", replicas=2)
        status, err = K.apply(path, d)
        self.assertEqual(status, 500)
        self.assertIn(".spec.replicas: field not declared in schema", err["message"])
        d = daemonset("bad", "ds-errs")
        d["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
        status, err = K.apply(path, d)
        self.assertIn('spec.template.spec.restartPolicy: Unsupported value: "OnFailure"', err["message"])
        self.assertEqual(K.get(path)[0], 404)
        status, ok = K.apply(path, daemonset("bad", "ds-errs",
                                             updateStrategy={"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}))
        self.assertEqual(status, 201, ok)
        status, err = K.apply(path, daemonset("bad", "ds-errs", labels={"app": "bad", "v": "2"}))
        self.assertEqual(status, 422)
        self.assertIn("spec.selector: Invalid value: ", err["message"])
        self.assertIn("field is immutable", err["message"])


class Jobs(unittest.TestCase):
    def test_discovery_apply_defaults_generated_selector_get_list(self):
        groups = {g["name"]: g for g in K.get("/apis")[1]["groups"]}
        self.assertEqual(groups["batch"]["preferredVersion"], {"groupVersion": "batch/v1", "version": "v1"})
        self.assertEqual([g["name"] for g in K.get("/apis")[1]["groups"]], ["apps", "batch", "storage.k8s.io"])
        self.assertEqual(K.get("/apis/batch")[1]["kind"], "APIGroup")
        batch = K.get("/apis/batch/v1")[1]
        self.assertEqual(batch["groupVersion"], "batch/v1")
        res = {r["name"]: r for r in batch["resources"]}
        self.assertEqual(res["jobs"], {"name": "jobs", "singularName": "job", "namespaced": True, "kind": "Job",
                                       "verbs": ["create", "delete", "deletecollection", "get", "list", "patch",
                                                 "update", "watch"], "categories": ["all"]})
        self.assertEqual(res["jobs/status"], {"name": "jobs/status", "singularName": "", "namespaced": True,
                                              "kind": "Job", "verbs": ["get", "patch", "update"]})
        make_ns("job-basics")
        path = job_path("job-basics", "migrate")
        status, j = K.apply(path, job("migrate", "job-basics"))
        self.assertEqual(status, 201, j)
        uid = j["metadata"]["uid"]
        generated = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "migrate",
                     "controller-uid": uid, "job-name": "migrate"}
        spec = j["spec"]
        self.assertEqual({k: v for k, v in spec.items() if k not in ("template", "selector")},
                         {"parallelism": 1, "completions": 1, "backoffLimit": 6, "manualSelector": False,
                          "completionMode": "NonIndexed", "suspend": False,
                          "podReplacementPolicy": "TerminatingOrFailed"})
        self.assertEqual(spec["selector"], {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
        self.assertEqual(spec["template"]["metadata"]["labels"], generated)
        self.assertEqual(j["metadata"]["labels"], generated)        # copied from the template
        self.assertEqual(spec["template"]["spec"]["restartPolicy"], "Never")
        self.assertEqual(spec["template"]["spec"]["containers"][0]["terminationMessagePath"], "/dev/termination-log")
        self.assertEqual((j["metadata"]["generation"], j["status"]), (1, {}))
        # parallelism alone: completions stays unset
        status, par = K.apply(job_path("job-basics", "workers"), job("workers", "job-basics", parallelism=2))
        self.assertEqual(status, 201, par)
        self.assertNotIn("completions", par["spec"])
        self.assertEqual(par["spec"]["parallelism"], 2)
        # the same manifest again changes nothing
        status, again = K.apply(path, job("migrate", "job-basics"))
        self.assertEqual((status, again["metadata"]["resourceVersion"]), (200, j["metadata"]["resourceVersion"]))
        status, one = K.get(path)
        self.assertEqual((status, one["kind"], one["apiVersion"]), (200, "Job", "batch/v1"))
        self.assertEqual(K.get(path + "/status")[1]["metadata"]["uid"], uid)
        lst = K.get("/apis/batch/v1/namespaces/job-basics/jobs")[1]
        self.assertEqual((lst["kind"], lst["apiVersion"]), ("JobList", "batch/v1"))
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["migrate", "workers"])
        self.assertNotIn("kind", lst["items"][0])
        everywhere = K.get("/apis/batch/v1/jobs", query={"labelSelector": "job-name=workers"})[1]["items"]
        self.assertIn(("job-basics", "workers"), [(i["metadata"]["namespace"], i["metadata"]["name"])
                                                  for i in everywhere])
        self.assertEqual({i["metadata"]["name"] for i in everywhere}, {"workers"})
        status, err = K.get(job_path("job-basics", "ghost"))
        self.assertEqual((status, err["message"], err["details"]), (404, 'jobs.batch "ghost" not found',
                                                                    {"name": "ghost", "group": "batch",
                                                                     "kind": "jobs"}))

    def test_restart_policy_containers_and_selector_are_validated(self):
        make_ns("job-errs")
        path = job_path("job-errs", "bad")
        for rp in ("Always", None):       # a template without restartPolicy defaults to Always
            status, err = K.apply(path, job("bad", "job-errs", restart_policy=rp))
            self.assertEqual(status, 422, err)
            self.assertEqual(err["message"], 'Job.batch "bad" is invalid: spec.template.spec.restartPolicy: '
                                             'Required value: valid values: "OnFailure", "Never"')
            self.assertEqual(err["details"]["causes"], [{"reason": "FieldValueRequired",
                                                         "message": 'Required value: valid values: "OnFailure", '
                                                                    '"Never"',
                                                         "field": "spec.template.spec.restartPolicy"}])
            self.assertEqual((err["details"]["group"], err["details"]["kind"]), ("batch", "Job"))
        status, err = K.apply(path, job("bad", "job-errs", restart_policy="Sometimes"))
        self.assertIn('spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: '
                      '"OnFailure", "Never"', err["message"])
        bad = job("bad", "job-errs")
        bad["spec"]["template"]["spec"]["containers"] = []
        status, err = K.apply(path, bad)
        self.assertEqual((status, err["message"]), (422, 'Job.batch "bad" is invalid: spec.template.spec.containers: '
                                                         'Required value'))
        status, err = K.apply(path, job("bad", "job-errs", selector={"matchLabels": {"app": "x"}}))
        self.assertEqual(status, 422)
        self.assertEqual([c["field"] for c in err["details"]["causes"]],
                         ["spec.selector", "spec.template.metadata.labels"])
        self.assertIn("`selector` not auto-generated", err["message"])
        status, err = K.apply(path, job("bad", "job-errs", backoffLimit=-1))
        self.assertIn("spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0", err["message"])
        self.assertEqual(K.get(path)[0], 404)
        manual = job("bad", "job-errs", manualSelector=True, selector={"matchLabels": {"app": "x"}})
        manual["spec"]["template"]["metadata"] = {"labels": {"app": "x"}}
        status, ok = K.apply(path, manual)              # manualSelector: the selector is the user's
        self.assertEqual(status, 201, ok)
        self.assertEqual(ok["spec"]["template"]["metadata"]["labels"], {"app": "x"})
        self.assertEqual(ok["metadata"]["labels"], {"app": "x"})

    def test_the_template_is_immutable(self):
        make_ns("job-immut")
        path = job_path("job-immut", "once")
        status, j = K.apply(path, job("once", "job-immut", suspend=True))
        self.assertEqual(status, 201, j)
        status, err = K.apply(path, job("once", "job-immut", image="busybox:1.37", suspend=True))
        self.assertEqual(status, 422)
        self.assertEqual(err["details"]["causes"], [{"reason": "FieldValueInvalid",
                                                     "message": "Invalid value: core.PodTemplateSpec{...}: "
                                                                "field is immutable",
                                                     "field": "spec.template"}])
        self.assertTrue(err["message"].startswith('Job.batch "once" is invalid: spec.template: Invalid value: '))
        self.assertTrue(err["message"].endswith(": field is immutable"))
        self.assertEqual(K.get(path)[1]["spec"]["template"]["spec"]["containers"][0]["image"], "busybox:1.36")
        # a suspended Job that never ran may get another node selector; other spec fields are mutable
        sel = job("once", "job-immut", suspend=True, activeDeadlineSeconds=600)
        sel["spec"]["template"]["spec"]["nodeSelector"] = {"node.kubernetes.io/instance-type": "g6-standard-2"}
        status, j2 = K.apply(path, sel)
        self.assertEqual((status, j2["metadata"]["generation"]), (200, 2), j2)
        status, err = K.apply(path, job("once", "job-immut", suspend=True, completions=3))
        self.assertEqual(status, 422)
        self.assertIn("spec.completions: Invalid value: 3: field is immutable", err["message"])

    def test_a_job_runs_its_pod_to_completion(self):
        make_ns("job-ok")
        hold = {"namespace": "job-ok", "kind": "Job", "name": "migrate", "state": "ready"}
        K.admin("POST", "/hold", hold)                  # ready: running, and kept running while held
        K.apply(job_path("job-ok", "migrate"), job("migrate", "job-ok"))

        def running():
            ps = pods("job-ok")
            j = K.get(job_path("job-ok", "migrate"))[1]
            if ps and ps[0]["status"].get("phase") == "Running" and j["status"].get("ready") == 1:
                return ps[0], j
        pod, j = wait_for(running, what="the job's pod running")
        self.assertEqual((j["status"]["active"], j["status"]["terminating"]), (1, 0))
        self.assertNotIn("conditions", j["status"])
        self.assertIn("startTime", j["status"])
        self.assertEqual(pod["metadata"]["finalizers"], ["batch.kubernetes.io/job-tracking"])
        self.assertTrue(pod["status"]["containerStatuses"][0]["ready"])
        time.sleep(0.3)                                 # twice ready_ms: held, it does not finish
        self.assertEqual(running()[0]["metadata"]["name"], pod["metadata"]["name"])
        K.admin("POST", "/hold", dict(hold, state="auto"))
        j = wait_for(lambda: job_with("job-ok", "migrate", "Complete"), what="Complete")
        st = j["status"]
        self.assertEqual([(c["type"], c["status"], c["reason"], c["message"]) for c in st["conditions"]],
                         [("SuccessCriteriaMet", "True", "CompletionsReached",
                           "Reached expected number of succeeded pods"),
                          ("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods")])
        self.assertEqual({k: v for k, v in st.items() if k not in ("conditions", "startTime", "completionTime")},
                         {"succeeded": 1, "terminating": 0, "uncountedTerminatedPods": {}, "ready": 0})
        self.assertTrue(st["completionTime"] >= st["startTime"])
        ps = pods("job-ok", "batch.kubernetes.io/job-name=migrate")
        self.assertEqual(len(ps), 1)                      # the finished pod stays
        p = ps[0]
        self.assertRegex(p["metadata"]["name"], r"^migrate-%s{5}$" % SAFE)
        self.assertEqual(p["metadata"]["generateName"], "migrate-")
        ref = p["metadata"]["ownerReferences"][0]
        self.assertEqual((ref["apiVersion"], ref["kind"], ref["name"], ref["uid"], ref["controller"]),
                         ("batch/v1", "Job", "migrate", j["metadata"]["uid"], True))
        self.assertNotIn("finalizers", p["metadata"])     # counted: the tracking finalizer is off
        self.assertEqual(p["status"]["phase"], "Succeeded")
        term = container_state(p)["terminated"]
        self.assertEqual((term["exitCode"], term["reason"]), (0, "Completed"))
        self.assertEqual({c["type"]: (c["status"], c.get("reason")) for c in p["status"]["conditions"]}["Ready"],
                         ("False", "PodCompleted"))
        self.assertEqual(len(K.get("/api/v1/namespaces/job-ok/pods",
                                   query={"fieldSelector": "status.phase=Succeeded"})[1]["items"]), 1)
        done = K.get("/apis/batch/v1/namespaces/job-ok/jobs", query={"fieldSelector": "status.successful=1"})[1]
        self.assertEqual([i["metadata"]["name"] for i in done["items"]], ["migrate"])

    def test_a_held_failing_job_retries_then_reaches_its_backoff_limit(self):
        make_ns("job-fail")
        K.admin("POST", "/hold", {"namespace": "job-fail", "kind": "Job", "name": "broken", "state": "fail"})
        K.admin("POST", "/config", {"ready_ms": 300})    # the backoff is ready_ms: a window polling can't miss
        try:
            K.apply(job_path("job-fail", "broken"), job("broken", "job-fail", backoffLimit=1))

            def backing_off():
                st = K.get(job_path("job-fail", "broken"))[1]["status"]
                return st.get("failed") == 1 and "active" not in st and len(pods("job-fail")) == 1
            wait_for(backing_off, what="the backoff between the failure and the retry")
            j = wait_for(lambda: job_with("job-fail", "broken", "Failed"), what="Failed")
        finally:
            K.admin("POST", "/config", {"ready_ms": FAST["ready_ms"]})
        st = j["status"]
        want = ("True", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        self.assertEqual([(c["type"], c["status"], c["reason"], c["message"]) for c in st["conditions"]],
                         [("FailureTarget",) + want, ("Failed",) + want])
        self.assertEqual(st["failed"], 2)                 # the first try and one retry
        for k in ("succeeded", "active", "completionTime"):
            self.assertNotIn(k, st)
        self.assertEqual((st["ready"], st["terminating"]), (0, 0))
        ps = pods("job-fail")
        self.assertEqual(len(ps), 2)                      # a new pod for the retry; both stay
        self.assertEqual(len({p["metadata"]["name"] for p in ps}), 2)
        for p in ps:
            self.assertEqual(p["status"]["phase"], "Failed")
            term = container_state(p)["terminated"]
            self.assertEqual((term["exitCode"], term["reason"]), (1, "Error"))
        time.sleep(0.3)
        self.assertEqual(len(pods("job-fail")), 2)        # a failed Job starts nothing more

    def test_a_pods_own_fail_hold_fails_that_pod_only(self):
        make_ns("job-podfail")
        hold = {"namespace": "job-podfail", "kind": "Job", "name": "once", "state": "pending"}
        K.admin("POST", "/hold", hold)                  # keep the first pod from running while it is held
        K.apply(job_path("job-podfail", "once"), job("once", "job-podfail"))
        first = wait_for(lambda: pods("job-podfail"), what="the first pod")[0]["metadata"]["name"]
        K.admin("POST", "/hold", {"namespace": "job-podfail", "kind": "Pod", "name": first, "state": "fail"})
        K.admin("POST", "/hold", dict(hold, state="auto"))
        j = wait_for(lambda: job_with("job-podfail", "once", "Complete"), what="Complete after one retry")
        self.assertEqual((j["status"]["failed"], j["status"]["succeeded"]), (1, 1))
        phases = {p["metadata"]["name"]: p["status"]["phase"] for p in pods("job-podfail")}
        self.assertEqual(phases.pop(first), "Failed")
        self.assertEqual(list(phases.values()), ["Succeeded"])

    def test_suspend_resume_and_ttl_seconds_after_finished(self):
        make_ns("job-susp")
        path = job_path("job-susp", "later")
        K.apply(path, job("later", "job-susp", suspend=True, ttlSecondsAfterFinished=0))
        j = wait_for(lambda: job_with("job-susp", "later", "Suspended"), what="Suspended")
        c = j["status"]["conditions"][0]
        self.assertEqual((c["reason"], c["message"]), ("JobSuspended", "Job suspended"))
        self.assertNotIn("startTime", j["status"])
        self.assertEqual(pods("job-susp"), [])
        hold = {"namespace": "job-susp", "kind": "Job", "name": "later", "state": "pending"}
        K.admin("POST", "/hold", hold)                  # its pod waits until the resumed state is seen
        status, j = K.apply(path, job("later", "job-susp", suspend=False, ttlSecondsAfterFinished=0))
        self.assertEqual((status, j["metadata"]["generation"]), (200, 2))
        j = wait_for(lambda: (lambda o: o if o["status"].get("active") else None)(K.get(path)[1]), what="resumed")
        self.assertIn("startTime", j["status"])
        self.assertEqual({c["type"]: (c["status"], c["reason"]) for c in j["status"]["conditions"]},
                         {"Suspended": ("False", "JobResumed")})
        self.assertEqual(len(pods("job-susp")), 1)
        K.admin("POST", "/hold", dict(hold, state="auto"))
        # ttlSecondsAfterFinished 0: the finished Job goes at once, and its pods with it
        wait_for(lambda: K.get(path)[0] == 404, what="the finished Job deleted")
        wait_for(lambda: pods("job-susp") == [], what="its pod deleted")

    def test_fail_with_restart_policy_on_failure_counts_restarts(self):
        make_ns("job-onfail")
        K.admin("POST", "/hold", {"namespace": "job-onfail", "kind": "Job", "name": "flaky", "state": "fail"})
        K.apply(job_path("job-onfail", "flaky"), job("flaky", "job-onfail", restart_policy="OnFailure",
                                                     backoffLimit=2))
        j = wait_for(lambda: job_with("job-onfail", "flaky", "Failed"), what="Failed")
        self.assertEqual({c["type"]: c["reason"] for c in j["status"]["conditions"]},
                         {"FailureTarget": "BackoffLimitExceeded", "Failed": "BackoffLimitExceeded"})
        self.assertEqual(j["status"]["failed"], 1)        # the one pod, deleted while it crash-looped
        wait_for(lambda: pods("job-onfail") == [], what="the crash-looping pod deleted")

    def test_a_missing_secret_keeps_the_job_pod_waiting(self):
        make_ns("job-secret")
        j = job("needs", "job-secret", containers=[{"name": "task", "image": "x:1", "env": [
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}]}])
        K.apply(job_path("job-secret", "needs"), j)
        wait_for(lambda: any(container_state(p).get("waiting", {}).get("reason") == "CreateContainerConfigError"
                             for p in pods("job-secret")), what="CreateContainerConfigError")
        time.sleep(0.4)
        st = K.get(job_path("job-secret", "needs"))[1]["status"]
        self.assertEqual((st.get("active"), st.get("ready"), st.get("conditions")), (1, 0, None))
        K.apply("/api/v1/namespaces/job-secret/secrets/creds",
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"token": "t"}})
        wait_for(lambda: job_with("job-secret", "needs", "Complete"), what="Complete once the secret exists")

    def test_logs_of_a_job_pod(self):
        make_ns("job-logs")
        K.admin("POST", "/logs", {"namespace": "job-logs", "workload": "report", "container": "task",
                                  "lines": ["rows: 42", "done"]})
        K.apply(job_path("job-logs", "report"), job("report", "job-logs"))
        K.apply(job_path("job-logs", "plain"), job("plain", "job-logs"))
        wait_for(lambda: job_with("job-logs", "report", "Complete") and job_with("job-logs", "plain", "Complete"),
                 what="both Complete")
        pod = pods("job-logs", "job-name=report")[0]["metadata"]["name"]
        status, _, text = K.request("GET", "/api/v1/namespaces/job-logs/pods/%s/log" % pod)
        self.assertEqual((status, text), (200, b"rows: 42\ndone\n"))
        plain = pods("job-logs", "job-name=plain")[0]["metadata"]["name"]
        text = K.request("GET", "/api/v1/namespaces/job-logs/pods/%s/log?container=task" % plain)[2].decode()
        self.assertIn("kube-sim: container task of pod %s started (image busybox:1.36)" % plain, text)
        self.assertTrue(text.endswith("kube-sim: container task exited with code 0\n"), text)
        K.admin("POST", "/logs", {"namespace": "job-logs", "pod": plain, "container": "task", "lines": ["mine"]})
        self.assertEqual(K.request("GET", "/api/v1/namespaces/job-logs/pods/%s/log" % plain)[2], b"mine\n")
        status, err = K.get("/api/v1/namespaces/job-logs/pods/%s/log?previous=true" % plain)
        self.assertEqual((status, err["message"]), (400, 'previous terminated container "task" in pod "%s" not '
                                                         'found' % plain))

    def test_delete_background_deletes_the_pods_the_default_orphans_them(self):
        make_ns("job-rm")
        for name in ("bg", "orphaned"):
            K.apply(job_path("job-rm", name), job(name, "job-rm"))
        wait_for(lambda: job_with("job-rm", "bg", "Complete") and job_with("job-rm", "orphaned", "Complete"),
                 what="both Complete")
        uid = K.get(job_path("job-rm", "bg"))[1]["metadata"]["uid"]
        status, headers, raw = K.request("DELETE", job_path("job-rm", "bg") + "?propagationPolicy=Background")
        self.assertEqual((status, json.loads(raw)), (200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                           "status": "Success",
                                                           "details": {"name": "bg", "group": "batch",
                                                                       "kind": "jobs", "uid": uid}}))
        self.assertNotIn("warning", headers)
        self.assertEqual(K.get(job_path("job-rm", "bg"))[0], 404)
        wait_for(lambda: pods("job-rm", "job-name=bg") == [], what="bg's pod deleted")
        # batch/v1's default is Orphan, with a warning: the Job lingers with the orphan finalizer, its pod stays
        status, headers, raw = K.request("DELETE", job_path("job-rm", "orphaned"))
        gone = json.loads(raw)
        self.assertEqual((status, gone["kind"], gone["metadata"]["finalizers"]), (200, "Job", ["orphan"]))
        self.assertIn("deletionTimestamp", gone["metadata"])
        self.assertEqual(gone["metadata"]["deletionGracePeriodSeconds"], 0)
        self.assertEqual(headers["warning"], '299 - "child pods are preserved by default when jobs are deleted; '
                                             'set propagationPolicy=Background to remove them or set '
                                             'propagationPolicy=Orphan to suppress this warning"')
        wait_for(lambda: K.get(job_path("job-rm", "orphaned"))[0] == 404, what="the orphaned Job gone")
        left = pods("job-rm", "job-name=orphaned")
        self.assertEqual(len(left), 1)
        self.assertNotIn("ownerReferences", left[0]["metadata"])
        status, err = K.delete(job_path("job-rm", "orphaned") + "?propagationPolicy=Sideways")
        self.assertEqual((status, err["reason"]), (422, "Invalid"))
        self.assertIn('propagationPolicy: Unsupported value: "Sideways"', err["message"])


class GpuNodes(unittest.TestCase):
    """Its own stand-in: 3 nodes, the last a g2-gpu-rtx4000a1-s node in a second pool."""

    @classmethod
    def setUpClass(cls):
        cls.k = KubeSim(config=dict(FAST, nodes=3, gpu_nodes=1))
        cls.k.start()

    @classmethod
    def tearDownClass(cls):
        cls.k.stop()

    def setUp(self):
        self.k.admin("POST", "/config", {"gpu_plugin_preinstalled": False, "gpu_node_taints": None,
                                         "gpu_capacity": None})
        self.k.admin("POST", "/reset")

    def nodes(self):
        return self.k.get("/api/v1/nodes")[1]["items"]

    def gpu_node(self):
        return [n for n in self.nodes()
                if n["metadata"]["labels"]["node.kubernetes.io/instance-type"] == "g2-gpu-rtx4000a1-s"][0]

    def ns(self, name):
        status, _ = self.k.apply("/api/v1/namespaces/" + name, ns_obj(name))
        self.assertEqual(status, 201)

    def test_gpu_nodes_are_lke_labelled_and_advertise_no_gpu_without_a_device_plugin(self):
        nodes = self.nodes()
        types = sorted(n["metadata"]["labels"]["node.kubernetes.io/instance-type"] for n in nodes)
        self.assertEqual(types, ["g2-gpu-rtx4000a1-s", "g6-standard-2", "g6-standard-2"])
        pools = {n["metadata"]["labels"]["node.kubernetes.io/instance-type"]:
                 n["metadata"]["labels"]["lke.linode.com/pool-id"] for n in nodes}
        self.assertNotEqual(pools["g2-gpu-rtx4000a1-s"], pools["g6-standard-2"])     # a pool per type
        gpu = self.gpu_node()
        self.assertIn("-%s-" % pools["g2-gpu-rtx4000a1-s"], gpu["metadata"]["name"])
        for n in nodes:
            self.assertNotIn("nvidia.com/gpu", n["status"]["capacity"])
            self.assertNotIn("nvidia.com/gpu", n["status"]["allocatable"])
            self.assertIn("cpu", n["status"]["allocatable"])
        self.ns("gpu-none")
        self.k.apply(dep_path("gpu-none", "llm"), gpu_deployment("llm", "gpu-none"))
        c = wait_for(lambda: unschedulable("gpu-none", self.k), what="an unschedulable pod")[0]
        self.assertEqual((c["reason"], c["message"]), (
            "Unschedulable", "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are "
                             "available: 3 No preemption victims found for incoming pod."))
        # well after ready_ms (a plain deployment got ready meanwhile) it is still waiting
        self.k.apply(dep_path("gpu-none", "web"), deployment("web", "gpu-none"))
        wait_for(lambda: (lambda st: st.get("readyReplicas") == 1)(
            self.k.get(dep_path("gpu-none", "web"))[1]["status"]), what="web ready")
        self.assertEqual(len(unschedulable("gpu-none", self.k)), 1)
        self.assertNotIn("nvidia.com/gpu", self.gpu_node()["status"]["allocatable"])

    def test_the_device_plugin_daemonset_makes_the_gpu_allocatable_and_the_gpu_pod_runs(self):
        self.ns("gpu-plugin")
        self.k.apply(dep_path("gpu-plugin", "llm"), gpu_deployment("llm", "gpu-plugin"))
        wait_for(lambda: unschedulable("gpu-plugin", self.k), what="the GPU pod waits")
        status, ds = self.k.apply(DEVICE_PLUGIN_PATH, DEVICE_PLUGIN, manager="cluster-admin")
        self.assertEqual(status, 201, ds)
        node = wait_for(lambda: (lambda n: n if n["status"]["allocatable"].get("nvidia.com/gpu") == "1" else None)(
            self.gpu_node()), what="nvidia.com/gpu allocatable")
        self.assertEqual(node["status"]["capacity"]["nvidia.com/gpu"], "1")
        for n in self.nodes():                        # the plugin runs everywhere; only the GPU node has GPUs
            if n["metadata"]["name"] != node["metadata"]["name"]:
                self.assertNotIn("nvidia.com/gpu", n["status"]["allocatable"])
        ds = wait_for(lambda: daemonset_ready("kube-system", "nvidia-device-plugin-daemonset", self.k),
                      what="plugin ready")
        self.assertEqual(ds["status"]["desiredNumberScheduled"], 3)
        plugin = [p for p in pods("kube-system", "name=nvidia-device-plugin-ds", self.k)
                  if p["spec"]["nodeName"] == node["metadata"]["name"]][0]
        self.assertEqual(plugin["spec"]["priority"], 2000001000)
        wait_for(lambda: (lambda st: st.get("readyReplicas") == 1)(
            self.k.get(dep_path("gpu-plugin", "llm"))[1]["status"]), what="the GPU pod runs")
        self.assertEqual([p["spec"]["nodeName"] for p in pods("gpu-plugin", k=self.k)], [node["metadata"]["name"]])
        # the plugin goes: the node stops advertising (the running pod is not evicted)
        self.assertEqual(self.k.delete(DEVICE_PLUGIN_PATH)[0], 200)
        wait_for(lambda: "nvidia.com/gpu" not in self.gpu_node()["status"]["allocatable"], what="GPU withdrawn")

    def test_gpu_plugin_preinstalled_and_the_gpu_capacity_cap(self):
        self.k.admin("POST", "/config", {"gpu_plugin_preinstalled": True, "gpu_capacity": 0})
        wait_for(lambda: self.gpu_node()["status"]["allocatable"].get("nvidia.com/gpu") == "1",
                 what="advertised without a plugin")
        self.ns("gpu-pre")
        self.k.apply(dep_path("gpu-pre", "llm"), gpu_deployment("llm", "gpu-pre", replicas=2))
        wait_for(lambda: len(unschedulable("gpu-pre", self.k)) == 2, what="held back by gpu_capacity 0")
        self.k.admin("POST", "/config", {"gpu_capacity": None})

        def one_runs():
            ps = pods("gpu-pre", k=self.k)
            running = [p for p in ps if p["status"].get("phase") == "Running"]
            return running if len(running) == 1 and len(unschedulable("gpu-pre", self.k)) == 1 else None
        running = wait_for(one_runs, what="one GPU pod on the one GPU")
        self.assertEqual(running[0]["spec"]["nodeName"], self.gpu_node()["metadata"]["name"])
        self.assertEqual(unschedulable("gpu-pre", self.k)[0]["message"],
                         "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are "
                         "available: 3 No preemption victims found for incoming pod.")

    def test_a_tainted_gpu_pool_needs_tolerations(self):
        taint = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
        self.k.admin("POST", "/config", {"gpu_node_taints": [taint], "gpu_plugin_preinstalled": True})
        self.k.admin("POST", "/reset")
        self.assertEqual(self.gpu_node()["spec"]["taints"], [taint])
        self.ns("gpu-taint")
        self.k.apply(dep_path("gpu-taint", "llm"), gpu_deployment("llm", "gpu-taint"))
        c = wait_for(lambda: unschedulable("gpu-taint", self.k), what="unschedulable")[0]
        self.assertEqual(c["message"], "0/3 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: "
                                       "present}, 2 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are "
                                       "available: 1 Preemption is not helpful for scheduling, 2 No preemption "
                                       "victims found for incoming pod.")
        tolerant = gpu_deployment("llm", "gpu-taint")
        tolerant["spec"]["template"]["spec"]["tolerations"] = [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        self.k.apply(dep_path("gpu-taint", "llm"), tolerant)
        wait_for(lambda: (lambda st: st.get("readyReplicas") == 1 and st.get("updatedReplicas") == 1)(
            self.k.get(dep_path("gpu-taint", "llm"))[1]["status"]), what="tolerating pod runs")
        # a DaemonSet skips the tainted node unless it tolerates the taint
        self.k.apply(ds_path("gpu-taint", "agent"), daemonset("agent", "gpu-taint"))
        d = wait_for(lambda: daemonset_ready("gpu-taint", "agent", self.k), what="agent")
        self.assertEqual(d["status"]["desiredNumberScheduled"], 2)
        self.assertNotIn(self.gpu_node()["metadata"]["name"],
                         [p["spec"]["nodeName"] for p in pods("gpu-taint", "app=agent", self.k)])


class Faults(unittest.TestCase):
    def test_injected_429_then_normal(self):
        K.admin("POST", "/fail", {"method": "GET", "path_prefix": "/api/v1/namespaces/default/configmaps",
                                  "status": 429, "retry_after": 2, "times": 1})
        status, headers, raw = K.request("GET", "/api/v1/namespaces/default/configmaps")
        self.assertEqual(status, 429)
        self.assertEqual(headers["retry-after"], "2")
        body = json.loads(raw)
        self.assertEqual((body["reason"], body["details"]["retryAfterSeconds"]), ("TooManyRequests", 2))
        self.assertEqual(K.get("/api/v1/namespaces/default/configmaps")[0], 200)

    def test_skip_times_500_and_apply_conflict(self):
        make_ns("faults")
        K.admin("POST", "/fail", {"method": "PATCH", "path_prefix": "/api/v1/namespaces/faults/", "status": 409,
                                  "times": 1, "skip": 1})
        K.admin("POST", "/fail", {"method": "PATCH", "path_prefix": "/api/v1/namespaces/faults/", "status": 500,
                                  "times": 2})
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
        path = "/api/v1/namespaces/faults/configmaps/c"
        codes = [K.apply(path, cm)[0] for _ in range(4)]
        # first 409 rule skips one request, so the 500 rule answers it; then 409; then the last 500; then ok
        self.assertEqual(codes, [500, 409, 500, 201])
        reqs = K.admin("GET", "/requests")["items"]
        self.assertEqual([r["injected"] for r in reqs if r["path"] == path], [True, True, True, False])

    def test_a_dropped_connection(self):
        K.admin("POST", "/fail", {"method": "GET", "path_prefix": "/api/v1/nodes", "drop": True, "times": 1})
        u = K.server.rsplit(":", 1)
        c = http.client.HTTPSConnection("127.0.0.1", int(u[1]), context=K.ctx, timeout=10)
        c.request("GET", "/api/v1/nodes", headers={"Authorization": "Bearer " + K.info["token"]})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError, ssl.SSLError)):
            c.getresponse()
        c.close()
        self.assertEqual(K.get("/api/v1/nodes")[0], 200)


class Admin(unittest.TestCase):
    def test_request_log_and_objects(self):
        make_ns("admin-log")
        since = K.admin("GET", "/requests")["items"][-1]["seq"]
        K.apply("/api/v1/namespaces/admin-log/configmaps/c",
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}},
                manager="tester")
        entry = K.admin("GET", "/requests?since=%d" % since)["items"][0]
        self.assertEqual(entry["method"], "PATCH")
        self.assertEqual(entry["path"], "/api/v1/namespaces/admin-log/configmaps/c")
        self.assertEqual(entry["params"], {"fieldManager": "tester"})
        self.assertEqual(entry["content_type"], APPLY)
        self.assertEqual(entry["json"]["data"], {"k": "v"})
        self.assertEqual(entry["status"], 201)
        objs = K.admin("GET", "/objects?kind=ConfigMap&namespace=admin-log")["items"]
        self.assertEqual([(o["kind"], o["metadata"]["name"]) for o in objs], [("ConfigMap", "c")])
        with self.assertRaises(RuntimeError):
            K.admin("POST", "/config", {"no_such_key": 1})


if __name__ == "__main__":
    unittest.main(verbosity=2)
