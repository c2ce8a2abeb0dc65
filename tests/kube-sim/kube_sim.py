#!/usr/bin/env python3
"""kube-sim: a Kubernetes API server stand-in for linode-ai's tests.

README
======

linode-ai deploys its templates onto LKE by talking to the Kubernetes API over
HTTPS with a kubeconfig's bearer token (no kubectl).  No real API server can be
installed on the test machines, so this single-process, standard-library
program (plus PyYAML for application/apply-patch+yaml bodies) speaks the part
of the wire format linode-ai uses and records everything it is sent.

Start
-----

    python3 tests/kube-sim/kube_sim.py --port 0 --state-dir DIR

prints ONE JSON line on stdout once both listeners are up, then runs until it
is killed (SIGTERM/SIGINT write DIR/objects.json on the way out):

    {"server": "https://127.0.0.1:PORT", "ca_pem": "-----BEGIN CERTIFICATE-----...",
     "token": "...", "admin": "http://127.0.0.1:ADMINPORT",
     "kubeconfig": "DIR/kubeconfig", "state_dir": "DIR", "pid": 1234}

The first four keys are the contract; the others are conveniences.  At start
the `openssl` CLI makes a CA (EC P-256, CA:TRUE) and a server certificate for
IP:127.0.0.1 and DNS:localhost (more with --san) in DIR, reused on restart.
DIR/kubeconfig is shaped like an LKE one (cluster lkeN, user lkeN-admin,
context lkeN-ctx, certificate-authority-data, token).  DIR/requests.jsonl gets
every request as it is answered.  Options: --token, --admin-port, --san,
--cluster-id, --ready-ms, --lb-ms, --delete-ms, --host.

What it speaks (HTTPS, `Authorization: Bearer <token>` on every request, else
401 with a Status object: kind Status, apiVersion v1, status Failure, reason
Unauthorized, code 401)
-----------------------------------------------------------------------------

Discovery: GET /version (v1.33-shaped), /api, /api/v1, /apis, /apis/apps,
/apis/apps/v1, /apis/batch, /apis/batch/v1, /apis/storage.k8s.io(/v1),
/healthz, /readyz, /livez.
Resources (name, singularName, namespaced, kind, verbs, shortNames,
categories as the real server lists them): namespaces, configmaps, secrets,
services, persistentvolumeclaims, pods (+pods/log), nodes; apps/v1
daemonsets, deployments, statefulsets, replicasets; batch/v1 jobs (no
short name, category all, jobs/status); storage.k8s.io/v1 storageclasses.
batch/v1 cronjobs are not served (the real group lists them too).
Unknown paths: 404 Status "the server could not find the requested resource".

Server-side apply: PATCH .../{resource}/{name} (namespaces are cluster-scoped:
PATCH /api/v1/namespaces/{name}) with Content-Type
application/apply-patch+yaml (YAML or JSON body), ?fieldManager=...
(required: 422 PatchOptions.meta.k8s.io "" is invalid), &force=true,
&dryRun=All.  Other patch types get 415 UnsupportedMediaType.  Checked in
this order (the real apiserver's order, as far as it is known here):
  * 415 content type, 422 PatchOptions, 400 "error decoding YAML",
  * 400 "invalid object type: apps/v1, Kind=Service" when apiVersion/kind do
    not match the URL, 400 "metadata.managedFields must be nil",
  * 500 "failed to create typed patch object (ns/name; apps/v1,
    Kind=Deployment): .spec.foo: field not declared in schema" for unknown
    fields, wrong scalar types (e.g. an env value 8080 instead of "8080":
    "expected string, got &value.valueUnstructured{Value:8080}"), list items
    without their key, duplicate keys.  The schema is the field table of
    k8s.io/api at a 2026 commit (a superset of what LKE runs);
  * 409 Conflict "Apply failed with N conflict(s): conflict with "mgr": .path"
    when another field manager owns a field with a different value and
    force is not set; force=true moves ownership.  Fields a manager stops
    applying are removed unless another manager also owns them; values
    nobody owns (defaults, allocations) stay on the live object, as with
    structured-merge-diff, so e.g. switching a Deployment to Recreate
    needs "rollingUpdate: null" exactly as on a real cluster; an explicit
    null removes a field;
  * 400 "the name of the object (x) does not match the name on the URL (y)",
    same for namespace;
  * 409 "the object has been modified" when metadata.resourceVersion is
    sent and stale;
  * 404 namespaces "x" not found / 403 "unable to create new content in
    namespace x because it is being terminated" (creates only);
  * 422 Invalid with causes, message formats from k8s.io/apimachinery:
    names (DNS-1123 subdomain for most kinds, DNS-1123 label for
    namespaces, DNS-1035 label for services), labels and annotation keys,
    Deployment/StatefulSet selector required and matching the template
    labels, selector immutable, restartPolicy Always, StatefulSet spec
    updates limited to replicas/template/updateStrategy/..., DaemonSets as
    ValidateDaemonSetSpec (selector matching the template labels -- a
    missing one is only that error, there is no "Required value" --, not
    empty, immutable; restartPolicy Always; no activeDeadlineSeconds;
    updateStrategy RollingUpdate|OnDelete; exactly one of maxUnavailable /
    maxSurge non-zero, so maxSurge 1 needs maxUnavailable 0 since the
    default is 1; on an update each spec error is listed twice in
    details.causes, as the registry validates the spec twice), Jobs as
    ValidateJob / ValidateJobUpdate (the generated selector and template
    labels -- a selector without manualSelector: true is "`selector` not
    auto-generated" --; parallelism, completions, backoffLimit,
    activeDeadlineSeconds, ttlSecondsAfterFinished >= 0; completionMode
    NonIndexed|Indexed; backoffLimitPerIndex / maxFailedIndexes /
    successPolicy need Indexed; podReplacementPolicy; the pod template's
    labels and spec; template.spec.restartPolicy Never or OnFailure -- a
    template without one defaults to Always, which is "Required value:
    valid values: "OnFailure", "Never"" as upstream words it, other values
    "Unsupported value" --; selector matching the template labels; on an
    update spec errors twice, like DaemonSets, and completions (Indexed:
    only together with parallelism), selector, template, completionMode,
    podFailurePolicy, backoffLimitPerIndex, managedBy, successPolicy
    immutable "field is immutable", but for a suspended Job that never
    started, whose template's labels, annotations, node selector, node
    affinity, tolerations and scheduling gates may change), containers
    (name DNS-1123 label, unique, image required, ports 1-65535, port
    names IANA, env var names, volumeMounts naming a volume, requests <=
    limits, nvidia.com/gpu integer and request == limit, limit required),
    Services (ports required, 1-65535, names required when several,
    protocol, type, nodePort range 30000-32767, clusterIP immutable), PVCs
    (accessModes, storage request, spec immutable but for a larger
    request), Secrets (data base64 -> 400 like the decoder, keys, 1 MiB,
    type immutable), ConfigMaps (keys, 1 MiB).
  ?fieldValidation= must be Ignore, Warn or Strict if given (no Warning
  headers are sent).  Creates answer 201, updates 200, with the object as
  JSON; metadata gets uid, resourceVersion (one increasing counter),
  creationTimestamp,
  generation (Deployments/StatefulSets/DaemonSets/Jobs: bumped when spec
  changes, and for Deployments when annotations change; DaemonSets also
  carry the deprecated.daemonset.template.generation annotation, 1 at
  creation and bumped when the template changes) and managedFields (the
  applier's Apply entry, controllers' Update entries for status).  An
  apply that changes nothing does not bump resourceVersion.  Defaults are
  filled the way the real server fills them (strategy, revisionHistoryLimit,
  progressDeadlineSeconds, DaemonSet updateStrategy RollingUpdate with
  maxUnavailable 1 / maxSurge 0, imagePullPolicy, terminationMessagePath,
  protocol TCP, targetPort, sessionAffinity, ipFamilies, volumeMode, the
  default StorageClass linode-block-storage-retain, Secret type Opaque and
  stringData folded into data, namespace label kubernetes.io/metadata.name,
  Jobs as SetDefaults_Job: completions 1 and parallelism 1 when neither is
  set, else parallelism 1, backoffLimit 6 (MaxInt32 with
  backoffLimitPerIndex), completionMode NonIndexed, suspend false,
  podReplacementPolicy TerminatingOrFailed (Failed with a
  podFailurePolicy), manualSelector false -- present, as on 1.33 --, and
  the Job's labels copied from its template when it has none).  A Job
  created without manualSelector: true gets, as the job strategy's
  generateSelector does, spec.selector.matchLabels
  batch.kubernetes.io/controller-uid=<uid> and the template labels
  batch.kubernetes.io/controller-uid, controller-uid (the uid),
  batch.kubernetes.io/job-name, job-name (its name); they are nobody's
  fields, so re-applying the same manifest is a no-op.  A new Job's status
  is {}.

Reads: GET one object (404 NotFound Status, details {name, group, kind:
<resource plural>} as the real one), GET lists per namespace and across
namespaces (/api/v1/pods, /apis/apps/v1/deployments, /apis/apps/v1/daemonsets,
/apis/batch/v1/jobs) with labelSelector
(=, ==, !=, in, notin, exists, !exists), fieldSelector (metadata.name,
metadata.namespace; pods also status.phase, spec.nodeName; jobs
status.successful), limit/continue.
Lists are {kind: XList, apiVersion, metadata: {resourceVersion[, continue,
remainingItemCount]}, items} and, like the real server, the items carry no
kind/apiVersion.  Status integers that are zero are omitted where the Go
type says omitempty (a Deployment with no ready pod has no readyReplicas;
a DaemonSet always has currentNumberScheduled, numberMisscheduled,
desiredNumberScheduled and numberReady, and updatedNumberScheduled,
numberAvailable, numberUnavailable only when non-zero; a Job has active,
succeeded, failed only when non-zero, terminating, ready and
uncountedTerminatedPods {} always once its controller has seen it).  GET
/api/v1/nodes shows each node's labels (instance type, LKE pool id),
spec.taints, status.capacity and status.allocatable, so a client can see
whether any node advertises nvidia.com/gpu.

Delete: DELETE one object with optional DeleteOptions body (propagationPolicy
Orphan, gracePeriodSeconds 0 for pods, preconditions, dryRun; another
propagationPolicy is the real 422).  ConfigMaps,
Secrets, Deployments, StatefulSets, DaemonSets answer Status Success with
details; Jobs too with propagationPolicy Background (their pods are
deleted), but batch/v1's default is Orphan: without a propagationPolicy
(the answer then carries the real "Warning: 299 - "child pods are
preserved by default when jobs are deleted; ..."" header) or with Orphan
the Job is answered with deletionTimestamp, deletionGracePeriodSeconds 0
and finalizers [orphan], and the garbage collector takes the Job's owner
reference and tracking finalizer off its pods, which run on, and removes
the Job a tick later; Foreground answers finalizers [foregroundDeletion],
deletes the pods and removes the Job once they are gone;
pods, services, PVCs and namespaces answer the object (ReturnDeletedObject),
with deletionTimestamp where they linger: pods terminate for delete_ms,
PVCs keep kubernetes.io/pvc-protection while a pod mounts them,
LoadBalancer services keep service.kubernetes.io/load-balancer-cleanup for
delete_ms.  DELETE /api/v1/namespaces/{name} sets status.phase Terminating
(deletionTimestamp, conditions) and removes the namespace and everything in
it after delete_ms; a second DELETE meanwhile is the real 409; default,
kube-system, kube-public, kube-node-lease may not be deleted (403).

Pod logs: GET /api/v1/namespaces/{ns}/pods/{name}/log with container,
tailLines, timestamps, previous, limitBytes, sinceSeconds, follow (chunked,
ends when the pod goes away) -> text/plain.  The real 400s: no container
named when the pod has several, unknown container, container waiting to
start, previous container not found.

Watch (?watch=1 or /watch/ paths) is NOT implemented: 400 Status saying so.
POST (create), PUT (replace) and other patch types are not implemented:
405 MethodNotAllowed / 415, saying so.  Pods, replicasets, nodes and
storageclasses are read-only (controller-made; pods may be deleted).
Subresources: GET .../status (the object), GET deployments|statefulsets
/{name}/scale (autoscaling/v1 Scale), pods/log; others answer 405.

Simulation (a controller loop every tick_ms, default 25)
--------------------------------------------------------

* Deployments: a ReplicaSet <name>-<pod-template-hash> and pods
  <name>-<hash>-<5 chars> with the template labels plus pod-template-hash,
  owner references, nodeName, podIP.  The controller observes a change
  after observe_ms (default 50; until then status keeps the old
  observedGeneration, like the apply response itself).  Pods are Pending /
  ContainerCreating, then Running and ready ready_ms (default 300) after
  they were scheduled.  RollingUpdate keeps the old pods until every new
  one is ready; Recreate removes the old ones first.  Status: replicas,
  updatedReplicas, readyReplicas, availableReplicas, unavailableReplicas,
  observedGeneration, conditions Available (MinimumReplicasAvailable /
  MinimumReplicasUnavailable) and Progressing (NewReplicaSetCreated,
  ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded after
  progressDeadlineSeconds or config progress_deadline_ms), annotation
  deployment.kubernetes.io/revision.
* StatefulSets: pods <name>-0..N-1 (OrderedReady: one after the other;
  Parallel: together), labels controller-revision-hash,
  statefulset.kubernetes.io/pod-name, apps.kubernetes.io/pod-index; PVCs
  <template>-<name>-<i> from volumeClaimTemplates (kept when the set is
  deleted, like the Retain policy); a pod is ready only once its PVCs are
  Bound; rolling updates replace pods from the highest ordinal.  Status:
  replicas, readyReplicas, currentReplicas, updatedReplicas,
  availableReplicas, currentRevision, updateRevision, collisionCount,
  observedGeneration; no conditions (the real controller sets none).
* DaemonSets: one pod <name>-<5 chars> per node that should run one: the
  template's nodeSelector and required node affinity match the node's
  labels, and every NoSchedule/NoExecute taint of the node is tolerated
  (Kubernetes' ToleratesTaint: same key, or operator Exists without a key;
  same effect or none; Exists, or Equal with the same value) by the
  template's tolerations plus those the controller adds (not-ready,
  unreachable, disk/memory/pid-pressure, unschedulable).  Pods carry
  controller-revision-hash and pod-template-generation labels, those
  tolerations, and node affinity on metadata.name for their node; they are
  ready ready_ms after being scheduled, like other pods.  A pod on a node
  that no longer fits is removed.  RollingUpdate replaces pods node by
  node within maxUnavailable (maxSurge > 0: the new pod starts next to the
  old one, which goes once the new one is available); OnDelete replaces
  only pods that were deleted.  Status: desiredNumberScheduled,
  currentNumberScheduled, numberReady, numberAvailable, numberUnavailable,
  updatedNumberScheduled (counted on each node's scheduled, then oldest,
  pod, as the controller does), numberMisscheduled, observedGeneration;
  no conditions, no collisionCount.
* Jobs (NonIndexed): pods <job>-<5 chars> (generateName <job>-) with
  the template's labels (the generated four included), an owner
  reference to the Job (batch/v1, controller) and the
  batch.kubernetes.io/job-tracking finalizer until the Job has counted
  them; up to parallelism at a time, no more than the completions left.
  A pod runs (Running, ready) ready_ms after it is scheduled, like every
  pod, and ready_ms later its containers exit 0: phase Succeeded, each
  container terminated {exitCode 0, reason Completed}, Ready /
  ContainersReady False reason PodCompleted, Initialized reason
  PodCompleted.  The Job's status: startTime at its first sync, active,
  ready, terminating, succeeded, failed, uncountedTerminatedPods {};
  when succeeded reaches completions (completions unset: one success
  and nothing active) the 1.33 controller's two steps, conditions
  SuccessCriteriaMet then Complete, both True with reason
  CompletionsReached and message "Reached expected number of succeeded
  pods", and completionTime.  A failed pod (hold fail, restartPolicy
  Never: phase Failed, exitCode 1, reason Error, Ready reason PodFailed)
  counts in failed, as does a pod deleted before it finished (the
  podReplacementPolicy TerminatingOrFailed view); it is replaced after a
  backoff of ready_ms doubling with each failure since the last success
  (a real cluster waits 10 s, doubling, at most 10 min; here at most 60
  ready_ms), until failed > backoffLimit: then FailureTarget (reason
  BackoffLimitExceeded, message "Job has reached the specified backoff
  limit"), the active pods are deleted, and Failed with the same reason
  once no pod of the Job runs; no completionTime.  With restartPolicy
  OnFailure the fail hold makes the container crash in place
  (CrashLoopBackOff, restartCount growing, as crashloop) and the Job
  fails once the restarts of its running pods reach backoffLimit (> 0
  for backoffLimit 0), deleting the pod.  activeDeadlineSeconds (real
  seconds from startTime) fails the Job the same way with reason
  DeadlineExceeded, "Job was active longer than specified deadline".
  suspend: true deletes the active pods and adds Suspended True
  (JobSuspended, "Job suspended"); resuming turns it False (JobResumed,
  "Job resumed") and resets startTime.  ttlSecondsAfterFinished (real
  seconds) deletes a finished Job and its pods.  Finished pods stay (as
  their logs do) and hold no GPU.
* PVCs: Bound ready_ms after creation when their StorageClass exists
  (linode-block-storage, linode-block-storage-retain), spec.volumeName
  pvc-<uid>, status.capacity rounded up to the 10Gi Linode minimum, the
  provisioner annotations; an unknown StorageClass stays Pending.
* Services: clusterIP from 10.128.0.0/16 (None allowed), nodePorts from
  30000-32767 for NodePort/LoadBalancer, and for LoadBalancer
  status.loadBalancer.ingress [{"ip": lb_ip, "hostname": lb_hostname}]
  lb_ms (default 300) after it became a LoadBalancer (only the hostname
  with the linode-loadbalancer-hostname-only-ingress annotation).
  Defaults lb_ip 127.0.0.1, lb_hostname nb-127-0-0-1.us-ord.nodebalancer.
  linode.com: stand-ins hand out loopback addresses only.
* Pods do not start while what they need is missing: an env
  secretKeyRef/configMapKeyRef/envFrom naming an absent Secret/ConfigMap
  (or key) gives CreateContainerConfigError with the kubelet's message; a
  secret/configMap volume that does not exist keeps ContainerCreating; a
  PVC that is missing or not Bound keeps the pod Unschedulable.
* Nodes lke<cluster>-<pool>-<hex> (config nodes, default 3, read at start
  and on /reset), Ready, labelled as LKE labels them (kubernetes.io/
  hostname, lke.linode.com/pool-id, node.kubernetes.io/instance-type
  g6-standard-2, topology.kubernetes.io/region).  The last gpu_nodes of
  them (default 0, also read at start and on /reset) are GPU nodes: a
  second pool (its own pool id and names), instance type
  g2-gpu-rtx4000a1-s, spec.taints from gpu_node_taints (default none; LKE
  pools may be tainted).  A GPU node's status.capacity and allocatable
  have nvidia.com/gpu "1" only while a ready pod of a DaemonSet whose
  container image contains nvidia/k8s-device-plugin (e.g.
  nvcr.io/nvidia/k8s-device-plugin:v0.17.0) runs on it -- the device
  plugin registering with the kubelet -- and lose it when that pod goes;
  with gpu_plugin_preinstalled (default false, read live) they advertise
  it from the start, as on a cluster that ships the plugin.
* Scheduling: a pod waits (Pending, PodScheduled False Unschedulable with
  the scheduler's message) for a missing or unbound PVC, then for the
  gpu_capacity cap, then until some node passes the filters in the
  scheduler's order: untolerated NoSchedule/NoExecute taint ("node(s) had
  untolerated taint {key: value}"), nodeSelector / required node affinity
  ("node(s) didn't match Pod's node affinity/selector"), and with GPU
  nodes, nvidia.com/gpu allocatable minus what pods already scheduled on
  the node hold ("Insufficient nvidia.com/gpu"); the message counts the
  reasons per node, e.g. "0/3 nodes are available: 3 Insufficient
  nvidia.com/gpu. preemption: 0/3 nodes are available: 3 No preemption
  victims found for incoming pod.".  Pods are spread over the nodes that
  pass.  GPUs, two models:
    - gpu_nodes 0 (the default): GPUs are a count only.  gpu_capacity
      (default null: unlimited) is the number of nvidia.com/gpu in the
      cluster (shown on the nodes, spread over them, when set at start);
      a pod asking for more than is free stays Unschedulable.
    - gpu_nodes > 0: GPUs are per node, as above; gpu_capacity, when not
      null, is an extra cap on the cluster-wide count on top (0 keeps
      every GPU pod waiting even on an advertising node).
  Either way, terminating pods hold their GPUs (so a RollingUpdate of a
  1-GPU workload on a 1-GPU cluster never finishes, Recreate does), and a
  running GPU pod is not evicted when its node stops advertising.
* Holds (admin API) override the timing per workload or pod: pending
  (ContainerCreating), crashloop (Running, CrashLoopBackOff, restartCount
  growing, lastState exit 1), imagepull (ImagePullBackOff), unschedulable,
  ready (now; a Job's pod keeps running while held, and once released
  completes ready_ms after it started running, at once if that is
  past), fail (the containers exit 1: a pod with restartPolicy Never
  ends Failed when it would have succeeded, one that restarts its
  containers is crashloop).

Admin API (plain HTTP on loopback, no auth)
-------------------------------------------

GET  /objects[?kind=&namespace=]  every object (with kind/apiVersion)
GET  /requests[?since=N]          request log: seq, method, path, query,
                                  params, content_type, accept, user_agent,
                                  body, json (parsed body), status,
                                  injected, authorized
DELETE /requests                  clear the log
GET/POST /config                  ready_ms, lb_ms, delete_ms, observe_ms,
                                  lb_ip, lb_hostname, progress_deadline_ms,
                                  gpu_capacity, nodes, gpu_nodes,
                                  gpu_node_taints, gpu_plugin_preinstalled,
                                  tick_ms (nodes, gpu_nodes and
                                  gpu_node_taints take effect on /reset)
POST /hold   {"namespace","kind","name","state"}  state: auto (default
             timing), ready (now), pending, crashloop, imagepull,
             unschedulable, fail; kinds Deployment, StatefulSet,
             DaemonSet, Job, Pod (a pod's own hold wins over its
             workload's),
             PersistentVolumeClaim, Service (pending: no ingress),
             Namespace (pending: stays Terminating).  Holds may be set
             before the object exists.
GET  /holds
POST /logs   {"namespace","pod"|"workload","container","lines":[...],
              "append": false}  lines for one pod, or for every pod of a
             Deployment/StatefulSet/DaemonSet/Job; a default line per
             container otherwise (and, once a Job's container has exited,
             "kube-sim: container C exited with code N")
POST /fail   {"method","path_prefix","status","times":1,"skip":0,
              "retry_after","message","reason","delay_ms","drop"}
             inject errors (Status body shaped per code; 429/503 with
             Retry-After; 409 on an apply looks like an apply conflict;
             drop closes the connection without an answer; times -1 =
             forever)
GET/DELETE /fail                  list / clear injected faults
POST /reset                       forget every object but the built-in
                                  namespaces, holds, logs, faults, requests
GET  /healthz

What it CANNOT prove (compared with a real API server on LKE)
-------------------------------------------------------------

* Nothing runs: no scheduler beyond taints, node selectors / required
  node affinity and GPUs (no pod affinity, topology spread, ports,
  priorities or preemption), no kubelet, no device plugin (the GPU appears
  on a timer once a pod with the plugin's image is "ready"; a wrong
  plugin version, a missing driver, a plugin DaemonSet that does not
  tolerate the GPU pool's taint on a real cluster all look fine here as
  long as the pod is placed), no containers,
  images are never pulled (a misspelt image or a private registry without
  an imagePullSecret is "ready" here), probes never run, ports never
  listen, volumes are never mounted, DNS does not exist, no CPU/memory
  requests are checked against node capacity, nothing is OOM-killed or
  evicted.  Readiness is a timer and the holds; a pod that would crash on
  LKE is ready here unless held.  Pod logs are what the admin API set.
* No NodeBalancer, no Linode Block Storage volume, no CCM/CSI behaviour
  beyond the status fields named above; the LoadBalancer address is
  loopback and nothing is forwarded to it; node names, pod IPs, UIDs and
  image digests are made up.  LKE-specific add-ons (the Linode CCM's
  annotations beyond hostname-only, Calico, CoreDNS) are absent.
* No admission webhooks, no PodSecurity admission, no ResourceQuota or
  LimitRange, no RBAC (the one token can do everything), no API priority
  and fairness (429s only when injected), no events, no endpoints /
  endpointslices, no HPA, no garbage collector beyond the owner chains
  modelled here.
* Validation is partial: the field table and the checks listed above;
  the rest of the apiserver's validation (probes, securityContext,
  affinity, volume sources, quantities' canonical form, and much more) is
  not done, and the field table is newer than LKE's apiserver, so fields
  LKE does not know yet are accepted (/version says 1.33; nothing here
  differs by version).  Some messages are approximations (Secret base64
  errors on the apply path, PVC immutability without the diff, the order
  of several errors).  Unknown fields and type errors answer 500 as
  today's apiservers do; an open upstream change would make them 400.
* Server-side apply is modelled, not run: ownership per leaf field with
  associative lists keyed as the schema says; the merge of several
  managers, the removal of fields a manager stops applying, managedFields
  contents and conflict paths are close to, not byte-for-byte, what
  structured-merge-diff produces.  Update-operation managers (kubectl
  edit, controllers writing spec) do not exist here.
* No watch, no protobuf, no Table output, no aggregated discovery, no
  OpenAPI documents, no create/replace/merge/JSON/strategic patches, no
  writes to subresources, no exec / attach / port-forward / proxy.
* resourceVersion is a single counter with no etcd semantics (no 410
  Gone, list resourceVersion parameters are ignored).
* Controllers are simplified: a RollingUpdate starts every new pod at
  once instead of maxSurge at a time, minReadySeconds only delays
  "available", OnDelete and partitions are honoured only roughly, and
  the namespace controller removes everything in one step.  DaemonSets
  make no ControllerRevisions (controllerrevisions is not served), their
  pods are placed with the scheduler model above (when one cannot be,
  the message counts every other node as not matching its node
  affinity; the real scheduler words that case differently), and GPU
  nodes are all one type with one GPU each.  Scheduler messages are
  v1.33's wording (newer schedulers say "untolerated taint(s)" without
  the values).
* Jobs are NonIndexed only: an Indexed Job is validated as one but run
  like a NonIndexed one (no completion index annotation or label, no
  completedIndexes, no per-index backoff, no elastic completions);
  podFailurePolicy, successPolicy, backoffLimitPerIndex, maxFailedIndexes
  and managedBy are accepted, defaulted and validated only as listed
  above, and not acted on (managedBy: the built-in controller runs the
  Job regardless).  No events, no CronJobs.  The immutable-template
  message abbreviates the value to core.PodTemplateSpec{...}: a real
  server prints the whole internal pod template there.  The garbage
  collector and the TTL controller act on the next tick; pods are not
  held by their finalizers (a pod deleted with gracePeriodSeconds 0 is
  gone at once and counted failed when the Job notices it).
* Timing is compressed: real rollouts, image pulls, NodeBalancer and
  volume provisioning take seconds to minutes, and real termination
  grace is 30 s.
"""

import argparse
import base64
import copy
import datetime
import fractions
import hashlib
import http.server
import json
import os
import random
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

try:
    import yaml  # python3-yaml; needed only for YAML (non-JSON) apply bodies
except ImportError:  # pragma: no cover
    yaml = None

K8S_VERSION = {
    "major": "1",
    "minor": "33",
    "emulationMajor": "1",
    "emulationMinor": "33",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "32",
    "gitVersion": "v1.33.4",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-08-12T00:00:00Z",
    "goVersion": "go1.24.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}

DEFAULT_CONFIG = {
    "ready_ms": 300,
    "lb_ms": 300,
    "delete_ms": 300,
    "observe_ms": 50,
    "tick_ms": 25,
    "lb_ip": "127.0.0.1",
    "lb_hostname": "nb-127-0-0-1.us-ord.nodebalancer.linode.com",
    "progress_deadline_ms": None,
    "gpu_capacity": None,
    "nodes": 3,
    "gpu_nodes": 0,
    "gpu_node_taints": None,
    "gpu_plugin_preinstalled": False,
}

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
STORAGE_PROVISIONER = "linodebs.csi.linode.com"
LINODE_MIN_VOLUME = 10 * 2 ** 30
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
LB_CLEANUP_FINALIZER = "service.kubernetes.io/load-balancer-cleanup"
DS_TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
DEVICE_PLUGIN_IMAGE = "nvidia/k8s-device-plugin"
GPU_NODE_TYPE = "g2-gpu-rtx4000a1-s"
PVC_FINALIZER = "kubernetes.io/pvc-protection"
HOSTNAME_ONLY_ANN = "service.beta.kubernetes.io/linode-loadbalancer-hostname-only-ingress"


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

def wall_ts(t=None):
    """RFC 3339 seconds, the metav1.Time wire form."""
    if t is None:
        t = time.time()
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def nano_ts(t):
    """RFC 3339 with nanoseconds, the kubelet log timestamp form."""
    dt = datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%09dZ" % int((t - int(t)) * 1e9)


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def go_quote(s):
    """Go's %q for the strings that occur here."""
    return json.dumps(s, ensure_ascii=False)


def fnv32a(data):
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s):
    """Map every byte onto the consonant/digit alphabet the controllers use."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in s.encode())


def template_hash(template):
    return safe_encode(str(fnv32a(json.dumps(template, sort_keys=True).encode())))


def rand_suffix(n=5):
    return "".join(random.choice(SAFE_ALPHABET) for _ in range(n))


def deep_equal(a, b):
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def prune_nulls(v):
    """An apply body's nulls mean "not set"."""
    if isinstance(v, dict):
        return {k: prune_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [prune_nulls(x) for x in v]
    return v


# Quantities ---------------------------------------------------------------

QTY_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
QTY_SUFFIX = {
    "": 1, "n": fractions.Fraction(1, 10 ** 9), "u": fractions.Fraction(1, 10 ** 6),
    "m": fractions.Fraction(1, 1000), "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12,
    "P": 10 ** 15, "E": 10 ** 18, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40,
    "Pi": 2 ** 50, "Ei": 2 ** 60,
}


def parse_quantity(v):
    """Fraction for a resource.Quantity, or None when it does not parse."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return fractions.Fraction(v)
    if isinstance(v, float):
        return fractions.Fraction(v).limit_denominator(10 ** 9)
    if not isinstance(v, str):
        return None
    m = QTY_RE.match(v.strip())
    if not m:
        return None
    num, suf = m.groups()
    try:
        n = fractions.Fraction(num)
    except (ValueError, ZeroDivisionError):
        return None
    if suf in QTY_SUFFIX:
        return n * QTY_SUFFIX[suf]
    em = re.fullmatch(r"[eE]([-+]?[0-9]+)", suf)
    if em:
        return n * fractions.Fraction(10) ** int(em.group(1))
    return None


def qty_str(v):
    return v if isinstance(v, str) else str(v)


def format_bytes_qty(n):
    for suf, mult in (("Ei", 2 ** 60), ("Pi", 2 ** 50), ("Ti", 2 ** 40), ("Gi", 2 ** 30), ("Mi", 2 ** 20), ("Ki", 2 ** 10)):
        if n >= mult and n % mult == 0:
            return "%d%s" % (n // mult, suf)
    return str(int(n))


# Go base64 (StdEncoding) -----------------------------------------------------

B64_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def go_b64_error(s):
    """Byte offset where Go's base64.StdEncoding would give up, or None."""
    data = [(i, c) for i, c in enumerate(s) if c not in "\r\n"]
    n = len(data)
    pos = 0
    while pos < n:
        quantum = data[pos:pos + 4]
        if len(quantum) < 4:
            # an incomplete final quantum
            for i, c in quantum:
                if c not in B64_ALPHABET and c != "=":
                    return i
            return quantum[0][0] if quantum else n
        pad = 0
        for j, (i, c) in enumerate(quantum):
            if c == "=":
                if j < 2:
                    return i
                pad += 1
            elif c not in B64_ALPHABET or pad:
                return i
        if pad and pos + 4 < n:
            return data[pos + 4][0]
        pos += 4
    return None


# --------------------------------------------------------------------------
# The field table: which fields each built-in type has, their wire types and
# which lists are associative (and on which keys).  Generated from the Go
# struct tags and +listType/+listMapKey markers of k8s.io/api (core/v1,
# apps/v1, batch/v1) and k8s.io/apimachinery (meta/v1) at a 2026 commit; status
# subtrees are left open but for Job's (JobStatus is typed, as the apply
# schema has it).  Codes: s string, i integer, n number, b boolean,
# x int-or-string, q quantity, * anything, {T} map of T, [T] atomic list,
# [T|k1,k2] associative list keyed on k1,k2, [T|=] set, ...=T inlined struct.
# --------------------------------------------------------------------------

SCHEMA_TEXT = """
AWSElasticBlockStoreVolumeSource: volumeID=s fsType=s partition=i readOnly=b
Affinity: nodeAffinity=NodeAffinity podAffinity=PodAffinity podAntiAffinity=PodAntiAffinity
AppArmorProfile: type=s localhostProfile=s
AzureDiskVolumeSource: diskName=s diskURI=s cachingMode=s fsType=s readOnly=b kind=s
AzureFileVolumeSource: secretName=s shareName=s readOnly=b
CSIVolumeSource: driver=s readOnly=b fsType=s volumeAttributes={s} nodePublishSecretRef=LocalObjectReference
Capabilities: add=[s] drop=[s]
CephFSVolumeSource: monitors=[s] path=s user=s secretFile=s secretRef=LocalObjectReference readOnly=b
CinderVolumeSource: volumeID=s fsType=s readOnly=b secretRef=LocalObjectReference
ClientIPConfig: timeoutSeconds=i
ClusterTrustBundleProjection: name=s signerName=s labelSelector=LabelSelector optional=b path=s user=i
ConfigMap: metadata=ObjectMeta immutable=b data={s} binaryData={s}
ConfigMapEnvSource: ...=LocalObjectReference optional=b
ConfigMapKeySelector: ...=LocalObjectReference key=s optional=b
ConfigMapProjection: ...=LocalObjectReference items=[KeyToPath] optional=b
ConfigMapVolumeSource: ...=LocalObjectReference items=[KeyToPath] defaultMode=i optional=b defaultUser=i
Container: name=s image=s command=[s] args=[s] workingDir=s ports=[ContainerPort|containerPort,protocol] envFrom=[EnvFromSource] env=[EnvVar|name] resources=ResourceRequirements resizePolicy=[ContainerResizePolicy] restartPolicy=s restartPolicyRules=[ContainerRestartRule] volumeMounts=[VolumeMount|mountPath] volumeDevices=[VolumeDevice|devicePath] livenessProbe=Probe readinessProbe=Probe startupProbe=Probe lifecycle=Lifecycle terminationMessagePath=s terminationMessagePolicy=s imagePullPolicy=s securityContext=SecurityContext stdin=b stdinOnce=b tty=b
ContainerPort: name=s hostPort=i containerPort=i protocol=s hostIP=s
ContainerResizePolicy: resourceName=s restartPolicy=s
ContainerRestartRule: action=s exitCodes=ContainerRestartRuleOnExitCodes
ContainerRestartRuleOnExitCodes: operator=s values=[i|=]
DaemonSet: metadata=ObjectMeta spec=DaemonSetSpec status=*
DaemonSetSpec: selector=LabelSelector template=PodTemplateSpec updateStrategy=DaemonSetUpdateStrategy minReadySeconds=i revisionHistoryLimit=i
DaemonSetUpdateStrategy: type=s rollingUpdate=RollingUpdateDaemonSet
Deployment: metadata=ObjectMeta spec=DeploymentSpec status=*
DeploymentSpec: replicas=i selector=LabelSelector template=PodTemplateSpec strategy=DeploymentStrategy minReadySeconds=i revisionHistoryLimit=i paused=b progressDeadlineSeconds=i
DeploymentStrategy: type=s rollingUpdate=RollingUpdateDeployment
DownwardAPIProjection: items=[DownwardAPIVolumeFile]
DownwardAPIVolumeFile: path=s fieldRef=ObjectFieldSelector resourceFieldRef=ResourceFieldSelector mode=i user=i
DownwardAPIVolumeSource: items=[DownwardAPIVolumeFile] defaultMode=i defaultUser=i
EmptyDirVolumeSource: medium=s sizeLimit=q mode=i
EnvFromSource: prefix=s configMapRef=ConfigMapEnvSource secretRef=SecretEnvSource
EnvVar: name=s value=s valueFrom=EnvVarSource
EnvVarSource: fieldRef=ObjectFieldSelector resourceFieldRef=ResourceFieldSelector configMapKeyRef=ConfigMapKeySelector secretKeyRef=SecretKeySelector fileKeyRef=FileKeySelector
EphemeralContainer: ...=EphemeralContainerCommon targetContainerName=s
EphemeralContainerCommon: name=s image=s command=[s] args=[s] workingDir=s ports=[ContainerPort|containerPort,protocol] envFrom=[EnvFromSource] env=[EnvVar|name] resources=ResourceRequirements resizePolicy=[ContainerResizePolicy] restartPolicy=s restartPolicyRules=[ContainerRestartRule] volumeMounts=[VolumeMount|mountPath] volumeDevices=[VolumeDevice|devicePath] livenessProbe=Probe readinessProbe=Probe startupProbe=Probe lifecycle=Lifecycle terminationMessagePath=s terminationMessagePolicy=s imagePullPolicy=s securityContext=SecurityContext stdin=b stdinOnce=b tty=b
EphemeralVolumeSource: volumeClaimTemplate=PersistentVolumeClaimTemplate
EvictionResponder: name=s priority=i
ExecAction: command=[s]
FCVolumeSource: targetWWNs=[s] lun=i fsType=s readOnly=b wwids=[s]
FileKeySelector: volumeName=s path=s key=s optional=b
FlexVolumeSource: driver=s fsType=s secretRef=LocalObjectReference readOnly=b options={s}
FlockerVolumeSource: datasetName=s datasetUUID=s
GCEPersistentDiskVolumeSource: pdName=s fsType=s partition=i readOnly=b
GRPCAction: port=i service=s mode=s
GitRepoVolumeSource: repository=s revision=s directory=s
GlusterfsVolumeSource: endpoints=s path=s readOnly=b
HTTPGetAction: path=s port=x host=s scheme=s httpHeaders=[HTTPHeader] protocol=s
HTTPHeader: name=s value=s
HostAlias: ip=s hostnames=[s]
HostPathVolumeSource: path=s type=s
ISCSIVolumeSource: targetPortal=s iqn=s lun=i iscsiInterface=s fsType=s readOnly=b portals=[s] chapAuthDiscovery=b chapAuthSession=b secretRef=LocalObjectReference initiatorName=s
ImageVolumeSource: reference=s pullPolicy=s
Job: metadata=ObjectMeta spec=JobSpec status=JobStatus
JobCondition: type=s status=s lastProbeTime=s lastTransitionTime=s reason=s message=s
JobSpec: parallelism=i completions=i activeDeadlineSeconds=i podFailurePolicy=PodFailurePolicy successPolicy=SuccessPolicy backoffLimit=i backoffLimitPerIndex=i maxFailedIndexes=i selector=LabelSelector manualSelector=b template=PodTemplateSpec ttlSecondsAfterFinished=i completionMode=s suspend=b podReplacementPolicy=s managedBy=s
JobStatus: conditions=[JobCondition] startTime=s completionTime=s active=i succeeded=i failed=i terminating=i completedIndexes=s failedIndexes=s uncountedTerminatedPods=UncountedTerminatedPods ready=i
KeyToPath: key=s path=s mode=i user=i
LabelSelector: matchLabels={s} matchExpressions=[LabelSelectorRequirement]
LabelSelectorRequirement: key=s operator=s values=[s]
Lifecycle: postStart=LifecycleHandler preStop=LifecycleHandler stopSignal=s
LifecycleHandler: exec=ExecAction httpGet=HTTPGetAction tcpSocket=TCPSocketAction sleep=SleepAction
LocalObjectReference: name=s
NFSVolumeSource: server=s path=s readOnly=b
Namespace: metadata=ObjectMeta spec=NamespaceSpec status=*
NamespaceSpec: finalizers=[s]
NodeAffinity: requiredDuringSchedulingIgnoredDuringExecution=NodeSelector preferredDuringSchedulingIgnoredDuringExecution=[PreferredSchedulingTerm]
NodeSelector: nodeSelectorTerms=[NodeSelectorTerm]
NodeSelectorRequirement: key=s operator=s values=[s]
NodeSelectorTerm: matchExpressions=[NodeSelectorRequirement] matchFields=[NodeSelectorRequirement]
ObjectFieldSelector: apiVersion=s fieldPath=s
ObjectMeta: name=s generateName=s namespace=s selfLink=s uid=s resourceVersion=s generation=i creationTimestamp=s deletionTimestamp=s deletionGracePeriodSeconds=i labels={s} annotations={s} ownerReferences=[OwnerReference|uid] finalizers=[s|=] managedFields=*
OwnerReference: apiVersion=s kind=s name=s uid=s controller=b blockOwnerDeletion=b
PersistentVolumeClaim: metadata=ObjectMeta spec=PersistentVolumeClaimSpec status=*
PersistentVolumeClaimSpec: accessModes=[s] selector=LabelSelector resources=VolumeResourceRequirements volumeName=s storageClassName=s volumeMode=s dataSource=TypedLocalObjectReference dataSourceRef=TypedObjectReference volumeAttributesClassName=s
PersistentVolumeClaimTemplate: metadata=ObjectMeta spec=PersistentVolumeClaimSpec
PersistentVolumeClaimVolumeSource: claimName=s readOnly=b
PhotonPersistentDiskVolumeSource: pdID=s fsType=s
Pod: metadata=ObjectMeta spec=PodSpec status=*
PodAffinity: requiredDuringSchedulingIgnoredDuringExecution=[PodAffinityTerm] preferredDuringSchedulingIgnoredDuringExecution=[WeightedPodAffinityTerm]
PodAffinityTerm: labelSelector=LabelSelector namespaces=[s] topologyKey=s namespaceSelector=LabelSelector matchLabelKeys=[s] mismatchLabelKeys=[s]
PodAntiAffinity: requiredDuringSchedulingIgnoredDuringExecution=[PodAffinityTerm] preferredDuringSchedulingIgnoredDuringExecution=[WeightedPodAffinityTerm]
PodCertificateProjection: signerName=s keyType=s maxExpirationSeconds=i credentialBundlePath=s keyPath=s certificateChainPath=s userAnnotations={s} user=i
PodDNSConfig: nameservers=[s] searches=[s] options=[PodDNSConfigOption]
PodDNSConfigOption: name=s value=s
PodFailurePolicy: rules=[PodFailurePolicyRule]
PodFailurePolicyOnExitCodesRequirement: containerName=s operator=s values=[i|=]
PodFailurePolicyOnPodConditionsPattern: type=s status=s
PodFailurePolicyRule: action=s onExitCodes=PodFailurePolicyOnExitCodesRequirement onPodConditions=[PodFailurePolicyOnPodConditionsPattern]
PodOS: name=s
PodReadinessGate: conditionType=s
PodResourceClaim: name=s resourceClaimName=s resourceClaimTemplateName=s
PodSchedulingGate: name=s
PodSchedulingGroup: podGroupName=s
PodSecurityContext: seLinuxOptions=SELinuxOptions windowsOptions=WindowsSecurityContextOptions runAsUser=i runAsGroup=i runAsNonRoot=b supplementalGroups=[i] supplementalGroupsPolicy=s fsGroup=i sysctls=[Sysctl] fsGroupChangePolicy=s seccompProfile=SeccompProfile appArmorProfile=AppArmorProfile seLinuxChangePolicy=s
PodSpec: volumes=[Volume|name] initContainers=[Container|name] containers=[Container|name] ephemeralContainers=[EphemeralContainer|name] restartPolicy=s terminationGracePeriodSeconds=i activeDeadlineSeconds=i dnsPolicy=s nodeSelector={s} serviceAccountName=s serviceAccount=s automountServiceAccountToken=b nodeName=s hostNetwork=b hostPID=b hostIPC=b shareProcessNamespace=b securityContext=PodSecurityContext imagePullSecrets=[LocalObjectReference|name] hostname=s subdomain=s affinity=Affinity schedulerName=s tolerations=[Toleration] hostAliases=[HostAlias|ip] priorityClassName=s priority=i dnsConfig=PodDNSConfig readinessGates=[PodReadinessGate] runtimeClassName=s enableServiceLinks=b preemptionPolicy=s overhead={q} topologySpreadConstraints=[TopologySpreadConstraint|topologyKey,whenUnsatisfiable] setHostnameAsFQDN=b os=PodOS hostUsers=b schedulingGates=[PodSchedulingGate|name] resourceClaims=[PodResourceClaim|name] resources=ResourceRequirements hostnameOverride=s schedulingGroup=PodSchedulingGroup evictionResponders=[EvictionResponder|name]
PodTemplateSpec: metadata=ObjectMeta spec=PodSpec
PortworxVolumeSource: volumeID=s fsType=s readOnly=b
PreferredSchedulingTerm: weight=i preference=NodeSelectorTerm
Probe: ...=ProbeHandler initialDelaySeconds=i timeoutSeconds=i periodSeconds=i successThreshold=i failureThreshold=i terminationGracePeriodSeconds=i
ProbeHandler: exec=ExecAction httpGet=HTTPGetAction tcpSocket=TCPSocketAction grpc=GRPCAction
ProjectedVolumeSource: sources=[VolumeProjection] defaultMode=i defaultUser=i
QuobyteVolumeSource: registry=s volume=s readOnly=b user=s group=s tenant=s
RBDVolumeSource: monitors=[s] image=s fsType=s pool=s user=s keyring=s secretRef=LocalObjectReference readOnly=b
ResourceClaim: name=s request=s
ResourceFieldSelector: containerName=s resource=s divisor=q
ResourceRequirements: limits={q} requests={q} claims=[ResourceClaim|name]
RollingUpdateDaemonSet: maxUnavailable=x maxSurge=x
RollingUpdateDeployment: maxUnavailable=x maxSurge=x
RollingUpdateStatefulSetStrategy: partition=i maxUnavailable=x
SELinuxOptions: user=s role=s type=s level=s
ScaleIOVolumeSource: gateway=s system=s secretRef=LocalObjectReference sslEnabled=b protectionDomain=s storagePool=s storageMode=s volumeName=s fsType=s readOnly=b
SeccompProfile: type=s localhostProfile=s
Secret: metadata=ObjectMeta immutable=b data={s} stringData={s} type=s
SecretEnvSource: ...=LocalObjectReference optional=b
SecretKeySelector: ...=LocalObjectReference key=s optional=b
SecretProjection: ...=LocalObjectReference items=[KeyToPath] optional=b
SecretVolumeSource: secretName=s items=[KeyToPath] defaultMode=i optional=b defaultUser=i
SecurityContext: capabilities=Capabilities privileged=b seLinuxOptions=SELinuxOptions windowsOptions=WindowsSecurityContextOptions runAsUser=i runAsGroup=i runAsNonRoot=b readOnlyRootFilesystem=b allowPrivilegeEscalation=b procMount=s seccompProfile=SeccompProfile appArmorProfile=AppArmorProfile
Service: metadata=ObjectMeta spec=ServiceSpec status=*
ServiceAccountTokenProjection: audience=s expirationSeconds=i path=s user=i
ServicePort: name=s protocol=s appProtocol=s port=i targetPort=x nodePort=i
ServiceSpec: ports=[ServicePort|port,protocol] selector={s} clusterIP=s clusterIPs=[s] type=s externalIPs=[s] sessionAffinity=s loadBalancerIP=s loadBalancerSourceRanges=[s] externalName=s externalTrafficPolicy=s healthCheckNodePort=i publishNotReadyAddresses=b sessionAffinityConfig=SessionAffinityConfig ipFamilies=[s] ipFamilyPolicy=s allocateLoadBalancerNodePorts=b loadBalancerClass=s internalTrafficPolicy=s trafficDistribution=s
SessionAffinityConfig: clientIP=ClientIPConfig
SleepAction: seconds=i
StatefulSet: metadata=ObjectMeta spec=StatefulSetSpec status=*
StatefulSetOrdinals: start=i
StatefulSetPersistentVolumeClaimRetentionPolicy: whenDeleted=s whenScaled=s
StatefulSetSpec: replicas=i selector=LabelSelector template=PodTemplateSpec volumeClaimTemplates=[PersistentVolumeClaim] serviceName=s podManagementPolicy=s updateStrategy=StatefulSetUpdateStrategy revisionHistoryLimit=i minReadySeconds=i persistentVolumeClaimRetentionPolicy=StatefulSetPersistentVolumeClaimRetentionPolicy ordinals=StatefulSetOrdinals
StatefulSetUpdateStrategy: type=s rollingUpdate=RollingUpdateStatefulSetStrategy
StorageOSVolumeSource: volumeName=s volumeNamespace=s fsType=s readOnly=b secretRef=LocalObjectReference
SuccessPolicy: rules=[SuccessPolicyRule]
SuccessPolicyRule: succeededIndexes=s succeededCount=i
Sysctl: name=s value=s
TCPSocketAction: port=x host=s
Toleration: key=s operator=s value=s effect=s tolerationSeconds=i
TopologySpreadConstraint: maxSkew=i topologyKey=s whenUnsatisfiable=s labelSelector=LabelSelector minDomains=i nodeAffinityPolicy=s nodeTaintsPolicy=s matchLabelKeys=[s]
TypedLocalObjectReference: apiGroup=s kind=s name=s
TypedObjectReference: apiGroup=s kind=s name=s namespace=s
UncountedTerminatedPods: succeeded=[s|=] failed=[s|=]
Volume: name=s ...=VolumeSource
VolumeDevice: name=s devicePath=s
VolumeMount: name=s readOnly=b recursiveReadOnly=s mountPath=s subPath=s mountPropagation=s subPathExpr=s bindMountOptions=[s|=]
VolumeProjection: secret=SecretProjection downwardAPI=DownwardAPIProjection configMap=ConfigMapProjection serviceAccountToken=ServiceAccountTokenProjection clusterTrustBundle=ClusterTrustBundleProjection podCertificate=PodCertificateProjection
VolumeResourceRequirements: limits={q} requests={q}
VolumeSource: hostPath=HostPathVolumeSource emptyDir=EmptyDirVolumeSource gcePersistentDisk=GCEPersistentDiskVolumeSource awsElasticBlockStore=AWSElasticBlockStoreVolumeSource gitRepo=GitRepoVolumeSource secret=SecretVolumeSource nfs=NFSVolumeSource iscsi=ISCSIVolumeSource glusterfs=GlusterfsVolumeSource persistentVolumeClaim=PersistentVolumeClaimVolumeSource rbd=RBDVolumeSource flexVolume=FlexVolumeSource cinder=CinderVolumeSource cephfs=CephFSVolumeSource flocker=FlockerVolumeSource downwardAPI=DownwardAPIVolumeSource fc=FCVolumeSource azureFile=AzureFileVolumeSource configMap=ConfigMapVolumeSource vsphereVolume=VsphereVirtualDiskVolumeSource quobyte=QuobyteVolumeSource azureDisk=AzureDiskVolumeSource photonPersistentDisk=PhotonPersistentDiskVolumeSource projected=ProjectedVolumeSource portworxVolume=PortworxVolumeSource scaleIO=ScaleIOVolumeSource storageos=StorageOSVolumeSource csi=CSIVolumeSource ephemeral=EphemeralVolumeSource image=ImageVolumeSource
VsphereVirtualDiskVolumeSource: volumePath=s fsType=s storagePolicyName=s storagePolicyID=s
WeightedPodAffinityTerm: weight=i podAffinityTerm=PodAffinityTerm
WindowsSecurityContextOptions: gmsaCredentialSpecName=s gmsaCredentialSpec=s runAsUserName=s hostProcess=b
"""


def _load_schema():
    raw = {}
    for line in SCHEMA_TEXT.strip().splitlines():
        name, rest = line.split(": ", 1)
        fields, inlines = {}, []
        for tok in rest.split():
            k, v = tok.split("=", 1)
            if k == "...":
                inlines.append(v)
            else:
                fields[k] = v
        raw[name] = (fields, inlines)

    def resolve(n):
        f, inl = raw[n]
        out = {}
        for i in inl:
            out.update(resolve(i))
        out.update(f)
        return out

    return {n: resolve(n) for n in raw}


SCHEMA = _load_schema()
for _kind in ("Namespace", "ConfigMap", "Secret", "Service", "PersistentVolumeClaim", "Pod",
              "Deployment", "StatefulSet", "DaemonSet", "Job"):
    SCHEMA[_kind].update({"apiVersion": "s", "kind": "s"})

# keys that have a schema default (so an item may omit them)
LIST_KEY_DEFAULTS = {"protocol": "TCP"}


def _go_v(v):
    """The %v of a decoded JSON value inside &{...}."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "map[" + " ".join("%s:%s" % (k, _go_v(x)) for k, x in sorted(v.items())) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go_v(x) for x in v) + "]"
    if v is None:
        return "<nil>"
    return str(v)


def _go_sharp_v(v):
    """The %#v of a decoded JSON value (value.valueUnstructured)."""
    if isinstance(v, bool):
        inner = "true" if v else "false"
    elif isinstance(v, (int, float)):
        inner = str(v)
    elif isinstance(v, str):
        inner = go_quote(v)
    elif isinstance(v, list):
        inner = "[]interface {}{" + ", ".join(_go_sharp_plain(x) for x in v) + "}"
    elif isinstance(v, dict):
        inner = "map[string]interface {}{" + ", ".join(
            "%s:%s" % (go_quote(k), _go_sharp_plain(x)) for k, x in sorted(v.items())) + "}"
    else:
        inner = "interface {}(nil)"
    return "&value.valueUnstructured{Value:%s}" % inner


def _go_sharp_plain(v):
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return "%s(%s)" % ("int64" if isinstance(v, int) else "float64", v)
    if isinstance(v, list):
        return "[]interface {}{...}"
    if isinstance(v, dict):
        return "map[string]interface {}{...}"
    return "interface {}(nil)"


def _go_type(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "[]interface {}"
    if isinstance(v, dict):
        return "map[string]interface {}"
    return "<nil>"


def key_path_element(item, keys):
    """structured-merge-diff's [k=v,...] for an associative list item."""
    parts = []
    for k in sorted(keys):
        if k in item and item[k] is not None:
            parts.append((k, item[k]))
        elif k in LIST_KEY_DEFAULTS:
            parts.append((k, LIST_KEY_DEFAULTS[k]))
    if not parts:
        return None
    return "[" + ",".join("%s=%s" % (k, go_quote(v) if isinstance(v, str) else _go_v(v)) for k, v in parts) + "]"


def schema_check(value, typ, path, errs):
    """Collect (path, message) like structured-merge-diff's typed validation."""
    if value is None or typ == "*":
        return
    if typ in ("s", "i", "n", "b", "x", "q"):
        if isinstance(value, (dict, list)) and typ in ("x", "q"):
            errs.append((path, "expected any scalar, got &{%s}" % _go_v(value)))
        elif typ == "s" and not isinstance(value, str):
            errs.append((path, "expected string, got %s" % _go_sharp_v(value)))
        elif typ in ("i", "n") and (isinstance(value, bool) or not isinstance(value, (int, float))):
            errs.append((path, "expected numeric (int or float), got %s" % _go_type(value)))
        elif typ == "b" and not isinstance(value, bool):
            errs.append((path, "expected boolean, got &{%s}" % _go_v(value)))
        return
    if typ.startswith("{"):
        if not isinstance(value, dict):
            errs.append((path, "expected map, got &{%s}" % _go_v(value)))
            return
        inner = typ[1:-1]
        for k in value:
            schema_check(value[k], inner, path + "." + k, errs)
        return
    if typ.startswith("["):
        inner, _, keys = typ[1:-1].partition("|")
        if not isinstance(value, list):
            errs.append((path, "expected list, got &{%s}" % _go_v(value)))
            return
        seen = set()
        for i, item in enumerate(value):
            if keys == "":
                schema_check(item, inner, "%s[%d]" % (path, i), errs)
            elif keys == "=":
                if isinstance(item, (dict, list)) or item is None:
                    errs.append((path, "element %d: associative list without keys has an element that's a map type" % i))
                    return
                pe = "[=%s]" % (go_quote(item) if isinstance(item, str) else _go_v(item))
                if pe in seen:
                    errs.append((path, "duplicate entries for key %s" % pe))
                seen.add(pe)
            else:
                klist = keys.split(",")
                if item is None:
                    errs.append((path, "element %d: associative list with keys may not have a null element" % i))
                    return
                if not isinstance(item, dict):
                    errs.append((path, "element %d: associative list with keys may not have non-map elements" % i))
                    return
                pe = key_path_element(item, klist)
                if pe is None:
                    errs.append((path, "element %d: associative list with keys has an element that omits all key "
                                       "fields [%s] (and doesn't have default values for any key fields)"
                                 % (i, " ".join(go_quote(k) for k in klist))))
                    return
                if pe in seen:
                    errs.append((path, "duplicate entries for key %s" % pe))
                seen.add(pe)
                schema_check(item, inner, path + pe, errs)
        return
    fields = SCHEMA.get(typ)
    if fields is None:
        return
    if not isinstance(value, dict):
        errs.append((path, "expected map, got &{%s}" % _go_v(value)))
        return
    for k in sorted(value):
        if k not in fields:
            errs.append((path + "." + k, "field not declared in schema"))
            break  # the walk stops at the first unknown field of a map
        schema_check(value[k], fields[k], path + "." + k, errs)


def typed_errors_message(errs):
    lines = ["%s: %s" % (p, m) if p else m for p, m in errs]
    if len(lines) == 1:
        return lines[0]
    return "\n".join(["errors:"] + ["  " + ln for ln in lines])


# --------------------------------------------------------------------------
# Field validation, messages as k8s.io/apimachinery words them
# --------------------------------------------------------------------------

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                     "and must start and end with an alphanumeric character")
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                         "'.', and must start and end with an alphanumeric character")
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                     "alphabetic character, and end with an alphanumeric character")
LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_KEY_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                 "alphanumeric character")
LABEL_VALUE_FMT = "(" + LABEL_KEY_FMT + ")?"
LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                   "and must start and end with an alphanumeric character")
ENV_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"
ENV_NAME_MSG = ("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', "
                "and must not start with a digit")
CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"

RE_DNS1123_LABEL = re.compile(DNS1123_LABEL_FMT)
RE_DNS1123_SUBDOMAIN = re.compile(DNS1123_SUBDOMAIN_FMT)
RE_DNS1035_LABEL = re.compile(DNS1035_LABEL_FMT)
RE_LABEL_KEY = re.compile(LABEL_KEY_FMT)
RE_LABEL_VALUE = re.compile(LABEL_VALUE_FMT)
RE_ENV_NAME = re.compile(ENV_NAME_FMT)
RE_CONFIG_KEY = re.compile(CONFIG_KEY_FMT)


def regex_error(msg, fmt, *examples):
    if not examples:
        return msg + " (regex used for validation is '" + fmt + "')"
    s = msg + " (e.g. "
    for i, e in enumerate(examples):
        if i > 0:
            s += " or "
        s += "'" + e + "', "
    return s + "regex used for validation is '" + fmt + "')"


def max_len_error(n):
    return "must be no more than %d characters" % n


def is_dns1123_label(v):
    errs = []
    if len(v) > 63:
        errs.append(max_len_error(63))
    if not RE_DNS1123_LABEL.fullmatch(v):
        if RE_DNS1123_SUBDOMAIN.fullmatch(v):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(v):
    errs = []
    if len(v) > 253:
        errs.append(max_len_error(253))
    if not RE_DNS1123_SUBDOMAIN.fullmatch(v):
        errs.append(regex_error(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(v):
    errs = []
    if len(v) > 63:
        errs.append(max_len_error(63))
    if not RE_DNS1035_LABEL.fullmatch(v):
        errs.append(regex_error(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_label_key(v):
    errs = []
    parts = v.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    else:
        return ["a valid label key " + regex_error(LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not RE_LABEL_KEY.fullmatch(name):
        errs.append("name part " + regex_error(LABEL_KEY_MSG, LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_label_value(v):
    errs = []
    if len(v) > 63:
        errs.append(max_len_error(63))
    if not RE_LABEL_VALUE.fullmatch(v):
        errs.append(regex_error(LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_port_name(p):
    errs = []
    if len(p) > 15:
        errs.append(max_len_error(15))
    if not re.fullmatch(r"[-a-z0-9]+", p):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", p):
        errs.append("must contain at least one letter (a-z)")
    if "--" in p:
        errs.append("must not contain consecutive hyphens")
    if p and (p[0] == "-" or p[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_env_name(v):
    if RE_ENV_NAME.fullmatch(v):
        return []
    return [regex_error(ENV_NAME_MSG, ENV_NAME_FMT, "my.env-name", "MY_ENV.NAME", "MyEnvName1")]


def is_config_key(v):
    errs = []
    if len(v) > 253:
        errs.append(max_len_error(253))
    if not RE_CONFIG_KEY.fullmatch(v):
        errs.append(regex_error(CONFIG_KEY_MSG, CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if v in (".", ".."):
        errs.append("must not be '%s'" % v)
    elif v.startswith(".."):
        errs.append("must not start with '..'")
    return errs


RANGE_1_65535 = "must be between 1 and 65535, inclusive"


class GoRepr(str):
    """A bad value printed as it is, not quoted: Go's rendering of an internal type, abbreviated here."""


class FE:
    """One field.Error."""

    TYPES = {
        "Required": ("FieldValueRequired", "Required value"),
        "Invalid": ("FieldValueInvalid", "Invalid value"),
        "NotSupported": ("FieldValueNotSupported", "Unsupported value"),
        "Duplicate": ("FieldValueDuplicate", "Duplicate value"),
        "NotFound": ("FieldValueNotFound", "Not found"),
        "Forbidden": ("FieldValueForbidden", "Forbidden"),
        "TooLong": ("FieldValueTooLong", "Too long"),
    }

    def __init__(self, typ, field, value=None, detail=""):
        self.typ, self.field, self.value, self.detail = typ, field, value, detail

    def body(self):
        reason, word = self.TYPES[self.typ]
        if self.typ in ("Required", "Forbidden", "TooLong"):
            s = word
        else:
            v = self.value
            if isinstance(v, GoRepr):
                s = "%s: %s" % (word, v)
            elif isinstance(v, bool):
                s = "%s: %s" % (word, "true" if v else "false")
            elif isinstance(v, (int, float)):
                s = "%s: %s" % (word, v)
            elif isinstance(v, str):
                s = "%s: %s" % (word, go_quote(v))
            else:
                s = "%s: %s" % (word, json.dumps(v, separators=(",", ":"), sort_keys=True))
        if self.detail:
            s += ": " + self.detail
        return s

    def cause(self):
        return {"reason": self.TYPES[self.typ][0], "message": self.body(), "field": self.field}

    def __str__(self):
        return "%s: %s" % (self.field, self.body())


def Req(field, detail=""):
    return FE("Required", field, "", detail)


def Inv(field, value, detail=""):
    return FE("Invalid", field, value, detail)


def NotSup(field, value, supported):
    return FE("NotSupported", field, value, "supported values: " + ", ".join(go_quote(s) for s in supported))


def Dup(field, value):
    return FE("Duplicate", field, value)


def NotFound(field, value):
    return FE("NotFound", field, value)


def Forb(field, detail):
    return FE("Forbidden", field, "", detail)


def TooLong(field, n):
    return FE("TooLong", field, "", "may not be more than %d bytes" % n)


# --------------------------------------------------------------------------
# Status objects
# --------------------------------------------------------------------------

class ApiError(Exception):
    def __init__(self, code, body, headers=None):
        super().__init__(body.get("message", ""))
        self.code, self.body, self.headers = code, body, headers or {}


def status_failure(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message}
    if reason:
        s["reason"] = reason
    if details is not None:
        s["details"] = details
    s["code"] = code
    return s


def _details(name, group, kind, **extra):
    d = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    if kind:
        d["kind"] = kind
    d.update(extra)
    return d


def qualified_resource(res):
    return res.plural + ("." + res.group if res.group else "")


def err_not_found(res, name):
    return ApiError(404, status_failure(404, "NotFound", "%s %s not found" % (qualified_resource(res), go_quote(name)),
                                        _details(name, res.group, res.plural)))


def err_namespace_not_found(ns):
    return ApiError(404, status_failure(404, "NotFound", "namespaces %s not found" % go_quote(ns),
                                        _details(ns, "", "namespaces")))


def err_bad_request(message):
    return ApiError(400, status_failure(400, "BadRequest", message))


def err_conflict(res, name, why):
    return ApiError(409, status_failure(
        409, "Conflict", "Operation cannot be fulfilled on %s %s: %s" % (qualified_resource(res), go_quote(name), why),
        _details(name, res.group, res.plural)))


def err_forbidden(res, name, why, causes=None):
    msg = "%s %s is forbidden: %s" % (qualified_resource(res), go_quote(name), why) if name else \
        "%s is forbidden: %s" % (qualified_resource(res), why)
    d = _details(name, res.group, res.plural)
    if causes:
        d["causes"] = causes
    return ApiError(403, status_failure(403, "Forbidden", msg, d))


def err_invalid(kind, group, name, errs):
    qk = kind + ("." + group if group else "")
    msgs = []
    for e in errs:
        m = str(e)
        if m not in msgs:
            msgs.append(m)
    agg = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    d = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    d["kind"] = kind
    d["causes"] = [e.cause() for e in errs]
    return ApiError(422, status_failure(422, "Invalid", "%s %s is invalid: %s" % (qk, go_quote(name), agg), d))


def err_method_not_allowed(res, action, why):
    d = _details("", res.group if res else "", res.plural if res else "")
    msg = "%s is not supported on resources of kind %s" % (action, go_quote(qualified_resource(res))) if res else \
        "%s is not supported" % action
    return ApiError(405, status_failure(405, "MethodNotAllowed", msg + " (" + why + ")", d))


def err_path_not_found():
    return ApiError(404, status_failure(404, "NotFound", "the server could not find the requested resource", {}))


# --------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class Res:
    def __init__(self, group, version, plural, singular, kind, namespaced, verbs=None, short=(), categories=(),
                 applyable=True, returns_object=False, generation=False, subresources=()):
        self.group, self.version, self.plural, self.singular, self.kind = group, version, plural, singular, kind
        self.namespaced, self.verbs = namespaced, verbs or ALL_VERBS
        self.short, self.categories = list(short), list(categories)
        self.applyable, self.returns_object, self.generation = applyable, returns_object, generation
        self.subresources = list(subresources)  # (name, kind, verbs, group, version)

    @property
    def api_version(self):
        return self.group + "/" + self.version if self.group else self.version

    @property
    def gvk(self):
        return "%s/%s, Kind=%s" % (self.group, self.version, self.kind)

    def discovery(self):
        out = [dict_ordered(name=self.plural, singularName=self.singular, namespaced=self.namespaced,
                            kind=self.kind, verbs=self.verbs, shortNames=self.short or None,
                            categories=self.categories or None)]
        for sub, kind, verbs, group, version in self.subresources:
            d = {"name": self.plural + "/" + sub, "singularName": "", "namespaced": self.namespaced}
            if group is not None:
                d["group"] = group
                d["version"] = version
            d["kind"] = kind
            d["verbs"] = verbs
            out.append(d)
        return out


def dict_ordered(**kw):
    return {k: v for k, v in kw.items() if v is not None}



RESOURCES = [
    Res("", "v1", "namespaces", "namespace", "Namespace", False,
        verbs=["create", "delete", "get", "list", "patch", "update", "watch"], short=["ns"], returns_object=True,
        subresources=[("finalize", "Namespace", ["update"], None, None),
                      ("status", "Namespace", ["get", "patch", "update"], None, None)]),
    Res("", "v1", "configmaps", "configmap", "ConfigMap", True, short=["cm"]),
    Res("", "v1", "secrets", "secret", "Secret", True),
    Res("", "v1", "services", "service", "Service", True, short=["svc"], categories=["all"], returns_object=True,
        subresources=[("proxy", "ServiceProxyOptions", ["create", "delete", "get", "patch", "update"], None, None),
                      ("status", "Service", ["get", "patch", "update"], None, None)]),
    Res("", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", True, short=["pvc"],
        returns_object=True, subresources=[("status", "PersistentVolumeClaim", ["get", "patch", "update"], None, None)]),
    Res("", "v1", "pods", "pod", "Pod", True, short=["po"], categories=["all"], applyable=False, returns_object=True,
        subresources=[("log", "Pod", ["get"], None, None),
                      ("status", "Pod", ["get", "patch", "update"], None, None)]),
    Res("", "v1", "nodes", "node", "Node", False, short=["no"], applyable=False, returns_object=True,
        subresources=[("status", "Node", ["get", "patch", "update"], None, None)]),
    Res("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True, short=["ds"], categories=["all"],
        generation=True, subresources=[("status", "DaemonSet", ["get", "patch", "update"], None, None)]),
    Res("apps", "v1", "deployments", "deployment", "Deployment", True, short=["deploy"], categories=["all"],
        generation=True, subresources=[("scale", "Scale", ["get", "patch", "update"], "autoscaling", "v1"),
                                       ("status", "Deployment", ["get", "patch", "update"], None, None)]),
    Res("apps", "v1", "statefulsets", "statefulset", "StatefulSet", True, short=["sts"], categories=["all"],
        generation=True, subresources=[("scale", "Scale", ["get", "patch", "update"], "autoscaling", "v1"),
                                       ("status", "StatefulSet", ["get", "patch", "update"], None, None)]),
    Res("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True, short=["rs"], categories=["all"],
        applyable=False, generation=True,
        subresources=[("scale", "Scale", ["get", "patch", "update"], "autoscaling", "v1"),
                      ("status", "ReplicaSet", ["get", "patch", "update"], None, None)]),
    Res("batch", "v1", "jobs", "job", "Job", True, categories=["all"], generation=True,
        subresources=[("status", "Job", ["get", "patch", "update"], None, None)]),
    Res("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", False, short=["sc"],
        applyable=False, returns_object=True),
]

RES_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
RES_BY_KIND = {r.kind: r for r in RESOURCES}
GROUPS = [("apps", "v1"), ("batch", "v1"), ("storage.k8s.io", "v1")]   # the order of /apis


def res_for_kindish(s):
    """Deployment / deployment / deployments / deploy -> Res."""
    if not s:
        return None
    low = s.lower()
    for r in RESOURCES:
        if low in (r.kind.lower(), r.plural, r.singular) or low in r.short:
            return r
    return None


def api_resource_list(group, version):
    rl = {"kind": "APIResourceList"}
    if group:
        rl["apiVersion"] = "v1"
    rl["groupVersion"] = group + "/" + version if group else version
    items = []
    for r in RESOURCES:
        if r.group == group and r.version == version:
            items += r.discovery()
    rl["resources"] = items
    return rl


def api_group(group):
    gv = {"groupVersion": group + "/v1", "version": "v1"}
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": [gv], "preferredVersion": gv}


def api_group_list():
    groups = []
    for g, v in GROUPS:
        gv = {"groupVersion": g + "/" + v, "version": v}
        groups.append({"name": g, "versions": [gv], "preferredVersion": gv})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


# --------------------------------------------------------------------------
# Defaults (what the apiserver fills in before storing)
# --------------------------------------------------------------------------

def image_pull_policy(image):
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        return "Always" if last.rsplit(":", 1)[1] == "latest" else "IfNotPresent"
    return "Always"


def default_probe(p):
    if not isinstance(p, dict):
        return
    p.setdefault("timeoutSeconds", 1)
    p.setdefault("periodSeconds", 10)
    p.setdefault("successThreshold", 1)
    p.setdefault("failureThreshold", 3)
    if isinstance(p.get("httpGet"), dict):
        p["httpGet"].setdefault("path", "/")
        p["httpGet"].setdefault("scheme", "HTTP")


def default_container(c):
    if not isinstance(c, dict):
        return
    for p in c.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
    for e in c.get("env") or []:
        if isinstance(e, dict) and isinstance(e.get("valueFrom"), dict) and \
                isinstance(e["valueFrom"].get("fieldRef"), dict):
            e["valueFrom"]["fieldRef"].setdefault("apiVersion", "v1")
    c.setdefault("resources", {})
    for k in ("livenessProbe", "readinessProbe", "startupProbe"):
        if k in c:
            default_probe(c[k])
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if "imagePullPolicy" not in c and isinstance(c.get("image"), str):
        c["imagePullPolicy"] = image_pull_policy(c["image"])


def default_pod_spec(s):
    if not isinstance(s, dict):
        return
    for v in s.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        for src in ("configMap", "secret", "projected", "downwardAPI"):
            if isinstance(v.get(src), dict):
                v[src].setdefault("defaultMode", 420)
        if isinstance(v.get("hostPath"), dict):
            v["hostPath"].setdefault("type", "")
    for c in (s.get("initContainers") or []) + (s.get("containers") or []):
        default_container(c)
    s.setdefault("restartPolicy", "Always")
    s.setdefault("terminationGracePeriodSeconds", 30)
    s.setdefault("dnsPolicy", "ClusterFirst")
    s.setdefault("securityContext", {})
    s.setdefault("schedulerName", "default-scheduler")


def default_deployment(d):
    spec = d.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strat = spec.setdefault("strategy", {})
    if isinstance(strat, dict):
        strat.setdefault("type", "RollingUpdate")
        if strat["type"] == "RollingUpdate":
            ru = strat.setdefault("rollingUpdate", {})
            if isinstance(ru, dict):
                ru.setdefault("maxUnavailable", "25%")
                ru.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    tmpl = spec.setdefault("template", {})
    if isinstance(tmpl, dict):
        default_pod_spec(tmpl.setdefault("spec", {}))


def default_statefulset(s):
    spec = s.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    us = spec.setdefault("updateStrategy", {})
    if isinstance(us, dict):
        us.setdefault("type", "RollingUpdate")
        if us["type"] == "RollingUpdate":
            us.setdefault("rollingUpdate", {}).setdefault("partition", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    for t in spec.get("volumeClaimTemplates") or []:
        if isinstance(t, dict):
            t.setdefault("apiVersion", "v1")
            t.setdefault("kind", "PersistentVolumeClaim")
            if isinstance(t.get("spec"), dict):
                t["spec"].setdefault("volumeMode", "Filesystem")
            t.setdefault("status", {"phase": "Pending"})
    tmpl = spec.setdefault("template", {})
    if isinstance(tmpl, dict):
        default_pod_spec(tmpl.setdefault("spec", {}))


def default_daemonset(d):
    """SetDefaults_DaemonSet (apps/v1): RollingUpdate 1/0, revisionHistoryLimit 10."""
    spec = d.setdefault("spec", {})
    us = spec.setdefault("updateStrategy", {})
    if isinstance(us, dict):
        us.setdefault("type", "RollingUpdate")
        if us["type"] == "RollingUpdate":
            ru = us.setdefault("rollingUpdate", {})
            if isinstance(ru, dict):
                ru.setdefault("maxUnavailable", 1)
                ru.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    tmpl = spec.setdefault("template", {})
    if isinstance(tmpl, dict):
        default_pod_spec(tmpl.setdefault("spec", {}))


JOB_NAME_LABELS = ("job-name", "batch.kubernetes.io/job-name")              # legacy, prefixed
JOB_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
JOB_SPEC_ORDER = ["parallelism", "completions", "activeDeadlineSeconds", "podFailurePolicy", "successPolicy",
                  "backoffLimit", "backoffLimitPerIndex", "maxFailedIndexes", "selector", "manualSelector", "template",
                  "ttlSecondsAfterFinished", "completionMode", "suspend", "podReplacementPolicy", "managedBy"]
JOB_DELETE_WARNING = ("child pods are preserved by default when jobs are deleted; set propagationPolicy=Background "
                      "to remove them or set propagationPolicy=Orphan to suppress this warning")


def default_job(j):
    """SetDefaults_Job (batch/v1), then the pod template's defaults (restartPolicy Always included: a Job
    that does not name Never or OnFailure is refused by validation, as on a real server)."""
    spec = j.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    pfp = spec.get("podFailurePolicy")
    if isinstance(pfp, dict):
        for rule in pfp.get("rules") or []:
            for pat in (rule.get("onPodConditions") or []) if isinstance(rule, dict) else []:
                if isinstance(pat, dict) and not pat.get("status"):
                    pat["status"] = "True"
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if pfp is not None else "TerminatingOrFailed"
    spec.setdefault("manualSelector", False)
    tmpl = spec.setdefault("template", {})
    if isinstance(tmpl, dict):
        default_pod_spec(tmpl.setdefault("spec", {}))


def generate_job_selector(j, name, uid):
    """The job strategy's generateSelector (on create, unless manualSelector): the four labels on the pod
    template (a label the user set is left as it is, for validation to judge) and matchLabels
    batch.kubernetes.io/controller-uid in the selector."""
    spec = j["spec"]
    tmpl = spec.get("template")
    if not isinstance(tmpl, dict):
        return
    tmeta = tmpl.get("metadata") if isinstance(tmpl.get("metadata"), dict) else {}
    labels = dict(tmeta.get("labels") or {})
    for k in JOB_NAME_LABELS:
        labels.setdefault(k, name)
    for k in JOB_UID_LABELS:
        labels.setdefault(k, uid)
    tmeta["labels"] = dict(sorted(labels.items()))
    spec["template"] = dict({"metadata": tmeta}, **{k: v for k, v in tmpl.items() if k != "metadata"})
    sel = spec.get("selector") if isinstance(spec.get("selector"), dict) else {}
    ml = dict(sel.get("matchLabels") or {})
    ml.setdefault(JOB_UID_LABEL, uid)
    sel["matchLabels"] = ml
    spec["selector"] = sel


def default_service(svc, sysd):
    spec = svc.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    typ = spec["type"]
    for p in spec.get("ports") or []:
        if isinstance(p, dict):
            p.setdefault("protocol", "TCP")
            if "targetPort" not in p and "port" in p:
                p["targetPort"] = p["port"]
            np = sysd.get("nodePorts", {}).get(port_key(p))
            if np and typ in ("NodePort", "LoadBalancer") and "nodePort" not in p:
                p["nodePort"] = np
    if typ != "ExternalName":
        if "clusterIP" not in spec and sysd.get("clusterIP"):
            spec["clusterIP"] = sysd["clusterIP"]
        if "clusterIPs" not in spec and spec.get("clusterIP"):
            spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("sessionAffinity", "None")
    if typ in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if typ == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)


def port_key(p):
    return "%s/%s" % (p.get("port"), p.get("protocol", "TCP"))


def default_pvc(pvc, sysd):
    spec = pvc.setdefault("spec", {})
    if "storageClassName" not in spec and sysd.get("storageClassName"):
        spec["storageClassName"] = sysd["storageClassName"]
    if "volumeName" not in spec and sysd.get("volumeName"):
        spec["volumeName"] = sysd["volumeName"]
    spec.setdefault("volumeMode", "Filesystem")


# --------------------------------------------------------------------------
# Validation per kind (a subset of k8s.io/kubernetes pkg/apis/*/validation)
# --------------------------------------------------------------------------

class BadQuantity(Exception):
    pass


def qty(v):
    q = parse_quantity(v)
    if q is None:
        raise BadQuantity(qty_str(v))
    return q


def validate_labels(labels, path):
    errs = []
    if not isinstance(labels, dict):
        return errs
    for k, v in labels.items():
        for m in is_label_key(k):
            errs.append(Inv(path, k, m))
        if isinstance(v, str):
            for m in is_label_value(v):
                errs.append(Inv(path, v, m))
    return errs


def validate_annotations(ann, path):
    errs = []
    if not isinstance(ann, dict):
        return errs
    total = 0
    for k, v in ann.items():
        for m in is_label_key(k.lower()):
            errs.append(Inv(path, k, m))
        total += len(k) + len(v if isinstance(v, str) else "")
    if total > 256 * 1024:
        errs.append(TooLong(path, 256 * 1024))
    return errs


def validate_meta(meta, name_check, path="metadata"):
    errs = []
    name = meta.get("name", "")
    if not name:
        errs.append(Req(path + ".name", "name or generateName is required"))
    else:
        for m in name_check(name):
            errs.append(Inv(path + ".name", name, m))
    errs += validate_labels(meta.get("labels"), path + ".labels")
    errs += validate_annotations(meta.get("annotations"), path + ".annotations")
    return errs


def validate_selector(sel, path):
    errs = []
    if not isinstance(sel, dict):
        return errs
    errs += validate_labels(sel.get("matchLabels"), path + ".matchLabels")
    for i, e in enumerate(sel.get("matchExpressions") or []):
        ep = "%s.matchExpressions[%d]" % (path, i)
        op = e.get("operator")
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            errs.append(Inv(ep + ".operator", op or "", "not a valid selector operator"))
        elif op in ("In", "NotIn") and not e.get("values"):
            errs.append(Req(ep + ".values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and e.get("values"):
            errs.append(Forb(ep + ".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        for m in is_label_key(e.get("key", "")):
            errs.append(Inv(ep + ".key", e.get("key", ""), m))
    return errs


def selector_matches(sel, labels):
    labels = labels or {}
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}


def is_native_resource(name):
    if "/" not in name:
        return True
    prefix = name.split("/")[0]
    return prefix == "kubernetes.io" or prefix.endswith(".kubernetes.io")


def validate_resources(res, path):
    errs = []
    if not isinstance(res, dict):
        return errs
    limits = res.get("limits") or {}
    requests = res.get("requests") or {}
    for section, values in (("limits", limits), ("requests", requests)):
        for name, v in values.items():
            fp = "%s.%s[%s]" % (path, section, name)
            if "/" not in name and name not in STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
                errs.append(Inv(fp, name, "must be a standard resource for containers"))
                continue
            q = qty(v)
            if q < 0:
                errs.append(Inv(fp, qty_str(v), "must be greater than or equal to 0"))
            if not is_native_resource(name) and q.denominator != 1:
                errs.append(Inv(fp, qty_str(v), "must be an integer"))
    for name, v in requests.items():
        q = qty(v)
        overcommit = is_native_resource(name) and not name.startswith("hugepages-")
        if name in limits:
            lq = qty(limits[name])
            if q != lq and not overcommit:
                errs.append(Inv(path + ".requests", qty_str(v),
                                "must be equal to %s limit of %s" % (name, qty_str(limits[name]))))
            elif q > lq:
                errs.append(Inv(path + ".requests", qty_str(v),
                                "must be less than or equal to %s limit of %s" % (name, qty_str(limits[name]))))
        elif not overcommit:
            errs.append(Req(path + ".limits", "Limit must be set for non overcommitable resources"))
    return errs


def validate_port_ref(port, path):
    if isinstance(port, int) and not isinstance(port, bool):
        return [] if 1 <= port <= 65535 else [Inv(path, port, RANGE_1_65535)]
    if isinstance(port, str):
        return [Inv(path, port, m) for m in is_port_name(port)]
    return []


def validate_probe(p, path, liveness=False):
    errs = []
    if not isinstance(p, dict):
        return errs
    handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if h in p]
    if not handlers:
        errs.append(Req(path, "must specify a handler type"))
    elif len(handlers) > 1:
        errs.append(Forb(path + "." + handlers[1], "may not specify more than 1 handler type"))
    if isinstance(p.get("httpGet"), dict):
        errs += validate_port_ref(p["httpGet"].get("port"), path + ".httpGet.port")
    if isinstance(p.get("tcpSocket"), dict):
        errs += validate_port_ref(p["tcpSocket"].get("port"), path + ".tcpSocket.port")
    if liveness and p.get("successThreshold", 1) != 1:
        errs.append(Inv(path + ".successThreshold", p.get("successThreshold"), "must be 1"))
    return errs


def validate_container(c, path, volume_names, init=False):
    errs = []
    name = c.get("name", "")
    if not name:
        errs.append(Req(path + ".name"))
    else:
        for m in is_dns1123_label(name):
            errs.append(Inv(path + ".name", name, m))
    if not c.get("image"):
        errs.append(Req(path + ".image"))
    port_names = set()
    for j, p in enumerate(c.get("ports") or []):
        pp = "%s.ports[%d]" % (path, j)
        cp = p.get("containerPort", 0)
        if not cp:
            errs.append(Req(pp + ".containerPort"))
        elif not 1 <= cp <= 65535:
            errs.append(Inv(pp + ".containerPort", cp, RANGE_1_65535))
        if p.get("hostPort") and not 1 <= p["hostPort"] <= 65535:
            errs.append(Inv(pp + ".hostPort", p["hostPort"], RANGE_1_65535))
        if p.get("name"):
            for m in is_port_name(p["name"]):
                errs.append(Inv(pp + ".name", p["name"], m))
            if p["name"] in port_names:
                errs.append(Dup(pp + ".name", p["name"]))
            port_names.add(p["name"])
        if p.get("protocol", "TCP") not in ("SCTP", "TCP", "UDP"):
            errs.append(NotSup(pp + ".protocol", p.get("protocol"), ["SCTP", "TCP", "UDP"]))
    for j, e in enumerate(c.get("env") or []):
        ep = "%s.env[%d]" % (path, j)
        if not e.get("name"):
            errs.append(Req(ep + ".name"))
        else:
            for m in is_env_name(e["name"]):
                errs.append(Inv(ep + ".name", e["name"], m))
        vf = e.get("valueFrom")
        if isinstance(vf, dict):
            srcs = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
                    if k in vf]
            if e.get("value"):
                errs.append(Inv(ep + ".valueFrom", "", "may not be specified when `value` is not empty"))
            if not srcs:
                errs.append(Inv(ep + ".valueFrom", "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                                       "`configMapKeyRef` or `secretKeyRef`"))
            elif len(srcs) > 1:
                errs.append(Inv(ep + ".valueFrom", "", "may not have more than one field specified at a time"))
            for k in ("configMapKeyRef", "secretKeyRef"):
                if isinstance(vf.get(k), dict):
                    if not vf[k].get("name"):
                        errs.append(Req("%s.valueFrom.%s.name" % (ep, k)))
                    if not vf[k].get("key"):
                        errs.append(Req("%s.valueFrom.%s.key" % (ep, k)))
    mount_paths = set()
    for j, vm in enumerate(c.get("volumeMounts") or []):
        vp = "%s.volumeMounts[%d]" % (path, j)
        if not vm.get("name"):
            errs.append(Req(vp + ".name"))
        elif vm["name"] not in volume_names:
            errs.append(NotFound(vp + ".name", vm["name"]))
        if not vm.get("mountPath"):
            errs.append(Req(vp + ".mountPath"))
        elif vm["mountPath"] in mount_paths:
            errs.append(Inv(vp + ".mountPath", vm["mountPath"], "must be unique"))
        mount_paths.add(vm.get("mountPath"))
    errs += validate_resources(c.get("resources"), path + ".resources")
    if c.get("imagePullPolicy") not in (None, "Always", "IfNotPresent", "Never"):
        errs.append(NotSup(path + ".imagePullPolicy", c["imagePullPolicy"], ["Always", "IfNotPresent", "Never"]))
    for k in ("livenessProbe", "readinessProbe", "startupProbe"):
        if k in c and not init:
            errs += validate_probe(c[k], path + "." + k, liveness=(k != "readinessProbe"))
    return errs


def validate_pod_spec(s, path, extra_volumes=(), workload=True):
    errs = []
    if not isinstance(s, dict):
        return [Req(path)]
    vol_names = set()
    for i, v in enumerate(s.get("volumes") or []):
        vp = "%s.volumes[%d]" % (path, i)
        n = v.get("name", "")
        if not n:
            errs.append(Req(vp + ".name"))
        else:
            for m in is_dns1123_label(n):
                errs.append(Inv(vp + ".name", n, m))
        if n in vol_names:
            errs.append(Dup(vp + ".name", n))
        vol_names.add(n)
        pvc = v.get("persistentVolumeClaim")
        if isinstance(pvc, dict) and not pvc.get("claimName"):
            errs.append(Req(vp + ".persistentVolumeClaim.claimName"))
    vol_names |= set(extra_volumes)
    names = set()
    if not s.get("containers"):
        errs.append(Req(path + ".containers"))
    for key, init in (("initContainers", True), ("containers", False)):
        for i, c in enumerate(s.get(key) or []):
            cp = "%s.%s[%d]" % (path, key, i)
            errs += validate_container(c, cp, vol_names, init)
            if c.get("name") in names:
                errs.append(Dup(cp + ".name", c.get("name")))
            names.add(c.get("name"))
    rp = s.get("restartPolicy", "Always")
    if workload and rp != "Always":
        errs.append(NotSup(path + ".restartPolicy", rp, ["Always"]))
    dp = s.get("dnsPolicy", "ClusterFirst")
    if dp not in ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"):
        errs.append(NotSup(path + ".dnsPolicy", dp, ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]))
    errs += validate_labels(s.get("nodeSelector"), path + ".nodeSelector")
    return errs


def validate_workload_common(obj, kindword):
    errs = []
    spec = obj.get("spec") or {}
    sel = spec.get("selector")
    tmpl = spec.get("template") or {}
    tlabels = (tmpl.get("metadata") or {}).get("labels") or {}
    if spec.get("replicas", 0) < 0:
        errs.append(Inv("spec.replicas", spec["replicas"], "must be greater than or equal to 0"))
    if sel is None:
        errs.append(Req("spec.selector"))
    else:
        errs += validate_selector(sel, "spec.selector")
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            errs.append(Inv("spec.selector", sel, "empty selector is invalid for " + kindword))
        elif not selector_matches(sel, tlabels):
            errs.append(Inv("spec.template.metadata.labels", tlabels, "`selector` does not match template `labels`"))
    errs += validate_labels(tlabels, "spec.template.metadata.labels")
    errs += validate_annotations((tmpl.get("metadata") or {}).get("annotations"), "spec.template.metadata.annotations")
    return errs


def validate_pvc_spec(spec, path):
    errs = []
    modes = spec.get("accessModes") or []
    if not modes:
        errs.append(Req(path + ".accessModes", "at least 1 access mode is required"))
    for m in modes:
        if m not in ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"):
            errs.append(NotSup(path + ".accessModes", m,
                               ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]))
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None:
        errs.append(Req(path + ".resources[storage]"))
    elif qty(storage) <= 0:
        errs.append(Inv(path + ".resources[storage]", qty_str(storage), "must be greater than zero"))
    vm = spec.get("volumeMode", "Filesystem")
    if vm not in ("Block", "Filesystem"):
        errs.append(NotSup(path + ".volumeMode", vm, ["Block", "Filesystem"]))
    return errs


def validate_deployment(obj, old):
    errs = validate_meta(obj["metadata"], is_dns1123_subdomain)
    errs += validate_workload_common(obj, "deployment")
    spec = obj.get("spec") or {}
    errs += validate_pod_spec((spec.get("template") or {}).get("spec"), "spec.template.spec")
    strat = spec.get("strategy") or {}
    st = strat.get("type", "RollingUpdate")
    if st not in ("Recreate", "RollingUpdate"):
        errs.append(NotSup("spec.strategy.type", st, ["Recreate", "RollingUpdate"]))
    elif st == "Recreate" and strat.get("rollingUpdate") is not None:
        errs.append(Forb("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"))
    ru = strat.get("rollingUpdate") or {}
    if st == "RollingUpdate" and str(ru.get("maxSurge")) in ("0", "0%") and \
            str(ru.get("maxUnavailable")) in ("0", "0%"):
        errs.append(Inv("spec.strategy.rollingUpdate.maxUnavailable", ru.get("maxUnavailable"),
                        "may not be 0 when `maxSurge` is 0"))
    if old is not None:
        osel = (old.get("spec") or {}).get("selector")
        if osel is not None and not deep_equal(osel, spec.get("selector")):
            errs.append(Inv("spec.selector", spec.get("selector"), "field is immutable"))
    return errs


def _percent(v):
    """getPercentValue: the number of a valid "N%" string, else None."""
    if isinstance(v, str) and re.fullmatch(r"[0-9]+%", v):
        return int(v[:-1])
    return None


def _int_or_percent_value(v):
    """getIntOrPercentValue: a percentage's number, an int, or 0 (IntValue of other strings)."""
    p = _percent(v)
    if p is not None:
        return p
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def validate_positive_int_or_percent(v, path):
    if isinstance(v, str):
        if _percent(v) is None:
            return [Inv(path, v, regex_error("a valid percent string must be a numeric string followed by an "
                                             "ending '%'", "[0-9]+%", "1%", "93%"))]
        return []
    if isinstance(v, int) and not isinstance(v, bool) and v < 0:
        return [Inv(path, v, "must be greater than or equal to 0")]
    return []


def validate_daemonset_spec(spec):
    """ValidateDaemonSetSpec (pkg/apis/apps/validation), in its order."""
    errs = []
    sel = spec.get("selector")
    tmpl = spec.get("template") or {}
    tmeta = tmpl.get("metadata") or {}
    tlabels = tmeta.get("labels") or {}
    empty = isinstance(sel, dict) and not sel.get("matchLabels") and not sel.get("matchExpressions")
    if isinstance(sel, dict):
        errs += validate_selector(sel, "spec.selector")
    # LabelSelectorAsSelector: a missing selector is labels.Nothing() (matches nothing: there is no
    # "Required value" for a DaemonSet, only this), an empty one labels.Everything()
    if sel is None or (not empty and not selector_matches(sel, tlabels)):
        errs.append(Inv("spec.template.metadata.labels", tlabels, "`selector` does not match template `labels`"))
    if empty:
        errs.append(Inv("spec.selector", sel, "empty selector is invalid for daemonset"))
    errs += validate_labels(tlabels, "spec.template.metadata.labels")
    errs += validate_annotations(tmeta.get("annotations"), "spec.template.metadata.annotations")
    pspec = tmpl.get("spec")
    errs += validate_pod_spec(pspec, "spec.template.spec")
    if isinstance(pspec, dict) and pspec.get("activeDeadlineSeconds") is not None:
        errs.append(Forb("spec.template.spec.activeDeadlineSeconds",
                         "activeDeadlineSeconds in DaemonSet is not Supported"))
    mrs = spec.get("minReadySeconds", 0)
    if isinstance(mrs, int) and mrs < 0:
        errs.append(Inv("spec.minReadySeconds", mrs, "must be greater than or equal to 0"))
    us = spec.get("updateStrategy") or {}
    typ = us.get("type", "RollingUpdate")
    if typ == "RollingUpdate":
        ru = us.get("rollingUpdate")
        if ru is None:
            errs.append(Req("spec.updateStrategy.rollingUpdate"))
        else:
            rp = "spec.updateStrategy.rollingUpdate"
            mu, ms = ru.get("maxUnavailable", 0), ru.get("maxSurge", 0)
            errs += validate_positive_int_or_percent(mu, rp + ".maxUnavailable")
            errs += validate_positive_int_or_percent(ms, rp + ".maxSurge")
            for k, v in (("maxUnavailable", mu), ("maxSurge", ms)):
                if (_percent(v) or 0) > 100:
                    errs.append(Inv(rp + "." + k, v, "must not be greater than 100%"))
            has_u, has_s = _int_or_percent_value(mu) != 0, _int_or_percent_value(ms) != 0
            if has_u and has_s:
                errs.append(Inv(rp + ".maxSurge", ms, "may not be set when maxUnavailable is non-zero"))
            elif not has_u and not has_s:
                errs.append(Req(rp + ".maxUnavailable", "cannot be 0 when maxSurge is 0"))
    elif typ != "OnDelete":
        errs.append(NotSup("spec.updateStrategy", us, ["RollingUpdate", "OnDelete"]))
    rhl = spec.get("revisionHistoryLimit")
    if isinstance(rhl, int) and rhl < 0:
        errs.append(Inv("spec.revisionHistoryLimit", rhl, "must be greater than or equal to 0"))
    return errs


def validate_daemonset(obj, old):
    errs = validate_meta(obj["metadata"], is_dns1123_subdomain)
    spec = obj.get("spec") or {}
    spec_errs = validate_daemonset_spec(spec)
    errs += spec_errs
    if old is not None:
        # the registry runs ValidateDaemonSet and ValidateDaemonSetUpdate, and both validate the spec: an
        # update lists each spec error twice in details.causes (the message names it once)
        errs += spec_errs
        osel = (old.get("spec") or {}).get("selector")
        if not deep_equal(osel, spec.get("selector")):
            errs.append(Inv("spec.selector", spec.get("selector"), "field is immutable"))
    return errs


def _nonneg(spec, key, path="spec"):
    v = spec.get(key)
    if isinstance(v, int) and not isinstance(v, bool) and v < 0:
        return [Inv("%s.%s" % (path, key), v, "must be greater than or equal to 0")]
    return []


def validate_generated_selector(spec, name, uid, require_prefixed):
    """validateGeneratedSelector: with a generated selector the template must carry the generated labels
    and the selector must select them."""
    if spec.get("manualSelector") is True:
        return []
    sel = spec.get("selector")
    if sel is None:
        return []
    errs = []
    if not uid:
        errs.append(Req("metadata.uid"))
    tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}

    def has_label(key, want):
        path = "spec.template.metadata.labels[%s]" % key
        if key not in tlabels:
            errs.append(Req(path, "must be '%s'" % want))
        elif tlabels[key] != want:
            errs.append(Inv(path, tlabels, "must be '%s'" % want))

    has_label("controller-uid", uid)
    has_label("job-name", name)
    expected = {}
    if require_prefixed:
        has_label(JOB_UID_LABEL, uid)
        has_label("batch.kubernetes.io/job-name", name)
        expected[JOB_UID_LABEL] = uid
        expected["batch.kubernetes.io/job-name"] = name
    expected["controller-uid"] = uid
    expected["job-name"] = name
    if isinstance(sel, dict) and not validate_selector(sel, "spec.selector") and not selector_matches(sel, expected):
        errs.append(Inv("spec.selector", sel, "`selector` not auto-generated"))
    return errs


def validate_job_spec(spec):
    """ValidateJobSpec (pkg/apis/batch/validation), in its order; podFailurePolicy and successPolicy rules
    are not looked into."""
    errs = []
    for k in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
              "backoffLimitPerIndex"):
        errs += _nonneg(spec, k)
    if spec.get("maxFailedIndexes") is not None:
        errs += _nonneg(spec, "maxFailedIndexes")
        if spec.get("backoffLimitPerIndex") is None:
            errs.append(Req("spec.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    mb = spec.get("managedBy")
    if isinstance(mb, str) and len(mb) > 63:
        errs.append(TooLong("spec.managedBy", 63))
    mode = spec.get("completionMode")
    completions = spec.get("completions")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.append(NotSup("spec.completionMode", mode, ["NonIndexed", "Indexed"]))
        if mode == "Indexed":
            if completions is None:
                errs.append(Req("spec.completions", "when completion mode is Indexed"))
            par = spec.get("parallelism")
            if isinstance(par, int) and par > 100000:
                errs.append(Inv("spec.parallelism", par, "must be less than or equal to 100000 when completion "
                                                         "mode is Indexed"))
    if mode in (None, "NonIndexed"):
        for k in ("backoffLimitPerIndex", "maxFailedIndexes"):
            if spec.get(k) is not None:
                errs.append(Inv("spec." + k, spec[k], "requires indexed completion mode"))
    if spec.get("successPolicy") is not None and mode != "Indexed":
        errs.append(Inv("spec.successPolicy", spec["successPolicy"], "requires indexed completion mode"))
    prp = spec.get("podReplacementPolicy")
    if prp is not None:
        if spec.get("podFailurePolicy") is not None:
            if prp != "Failed":
                errs.append(NotSup("spec.podReplacementPolicy", prp, ["Failed"]))
        elif prp not in ("Failed", "TerminatingOrFailed"):
            errs.append(NotSup("spec.podReplacementPolicy", prp, ["Failed", "TerminatingOrFailed"]))
    # ValidatePodTemplateSpec
    tmpl = spec.get("template") or {}
    tmeta = tmpl.get("metadata") or {}
    tlabels = tmeta.get("labels") or {}
    errs += validate_labels(tlabels, "spec.template.metadata.labels")
    errs += validate_annotations(tmeta.get("annotations"), "spec.template.metadata.annotations")
    pspec = tmpl.get("spec")
    errs += validate_pod_spec(pspec, "spec.template.spec", workload=False)
    rp = (pspec or {}).get("restartPolicy", "Always") if isinstance(pspec, dict) else "Always"
    rpath = "spec.template.spec.restartPolicy"
    if rp not in ("Always", "OnFailure", "Never", ""):     # the pod spec's own check
        errs.append(NotSup(rpath, rp, ["Always", "OnFailure", "Never"]))
    # the Job's: Always is what a template without restartPolicy defaults to, hence "Required value"
    if rp in ("Always", ""):
        errs.append(Req(rpath, 'valid values: "OnFailure", "Never"'))
    elif rp not in ("OnFailure", "Never"):
        errs.append(NotSup(rpath, rp, ["OnFailure", "Never"]))
    elif spec.get("podFailurePolicy") is not None and rp != "Never":
        errs.append(Inv(rpath, rp, 'only "Never" is supported when podFailurePolicy is specified'))
    sel = spec.get("selector")
    if sel is None:
        errs.append(Req("spec.selector"))
    else:
        serrs = validate_selector(sel, "spec.selector")
        errs += serrs
        if not serrs and not selector_matches(sel, tlabels):
            errs.append(Inv("spec.template.metadata.labels", tlabels, "`selector` does not match template `labels`"))
    return errs


def _scheduling_directives_copied(tmpl, otmpl):
    """validatePodTemplateUpdate for a suspended Job that never started: the old template with the new
    node affinity, node selector, tolerations, labels, annotations and scheduling gates."""
    o = copy.deepcopy(otmpl)
    ospec = o.setdefault("spec", {})
    nspec = tmpl.get("spec") or {}
    naff, oaff = nspec.get("affinity"), ospec.get("affinity")
    if naff is None and oaff is not None:
        oaff = {k: v for k, v in oaff.items() if k != "nodeAffinity"}
        if oaff:
            ospec["affinity"] = oaff
        else:
            ospec.pop("affinity")
    elif naff is not None:
        oaff = dict(oaff or {})
        oaff.pop("nodeAffinity", None)
        if "nodeAffinity" in naff:
            oaff["nodeAffinity"] = naff["nodeAffinity"]
        ospec["affinity"] = oaff
    for k in ("nodeSelector", "tolerations", "schedulingGates"):
        ospec.pop(k, None)
        if k in nspec:
            ospec[k] = nspec[k]
    ometa = o.setdefault("metadata", {})
    nmeta = tmpl.get("metadata") or {}
    for k in ("labels", "annotations"):
        ometa.pop(k, None)
        if k in nmeta:
            ometa[k] = nmeta[k]
    return o


def validate_job(obj, old):
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    name = meta.get("name", "")
    errs = validate_meta(meta, is_dns1123_subdomain)
    require_prefixed = True
    if old is not None:   # validationOptionsForJob: old Jobs without the prefixed labels are not failed
        olabels = (((old.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
        require_prefixed = "batch.kubernetes.io/job-name" in olabels and JOB_UID_LABEL in olabels
    errs += validate_generated_selector(spec, name, meta.get("uid", ""), require_prefixed)
    spec_errs = validate_job_spec(spec)
    errs += spec_errs
    completions = spec.get("completions")
    if spec.get("completionMode") == "Indexed" and isinstance(completions, int) and completions > 0:
        host = "%s-%d" % (name, completions - 1)
        if is_dns1123_label(host):
            errs.append(Inv("metadata.name", name, "will not able to create pod with invalid DNS label: " + host))
    if old is None:
        return errs
    # ValidateJobUpdate: ValidateJobSpecUpdate validates the spec a second time, then the immutable fields
    errs += spec_errs
    ospec = old.get("spec") or {}
    if spec.get("completionMode") == "Indexed":      # ElasticIndexedJob: together with parallelism only
        if completions != ospec.get("completions") and completions is not None and \
                completions != spec.get("parallelism"):
            errs.append(Inv("spec.completions", completions, "can only be modified in tandem with spec.parallelism"))
    elif completions != ospec.get("completions"):
        errs.append(Inv("spec.completions", completions, "field is immutable"))
    if not deep_equal(spec.get("selector"), ospec.get("selector")):
        errs.append(Inv("spec.selector", spec.get("selector"), "field is immutable"))
    tmpl, otmpl = spec.get("template") or {}, ospec.get("template") or {}
    if ospec.get("suspend") is True and not (old.get("status") or {}).get("startTime"):
        otmpl = _scheduling_directives_copied(tmpl, otmpl)
    if not deep_equal(tmpl, otmpl):
        # the real message carries the whole internal core.PodTemplateSpec
        errs.append(Inv("spec.template", GoRepr("core.PodTemplateSpec{...}"), "field is immutable"))
    for k in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        if not deep_equal(spec.get(k), ospec.get(k)):
            errs.append(Inv("spec." + k, spec.get(k), "field is immutable"))
    return errs


STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
               "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def validate_statefulset(obj, old):
    errs = validate_meta(obj["metadata"], is_dns1123_subdomain)
    errs += validate_workload_common(obj, "statefulset")
    spec = obj.get("spec") or {}
    claim_names = []
    for i, t in enumerate(spec.get("volumeClaimTemplates") or []):
        tp = "spec.volumeClaimTemplates[%d]" % i
        n = (t.get("metadata") or {}).get("name", "")
        if not n:
            errs.append(Req(tp + ".metadata.name", "name or generateName is required"))
        claim_names.append(n)
        errs += validate_pvc_spec(t.get("spec") or {}, tp + ".spec")
    errs += validate_pod_spec((spec.get("template") or {}).get("spec"), "spec.template.spec", claim_names)
    pmp = spec.get("podManagementPolicy", "OrderedReady")
    if pmp not in ("OrderedReady", "Parallel"):
        errs.append(NotSup("spec.podManagementPolicy", pmp, ["OrderedReady", "Parallel"]))
    ust = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
    if ust not in ("OnDelete", "RollingUpdate"):
        errs.append(NotSup("spec.updateStrategy.type", ust, ["OnDelete", "RollingUpdate"]))
    if old is not None:
        a = {k: v for k, v in (old.get("spec") or {}).items() if k not in STS_MUTABLE}
        b = {k: v for k, v in spec.items() if k not in STS_MUTABLE}
        if not deep_equal(a, b):
            errs.append(Forb("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                     "'template', 'updateStrategy', 'revisionHistoryLimit', "
                                     "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
    return errs


def validate_service(obj, old, service_cidr_check):
    errs = validate_meta(obj["metadata"], is_dns1035_label)
    spec = obj.get("spec") or {}
    typ = spec.get("type", "ClusterIP")
    types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
    if typ not in types:
        errs.append(NotSup("spec.type", typ, types))
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if not ports and typ != "ExternalName" and not headless:
        errs.append(Req("spec.ports"))
    names = set()
    for i, p in enumerate(ports):
        pp = "spec.ports[%d]" % i
        n = p.get("name", "")
        if len(ports) > 1 and not n:
            errs.append(Req(pp + ".name"))
        if n:
            for m in is_dns1123_label(n):
                errs.append(Inv(pp + ".name", n, m))
            if n in names:
                errs.append(Dup(pp + ".name", n))
            names.add(n)
        port = p.get("port", 0)
        if not isinstance(port, int) or not 1 <= port <= 65535:
            errs.append(Inv(pp + ".port", port, RANGE_1_65535))
        proto = p.get("protocol", "TCP")
        if proto not in ("SCTP", "TCP", "UDP"):
            errs.append(NotSup(pp + ".protocol", proto, ["SCTP", "TCP", "UDP"]))
        if "targetPort" in p:
            tp = p["targetPort"]
            if isinstance(tp, int) and not isinstance(tp, bool) and not 1 <= tp <= 65535:
                errs.append(Inv(pp + ".targetPort", tp, RANGE_1_65535))
            elif isinstance(tp, str):
                for m in is_port_name(tp):
                    errs.append(Inv(pp + ".targetPort", tp, m))
        np = p.get("nodePort")
        if np:
            if typ == "ClusterIP":
                errs.append(Forb(pp + ".nodePort", "may not be used when `type` is 'ClusterIP'"))
            elif not 30000 <= np <= 32767:
                errs.append(Inv(pp + ".nodePort", np, "provided port is not in the valid range. "
                                                      "The range of valid ports is 30000-32767"))
    errs += validate_labels(spec.get("selector"), "spec.selector")
    cip = spec.get("clusterIP")
    if cip and cip != "None" and typ != "ExternalName":
        why = service_cidr_check(cip)
        if why:
            errs.append(Inv("spec.clusterIPs[0]", cip, why))
    if old is not None and typ != "ExternalName":
        ocip = (old.get("spec") or {}).get("clusterIP")
        if ocip and cip and ocip != cip:
            errs.append(Inv("spec.clusterIPs[0]", [cip], "may not change once set"))
    return errs


def validate_pvc(obj, old):
    errs = validate_meta(obj["metadata"], is_dns1123_subdomain)
    spec = obj.get("spec") or {}
    errs += validate_pvc_spec(spec, "spec")
    if old is not None:
        ospec = old.get("spec") or {}
        a = copy.deepcopy(ospec)
        b = copy.deepcopy(spec)
        for s in (a, b):
            s.get("resources", {}).pop("requests", None)
            s.pop("volumeAttributesClassName", None)
        if not deep_equal(a, b):
            errs.append(Forb("spec", "spec is immutable after creation except resources.requests and "
                                     "volumeAttributesClassName for bound claims"))
        new_size = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        old_size = ((ospec.get("resources") or {}).get("requests") or {}).get("storage")
        cap = ((old.get("status") or {}).get("capacity") or {}).get("storage")
        if new_size is not None and old_size is not None and qty(new_size) < qty(old_size):
            # shrinking back towards status.capacity is allowed (recovery from a failed expansion)
            if cap is None or qty(new_size) <= qty(cap):
                errs.append(Forb("spec.resources.requests.storage", "field can not be less than status.capacity"))
    return errs


def validate_secret(obj, old):
    errs = validate_meta(obj["metadata"], is_dns1123_subdomain)
    data = obj.get("data") or {}
    total = 0
    for k, v in data.items():
        for m in is_config_key(k):
            errs.append(Inv("data[%s]" % k, k, m))
        total += len(base64.b64decode(v + "=" * (-len(v) % 4))) if v else 0
    if total > 1024 * 1024:
        errs.append(TooLong("data", 1024 * 1024))
    typ = obj.get("type", "Opaque")
    if typ == "kubernetes.io/tls":
        for k in ("tls.crt", "tls.key"):
            if k not in data:
                errs.append(Req("data[%s]" % k))
    if typ == "kubernetes.io/dockerconfigjson":
        k = ".dockerconfigjson"
        if k not in data:
            errs.append(Req("data[%s]" % k))
        else:
            try:
                json.loads(base64.b64decode(data[k]))
            except ValueError as e:
                errs.append(Inv("data[%s]" % k, "<secret contents redacted>", str(e)))
    if old is not None:
        if old.get("type", "Opaque") != typ:
            errs.append(Inv("type", typ, "field is immutable"))
        if old.get("immutable") and not deep_equal(old.get("data"), obj.get("data")):
            errs.append(Forb("data", "field is immutable when `immutable` is set"))
    return errs


def validate_configmap(obj, old):
    errs = validate_meta(obj["metadata"], is_dns1123_subdomain)
    data = obj.get("data") or {}
    binary = obj.get("binaryData") or {}
    total = 0
    for k, v in data.items():
        for m in is_config_key(k):
            errs.append(Inv("data[%s]" % k, k, m))
        if k in binary:
            errs.append(Inv("data[%s]" % k, k, "duplicate of key present in binaryData"))
        total += len(v.encode()) if isinstance(v, str) else 0
    for k, v in binary.items():
        for m in is_config_key(k):
            errs.append(Inv("binaryData[%s]" % k, k, m))
        total += len(v) * 3 // 4 if isinstance(v, str) else 0
    if total > 1024 * 1024:
        errs.append(TooLong("[]", 1024 * 1024))
    if old is not None and old.get("immutable") and (not deep_equal(old.get("data"), obj.get("data"))
                                                     or not deep_equal(old.get("binaryData"), obj.get("binaryData"))):
        errs.append(Forb("data", "field is immutable when `immutable` is set"))
    return errs


def validate_namespace(obj, old):
    return validate_meta(obj["metadata"], is_dns1123_label)


# --------------------------------------------------------------------------
# Server-side apply: ownership of leaf fields, merging, conflicts
# --------------------------------------------------------------------------

ATOMIC_STRUCTS = {"LabelSelector"}
STRIPPED_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                 "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields", "generateName"}


def pe_str(pe):
    t, v = pe
    if t == "f":
        return "." + v
    if t == "k":
        return "[" + ",".join("%s=%s" % (k, go_quote(x) if isinstance(x, str) else _go_v(x)) for k, x in v) + "]"
    return "[=%s]" % (go_quote(v) if isinstance(v, str) else _go_v(v))


def path_str(path):
    return "".join(pe_str(pe) for pe in path)


def _key_pe(item, keys):
    parts = []
    for k in sorted(keys):
        if k in item and item[k] is not None:
            parts.append((k, item[k]))
        elif k in LIST_KEY_DEFAULTS:
            parts.append((k, LIST_KEY_DEFAULTS[k]))
    return ("k", tuple(parts))


def _sub_type(typ, key):
    if typ in SCHEMA:
        return SCHEMA[typ].get(key, "*")
    if typ and typ.startswith("{"):
        return typ[1:-1]
    return "*"


def leaves(value, typ, path=(), out=None):
    """{path: value} of the fields a config sets, as structured-merge-diff tracks them."""
    if out is None:
        out = {}
    if isinstance(value, dict) and typ not in ATOMIC_STRUCTS and (typ in SCHEMA or typ.startswith("{")):
        if not value:
            out[path] = value
        for k, v in value.items():
            leaves(v, _sub_type(typ, k), path + (("f", k),), out)
        return out
    if isinstance(value, list) and typ.startswith("["):
        inner, _, keys = typ[1:-1].partition("|")
        if keys == "=":
            for item in value:
                out[path + (("v", item),)] = item
            return out
        if keys:
            klist = keys.split(",")
            for item in value:
                ipath = path + (_key_pe(item, klist),)
                out[ipath + (("f", "."),)] = True  # the item itself
                leaves(item, inner, ipath, out)
            return out
    out[path] = value
    return out


def config_leaves(cfg, kind):
    out = leaves(cfg, kind)
    return {p: v for p, v in out.items() if p and not (p[0] == ("f", "metadata") and len(p) > 1 and
                                                        p[1][1] in STRIPPED_META)
            and p[0] not in (("f", "apiVersion"), ("f", "kind"), ("f", "status"))}


def null_paths(value, typ, path=(), out=None):
    """Paths an apply body sets to null: "remove this field"."""
    if out is None:
        out = []
    if isinstance(value, dict) and typ not in ATOMIC_STRUCTS and (typ in SCHEMA or typ.startswith("{")):
        for k, v in value.items():
            if v is None:
                out.append(path + (("f", k),))
            else:
                null_paths(v, _sub_type(typ, k), path + (("f", k),), out)
    elif isinstance(value, list) and typ.startswith("["):
        inner, _, keys = typ[1:-1].partition("|")
        if keys and keys != "=":
            for item in value:
                if isinstance(item, dict):
                    null_paths(item, inner, path + (_key_pe(item, keys.split(",")),), out)
    return out


def merge_value(base, over, typ):
    if over is None:
        return copy.deepcopy(base)
    if base is None:
        return copy.deepcopy(over)
    if isinstance(base, dict) and isinstance(over, dict) and typ not in ATOMIC_STRUCTS and \
            (typ in SCHEMA or typ.startswith("{")):
        out = copy.deepcopy(base)
        for k, v in over.items():
            out[k] = merge_value(base.get(k), v, _sub_type(typ, k))
        return out
    if isinstance(base, list) and isinstance(over, list) and typ.startswith("["):
        inner, _, keys = typ[1:-1].partition("|")
        if keys and keys != "=":
            klist = keys.split(",")
            out = copy.deepcopy(base)
            index = {_key_pe(it, klist): i for i, it in enumerate(out) if isinstance(it, dict)}
            for it in over:
                if not isinstance(it, dict):
                    continue
                k = _key_pe(it, klist)
                if k in index:
                    out[index[k]] = merge_value(out[index[k]], it, inner)
                else:
                    index[k] = len(out)
                    out.append(copy.deepcopy(it))
            return out
        if keys == "=":
            out = list(base)
            for it in over:
                if it not in out:
                    out.append(it)
            return out
    return copy.deepcopy(over)


def remove_path(cfg, path, typ):
    """Drop one owned field from a manager's config (ownership moved by force)."""
    if not path:
        return
    pe, rest = path[0], path[1:]
    if pe[0] == "f":
        if not isinstance(cfg, dict) or pe[1] not in cfg:
            return
        if pe[1] == "." and not rest:
            return
        if not rest:
            del cfg[pe[1]]
            return
        sub = _sub_type(typ, pe[1])
        remove_path(cfg[pe[1]], rest, sub)
        if cfg[pe[1]] in ({}, []):
            del cfg[pe[1]]
        return
    if isinstance(cfg, list) and typ.startswith("["):
        inner, _, keys = typ[1:-1].partition("|")
        for i, it in enumerate(cfg):
            if pe[0] == "k" and isinstance(it, dict) and _key_pe(it, keys.split(",")) == pe:
                if rest == (("f", "."),):
                    del cfg[i]
                else:
                    remove_path(it, rest, inner)
                return
            if pe[0] == "v" and it == pe[1]:
                del cfg[i]
                return


def fields_v1(paths):
    tree = {}
    for path in sorted(paths, key=lambda p: [pe_str(x) for x in p]):
        node = tree
        for pe in path:
            t, v = pe
            if t == "f":
                key = "." if v == "." else "f:" + v
            elif t == "k":
                key = "k:" + json.dumps({k: x for k, x in v}, separators=(",", ":"), sort_keys=True)
            else:
                key = "v:" + json.dumps(v, separators=(",", ":"))
            node = node.setdefault(key, {})
    return tree


def status_fields_v1(status):
    def walk(v):
        if isinstance(v, dict):
            return {"f:" + k: walk(x) for k, x in v.items()}
        return {}
    return {"f:status": walk(status)} if status else {}


def conflict_error(conflicts, api_version):
    causes = [{"reason": "FieldManagerConflict", "message": "conflict with %s" % go_quote(m), "field": path_str(p)}
              for m, p in conflicts]
    if len(conflicts) == 1:
        m, p = conflicts[0]
        msg = "Apply failed with 1 conflict: conflict with %s: %s" % (go_quote(m), path_str(p))
    else:
        by = {}
        for m, p in conflicts:
            by.setdefault(m, []).append(path_str(p))
        parts = []
        for m in sorted(by):
            parts.append("conflicts with %s:" % go_quote(m))
            parts += ["- " + x for x in by[m]]
        msg = "Apply failed with %d conflicts: %s" % (len(conflicts), "\n".join(parts))
    return ApiError(409, status_failure(409, "Conflict", msg, {"causes": causes}))


# --------------------------------------------------------------------------
# The store and the controllers
# --------------------------------------------------------------------------

R_NS = RES_BY_KIND["Namespace"]
R_POD = RES_BY_KIND["Pod"]
R_PVC = RES_BY_KIND["PersistentVolumeClaim"]
R_SVC = RES_BY_KIND["Service"]
R_RS = RES_BY_KIND["ReplicaSet"]
R_SECRET = RES_BY_KIND["Secret"]
R_CM = RES_BY_KIND["ConfigMap"]
R_NODE = RES_BY_KIND["Node"]
R_SC = RES_BY_KIND["StorageClass"]
R_JOB = RES_BY_KIND["Job"]

VALIDATORS = {
    "Namespace": validate_namespace,
    "ConfigMap": validate_configmap,
    "Secret": validate_secret,
    "PersistentVolumeClaim": validate_pvc,
    "Deployment": validate_deployment,
    "StatefulSet": validate_statefulset,
    "DaemonSet": validate_daemonset,
    "Job": validate_job,
}

TOP_ORDER = ["spec", "immutable", "data", "binaryData", "stringData", "type", "status"]
META_ORDER = ["name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
              "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
              "finalizers", "managedFields"]
GPU = "nvidia.com/gpu"
HOLD_STATES = ("auto", "ready", "pending", "crashloop", "imagepull", "unschedulable", "fail")


def order_keys(d, order):
    out = {k: d[k] for k in order if k in d}
    for k, v in d.items():
        if k not in out:
            out[k] = v
    return out


def pod_gpus(pod):
    n = 0
    for c in (pod.get("spec") or {}).get("containers") or []:
        r = c.get("resources") or {}
        v = (r.get("limits") or {}).get(GPU, (r.get("requests") or {}).get(GPU))
        if v is not None:
            n += int(parse_quantity(v) or 0)
    return n


def qos_class(spec):
    cs = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    any_set, guaranteed = False, True
    for c in cs:
        r = c.get("resources") or {}
        lim, req = r.get("limits") or {}, r.get("requests") or {}
        if lim or req:
            any_set = True
        for k in ("cpu", "memory"):
            if k not in lim or (k in req and parse_quantity(req[k]) != parse_quantity(lim[k])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def normalize_image(image):
    if "@" in image:
        return image
    name, tag = image, "latest"
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = image.rsplit(":", 1)
    first = name.split("/")[0]
    if "/" not in name:
        name = "docker.io/library/" + name
    elif "." not in first and ":" not in first and first != "localhost":
        name = "docker.io/" + name
    return name + ":" + tag


def int_or_percent(v, total, round_up):
    if isinstance(v, int):
        return v
    if isinstance(v, str) and v.endswith("%"):
        try:
            p = int(v[:-1])
        except ValueError:
            return 0
        x = total * p / 100.0
        return int(-(-x // 1)) if round_up else int(x // 1)
    try:
        return int(v)
    except (TypeError, ValueError):
        return 0


def toleration_tolerates(t, taint):
    """Toleration.ToleratesTaint."""
    if t.get("effect") and t["effect"] != taint.get("effect"):
        return False
    if t.get("key") and t["key"] != taint.get("key"):
        return False
    op = t.get("operator") or "Equal"
    if op == "Exists":
        return True
    return op == "Equal" and (t.get("value") or "") == (taint.get("value") or "")


def untolerated_taint(taints, tolerations, effects=("NoSchedule", "NoExecute")):
    """FindMatchingUntoleratedTaint: the first taint with one of effects that no toleration tolerates."""
    for taint in taints or []:
        if taint.get("effect") not in effects:
            continue
        if not any(toleration_tolerates(t, taint) for t in tolerations or [] if isinstance(t, dict)):
            return taint
    return None


def node_requirement_matches(req, values_of):
    op, vals = req.get("operator"), req.get("values") or []
    have = values_of(req.get("key"))
    if op == "In":
        return have is not None and have in vals
    if op == "NotIn":
        return have is None or have not in vals
    if op == "Exists":
        return have is not None
    if op == "DoesNotExist":
        return have is None
    if op in ("Gt", "Lt") and have is not None and len(vals) == 1:
        try:
            a, b = int(have), int(vals[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def node_matches_pod(pod_spec, node_obj):
    """nodeSelector and requiredDuringScheduling node affinity (the NodeAffinity filter)."""
    labels = node_obj["metadata"].get("labels") or {}
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    req = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
           .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not isinstance(req, dict):
        return True
    fields = {"metadata.name": node_obj["metadata"]["name"]}
    for term in req.get("nodeSelectorTerms") or []:
        exprs, flds = term.get("matchExpressions") or [], term.get("matchFields") or []
        if not exprs and not flds:
            continue
        if all(node_requirement_matches(r, labels.get) for r in exprs) and \
                all(node_requirement_matches(r, fields.get) for r in flds):
            return True
    return False


# util.AddOrUpdateDaemonPodTolerations, in its order (network-unavailable only with hostNetwork)
DAEMON_TOLERATIONS = [("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                      ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                      ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                      ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                      ("node.kubernetes.io/unschedulable", "NoSchedule")]
PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}


def daemon_pod_spec(spec, node_name):
    """What the DaemonSet controller changes in the template for one node's pod."""
    spec = copy.deepcopy(spec)
    tol = spec.setdefault("tolerations", [])
    wanted = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(("node.kubernetes.io/network-unavailable", "NoSchedule"))
    for key, effect in wanted:
        t = {"key": key, "operator": "Exists", "effect": effect}
        if not any(isinstance(o, dict) and o.get("key") == key and o.get("operator") == "Exists" and
                   o.get("effect") == effect and not o.get("value") for o in tol):
            tol.append(t)
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    aff = spec.setdefault("affinity", {})
    na = aff.setdefault("nodeAffinity", {})
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if isinstance(req, dict):
        req["nodeSelectorTerms"] = [term]
    else:
        na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
    return spec


def fit_error(n, rejects):
    """The scheduler's FitError text for [(reason, unresolvable)] per rejected node."""
    reasons, post = {}, {}
    for r, unresolvable in rejects:
        reasons[r] = reasons.get(r, 0) + 1
        pm = "Preemption is not helpful for scheduling" if unresolvable else \
            "No preemption victims found for incoming pod"
        post[pm] = post.get(pm, 0) + 1
    return "0/%d nodes are available: %s. preemption: 0/%d nodes are available: %s." % (
        n, ", ".join(sorted("%d %s" % (c, r) for r, c in reasons.items())),
        n, ", ".join(sorted("%d %s" % (c, r) for r, c in post.items())))


class Stored:
    def __init__(self, res, ns, name):
        self.res, self.ns, self.name = res, ns or "", name
        self.obj = None
        self.managers = []          # [{"manager", "config", "time"}] in first-applied order
        self.status_managers = {}   # manager -> (time, fieldsV1) for controller status writes
        self.sys = {"labels": {}, "annotations": {}, "finalizers": []}
        self.sim = {}
        self.changed_at = time.monotonic()
        self.created_at = time.monotonic()

    @property
    def key(self):
        return (self.res.plural, self.ns, self.name)

    @property
    def terminating(self):
        return bool(self.obj["metadata"].get("deletionTimestamp"))


class Sim:
    def __init__(self, config=None, cluster_id=424242):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.cfg = dict(DEFAULT_CONFIG)
        self.cfg.update(config or {})
        self.cluster_id = cluster_id
        self.rv = 1000
        self.objects = {}
        self.holds = {}
        self.logs = {}
        self.faults = []
        self.requests = []
        self.req_seq = 0
        self.used_ips = set()
        self.used_node_ports = set()
        self.node_names = []
        self.gpu_node_names = []
        self.pod_ip_seq = 0
        self.request_log_file = None
        self.bootstrap()

    # -- basics -------------------------------------------------------------

    def ms(self, key):
        v = self.cfg.get(key)
        return (v or 0) / 1000.0

    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    def commit(self, st):
        st.obj["metadata"]["resourceVersion"] = self.next_rv()
        self.objects[st.key] = st
        self.cond.notify_all()

    def get(self, res, ns, name):
        return self.objects.get((res.plural, (ns or "") if res.namespaced else "", name))

    def remove(self, st):
        if self.objects.get(st.key) is st:
            del self.objects[st.key]
            self.next_rv()
            if st.res is R_SVC:
                self.used_ips.discard(st.sys.get("clusterIP"))
                for p in (st.sys.get("nodePorts") or {}).values():
                    self.used_node_ports.discard(p)
            self.cond.notify_all()

    def ns_state(self, ns):
        st = self.get(R_NS, "", ns)
        if st is None:
            return None
        return "Terminating" if st.terminating else "Active"

    def put_controller_object(self, res, ns, name, obj, sim=None):
        st = Stored(res, ns, name)
        st.obj = obj
        st.sim = sim or {}
        self.commit(st)
        return st

    def bootstrap(self):
        with self.lock:
            for ns in SYSTEM_NAMESPACES:
                st = Stored(R_NS, "", ns)
                st.sys["labels"] = {"kubernetes.io/metadata.name": ns}
                st.obj = {"kind": "Namespace", "apiVersion": "v1",
                          "metadata": {"name": ns, "uid": str(uuid.uuid4()), "resourceVersion": "",
                                       "creationTimestamp": wall_ts(),
                                       "labels": {"kubernetes.io/metadata.name": ns}},
                          "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
                self.commit(st)
            pool = 600000 + self.cluster_id % 100000
            total = int(self.cfg.get("nodes") or 1)
            n_gpu = max(0, min(int(self.cfg.get("gpu_nodes") or 0), total))
            self.node_names = []
            self.gpu_node_names = []
            for i in range(total):
                gpu = i >= total - n_gpu      # the last gpu_nodes nodes: a second pool, as on LKE
                npool = pool + 1 if gpu else pool
                name = "lke%d-%d-%s" % (self.cluster_id, npool, hashlib.sha1(("%d-%d" % (self.cluster_id, i))
                                                                             .encode()).hexdigest()[:8])
                self.node_names.append(name)
                if gpu:
                    self.gpu_node_names.append(name)
                    cap = {"cpu": "4", "ephemeral-storage": "515928320Ki", "memory": "16370244Ki", "pods": "110"}
                else:
                    cap = {"cpu": "4", "ephemeral-storage": "163209856Ki", "memory": "8117672Ki", "pods": "110"}
                gc = self.cfg.get("gpu_capacity")
                if gc and not n_gpu:   # the count-only model: the cap spread over the nodes
                    cap[GPU] = str(gc // total + (1 if i < gc % total else 0))
                cap = dict(sorted(cap.items()))
                spec = {"podCIDR": "10.2.%d.0/25" % i, "podCIDRs": ["10.2.%d.0/25" % i],
                        "providerID": "linode://%d" % (70000000 + i)}
                if gpu and self.cfg.get("gpu_node_taints"):
                    spec["taints"] = copy.deepcopy(self.cfg["gpu_node_taints"])
                self.put_controller_object(R_NODE, "", name, {
                    "kind": "Node", "apiVersion": "v1",
                    "metadata": {"name": name, "uid": str(uuid.uuid4()), "resourceVersion": "",
                                 "creationTimestamp": wall_ts(),
                                 "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                            "kubernetes.io/arch": "amd64",
                                            "lke.linode.com/pool-id": str(npool),
                                            "node.kubernetes.io/instance-type":
                                                GPU_NODE_TYPE if gpu else "g6-standard-2",
                                            "topology.kubernetes.io/region": "us-ord"}},
                    "spec": spec,
                    "status": {"capacity": cap, "allocatable": dict(cap),
                               "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                               "message": "kubelet is posting ready status",
                                               "lastHeartbeatTime": wall_ts(), "lastTransitionTime": wall_ts()}],
                               "addresses": [{"type": "Hostname", "address": name},
                                             {"type": "InternalIP", "address": "192.168.128.%d" % (10 + i)}],
                               "nodeInfo": {"kubeletVersion": K8S_VERSION["gitVersion"],
                                            "containerRuntimeVersion": "containerd://1.7.27",
                                            "operatingSystem": "linux", "architecture": "amd64"}}})
            for sc, reclaim, default in (("linode-block-storage", "Delete", False),
                                         ("linode-block-storage-retain", "Retain", True)):
                meta = {"name": sc, "uid": str(uuid.uuid4()), "resourceVersion": "", "creationTimestamp": wall_ts()}
                if default:
                    meta["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
                self.put_controller_object(R_SC, "", sc, {
                    "kind": "StorageClass", "apiVersion": "storage.k8s.io/v1", "metadata": meta,
                    "provisioner": STORAGE_PROVISIONER, "reclaimPolicy": reclaim,
                    "volumeBindingMode": "Immediate", "allowVolumeExpansion": True})
            kst = Stored(R_SVC, "default", "kubernetes")
            kst.sys.update({"clusterIP": "10.128.0.1"})
            self.used_ips.update({"10.128.0.1", "10.128.0.10"})
            kst.obj = {"kind": "Service", "apiVersion": "v1",
                       "metadata": {"name": "kubernetes", "namespace": "default", "uid": str(uuid.uuid4()),
                                    "resourceVersion": "", "creationTimestamp": wall_ts(),
                                    "labels": {"component": "apiserver", "provider": "kubernetes"}},
                       "spec": {"ports": [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 6443}],
                                "clusterIP": "10.128.0.1", "clusterIPs": ["10.128.0.1"], "type": "ClusterIP",
                                "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                                "internalTrafficPolicy": "Cluster"},
                       "status": {"loadBalancer": {}}}
            self.commit(kst)
            self.sync_node_gpus()

    def reset(self):
        with self.lock:
            self.objects = {}
            self.holds, self.logs, self.faults, self.requests = {}, {}, [], []
            self.used_ips, self.used_node_ports = set(), set()
            self.bootstrap()

    # -- holds and logs -------------------------------------------------------

    def hold_state(self, ns, kind, name):
        return self.holds.get((ns or "", kind, name), "auto")

    def pod_hold(self, pst):
        h = self.hold_state(pst.ns, "Pod", pst.name)
        if h != "auto":
            return h
        owner = pst.sim.get("owner")
        if owner:
            return self.hold_state(pst.ns, owner[0], owner[1])
        return "auto"

    # -- allocation -------------------------------------------------------------

    def alloc_ip(self):
        while True:
            ip = "10.128.%d.%d" % (random.randint(0, 255), random.randint(1, 254))
            if ip not in self.used_ips:
                return ip

    def alloc_node_port(self, taken):
        while True:
            p = random.randint(30000, 32767)
            if p not in self.used_node_ports and p not in taken:
                return p

    def cidr_check(self, owner_key):
        def check(ip):
            parts = ip.split(".")
            try:
                ok = len(parts) == 4 and all(0 <= int(x) <= 255 for x in parts)
            except ValueError:
                ok = False
            if not ok:
                return "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
            if parts[0] != "10" or parts[1] != "128":
                return ("failed to allocate IP %s: the provided IP (%s) is not in the valid range. "
                        "The range of valid IPs is 10.128.0.0/16" % (ip, ip))
            for st in self.objects.values():
                if st.res is R_SVC and st.key != owner_key and st.sys.get("clusterIP") == ip:
                    return "failed to allocate IP %s: provided IP is already allocated" % ip
            return None
        return check

    # -- server-side apply ----------------------------------------------------

    def apply(self, res, ns, name, body, manager, force, dry_run):
        with self.lock:
            if not res.namespaced:
                ns = ""
            old = self.get(res, ns, name)
            if not isinstance(body, dict):
                raise err_bad_request("error decoding YAML: the body of an apply patch must be an object")
            av, kind = body.get("apiVersion") or "", body.get("kind") or ""
            if av != res.api_version or kind != res.kind:
                g, _, v = av.rpartition("/") if "/" in av else ("", "", av)
                raise err_bad_request("invalid object type: %s/%s, Kind=%s" % (g, v, kind))
            meta = body.get("metadata")
            if isinstance(meta, dict) and meta.get("managedFields") is not None:
                raise err_bad_request("metadata.managedFields must be nil")
            errs = []
            schema_check(body, res.kind, "", errs)
            if errs:
                m = meta if isinstance(meta, dict) else {}
                raise ApiError(500, status_failure(500, "", "failed to create typed patch object (%s/%s; %s): %s" % (
                    m.get("namespace", "") or "", m.get("name", "") or "", res.gvk, typed_errors_message(errs))))
            meta = meta or {}
            nulls = [n for n in null_paths({k: v for k, v in body.items() if k not in ("apiVersion", "kind",
                                                                                     "metadata", "status")},
                                           res.kind)]
            cfg = prune_nulls({k: v for k, v in body.items() if k not in ("apiVersion", "kind", "status")})
            if "metadata" in cfg:
                cfg["metadata"] = {k: v for k, v in cfg["metadata"].items() if k not in STRIPPED_META}
                if not cfg["metadata"]:
                    del cfg["metadata"]
            new_leaves = config_leaves(cfg, res.kind)
            managers = copy.deepcopy(old.managers) if old else []
            conflicts = []
            for m in managers:
                if m["manager"] == manager:
                    continue
                theirs = config_leaves(m["config"], res.kind)
                for p, v in new_leaves.items():
                    if p in theirs and not deep_equal(theirs[p], v):
                        conflicts.append((m["manager"], p))
            conflicts.sort(key=lambda c: (c[0], path_str(c[1])))
            if conflicts and not force:
                raise conflict_error(conflicts, res.api_version)
            for mname, p in conflicts:
                for m in managers:
                    if m["manager"] == mname:
                        remove_path(m["config"], p, res.kind)
            now_ts = wall_ts()
            mine = next((m for m in managers if m["manager"] == manager), None)
            if mine is None:
                managers.append({"manager": manager, "config": cfg, "time": now_ts})
            elif not deep_equal(mine["config"], cfg):
                mine["config"], mine["time"] = cfg, now_ts
            managers = [m for m in managers if m["config"]]
            body_name = meta.get("name") or (old.name if old else "")
            if body_name != name:
                raise err_bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                                      % (body_name, name))
            if res.namespaced and meta.get("namespace") and meta["namespace"] != ns:
                raise err_bad_request("the namespace of the object (%s) does not match the namespace on the "
                                      "request (%s)" % (meta["namespace"], ns))
            if meta.get("resourceVersion") and old and meta["resourceVersion"] != old.obj["metadata"]["resourceVersion"]:
                raise err_conflict(res, name, "the object has been modified; please apply your changes to the "
                                              "latest version and try again")
            if res.namespaced and old is None:
                state = self.ns_state(ns)
                if state is None:
                    raise err_namespace_not_found(ns)
                if state == "Terminating":
                    raise err_forbidden(res, name, "unable to create new content in namespace %s because it is "
                                                   "being terminated" % ns,
                                        [{"reason": "NamespaceTerminating",
                                          "message": "namespace %s is being terminated" % ns,
                                          "field": "metadata.namespace"}])
            obj, sysd = self.compose(res, ns, name, managers, old, nulls)
            try:
                if res.kind == "Service":
                    verrs = validate_service(obj, old.obj if old else None, self.cidr_check((res.plural, ns, name)))
                else:
                    verrs = VALIDATORS[res.kind](obj, old.obj if old else None)
            except BadQuantity as e:
                raise err_bad_request("quantities must match the regular expression "
                                      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (%s)" % e)
            if verrs:
                raise err_invalid(res.kind, res.group, name, verrs)
            # generation
            spec_changed = True
            if old is not None:
                spec_changed = not deep_equal({k: v for k, v in old.obj.items() if k not in ("metadata", "status")},
                                              {k: v for k, v in obj.items() if k not in ("metadata", "status")})
            if res.generation:
                if old is None:
                    obj["metadata"]["generation"] = 1
                else:
                    gen = old.obj["metadata"].get("generation", 1)
                    bump = not deep_equal(old.obj.get("spec"), obj.get("spec"))
                    if res.kind == "Deployment":
                        oa = {k: v for k, v in (old.obj["metadata"].get("annotations") or {}).items()
                              if k not in old.sys["annotations"]}
                        na = {k: v for k, v in (obj["metadata"].get("annotations") or {}).items()
                              if k not in sysd["annotations"]}
                        bump = bump or not deep_equal(oa, na)
                    obj["metadata"]["generation"] = gen + 1 if bump else gen
                obj["metadata"] = order_keys(obj["metadata"], META_ORDER)
            st = old or Stored(res, ns, name)
            obj["metadata"]["managedFields"] = self.managed_fields(res, managers, st.status_managers)
            if old is not None:
                a = copy.deepcopy(old.obj)
                b = copy.deepcopy(obj)
                for x in (a, b):
                    x["metadata"].pop("managedFields", None)
                    x["metadata"].pop("resourceVersion", None)
                if deep_equal(a, b) and deep_equal([(m["manager"], m["config"]) for m in old.managers],
                                                   [(m["manager"], m["config"]) for m in managers]):
                    return 200, copy.deepcopy(old.obj)
            if dry_run:
                if old is None:
                    obj["metadata"]["resourceVersion"] = ""
                return (201 if old is None else 200), obj
            st.obj, st.managers, st.sys = obj, managers, sysd
            if res is R_SVC:
                self.used_ips.discard((old.sys if old else {}).get("clusterIP"))
                if sysd.get("clusterIP"):
                    self.used_ips.add(sysd["clusterIP"])
                if old:
                    for p in (old.sys.get("nodePorts") or {}).values():
                        self.used_node_ports.discard(p)
                self.used_node_ports.update((sysd.get("nodePorts") or {}).values())
            if spec_changed:
                st.changed_at = time.monotonic()
            self.commit(st)
            return (201 if old is None else 200), copy.deepcopy(st.obj)

    def managed_fields(self, res, managers, status_managers):
        out = []
        for m in managers:
            out.append({"manager": m["manager"], "operation": "Apply", "apiVersion": res.api_version,
                        "time": m["time"], "fieldsType": "FieldsV1",
                        "fieldsV1": fields_v1(config_leaves(m["config"], res.kind).keys())})
        for mgr, (t, fv1) in status_managers.items():
            out.append({"manager": mgr, "operation": "Update", "apiVersion": res.api_version, "time": t,
                        "fieldsType": "FieldsV1", "fieldsV1": fv1, "subresource": "status"})
        return out

    def compose(self, res, ns, name, managers, old, nulls=()):
        """The new live object: the old one with every field some manager owned taken out, the managers'
        configs merged in, explicit nulls removed, server-set values and defaults filled.  Values nobody
        owns (defaults, allocations) stay, as they do with structured-merge-diff."""
        kind = res.kind
        merged = {}
        for m in managers:
            merged = merge_value(merged, m["config"], kind)
        umeta = merged.get("metadata") or {}
        cfg_body = {k: v for k, v in merged.items() if k != "metadata"}
        if old is not None:
            base = {k: copy.deepcopy(v) for k, v in old.obj.items()
                    if k not in ("kind", "apiVersion", "metadata", "status")}
            owned = set()
            for m in old.managers:
                owned |= set(config_leaves(m["config"], kind))
            # whole list items first (they are matched on their keys), then the remaining leaves
            for path in sorted(owned, key=lambda q: (q[-1] != ("f", "."), -len(q))):
                if path and path[0] != ("f", "metadata"):
                    remove_path(base, path, kind)
            if kind == "Service":
                self.drop_type_dependent(base, old.obj, cfg_body)
            body = merge_value(base, cfg_body, kind)
        else:
            body = copy.deepcopy(cfg_body)
        for path in nulls:
            remove_path(body, path, kind)
        sysd = copy.deepcopy(old.sys) if old else {"labels": {}, "annotations": {}, "finalizers": []}
        old_meta = old.obj["metadata"] if old else {}
        uid = old_meta.get("uid") or str(uuid.uuid4())
        if kind == "Secret":
            data = dict(body.get("data") or {})
            for k, v in data.items():
                at = go_b64_error(v)
                if at is not None:
                    raise err_bad_request('Secret in version "v1" cannot be handled as a Secret: '
                                          'illegal base64 data at input byte %d' % at)
            for k, v in (body.pop("stringData", None) or {}).items():
                data[k] = base64.b64encode(v.encode()).decode()
            if data or "data" in body:
                body["data"] = data
            body.setdefault("type", "Opaque")
        elif kind == "ConfigMap":
            for k, v in (body.get("binaryData") or {}).items():
                at = go_b64_error(v)
                if at is not None:
                    raise err_bad_request('ConfigMap in version "v1" cannot be handled as a ConfigMap: '
                                          'illegal base64 data at input byte %d' % at)
        elif kind == "Namespace":
            body.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            sysd["labels"]["kubernetes.io/metadata.name"] = name
        elif kind == "Deployment":
            default_deployment(body)
        elif kind == "StatefulSet":
            default_statefulset(body)
        elif kind == "Job":
            default_job(body)
            # the selector and the template's labels are generated once, at creation; afterwards they are
            # values nobody owns and stay (an apply that names other ones is refused by validation)
            if old is None and (body.get("spec") or {}).get("manualSelector") is not True:
                generate_job_selector(body, name, uid)
            if isinstance(body.get("spec"), dict):
                body["spec"] = order_keys(body["spec"], JOB_SPEC_ORDER)
        elif kind == "DaemonSet":
            default_daemonset(body)
            # spec.templateGeneration (internal) shows in apps/v1 as this annotation: 1 at creation, +1 each
            # time the template changes; nobody owns it, so an apply never removes it
            tg = int(sysd["annotations"].get(DS_TEMPLATE_GENERATION) or 0)
            if old is None or not deep_equal((old.obj.get("spec") or {}).get("template"),
                                             (body.get("spec") or {}).get("template")):
                tg += 1
            sysd["annotations"][DS_TEMPLATE_GENERATION] = str(tg)
        elif kind == "Service":
            spec = body.setdefault("spec", {})
            typ = spec.get("type", "ClusterIP")
            if typ == "ExternalName":
                sysd.pop("clusterIP", None)
            elif spec.get("clusterIP"):
                sysd["clusterIP"] = spec["clusterIP"]
            elif not sysd.get("clusterIP"):
                sysd["clusterIP"] = self.alloc_ip()
            nps = {}
            if typ in ("NodePort", "LoadBalancer"):
                old_nps = sysd.get("nodePorts") or {}
                for p in spec.get("ports") or []:
                    if not isinstance(p, dict):
                        continue
                    k = port_key(dict(p, protocol=p.get("protocol", "TCP")))
                    if p.get("nodePort"):
                        nps[k] = p["nodePort"]
                    else:
                        nps[k] = old_nps.get(k) or self.alloc_node_port(set(nps.values()))
            sysd["nodePorts"] = nps
            default_service(body, sysd)
        elif kind == "PersistentVolumeClaim":
            spec = body.setdefault("spec", {})
            if "storageClassName" not in spec and "storageClassName" not in sysd:
                sysd["storageClassName"] = "linode-block-storage-retain"
            default_pvc(body, sysd)
            sysd["finalizers"] = sorted(set(sysd["finalizers"]) | {PVC_FINALIZER})
        meta = {"name": name}
        if res.namespaced:
            meta["namespace"] = ns
        meta["uid"] = uid
        meta["resourceVersion"] = old_meta.get("resourceVersion", "")
        meta["creationTimestamp"] = old_meta.get("creationTimestamp") or wall_ts()
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            if k in old_meta:
                meta[k] = old_meta[k]
        labels = dict(umeta.get("labels") or {})
        labels.update(sysd["labels"])
        if kind == "Job":
            # SetDefaults_Job: a Job without labels gets its pod template's (the generated ones included,
            # the defaulting runs again when the stored object is read back); nobody owns them, so they stay
            labels = dict(sysd.get("jobLabels") or {}, **labels)
            if not labels:
                tl = (((body.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
                if isinstance(tl, dict) and tl:
                    labels = dict(tl)
                    sysd["jobLabels"] = dict(tl)
        if labels:
            meta["labels"] = labels
        ann = dict(umeta.get("annotations") or {})
        ann.update(sysd["annotations"])
        if ann:
            meta["annotations"] = ann
        if umeta.get("ownerReferences"):
            meta["ownerReferences"] = umeta["ownerReferences"]
        fins = list(umeta.get("finalizers") or [])
        fins += [f for f in sysd["finalizers"] if f not in fins]
        if fins:
            meta["finalizers"] = fins
        status = copy.deepcopy(old.obj.get("status")) if old and "status" in old.obj else None
        if status is None:
            status = {"Deployment": {}, "StatefulSet": {"replicas": 0, "availableReplicas": 0},
                      "DaemonSet": {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                                    "desiredNumberScheduled": 0, "numberReady": 0},
                      "Service": {"loadBalancer": {}}, "PersistentVolumeClaim": {"phase": "Pending"},
                      "Namespace": {"phase": "Active"}, "Job": {}}.get(kind)
        if status is not None:
            body["status"] = status
        obj = {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}
        obj.update(order_keys(body, TOP_ORDER))
        return obj, sysd

    @staticmethod
    def drop_type_dependent(base, old_obj, cfg_body):
        new_type = (cfg_body.get("spec") or {}).get("type", "ClusterIP")
        old_type = (old_obj.get("spec") or {}).get("type", "ClusterIP")
        spec = base.get("spec")
        if new_type == old_type or not isinstance(spec, dict):
            return
        cfg_spec = cfg_body.get("spec") or {}
        if new_type not in ("NodePort", "LoadBalancer"):
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)
            for k in ("externalTrafficPolicy", "healthCheckNodePort"):
                if k not in cfg_spec:
                    spec.pop(k, None)
        if new_type != "LoadBalancer":
            for k in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
                if k not in cfg_spec:
                    spec.pop(k, None)
        if new_type == "ExternalName":
            for k in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"):
                spec.pop(k, None)

    # -- reads ----------------------------------------------------------------

    def get_object(self, res, ns, name):
        with self.lock:
            st = self.get(res, ns, name)
            if st is None:
                raise err_not_found(res, name)
            return copy.deepcopy(st.obj)

    def list_objects(self, res, ns, label_sel, field_sel, limit, cont):
        with self.lock:
            items = []
            for st in self.objects.values():
                if st.res is not res or (ns and st.ns != ns):
                    continue
                if label_sel and not match_label_selector(label_sel, st.obj["metadata"].get("labels") or {}):
                    continue
                if field_sel and not match_field_selector(field_sel, st.obj):
                    continue
                items.append(st)
            items.sort(key=lambda s: (s.ns, s.name))
            rv = str(self.rv)
            start = 0
            if cont:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(cont + "=" * (-len(cont) % 4)))
                    after = tuple(tok["start"])
                    rv = tok.get("rv", rv)
                except (ValueError, KeyError, TypeError):
                    raise ApiError(400, status_failure(400, "BadRequest", "continue key is not valid: "
                                                                          "illegal base64 data"))
                start = next((i for i, s in enumerate(items) if (s.ns, s.name) > after), len(items))
            page = items[start:]
            meta = {"resourceVersion": rv}
            if limit and len(page) > limit:
                page = page[:limit]
                last = page[-1]
                meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                    {"v": "meta.k8s.io/v1", "rv": rv, "start": [last.ns, last.name]}).encode()).decode().rstrip("=")
                meta["remainingItemCount"] = len(items) - start - limit
            out = []
            for s in page:
                o = copy.deepcopy(s.obj)
                o.pop("kind", None)
                o.pop("apiVersion", None)
                out.append(o)
            return {"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": meta, "items": out}

    # -- delete ---------------------------------------------------------------

    def delete(self, res, ns, name, opts, dry_run):
        """(code, body, extra headers)."""
        pp = opts.get("propagationPolicy")
        if pp is not None and pp not in ("Foreground", "Background", "Orphan"):
            raise err_invalid("DeleteOptions", "meta.k8s.io", "",
                              [NotSup("propagationPolicy", pp, ["Foreground", "Background", "Orphan", "nil"])])
        code, body = self.delete_object(res, ns, name, opts, dry_run)
        headers = {}
        if res is R_JOB and pp is None and opts.get("orphanDependents") is None:
            headers["Warning"] = '299 - %s' % go_quote(JOB_DELETE_WARNING)
        return code, body, headers

    def delete_object(self, res, ns, name, opts, dry_run):
        with self.lock:
            st = self.get(res, ns, name)
            if st is None:
                raise err_not_found(res, name)
            pre = opts.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != st.obj["metadata"]["uid"]:
                raise err_conflict(res, name, "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                   % (pre["uid"], st.obj["metadata"]["uid"]))
            if pre.get("resourceVersion") and pre["resourceVersion"] != st.obj["metadata"]["resourceVersion"]:
                raise err_conflict(res, name, "Precondition failed: ResourceVersion in precondition: %s, "
                                              "ResourceVersion in object meta: %s"
                                   % (pre["resourceVersion"], st.obj["metadata"]["resourceVersion"]))
            if not res.applyable and res is not R_POD:
                raise err_method_not_allowed(res, "delete", "kube-sim: %s are made by the stand-in's controllers"
                                             % res.plural)
            now = time.monotonic()
            if res is R_NS:
                if name in SYSTEM_NAMESPACES:
                    raise err_forbidden(res, name, "this namespace may not be deleted")
                if st.terminating:
                    raise err_conflict(res, name, "The system is ensuring all content is removed from this "
                                                  "namespace.  Upon completion, this namespace will automatically "
                                                  "be purged by the system.")
                if dry_run:
                    return 200, copy.deepcopy(st.obj)
                self.mark_deleting(st, 0)
                st.obj["status"] = {"phase": "Terminating", "conditions": [
                    {"type": t, "status": s, "lastTransitionTime": wall_ts(), "reason": r, "message": msg}
                    for t, s, r, msg in (
                        ("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered",
                         "All resources successfully discovered"),
                        ("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
                         "All legacy kube types successfully parsed"),
                        ("NamespaceDeletionContentFailure", "False", "ContentDeleted",
                         "All content successfully deleted, may be waiting on finalization"),
                        ("NamespaceContentRemaining", "True", "SomeResourcesRemain",
                         "Some resources are remaining: objects in the namespace are being removed"),
                        ("NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers",
                         "All content-preserving finalizers finished"))]}
                st.sim["delete_at"] = now + self.ms("delete_ms")
                self.commit(st)
                return 200, copy.deepcopy(st.obj)
            if dry_run:
                return 200, (copy.deepcopy(st.obj) if res.returns_object else self.success_status(st))
            if res is R_POD:
                grace = opts.get("gracePeriodSeconds")
                if grace == 0:
                    self.remove(st)
                    return 200, copy.deepcopy(st.obj)
                if not st.terminating:
                    self.terminate_pod(st, now, grace if grace is not None else None)
                return 200, copy.deepcopy(st.obj)
            if res is R_PVC:
                if not st.terminating:
                    self.mark_deleting(st, None)
                    self.commit(st)
                return 200, copy.deepcopy(st.obj)
            if res is R_SVC and LB_CLEANUP_FINALIZER in (st.obj["metadata"].get("finalizers") or []):
                if not st.terminating:
                    self.mark_deleting(st, None)
                    st.sim["delete_at"] = now + self.ms("delete_ms")
                    self.commit(st)
                return 200, copy.deepcopy(st.obj)
            if res is R_JOB:
                return self.delete_job(st, opts, now)
            orphan = opts.get("propagationPolicy") == "Orphan" or opts.get("orphanDependents") is True
            self.remove(st)
            if not orphan:
                self.delete_dependents(st, now)
            if res.returns_object:
                return 200, copy.deepcopy(st.obj)
            return 200, self.success_status(st)

    def delete_job(self, st, opts, now):
        """batch/v1's default propagation is Orphan.  Background: the Job goes at once (Status Success)
        and its pods are deleted.  Orphan / Foreground: the Job is answered with deletionTimestamp,
        deletionGracePeriodSeconds 0 and the orphan / foregroundDeletion finalizer and stays until the
        garbage collector (gc_job, next tick) is done with its pods."""
        policy = opts.get("propagationPolicy")
        if policy is None:
            policy = "Background" if opts.get("orphanDependents") is False else "Orphan"
        if policy == "Background" and not st.terminating:
            self.remove(st)
            self.delete_dependents(st, now)
            return 200, self.success_status(st)
        if not st.terminating:
            self.mark_deleting(st, 0)
            fin = "orphan" if policy == "Orphan" else "foregroundDeletion"
            st.sys["finalizers"] = list(st.sys.get("finalizers") or []) + [fin]
            st.obj["metadata"]["finalizers"] = list(st.obj["metadata"].get("finalizers") or []) + [fin]
            st.obj["metadata"] = order_keys(st.obj["metadata"], META_ORDER)
            st.sim["gc"] = policy
            self.commit(st)
        return 200, copy.deepcopy(st.obj)

    def success_status(self, st):
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": _details(st.name, st.res.group, st.res.plural, uid=st.obj["metadata"]["uid"])}

    def mark_deleting(self, st, grace):
        st.obj["metadata"]["deletionTimestamp"] = wall_ts()
        if grace is not None:
            st.obj["metadata"]["deletionGracePeriodSeconds"] = grace
        st.obj["metadata"] = order_keys(st.obj["metadata"], META_ORDER)

    def delete_dependents(self, owner, now):
        uid = owner.obj["metadata"]["uid"]
        for st in list(self.objects.values()):
            refs = st.obj["metadata"].get("ownerReferences") or []
            if st.ns == owner.ns and any(r.get("uid") == uid for r in refs):
                if st.res is R_POD:
                    if not st.terminating:
                        self.terminate_pod(st, now)
                else:
                    self.remove(st)
                    self.delete_dependents(st, now)

    def terminate_pod(self, st, now, grace=None):
        self.mark_deleting(st, grace if grace is not None else
                           (st.obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        st.sim["delete_at"] = now + self.ms("delete_ms")
        self.commit(st)

    # -- controllers ------------------------------------------------------------

    def tick(self):
        with self.lock:
            now = time.monotonic()
            for st in list(self.objects.values()):
                if self.objects.get(st.key) is not st:
                    continue
                kind = st.res.kind
                if kind == "Namespace":
                    self.ctl_namespace(st, now)
                elif kind == "Deployment":
                    self.ctl_deployment(st, now)
                elif kind == "StatefulSet":
                    self.ctl_statefulset(st, now)
                elif kind == "DaemonSet":
                    self.ctl_daemonset(st, now)
                elif kind == "Job":
                    self.ctl_job(st, now)
                elif kind == "PersistentVolumeClaim":
                    self.ctl_pvc(st, now)
                elif kind == "Service":
                    self.ctl_service(st, now)
            for st in list(self.objects.values()):
                if st.res is R_POD and self.objects.get(st.key) is st:
                    self.ctl_pod(st, now)
            self.sync_node_gpus()

    def write_status(self, st, status, manager, extra=None):
        """Store a controller's status write if it changes anything."""
        changed = not deep_equal(st.obj.get("status"), status)
        if extra:
            changed = extra() or changed
        if not changed:
            return False
        st.obj["status"] = status
        if st.res.applyable:
            st.status_managers[manager] = (wall_ts(), status_fields_v1(status))
            st.obj["metadata"]["managedFields"] = self.managed_fields(st.res, st.managers, st.status_managers)
        self.commit(st)
        return True

    def set_sys_annotation(self, st, key, value):
        if st.sys["annotations"].get(key) == value and \
                (st.obj["metadata"].get("annotations") or {}).get(key) == value:
            return False
        st.sys["annotations"][key] = value
        st.obj["metadata"].setdefault("annotations", {})[key] = value
        st.obj["metadata"] = order_keys(st.obj["metadata"], META_ORDER)
        return True

    def add_sys_finalizer(self, st, fin):
        fins = st.obj["metadata"].setdefault("finalizers", [])
        if fin in fins:
            return False
        fins.append(fin)
        if fin not in st.sys["finalizers"]:
            st.sys["finalizers"].append(fin)
        st.obj["metadata"] = order_keys(st.obj["metadata"], META_ORDER)
        return True

    def drop_sys_finalizer(self, st, fin):
        fins = st.obj["metadata"].get("finalizers") or []
        if fin not in fins:
            return False
        fins.remove(fin)
        if not fins:
            st.obj["metadata"].pop("finalizers", None)
        if fin in st.sys["finalizers"]:
            st.sys["finalizers"].remove(fin)
        return True

    def ctl_namespace(self, st, now):
        if not st.terminating:
            return
        if self.hold_state("", "Namespace", st.name) == "pending" or \
                self.hold_state(st.name, "Namespace", st.name) == "pending":
            return
        if now < st.sim.get("delete_at", 0):
            return
        for o in list(self.objects.values()):
            if o.res.namespaced and o.ns == st.name:
                self.remove(o)
        self.remove(st)

    def owned_pods(self, st):
        return [p for p in self.objects.values()
                if p.res is R_POD and p.ns == st.ns and p.sim.get("owner") == (st.res.kind, st.name)]

    def pod_ready(self, pst):
        for c in (pst.obj.get("status") or {}).get("conditions") or []:
            if c.get("type") == "Ready":
                return c.get("status") == "True"
        return False

    def pod_available(self, pst, min_ready, now):
        return self.pod_ready(pst) and now - pst.sim.get("ready_since", now) >= min_ready

    def new_pod(self, owner, name, template, extra_labels, owner_ref, generate_name=None, claims=None,
                hostname=None, subdomain=None, sim=None, finalizers=None):
        tmeta = template.get("metadata") or {}
        spec = copy.deepcopy(template.get("spec") or {})
        default_pod_spec(spec)
        for c in claims or []:
            spec.setdefault("volumes", []).insert(0, {"name": c[0], "persistentVolumeClaim": {"claimName": c[1]}})
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        if hostname:
            spec["hostname"] = hostname
            if subdomain:
                spec["subdomain"] = subdomain
        tol = spec.setdefault("tolerations", [])
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            if not any(isinstance(t, dict) and t.get("key") in (None, "", key) and
                       t.get("effect") in (None, "", "NoExecute") for t in tol):
                tol.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
        spec.setdefault("priority", PRIORITY_CLASSES.get(spec.get("priorityClassName"), 0))
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        labels = dict(tmeta.get("labels") or {})
        labels.update(extra_labels)
        meta = {"name": name}
        if generate_name:
            meta["generateName"] = generate_name
        meta.update({"namespace": owner.ns, "uid": str(uuid.uuid4()), "resourceVersion": "",
                     "creationTimestamp": wall_ts(), "labels": labels})
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        meta["ownerReferences"] = [owner_ref]
        if finalizers:
            meta["finalizers"] = list(finalizers)
        obj = {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": spec,
               "status": {"phase": "Pending", "qosClass": qos_class(spec)}}
        s = {"owner": (owner.res.kind, owner.name), "scheduled_at": None, "conds": {}}
        s.update(sim or {})
        pst = Stored(R_POD, owner.ns, name)
        pst.obj, pst.sim = obj, s
        self.commit(pst)
        return pst

    def owner_ref(self, st, kind=None, name=None, uid=None, api_version="apps/v1"):
        return {"apiVersion": api_version, "kind": kind or st.res.kind, "name": name or st.name,
                "uid": uid or st.obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}

    def conditions(self, st, wanted, now_ts, update_time=False):
        """wanted: [(type, status, reason, message)] -> condition dicts keeping transition times."""
        old = {c["type"]: c for c in (st.obj.get("status") or {}).get("conditions") or []}
        out = []
        for t, s, r, m in wanted:
            o = old.get(t)
            c = {"type": t, "status": s}
            if update_time:
                c["lastUpdateTime"] = o["lastUpdateTime"] if o and o.get("reason") == r and \
                    o.get("message") == m and o.get("status") == s else now_ts
            c["lastTransitionTime"] = o["lastTransitionTime"] if o and o.get("status") == s else now_ts
            if r:
                c["reason"] = r
            if m:
                c["message"] = m
            out.append(c)
        return out

    def ctl_deployment(self, st, now):
        d = st.obj
        spec = d.get("spec") or {}
        sim = st.sim
        if now < st.changed_at + self.ms("observe_ms"):
            return
        name = st.name
        replicas = spec.get("replicas", 1)
        tmpl = spec.get("template") or {}
        h = template_hash(tmpl)
        rs_name = "%s-%s" % (name, h)
        revs = sim.setdefault("revisions", {})
        if h not in revs:
            revs[h] = max(revs.values(), default=0) + 1
            sim["progress_at"] = now
            sim["current"] = h
        if sim.get("gen_seen") != d["metadata"].get("generation"):
            sim["gen_seen"] = d["metadata"].get("generation")
            sim["progress_at"] = now
        strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
        pods = self.owned_pods(st)
        live = [p for p in pods if not p.terminating]
        new = [p for p in live if p.sim.get("hash") == h]
        old = [p for p in live if p.sim.get("hash") != h]
        old_terminating = [p for p in pods if p.terminating and p.sim.get("hash") != h]
        rs_uid = sim.setdefault("rs_uids", {}).setdefault(h, str(uuid.uuid4()))
        if not spec.get("paused"):
            if strategy == "Recreate" and (old or old_terminating):
                for p in old:
                    self.terminate_pod(p, now)
            else:
                while len(new) < replicas:
                    pname = "%s-%s" % (rs_name, rand_suffix())
                    new.append(self.new_pod(st, pname, tmpl, {"pod-template-hash": h},
                                            self.owner_ref(st, "ReplicaSet", rs_name, rs_uid),
                                            generate_name=rs_name + "-", sim={"hash": h}))
                while len(new) > replicas:
                    self.terminate_pod(new.pop(), now)
                if old and sum(1 for p in new if self.pod_ready(p)) >= replicas:
                    for p in old:
                        self.terminate_pod(p, now)
        pods = self.owned_pods(st)
        live = [p for p in pods if not p.terminating]
        min_ready = spec.get("minReadySeconds", 0)
        total = len(live)
        updated = sum(1 for p in live if p.sim.get("hash") == h)
        ready = sum(1 for p in live if self.pod_ready(p))
        available = sum(1 for p in live if self.pod_available(p, min_ready, now))
        counts = (updated, ready, available)
        if sim.get("counts") != counts:
            sim["counts"] = counts
            sim["progress_at"] = now
        if strategy == "RollingUpdate" and replicas:
            ru = (spec.get("strategy") or {}).get("rollingUpdate") or {}
            surge = int_or_percent(ru.get("maxSurge", "25%"), replicas, True)
            max_unavail = int_or_percent(ru.get("maxUnavailable", "25%"), replicas, False)
            if surge == 0 and max_unavail == 0:
                max_unavail = 1
        else:
            max_unavail = 0
        status = {"observedGeneration": d["metadata"].get("generation", 1)}
        for k, v in (("replicas", total), ("updatedReplicas", updated), ("readyReplicas", ready),
                     ("availableReplicas", available), ("unavailableReplicas", max(0, total - available))):
            if v:
                status[k] = v
        complete = updated == replicas and available >= replicas and total == replicas
        deadline = self.cfg.get("progress_deadline_ms")
        deadline = deadline / 1000.0 if deadline is not None else spec.get("progressDeadlineSeconds", 600)
        if complete:
            sim["completed_once"] = True
            prog = ("True", "NewReplicaSetAvailable", 'ReplicaSet "%s" has successfully progressed.' % rs_name)
        elif now - sim.get("progress_at", now) > deadline:
            prog = ("False", "ProgressDeadlineExceeded", 'ReplicaSet "%s" has timed out progressing.' % rs_name)
        elif revs[h] == 1 and not sim.get("completed_once") and ready == 0:
            prog = ("True", "NewReplicaSetCreated", 'Created new replica set "%s"' % rs_name)
        else:
            prog = ("True", "ReplicaSetUpdated", 'ReplicaSet "%s" is progressing.' % rs_name)
        if available >= replicas - max_unavail:
            avail = ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            avail = ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
        ts = wall_ts()
        status["conditions"] = self.conditions(st, [("Available",) + avail, ("Progressing",) + prog], ts, True)
        self.write_status(st, status, "kube-controller-manager",
                          lambda: self.set_sys_annotation(st, "deployment.kubernetes.io/revision", str(revs[h])))
        self.sync_replicasets(st, revs, h, live, now)

    def sync_replicasets(self, st, revs, current, live, now):
        spec = st.obj.get("spec") or {}
        keep = spec.get("revisionHistoryLimit", 10)
        ordered = sorted(revs.items(), key=lambda kv: kv[1])
        olds = [hh for hh, _ in ordered if hh != current]
        drop = olds[:max(0, len(olds) - keep)]
        for hh in drop:
            rst = self.get(R_RS, st.ns, "%s-%s" % (st.name, hh))
            if rst:
                self.remove(rst)
            del revs[hh]
        tmpl = spec.get("template") or {}
        for hh, rev in revs.items():
            name = "%s-%s" % (st.name, hh)
            pods = [p for p in live if p.sim.get("hash") == hh]
            want = spec.get("replicas", 1) if hh == current else len(pods)
            rst = self.get(R_RS, st.ns, name)
            if rst is None:
                if hh != current:
                    continue
                labels = dict((tmpl.get("metadata") or {}).get("labels") or {})
                labels["pod-template-hash"] = hh
                t = copy.deepcopy(tmpl)
                t.setdefault("metadata", {})["labels"] = labels
                sel = copy.deepcopy(spec.get("selector") or {})
                sel.setdefault("matchLabels", {})["pod-template-hash"] = hh
                rst = Stored(R_RS, st.ns, name)
                rst.obj = {"kind": "ReplicaSet", "apiVersion": "apps/v1",
                           "metadata": {"name": name, "namespace": st.ns,
                                        "uid": st.sim["rs_uids"][hh], "resourceVersion": "", "generation": 1,
                                        "creationTimestamp": wall_ts(), "labels": labels,
                                        "annotations": {}, "ownerReferences": [self.owner_ref(st)]},
                           "spec": {"replicas": want, "selector": sel, "template": t},
                           "status": {"replicas": 0}}
                self.commit(rst)
            strat = spec.get("strategy") or {}
            surge = 0
            if strat.get("type", "RollingUpdate") == "RollingUpdate":
                surge = int_or_percent((strat.get("rollingUpdate") or {}).get("maxSurge", "25%"),
                                       spec.get("replicas", 1), True)
            ann = {"deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
                   "deployment.kubernetes.io/max-replicas": str(spec.get("replicas", 1) + surge),
                   "deployment.kubernetes.io/revision": str(rev)}
            status = {"replicas": len(pods)}
            ready = sum(1 for p in pods if self.pod_ready(p))
            if pods:
                status["fullyLabeledReplicas"] = len(pods)
            if ready:
                status["readyReplicas"] = ready
                status["availableReplicas"] = ready
            status["observedGeneration"] = rst.obj["metadata"]["generation"]
            changed = False
            if rst.obj["spec"]["replicas"] != want:
                rst.obj["spec"]["replicas"] = want
                rst.obj["metadata"]["generation"] += 1
                status["observedGeneration"] = rst.obj["metadata"]["generation"]
                changed = True
            if rst.obj["metadata"].get("annotations") != ann:
                rst.obj["metadata"]["annotations"] = ann
                changed = True
            if rst.obj.get("status") != status:
                rst.obj["status"] = status
                changed = True
            if changed:
                self.commit(rst)

    def ensure_claims(self, st, ordinal):
        spec = st.obj.get("spec") or {}
        out = []
        sel_labels = (spec.get("selector") or {}).get("matchLabels") or {}
        for t in spec.get("volumeClaimTemplates") or []:
            tname = (t.get("metadata") or {}).get("name")
            cname = "%s-%s-%d" % (tname, st.name, ordinal)
            out.append((tname, cname))
            if self.get(R_PVC, st.ns, cname) is None:
                cst = Stored(R_PVC, st.ns, cname)
                cspec = copy.deepcopy(t.get("spec") or {})
                if "storageClassName" not in cspec:
                    cspec["storageClassName"] = "linode-block-storage-retain"
                cspec.setdefault("volumeMode", "Filesystem")
                labels = dict((t.get("metadata") or {}).get("labels") or {})
                labels.update(sel_labels)
                cst.sys["finalizers"] = [PVC_FINALIZER]
                cst.sys["storageClassName"] = cspec["storageClassName"]
                meta = {"name": cname, "namespace": st.ns, "uid": str(uuid.uuid4()), "resourceVersion": "",
                        "creationTimestamp": wall_ts()}
                if labels:
                    meta["labels"] = labels
                meta["finalizers"] = [PVC_FINALIZER]
                cst.obj = {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "metadata": meta,
                           "spec": cspec, "status": {"phase": "Pending"}}
                self.commit(cst)
        return out

    def ctl_statefulset(self, st, now):
        s = st.obj
        spec = s.get("spec") or {}
        sim = st.sim
        if now < st.changed_at + self.ms("observe_ms"):
            return
        replicas = spec.get("replicas", 1)
        tmpl = spec.get("template") or {}
        h = template_hash(tmpl)
        update_rev = "%s-%s" % (st.name, h)
        sim.setdefault("current_rev", update_rev)
        parallel = spec.get("podManagementPolicy") == "Parallel"
        pods = {p.sim.get("ordinal"): p for p in self.owned_pods(st)}
        for i in range(replicas):
            p = pods.get(i)
            if p is not None:
                continue
            if not parallel and any(pods.get(j) is None or pods[j].terminating or not self.pod_ready(pods[j])
                                    for j in range(i)):
                break
            claims = self.ensure_claims(st, i)
            pname = "%s-%d" % (st.name, i)
            pods[i] = self.new_pod(st, pname, tmpl, {"controller-revision-hash": update_rev,
                                                     "statefulset.kubernetes.io/pod-name": pname,
                                                     "apps.kubernetes.io/pod-index": str(i)},
                                   self.owner_ref(st), claims=claims, hostname=pname,
                                   subdomain=spec.get("serviceName"),
                                   sim={"ordinal": i, "hash": h, "rev": update_rev})
            if not parallel:
                break
        extra = sorted((i for i, p in pods.items() if i >= replicas and not p.terminating), reverse=True)
        for i in (extra if parallel else extra[:1]):
            self.terminate_pod(pods[i], now)
        ust = (spec.get("updateStrategy") or {})
        if ust.get("type", "RollingUpdate") == "RollingUpdate":
            partition = (ust.get("rollingUpdate") or {}).get("partition", 0)
            active = [pods.get(i) for i in range(replicas)]
            if all(p is not None and not p.terminating and self.pod_ready(p) for p in active):
                stale = [i for i in range(replicas) if pods[i].sim.get("rev") != update_rev and i >= partition]
                if stale:
                    self.terminate_pod(pods[max(stale)], now)
        live = [p for p in self.owned_pods(st) if not p.terminating]
        ready = sum(1 for p in live if self.pod_ready(p))
        updated = sum(1 for p in live if p.sim.get("rev") == update_rev)
        if updated == replicas and ready == replicas and len(live) == replicas:
            sim["current_rev"] = update_rev
        current = sum(1 for p in live if p.sim.get("rev") == sim["current_rev"])
        min_ready = spec.get("minReadySeconds", 0)
        status = {"observedGeneration": s["metadata"].get("generation", 1), "replicas": len(live)}
        if ready:
            status["readyReplicas"] = ready
        if current:
            status["currentReplicas"] = current
        if updated:
            status["updatedReplicas"] = updated
        status["currentRevision"] = sim["current_rev"]
        status["updateRevision"] = update_rev
        status["collisionCount"] = 0
        status["availableReplicas"] = sum(1 for p in live if self.pod_available(p, min_ready, now))
        self.write_status(st, status, "kube-controller-manager")

    def daemon_should_run(self, tmpl, node_st):
        """nodeShouldRunDaemonPod: node name/affinity/selector and NoSchedule/NoExecute taints."""
        tspec = tmpl.get("spec") or {}
        if not node_matches_pod(tspec, node_st.obj):
            return False
        tolerations = daemon_pod_spec(tspec, node_st.name)["tolerations"]
        return untolerated_taint((node_st.obj.get("spec") or {}).get("taints"), tolerations) is None

    def ctl_daemonset(self, st, now):
        d = st.obj
        spec = d.get("spec") or {}
        if now < st.changed_at + self.ms("observe_ms"):
            return
        tmpl = spec.get("template") or {}
        h = template_hash(tmpl)
        tg = (d["metadata"].get("annotations") or {}).get(DS_TEMPLATE_GENERATION, "1")
        nodes = [n for n in (self.get(R_NODE, "", name) for name in self.node_names) if n is not None]
        desired = [n for n in nodes if self.daemon_should_run(tmpl, n)]
        want = {n.name for n in desired}
        min_ready = spec.get("minReadySeconds", 0)

        def by_node():
            out = {}
            for p in self.owned_pods(st):
                if not p.terminating:
                    out.setdefault(p.sim.get("pin_node"), []).append(p)
            return out

        def create(node):
            pname = "%s-%s" % (st.name, rand_suffix())
            t = {"metadata": tmpl.get("metadata") or {}, "spec": daemon_pod_spec(tmpl.get("spec") or {}, node)}
            self.new_pod(st, pname, t, {"controller-revision-hash": h, "pod-template-generation": tg},
                         self.owner_ref(st), generate_name=st.name + "-",
                         sim={"hash": h, "pin_node": node})

        for node, ps in by_node().items():
            if node not in want:                     # the node no longer fits the template
                for p in ps:
                    self.terminate_pod(p, now)
        pods = by_node()
        for n in desired:
            if not pods.get(n.name):
                create(n.name)
        us = spec.get("updateStrategy") or {}
        if us.get("type", "RollingUpdate") == "RollingUpdate" and desired:
            ru = us.get("rollingUpdate") or {}
            surge = int_or_percent(ru.get("maxSurge", 0), len(desired), True)
            max_unavail = int_or_percent(ru.get("maxUnavailable", 1), len(desired), True)
            if surge == 0 and max_unavail == 0:
                max_unavail = 1
            pods = by_node()
            avail = lambda p: self.pod_available(p, min_ready, now)  # noqa: E731
            if surge == 0:
                # an old pod that is not available is replaced at once; available ones while fewer than
                # maxUnavailable nodes lack an available pod
                budget = max_unavail - sum(1 for n in desired if not any(avail(p) for p in pods.get(n.name, [])))
                for n in sorted(desired, key=lambda x: x.name):
                    old = [p for p in pods.get(n.name, []) if p.sim.get("hash") != h]
                    for p in old:
                        if not avail(p):
                            self.terminate_pod(p, now)
                        elif budget > 0:
                            self.terminate_pod(p, now)
                            budget -= 1
            else:
                # a new pod next to the old one on up to maxSurge nodes; the old one goes once the new is available
                surging = sum(1 for ps in pods.values() if any(p.sim.get("hash") == h for p in ps) and
                              any(p.sim.get("hash") != h for p in ps))
                for n in sorted(desired, key=lambda x: x.name):
                    ps = pods.get(n.name, [])
                    old = [p for p in ps if p.sim.get("hash") != h]
                    new = [p for p in ps if p.sim.get("hash") == h]
                    if not old:
                        continue
                    if any(avail(p) for p in new) or not any(avail(p) for p in old):
                        for p in old:
                            self.terminate_pod(p, now)
                    elif not new and surging < surge:
                        create(n.name)
                        surging += 1
        # status, as updateDaemonSetStatus counts it: per node the scheduled-then-oldest pod
        pods = by_node()
        cur = mis = ready = available = updated = 0
        for n in nodes:
            ps = pods.get(n.name) or []
            if n.name not in want:
                mis += 1 if ps else 0
                continue
            if not ps:
                continue
            cur += 1
            p = sorted(ps, key=lambda x: (x.sim.get("scheduled_at") is None, x.created_at, x.name))[0]
            if self.pod_ready(p):
                ready += 1
                if self.pod_available(p, min_ready, now):
                    available += 1
            if p.sim.get("hash") == h:
                updated += 1
        status = {"currentNumberScheduled": cur, "numberMisscheduled": mis, "desiredNumberScheduled": len(desired),
                  "numberReady": ready, "observedGeneration": d["metadata"].get("generation", 1)}
        for k, v in (("updatedNumberScheduled", updated), ("numberAvailable", available),
                     ("numberUnavailable", len(desired) - available)):
            if v:                                    # omitempty in DaemonSetStatus
                status[k] = v
        self.write_status(st, status, "kube-controller-manager")

    @staticmethod
    def job_condition(ctype, reason, message, ts, status="True"):
        c = {"type": ctype, "status": status, "lastProbeTime": ts, "lastTransitionTime": ts}
        if reason:
            c["reason"] = reason
        if message:
            c["message"] = message
        return c

    def ctl_job(self, st, now):
        """The Job controller (NonIndexed), as 1.33 runs it: pods <job>-<5 chars> with the
        batch.kubernetes.io/job-tracking finalizer until counted; up to parallelism of them, fewer when
        fewer completions are left; a failed pod is replaced after a backoff that doubles per failure since
        the last success (10 s on a real cluster, ready_ms here, at most 60 times that); failed >
        backoffLimit (OnFailure: restarts >= backoffLimit) or activeDeadlineSeconds ends the Job:
        FailureTarget at once and the active pods deleted, Failed once none runs; success is
        SuccessCriteriaMet, then Complete with completionTime.  Status with Go's omitempty: active,
        succeeded, failed when non-zero; terminating, ready and uncountedTerminatedPods always."""
        j = st.obj
        spec = j.get("spec") or {}
        sim = st.sim
        if st.terminating:
            self.gc_job(st, now)
            return
        if now < st.changed_at + self.ms("observe_ms"):
            return
        old_status = j.get("status") or {}
        conds = [dict(c) for c in old_status.get("conditions") or []]
        ts = wall_ts()

        def has(t):
            return any(c.get("type") == t and c.get("status") == "True" for c in conds)

        def cond(t):
            return next(c for c in conds if c.get("type") == t)

        # account for pods that finished (or went) since the last sync; their finalizer comes off then
        counted = sim.setdefault("counted", {})
        known = sim.setdefault("known", set())
        pods = sorted(self.owned_pods(st), key=lambda x: x.created_at)
        present = set()
        news = []
        for p in pods:
            uid = p.obj["metadata"]["uid"]
            present.add(uid)
            if uid in counted:
                continue
            phase = (p.obj.get("status") or {}).get("phase")
            if phase == "Succeeded":
                counted[uid] = "s"
            elif phase == "Failed" or (p.terminating and spec.get("podReplacementPolicy") != "Failed"):
                counted[uid] = "f"        # isPodFailed: a deleted, unfinished pod counts as failed
            else:
                continue
            news.append(counted[uid])
            if self.drop_sys_finalizer(p, JOB_TRACKING_FINALIZER):
                self.commit(p)
        for uid in known - present:       # gone before it was seen to finish
            if uid not in counted:
                counted[uid] = "f"
                news.append("f")
        sim["known"] = present
        for r in news:
            if r == "s":
                sim["fails_since_success"] = 0
            else:
                sim["fails_since_success"] = sim.get("fails_since_success", 0) + 1
                sim["last_fail_at"] = now
        succeeded = sum(1 for v in counted.values() if v == "s")
        failed = sum(1 for v in counted.values() if v == "f")

        def phase_of(p):
            return (p.obj.get("status") or {}).get("phase")

        def active_pods():
            return [p for p in self.owned_pods(st) if not p.terminating and
                    phase_of(p) not in ("Succeeded", "Failed")]

        start = old_status.get("startTime")
        completion = old_status.get("completionTime")
        finished = has("Complete") or has("Failed")
        active = active_pods()
        if not finished and spec.get("suspend"):
            for p in active:
                self.terminate_pod(p, now)
            if not has("Suspended"):
                conds = [c for c in conds if c.get("type") != "Suspended"]
                conds.append(self.job_condition("Suspended", "JobSuspended", "Job suspended", ts))
        elif not finished:
            if has("Suspended"):
                conds = [c if c.get("type") != "Suspended" else
                         self.job_condition("Suspended", "JobResumed", "Job resumed", ts, "False") for c in conds]
                start = None
            if start is None:
                start = ts
                sim["start_mono"] = now
            if not (has("FailureTarget") or has("SuccessCriteriaMet")):
                limit = spec.get("backoffLimit", 6)
                restart_policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
                restarts = 0
                if restart_policy == "OnFailure":
                    for p in active:
                        pstat = p.obj.get("status") or {}
                        restarts += sum(c.get("restartCount", 0) for c in (pstat.get("containerStatuses") or []) +
                                        (pstat.get("initContainerStatuses") or []))
                ads = spec.get("activeDeadlineSeconds")
                why = None
                if failed > limit or (restart_policy == "OnFailure" and
                                      (restarts > 0 if limit == 0 else restarts >= limit)):
                    why = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
                elif ads is not None and now - sim.get("start_mono", now) >= ads:
                    why = ("DeadlineExceeded", "Job was active longer than specified deadline")
                completions = spec.get("completions")
                if why:
                    conds.append(self.job_condition("FailureTarget", why[0], why[1], ts))
                    for p in active:
                        self.terminate_pod(p, now)
                elif (succeeded >= completions if completions is not None else succeeded > 0) and not active:
                    conds.append(self.job_condition("SuccessCriteriaMet", "CompletionsReached",
                                                    "Reached expected number of succeeded pods", ts))
                else:
                    parallelism = spec.get("parallelism", 1)
                    if completions is not None:
                        want = min(parallelism, max(0, completions - succeeded))
                    else:
                        want = len(active) if succeeded else parallelism
                    n = sim.get("fails_since_success", 0)
                    backoff = self.ms("ready_ms") * min(2 ** (n - 1), 60) if n else 0
                    if len(active) < want and now >= sim.get("last_fail_at", 0) + backoff:
                        tmpl = spec.get("template") or {}
                        for _ in range(want - len(active)):
                            pst = self.new_pod(st, "%s-%s" % (st.name, rand_suffix()), tmpl, {},
                                               self.owner_ref(st, api_version="batch/v1"),
                                               generate_name=st.name + "-", finalizers=[JOB_TRACKING_FINALIZER])
                            sim["known"].add(pst.obj["metadata"]["uid"])
                    elif len(active) > want:
                        for p in sorted(active, key=lambda x: x.created_at, reverse=True)[:len(active) - want]:
                            self.terminate_pod(p, now)
            # the terminal condition once no pod of the Job runs any more
            pods = self.owned_pods(st)
            if not any(phase_of(p) not in ("Succeeded", "Failed") for p in pods):
                if has("FailureTarget") and not has("Failed"):
                    ft = cond("FailureTarget")
                    conds.append(self.job_condition("Failed", ft.get("reason"), ft.get("message"), ts))
                elif has("SuccessCriteriaMet") and not has("Complete"):
                    sc = cond("SuccessCriteriaMet")
                    conds.append(self.job_condition("Complete", sc.get("reason"), sc.get("message"), ts))
                    completion = ts
        pods = self.owned_pods(st)
        active = [p for p in pods if not p.terminating and phase_of(p) not in ("Succeeded", "Failed")]
        status = {}
        if conds:
            status["conditions"] = conds
        if start:
            status["startTime"] = start
        if completion:
            status["completionTime"] = completion
        if active:
            status["active"] = len(active)
        if succeeded:
            status["succeeded"] = succeeded
        if failed:
            status["failed"] = failed
        status["terminating"] = sum(1 for p in pods if p.terminating and phase_of(p) not in ("Succeeded", "Failed"))
        status["uncountedTerminatedPods"] = {}
        status["ready"] = sum(1 for p in active if self.pod_ready(p))
        self.write_status(st, status, "kube-controller-manager")
        ttl = spec.get("ttlSecondsAfterFinished")
        if ttl is not None and (has("Complete") or has("Failed")):
            # the TTL-after-finished controller deletes the Job, with Background propagation
            sim.setdefault("finished_at", now)
            if now >= sim["finished_at"] + ttl:
                self.remove(st)
                self.delete_dependents(st, now)

    def gc_job(self, st, now):
        """The garbage collector's part of a Job deleted with propagationPolicy Orphan (batch/v1's default)
        or Foreground: orphan its pods (owner reference and tracking finalizer off, they run on), or
        delete them and wait until they are gone; then the Job goes."""
        pods = self.owned_pods(st)
        if st.sim.get("gc") == "Foreground":
            for p in pods:
                if not p.terminating:
                    self.terminate_pod(p, now)
            if pods:
                return
        else:
            uid = st.obj["metadata"]["uid"]
            for p in pods:
                refs = [r for r in p.obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
                if refs:
                    p.obj["metadata"]["ownerReferences"] = refs
                else:
                    p.obj["metadata"].pop("ownerReferences", None)
                self.drop_sys_finalizer(p, JOB_TRACKING_FINALIZER)
                p.sim["owner"] = None
                self.commit(p)
        self.remove(st)

    def sync_node_gpus(self):
        """A GPU node advertises nvidia.com/gpu while a device plugin pod is ready on it (or always, with
        gpu_plugin_preinstalled), the way the kubelet's device manager shows a registered plugin's devices."""
        if not self.gpu_node_names:
            return
        pre = bool(self.cfg.get("gpu_plugin_preinstalled"))
        plugin_nodes = set()
        if not pre:
            for o in self.objects.values():
                if o.res is R_POD and not o.terminating and (o.sim.get("owner") or ("",))[0] == "DaemonSet" and \
                        o.sim.get("node") and self.pod_ready(o) and \
                        any(DEVICE_PLUGIN_IMAGE in (c.get("image") or "")
                            for c in (o.obj.get("spec") or {}).get("containers") or []):
                    plugin_nodes.add(o.sim["node"])
        for name in self.gpu_node_names:
            nst = self.get(R_NODE, "", name)
            if nst is None:
                continue
            status = copy.deepcopy(nst.obj.get("status") or {})
            for k in ("capacity", "allocatable"):
                res = dict(status.get(k) or {})
                if pre or name in plugin_nodes:
                    res[GPU] = "1"
                else:
                    res.pop(GPU, None)
                status[k] = dict(sorted(res.items()))
            self.write_status(nst, status, "kubelet")

    def ctl_pvc(self, st, now):
        if st.terminating:
            used = any(o.res is R_POD and o.ns == st.ns and any(
                (v.get("persistentVolumeClaim") or {}).get("claimName") == st.name
                for v in (o.obj.get("spec") or {}).get("volumes") or []) for o in self.objects.values())
            if not used:
                self.remove(st)
            return
        spec = st.obj.get("spec") or {}
        status = st.obj.get("status") or {}
        hold = self.hold_state(st.ns, "PersistentVolumeClaim", st.name)
        sc = self.get(R_SC, "", spec.get("storageClassName") or "")
        req = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        want = parse_quantity(req) if req is not None else None
        if want is None:
            return
        if sc is not None and sc.obj.get("provisioner") == STORAGE_PROVISIONER and want < LINODE_MIN_VOLUME:
            want = fractions.Fraction(LINODE_MIN_VOLUME)
        if want.denominator == 1 and want % (2 ** 30) == 0:
            cap = format_bytes_qty(int(want))
        else:
            cap = "%dGi" % -(-int(want) // 2 ** 30)
        if status.get("phase") != "Bound":
            if hold == "pending" or sc is None:
                return
            if hold != "ready" and now < st.created_at + self.ms("ready_ms"):
                return
            vol = "pvc-" + st.obj["metadata"]["uid"]
            st.sys["volumeName"] = vol
            st.obj["spec"]["volumeName"] = vol

            def annotate():
                ch = False
                for k, v in (("pv.kubernetes.io/bind-completed", "yes"),
                             ("pv.kubernetes.io/bound-by-controller", "yes"),
                             ("volume.beta.kubernetes.io/storage-provisioner", STORAGE_PROVISIONER),
                             ("volume.kubernetes.io/storage-provisioner", STORAGE_PROVISIONER)):
                    ch = self.set_sys_annotation(st, k, v) or ch
                return ch
            self.write_status(st, {"phase": "Bound", "accessModes": list(spec.get("accessModes") or []),
                                   "capacity": {"storage": cap}}, "kube-controller-manager", annotate)
            return
        have = parse_quantity((status.get("capacity") or {}).get("storage", "0")) or 0
        if have < parse_quantity(cap) and now >= st.changed_at + self.ms("ready_ms"):
            ns = copy.deepcopy(status)
            ns["capacity"] = {"storage": cap}
            self.write_status(st, ns, "kube-controller-manager")

    def ctl_service(self, st, now):
        spec = st.obj.get("spec") or {}
        sim = st.sim
        if st.terminating:
            if now >= sim.get("delete_at", 0):
                self.remove(st)
            return
        lb = (st.obj.get("status") or {}).get("loadBalancer") or {}
        if spec.get("type") == "LoadBalancer":
            if "lb_since" not in sim:
                sim["lb_since"] = now
                if self.add_sys_finalizer(st, LB_CLEANUP_FINALIZER):
                    self.commit(st)
            hold = self.hold_state(st.ns, "Service", st.name)
            if lb.get("ingress") or hold == "pending":
                return
            if hold != "ready" and now < sim["lb_since"] + self.ms("lb_ms"):
                return
            entry = {"ip": self.cfg["lb_ip"], "hostname": self.cfg["lb_hostname"], "ipMode": "VIP"}
            if (st.obj["metadata"].get("annotations") or {}).get(HOSTNAME_ONLY_ANN) == "true":
                entry = {"hostname": self.cfg["lb_hostname"]}
            self.write_status(st, {"loadBalancer": {"ingress": [entry]}}, "linode-cloud-controller-manager")
        else:
            sim.pop("lb_since", None)
            if lb.get("ingress") or LB_CLEANUP_FINALIZER in (st.obj["metadata"].get("finalizers") or []):
                self.write_status(st, {"loadBalancer": {}}, "linode-cloud-controller-manager",
                                  lambda: self.drop_sys_finalizer(st, LB_CLEANUP_FINALIZER))

    # -- pods -------------------------------------------------------------------

    def gpu_fits(self, pst):
        cap = self.cfg.get("gpu_capacity")
        need = pod_gpus(pst.obj)
        if cap is None or need == 0:
            return True
        used = sum(pod_gpus(o.obj) for o in self.objects.values()
                   if o.res is R_POD and o is not pst and o.sim.get("scheduled_at") is not None and
                   not o.sim.get("final"))
        return used + need <= cap

    def config_problem(self, pst):
        """(reason, message) for what keeps a pod's containers from being created, or None."""
        spec = pst.obj.get("spec") or {}
        for v in spec.get("volumes") or []:
            for src, res, key in (("secret", R_SECRET, "secretName"), ("configMap", R_CM, "name")):
                ref = v.get(src)
                if isinstance(ref, dict) and not ref.get("optional") and \
                        self.get(res, pst.ns, ref.get(key, "")) is None:
                    return ("ContainerCreating", None)
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            for e in c.get("env") or []:
                vf = e.get("valueFrom") or {}
                for src, res, word in (("secretKeyRef", R_SECRET, "Secret"), ("configMapKeyRef", R_CM, "ConfigMap")):
                    ref = vf.get(src)
                    if not isinstance(ref, dict) or ref.get("optional"):
                        continue
                    o = self.get(res, pst.ns, ref.get("name", ""))
                    if o is None:
                        return ("CreateContainerConfigError", '%s "%s" not found' % (word.lower(), ref.get("name")))
                    data = dict(o.obj.get("data") or {})
                    data.update(o.obj.get("binaryData") or {})
                    if ref.get("key") not in data:
                        return ("CreateContainerConfigError", "couldn't find key %s in %s %s/%s"
                                % (ref.get("key"), word, pst.ns, ref.get("name")))
            for e in c.get("envFrom") or []:
                for src, res, word in (("secretRef", R_SECRET, "secret"), ("configMapRef", R_CM, "configmap")):
                    ref = e.get(src)
                    if isinstance(ref, dict) and not ref.get("optional") and \
                            self.get(res, pst.ns, ref.get("name", "")) is None:
                        return ("CreateContainerConfigError", '%s "%s" not found' % (word, ref.get("name")))
        return None

    def node_gpu_free(self, node_st, pst):
        alloc = parse_quantity(((node_st.obj.get("status") or {}).get("allocatable") or {}).get(GPU, "0")) or 0
        used = sum(pod_gpus(o.obj) for o in self.objects.values()
                   if o.res is R_POD and o is not pst and o.sim.get("scheduled_at") is not None and
                   not o.sim.get("final") and o.sim.get("node") == node_st.name)
        return alloc - used

    def node_reject(self, pst, node_st):
        """(reason, unresolvable) of the first scheduler filter that rejects the node, or None."""
        spec = pst.obj.get("spec") or {}
        pin = pst.sim.get("pin_node")
        if pin and pin != node_st.name:
            return ("node(s) didn't match Pod's node affinity/selector", True)
        taint = untolerated_taint((node_st.obj.get("spec") or {}).get("taints"), spec.get("tolerations"))
        if taint is not None:
            return ("node(s) had untolerated taint {%s: %s}" % (taint.get("key", ""), taint.get("value") or ""), True)
        if not node_matches_pod(spec, node_st.obj):
            return ("node(s) didn't match Pod's node affinity/selector", True)
        need = pod_gpus(pst.obj)
        if need and self.gpu_node_names and need > self.node_gpu_free(node_st, pst):
            return ("Insufficient " + GPU, False)
        return None

    def schedule(self, pst):
        """(why not, None) or (None, node index)."""
        why = self.unschedulable_reason(pst)
        if why:
            return why, None
        feasible, rejects = [], []
        for i, name in enumerate(self.node_names):
            nst = self.get(R_NODE, "", name)
            if nst is None:
                continue
            r = self.node_reject(pst, nst)
            if r:
                rejects.append(r)
            else:
                feasible.append(i)
        if not feasible:
            return fit_error(len(self.node_names), rejects), None
        spread = sum(1 for o in self.objects.values() if o.res is R_POD)
        return None, feasible[spread % len(feasible)]

    def unschedulable_reason(self, pst):
        n = len(self.node_names)
        for v in (pst.obj.get("spec") or {}).get("volumes") or []:
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if claim:
                c = self.get(R_PVC, pst.ns, claim)
                if c is None:
                    return 'persistentvolumeclaim "%s" not found' % claim
                if (c.obj.get("status") or {}).get("phase") != "Bound":
                    return "pod has unbound immediate PersistentVolumeClaims. preemption: 0/%d nodes are " \
                           "available: %d Preemption is not helpful for scheduling." % (n, n)
        if not self.gpu_fits(pst):
            return ("0/%d nodes are available: %d Insufficient %s. preemption: 0/%d nodes are available: "
                    "%d No preemption victims found for incoming pod." % (n, n, GPU, n, n))
        return None

    def ctl_pod(self, pst, now):
        sim = pst.sim
        if pst.terminating:
            if now >= sim.get("delete_at", 0):
                self.remove(pst)
            return
        if sim.get("final"):          # Succeeded or Failed: the kubelet is done with it
            return
        hold = self.pod_hold(pst)
        ts = wall_ts()
        spec = pst.obj.get("spec") or {}
        status = {}
        if sim.get("scheduled_at") is None:
            if hold == "unschedulable":
                why, idx = "0/%d nodes are available: kube-sim hold unschedulable." % len(self.node_names), None
            else:
                why, idx = self.schedule(pst)
            if why:
                status = {"phase": "Pending",
                          "conditions": self.conditions(pst, [("PodScheduled", "False", "Unschedulable", why)], ts),
                          "qosClass": qos_class(spec)}
                self.write_status(pst, status, "kube-scheduler")
                return
            sim["scheduled_at"] = now
            sim["node"] = self.node_names[idx]
            sim["node_ip"] = "192.168.128.%d" % (10 + idx)
            self.pod_ip_seq += 1
            sim["pod_ip"] = "10.2.%d.%d" % (idx, 2 + self.pod_ip_seq % 250)
            sim["start_wall"] = time.time()
            pst.obj["spec"]["nodeName"] = sim["node"]
        problem = self.config_problem(pst)
        if hold == "ready":
            state = "ready"
        elif hold in ("pending", "crashloop", "imagepull"):
            state = hold
        elif problem:
            state = "config"
        elif now >= sim["scheduled_at"] + self.ms("ready_ms"):
            state = "ready"
        else:
            state = "pending"
        restart_policy = spec.get("restartPolicy", "Always")
        if hold == "fail" and state == "ready" and restart_policy != "Never":
            state = "crashloop"       # the kubelet restarts a container that exits 1
        if state == "ready" and restart_policy != "Always" and hold != "ready" and "ready_since" in sim and \
                now >= sim["ready_since"] + self.ms("ready_ms"):
            # a Job's container runs ready_ms and exits: 0, or 1 under the fail hold (restartPolicy Never);
            # the ready hold keeps it running
            self.finish_pod(pst, "Failed" if hold == "fail" else "Succeeded")
            return
        if state == "ready" and "ready_since" not in sim:
            sim["ready_since"] = now
            sim["ready_wall"] = time.time()
        if state != "ready":
            sim.pop("ready_since", None)
        if state == "crashloop" and "crash_since" not in sim:
            sim["crash_since"] = now
        cnames = [c.get("name") for c in spec.get("containers") or []]
        inits = spec.get("initContainers") or []
        started = nano_ts(sim["start_wall"])[:19] + "Z"
        restarts = 0
        if state == "crashloop":
            period = max(self.ms("ready_ms"), 0.05)
            restarts = 1 + min(50, int((now - sim["crash_since"]) / period))
        sim["restarts"] = restarts
        cstatuses = []
        for c in spec.get("containers") or []:
            cs = {"name": c.get("name"), "state": {}, "lastState": {}, "ready": state == "ready",
                  "restartCount": restarts, "image": normalize_image(c.get("image", "")), "imageID": "",
                  "started": state == "ready"}
            if state == "ready":
                cs["state"] = {"running": {"startedAt": wall_ts(sim.get("ready_wall"))}}
            elif state == "crashloop":
                cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                           "message": "back-off 10s restarting failed container=%s pod=%s_%s(%s)"
                                                      % (c.get("name"), pst.name, pst.ns,
                                                         pst.obj["metadata"]["uid"])}}
                cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started,
                                                  "finishedAt": started}}
            elif state == "imagepull":
                cs["state"] = {"waiting": {"reason": "ImagePullBackOff",
                                           "message": 'Back-off pulling image "%s"' % c.get("image", "")}}
            elif state == "config":
                cs["state"] = {"waiting": {"reason": problem[0]}}
                if problem[1]:
                    cs["state"]["waiting"]["message"] = problem[1]
            else:
                cs["state"] = {"waiting": {"reason": "PodInitializing" if inits else "ContainerCreating"}}
            if state in ("ready", "crashloop"):
                cs["imageID"] = normalize_image(c.get("image", "")).rsplit(":", 1)[0] + "@sha256:" + \
                    hashlib.sha256(c.get("image", "").encode()).hexdigest()
                cs["containerID"] = "containerd://" + hashlib.sha256(
                    (pst.obj["metadata"]["uid"] + c.get("name", "") + str(restarts)).encode()).hexdigest()
            cstatuses.append(order_keys(cs, ["name", "state", "lastState", "ready", "restartCount", "image",
                                             "imageID", "containerID", "started"]))
        initialized = state in ("ready", "crashloop") or not inits
        unready = ", ".join(cnames) if state != "ready" else ""
        conds = [("PodReadyToStartContainers", "False" if state == "pending" else "True", "", ""),
                 ("Initialized", "True" if initialized else "False",
                  "" if initialized else "ContainersNotInitialized",
                  "" if initialized else "containers with incomplete status: [%s]"
                                         % " ".join(c.get("name", "") for c in inits)),
                 ("Ready", "True" if state == "ready" else "False", "" if state == "ready" else "ContainersNotReady",
                  "" if state == "ready" else "containers with unready status: [%s]" % unready.replace(", ", " ")),
                 ("ContainersReady", "True" if state == "ready" else "False",
                  "" if state == "ready" else "ContainersNotReady",
                  "" if state == "ready" else "containers with unready status: [%s]" % unready.replace(", ", " ")),
                 ("PodScheduled", "True", "", "")]
        status = {"phase": "Running" if state in ("ready", "crashloop") else "Pending",
                  "conditions": self.conditions(pst, conds, ts),
                  "hostIP": sim["node_ip"], "hostIPs": [{"ip": sim["node_ip"]}],
                  "podIP": sim["pod_ip"], "podIPs": [{"ip": sim["pod_ip"]}],
                  "startTime": started}
        if inits:
            ics = []
            for c in inits:
                ic = {"name": c.get("name"), "ready": initialized, "restartCount": 0,
                      "image": normalize_image(c.get("image", "")), "imageID": "", "started": False}
                if initialized:
                    ic["state"] = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started,
                                                  "finishedAt": started}}
                else:
                    ic["state"] = {"running": {"startedAt": started}}
                    ic["started"] = True
                ics.append(ic)
            status["initContainerStatuses"] = ics
        status["containerStatuses"] = cstatuses
        status["qosClass"] = qos_class(spec)
        self.write_status(pst, status, "kubelet")

    def finish_pod(self, pst, phase):
        """The terminal status the kubelet writes when every container of a pod that does not restart
        them has exited: phase Succeeded (exit 0, Completed) or Failed (exit 1, Error), nothing ready."""
        sim, spec = pst.sim, pst.obj.get("spec") or {}
        sim["final"] = phase
        sim["finished_wall"] = time.time()
        sim.pop("ready_since", None)
        ts = wall_ts(sim["finished_wall"])
        started = wall_ts(sim.get("ready_wall") or sim.get("start_wall"))
        code, why = (0, "Completed") if phase == "Succeeded" else (1, "Error")
        cstatuses = []
        for c in spec.get("containers") or []:
            cid = "containerd://" + hashlib.sha256((pst.obj["metadata"]["uid"] + c.get("name", "") + "0")
                                                   .encode()).hexdigest()
            cstatuses.append({"name": c.get("name"),
                              "state": {"terminated": {"exitCode": code, "reason": why, "startedAt": started,
                                                       "finishedAt": ts, "containerID": cid}},
                              "lastState": {}, "ready": False, "restartCount": 0,
                              "image": normalize_image(c.get("image", "")),
                              "imageID": normalize_image(c.get("image", "")).rsplit(":", 1)[0] + "@sha256:" +
                              hashlib.sha256(c.get("image", "").encode()).hexdigest(),
                              "containerID": cid, "started": False})
        reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
        conds = [("PodReadyToStartContainers", "False", "", ""),
                 ("Initialized", "True", "PodCompleted" if phase == "Succeeded" else "", ""),
                 ("Ready", "False", reason, ""), ("ContainersReady", "False", reason, ""),
                 ("PodScheduled", "True", "", "")]
        status = {"phase": phase, "conditions": self.conditions(pst, conds, ts),
                  "hostIP": sim["node_ip"], "hostIPs": [{"ip": sim["node_ip"]}],
                  "podIP": sim["pod_ip"], "podIPs": [{"ip": sim["pod_ip"]}],
                  "startTime": wall_ts(sim["start_wall"])}
        old = pst.obj.get("status") or {}
        if old.get("initContainerStatuses"):
            status["initContainerStatuses"] = old["initContainerStatuses"]
        status["containerStatuses"] = cstatuses
        status["qosClass"] = qos_class(spec)
        self.write_status(pst, status, "kubelet")

    # -- logs ---------------------------------------------------------------------

    def log_lines(self, pst, container, previous):
        owner = pst.sim.get("owner")
        for key in ((pst.ns, "pod", pst.name, container), (pst.ns, "workload", owner[1] if owner else "", container)):
            if key in self.logs:
                return list(self.logs[key])
        t = pst.sim.get("start_wall") or time.time()
        image = next((c.get("image", "") for c in ((pst.obj.get("spec") or {}).get("containers") or []) +
                      ((pst.obj.get("spec") or {}).get("initContainers") or []) if c.get("name") == container), "")
        lines = [(t, "kube-sim: container %s of pod %s started (image %s)" % (container, pst.name, image))]
        if previous or pst.sim.get("restarts"):
            lines.append((t + 0.001, "kube-sim: container %s exited with code 1 (crashloop hold)" % container))
        elif pst.sim.get("final"):
            lines.append((pst.sim.get("finished_wall") or t + 0.001, "kube-sim: container %s exited with code %d"
                          % (container, 0 if pst.sim["final"] == "Succeeded" else 1)))
        return lines

    # -- request log and faults --------------------------------------------------

    def log_request(self, method, path, query, params, ctype, headers, body):
        text = body.decode("utf-8", "replace") if body else ""
        parsed = None
        if text:
            try:
                parsed = json.loads(text)
            except ValueError:
                try:
                    parsed = load_yaml(text)
                except Exception:
                    parsed = None
        with self.lock:
            self.req_seq += 1
            entry = {"seq": self.req_seq, "time": time.time(), "method": method, "path": path, "query": query,
                     "params": {k: v[0] if len(v) == 1 else v for k, v in params.items()},
                     "content_type": ctype, "accept": headers.get("Accept", ""),
                     "user_agent": headers.get("User-Agent", ""), "body": text[:262144], "json": parsed,
                     "status": None, "injected": False, "authorized": True}
            self.requests.append(entry)
            if len(self.requests) > 20000:
                del self.requests[:5000]
            return entry

    def finish_request_log(self, entry, status):
        with self.lock:
            entry["status"] = status
            if self.request_log_file:
                try:
                    with open(self.request_log_file, "a") as f:
                        f.write(dumps(entry) + "\n")
                except OSError:
                    pass

    def take_fault(self, method, path):
        with self.lock:
            for f in self.faults:
                if f.get("method", "*") not in ("*", method):
                    continue
                if not path.startswith(f.get("path_prefix", "/")):
                    continue
                if f.get("times", 1) == 0:
                    continue
                if f.get("skip", 0) > 0:
                    f["skip"] -= 1
                    continue
                if f.get("times", 1) > 0:
                    f["times"] = f.get("times", 1) - 1
                f["hits"] = f.get("hits", 0) + 1
                return dict(f)
            return None


def load_yaml(text):
    if yaml is None:
        raise ValueError("PyYAML is not installed; send JSON")

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
                                      for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}

    def stringify(v):
        if isinstance(v, dict):
            return {(k if isinstance(k, str) else ("true" if k is True else "false" if k is False else str(k))):
                    stringify(x) for k, x in v.items()}
        if isinstance(v, list):
            return [stringify(x) for x in v]
        return v
    return stringify(yaml.load(text, Loader=Loader))


# --------------------------------------------------------------------------
# Selectors
# --------------------------------------------------------------------------

def split_top(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [x.strip() for x in out if x.strip()]


def parse_label_selector(s):
    reqs = []
    for term in split_top(s):
        m = re.fullmatch(r"([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)", term)
        if m:
            op, key, vals = m.group(2), m.group(1), [v.strip() for v in m.group(3).split(",") if v.strip()]
        elif term.startswith("!"):
            op, key, vals = "!", term[1:].strip(), []
        elif "!=" in term:
            key, v = term.split("!=", 1)
            op, key, vals = "!=", key.strip(), [v.strip()]
        elif "==" in term:
            key, v = term.split("==", 1)
            op, key, vals = "=", key.strip(), [v.strip()]
        elif "=" in term:
            key, v = term.split("=", 1)
            op, key, vals = "=", key.strip(), [v.strip()]
        else:
            op, key, vals = "exists", term, []
        for msg in is_label_key(key):
            raise err_bad_request("unable to parse requirement: key: Invalid value: %s: %s" % (go_quote(key), msg))
        for v in vals:
            for msg in is_label_value(v):
                raise err_bad_request("unable to parse requirement: values[0][%s]: Invalid value: %s: %s"
                                      % (key, go_quote(v), msg))
        reqs.append((op, key, vals))
    return reqs


def match_label_selector(reqs, labels):
    for op, key, vals in reqs:
        if op == "=" and labels.get(key) != vals[0]:
            return False
        if op == "!=" and labels.get(key) == vals[0]:
            return False
        if op == "in" and labels.get(key) not in vals:
            return False
        if op == "notin" and key in labels and labels[key] in vals:
            return False
        if op == "exists" and key not in labels:
            return False
        if op == "!" and key in labels:
            return False
    return True


FIELD_SELECTABLE = {
    "Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "status.phase", "status.podIP", "status.nominatedNodeName", "spec.hostNetwork"},
    "Secret": {"type"},
    "Namespace": {"status.phase"},
    "ReplicaSet": {"status.replicas"},
    "Node": {"spec.unschedulable"},
    "Job": {"status.successful"},
}


def parse_field_selector(s, res):
    reqs = []
    for term in split_top(s):
        m = re.fullmatch(r"([^!=]+?)\s*(==|!=|=)\s*(.*)", term)
        if not m:
            raise err_bad_request("invalid selector: '%s'; can't understand '%s'" % (s, term))
        field, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
        allowed = {"metadata.name", "metadata.namespace"} | FIELD_SELECTABLE.get(res.kind, set())
        if field not in allowed:
            raise err_bad_request('field label not supported: %s' % field)
        reqs.append((field, op != "!=", value))
    return reqs


def match_field_selector(reqs, obj):
    for field, eq, value in reqs:
        if field == "status.successful":          # job.GetAttrs: status.succeeded under another name
            if str((obj.get("status") or {}).get("succeeded", 0)) != value:
                if eq:
                    return False
            elif not eq:
                return False
            continue
        cur = obj
        for part in field.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        cur = "" if cur is None else (str(cur).lower() if isinstance(cur, bool) else str(cur))
        if (cur == value) != eq:
            return False
    return True


# --------------------------------------------------------------------------
# HTTP: the Kubernetes API (HTTPS) and the admin API (HTTP)
# --------------------------------------------------------------------------

REAL_PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml",
                    "application/strategic-merge-patch+json"]
APPLY_TYPE = "application/apply-patch+yaml"

FAULT_REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
                 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType", 422: "Invalid",
                 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


def fault_body(f, method, path, ctype):
    code = int(f.get("status", 500))
    reason = f.get("reason") or FAULT_REASONS.get(code, "")
    name = path.rstrip("/").rsplit("/", 1)[-1]
    msg = f.get("message")
    details = None
    if code == 409 and method == "PATCH" and ctype.startswith(APPLY_TYPE) and not msg:
        msg = 'Apply failed with 1 conflict: conflict with "kube-sim-injected": .metadata.labels'
        details = {"causes": [{"reason": "FieldManagerConflict", "message": 'conflict with "kube-sim-injected"',
                               "field": ".metadata.labels"}]}
    elif code == 409 and not msg:
        msg = 'Operation cannot be fulfilled on objects "%s": the object has been modified; please apply your ' \
              'changes to the latest version and try again' % name
        details = {"name": name}
    elif code == 429:
        msg = msg or "Too many requests, please try again later."
        details = {"retryAfterSeconds": int(f.get("retry_after", 1))}
    elif code == 500:
        msg = msg or "Internal error occurred: kube-sim injected fault"
    elif code == 503:
        msg = msg or "the server is currently unable to handle the request"
        if f.get("retry_after") is not None:
            details = {"retryAfterSeconds": int(f["retry_after"])}
    elif code == 504:
        msg = msg or "Timeout: request did not complete within requested timeout - context deadline exceeded"
    elif code == 401:
        msg = msg or "Unauthorized"
    elif code == 404:
        msg = msg or "the server could not find the requested resource"
        details = {}
    if msg is None:
        msg = "kube-sim injected fault"
    return code, status_failure(code, reason, msg, details)


class ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-sim"
    sys_version = ""
    timeout = 300

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.handle_api("GET")

    def do_PATCH(self):
        self.handle_api("PATCH")

    def do_DELETE(self):
        self.handle_api("DELETE")

    def do_POST(self):
        self.handle_api("POST")

    def do_PUT(self):
        self.handle_api("PUT")

    def do_HEAD(self):
        self.handle_api("HEAD")

    entry = None

    def send_response(self, code, message=None):
        # log the answer before any byte of it leaves, so a client that reads the request log right after
        # the response sees the status
        if self.entry is not None and self.entry["status"] is None:
            self.server.sim.finish_request_log(self.entry, code)
        super().send_response(code, message)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_json(self, code, obj, extra_headers=None):
        data = (dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Kubernetes-Pf-Flowschema-Uid", self.server.flow_uid)
        self.send_header("X-Kubernetes-Pf-Prioritylevel-Uid", self.server.level_uid)
        for k, v in (extra_headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers_with(data)

    def end_headers_with(self, data):
        """Headers and body in one TLS write (no Nagle / delayed-ACK stalls)."""
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(data)
        self.flush_headers()

    def send_text(self, code, text, ctype="text/plain"):
        data = text.encode()
        self.send_response(code)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers_with(data)

    def handle_api(self, method):
        sim = self.server.sim
        body = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        params = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        ctype = self.headers.get("Content-Type", "")
        entry = self.entry = sim.log_request(method, url.path, url.query, params, ctype, self.headers, body)
        code = 500
        try:
            if self.headers.get("Authorization", "") != "Bearer " + self.server.token:
                entry["authorized"] = False
                raise ApiError(401, status_failure(401, "Unauthorized", "Unauthorized"))
            fault = sim.take_fault(method, url.path)
            if fault:
                entry["injected"] = True
                if fault.get("delay_ms"):
                    time.sleep(fault["delay_ms"] / 1000.0)
                if fault.get("drop"):
                    code = 0
                    self.close_connection = True
                    return
                if int(fault.get("status", 0) or 0) == 0:
                    fault = None
                else:
                    fcode, fbody = fault_body(fault, method, url.path, ctype)
                    headers = {}
                    if fault.get("retry_after") is not None or fcode == 429:
                        headers["Retry-After"] = int(fault.get("retry_after", 1))
                    code = fcode
                    self.send_json(fcode, fbody, headers)
                    return
            code = self.route(method, url.path, params, ctype, body)
        except ApiError as e:
            code = e.code
            self.send_json(e.code, e.body, e.headers)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:  # a bug in the stand-in: say so like the apiserver would
            import traceback
            traceback.print_exc(file=sys.stderr)
            code = 500
            self.send_json(500, status_failure(500, "InternalError", "Internal error occurred: kube-sim: %r" % e,
                                               {"causes": [{"message": repr(e)}]}))
        finally:
            if entry["status"] is None:  # nothing was sent (a dropped connection)
                sim.finish_request_log(entry, code)
            self.entry = None

    def route(self, method, path, params, ctype, body):
        sim = self.server.sim
        parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
        if parts and parts[0] in ("healthz", "readyz", "livez") and method in ("GET", "HEAD"):
            self.send_text(200, "ok")
            return 200
        if method == "GET" or method == "HEAD":
            doc = None
            if parts == ["version"]:
                doc = K8S_VERSION
            elif parts == ["api"]:
                doc = {"kind": "APIVersions", "versions": ["v1"],
                       "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                       "serverAddress": "%s:%d" % self.server.server_address[:2]}]}
            elif parts == ["api", "v1"]:
                doc = api_resource_list("", "v1")
            elif parts == ["apis"]:
                doc = api_group_list()
            elif len(parts) == 2 and parts[0] == "apis" and any(g == parts[1] for g, _ in GROUPS):
                doc = api_group(parts[1])
            elif len(parts) == 3 and parts[0] == "apis" and (parts[1], parts[2]) in GROUPS:
                doc = api_resource_list(parts[1], parts[2])
            if doc is not None:
                self.send_json(200, doc)
                return 200
        if len(parts) >= 3 and parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis" and (parts[1], parts[2]) in GROUPS:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise err_path_not_found()
        if rest[0] == "watch" or params.get("watch", [""])[0] in ("1", "true", "True"):
            raise ApiError(400, status_failure(400, "BadRequest", "kube-sim: watch is not supported by this "
                                                                  "stand-in; poll with GET instead"))
        ns, res, name, sub = "", None, None, None
        if len(rest) >= 3 and rest[0] == "namespaces" and (group, version, rest[2]) in RES_BY_PATH and \
                RES_BY_PATH[(group, version, rest[2])].namespaced:
            if len(rest) > 5:
                raise err_path_not_found()
            ns, res = rest[1], RES_BY_PATH[(group, version, rest[2])]
            name = rest[3] if len(rest) > 3 else None
            sub = rest[4] if len(rest) > 4 else None
        else:
            res = RES_BY_PATH.get((group, version, rest[0]))
            if res is None or len(rest) > 3 or (res.namespaced and len(rest) > 1):
                raise err_path_not_found()
            name = rest[1] if len(rest) > 1 else None
            sub = rest[2] if len(rest) > 2 else None
        if sub is not None and sub not in [s[0] for s in res.subresources]:
            raise err_path_not_found()
        dry_run = params.get("dryRun", [])
        for d in dry_run:
            if d != "All":
                raise err_invalid("PatchOptions" if method == "PATCH" else "DeleteOptions", "meta.k8s.io", "",
                                  [NotSup("dryRun", d, ["All"])])
        if method in ("GET", "HEAD"):
            if name is None:
                sel = parse_label_selector(params.get("labelSelector", [""])[0])
                fsel = parse_field_selector(params.get("fieldSelector", [""])[0], res)
                limit = params.get("limit", ["0"])[0]
                try:
                    limit = int(limit or 0)
                except ValueError:
                    raise err_bad_request('strconv.ParseInt: parsing "%s": invalid syntax' % limit)
                self.send_json(200, sim.list_objects(res, ns, sel, fsel, limit, params.get("continue", [""])[0]))
                return 200
            if sub == "log":
                return self.pod_log(ns, name, params)
            obj = sim.get_object(res, ns, name)
            if sub == "scale":
                sel = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
                obj = {"kind": "Scale", "apiVersion": "autoscaling/v1",
                       "metadata": {k: obj["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                                    "creationTimestamp") if k in obj["metadata"]},
                       "spec": {"replicas": obj["spec"].get("replicas", 1)},
                       "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                                  "selector": ",".join("%s=%s" % kv for kv in sorted(sel.items()))}}
            elif sub not in (None, "status"):
                raise err_method_not_allowed(res, "get " + sub, "kube-sim: the %s subresource is not implemented"
                                             % sub)
            self.send_json(200, obj)
            return 200
        if method == "PATCH":
            if name is None or sub is not None:
                raise err_method_not_allowed(res, "patch" if name is None else "patch " + sub,
                                             "kube-sim: only server-side apply of whole objects is implemented")
            return self.apply(res, ns, name, params, ctype, body, bool(dry_run))
        if method == "DELETE":
            if name is None or sub is not None:
                raise err_method_not_allowed(res, "deletecollection" if name is None else "delete " + sub,
                                             "kube-sim: delete one object at a time")
            opts = {}
            if body.strip():
                try:
                    opts = json.loads(body)
                except ValueError:
                    raise err_bad_request("the body of the request was in an unknown format")
            if "gracePeriodSeconds" in params:
                opts["gracePeriodSeconds"] = int(params["gracePeriodSeconds"][0])
            if "propagationPolicy" in params:
                opts["propagationPolicy"] = params["propagationPolicy"][0]
            code, obj, headers = sim.delete(res, ns, name, opts, bool(dry_run) or "All" in (opts.get("dryRun") or []))
            self.send_json(code, obj, headers)
            return code
        verb = {"POST": "create", "PUT": "update"}.get(method, method.lower())
        raise err_method_not_allowed(res, verb, "kube-sim: %s is not implemented by this stand-in; linode-ai "
                                                "writes with server-side apply (PATCH application/apply-patch+yaml)"
                                     % method)

    def apply(self, res, ns, name, params, ctype, body, dry_run):
        sim = self.server.sim
        mtype = ctype.split(";")[0].strip().lower()
        if mtype != APPLY_TYPE:
            if mtype in REAL_PATCH_TYPES:
                msg = ("the body of the request was in an unknown format - accepted media types include: %s "
                       "(kube-sim implements only server-side apply; a real apiserver also accepts %s)"
                       % (APPLY_TYPE, ", ".join(t for t in REAL_PATCH_TYPES if t != APPLY_TYPE)))
            else:
                msg = "the body of the request was in an unknown format - accepted media types include: " + \
                      ", ".join(REAL_PATCH_TYPES)
            raise ApiError(415, status_failure(415, "UnsupportedMediaType", msg))
        manager = params.get("fieldManager", [""])[0]
        errs = []
        if not manager:
            errs.append(Req("fieldManager", "is required for apply patch"))
        elif len(manager) > 128:
            errs.append(TooLong("fieldManager", 128))
        elif any(not ch.isprintable() for ch in manager):
            errs.append(Inv("fieldManager", manager, "must only contain printable characters"))
        fv = params.get("fieldValidation", [""])[0]
        if fv not in ("", "Ignore", "Warn", "Strict"):
            errs.append(NotSup("fieldValidation", fv, ["Ignore", "Strict", "Warn"]))
        if errs:
            raise err_invalid("PatchOptions", "meta.k8s.io", "", errs)
        force_s = params.get("force", ["false"])[0].lower()
        if force_s not in ("true", "false", "1", "0", ""):
            raise err_bad_request('strconv.ParseBool: parsing "%s": invalid syntax' % force_s)
        force = force_s in ("true", "1")
        text = body.decode("utf-8", "replace")
        try:
            obj = json.loads(text) if text.strip() else {}
        except ValueError:
            try:
                obj = load_yaml(text)
            except Exception as e:
                raise err_bad_request("error decoding YAML: error converting YAML to JSON: yaml: %s"
                                      % str(e).replace("\n", " "))
        if obj is None:
            obj = {}
        code, out = sim.apply(res, ns, name, obj, manager, force, dry_run)
        self.send_json(code, out)
        return code

    def pod_log(self, ns, name, params):
        sim = self.server.sim
        with sim.lock:
            pst = sim.get(R_POD, ns, name)
            if pst is None:
                raise err_not_found(R_POD, name)
            spec = pst.obj.get("spec") or {}
            cnames = [c.get("name") for c in spec.get("containers") or []]
            inames = [c.get("name") for c in spec.get("initContainers") or []]
            c = params.get("container", [""])[0]
            if not c:
                if len(cnames) == 1:
                    c = cnames[0]
                else:
                    msg = "a container name must be specified for pod %s, choose one of: [%s]" % (name, " ".join(cnames))
                    if inames:
                        msg += " or one of the init containers: [%s]" % " ".join(inames)
                    raise err_bad_request(msg)
            elif c not in cnames and c not in inames:
                raise err_bad_request("container %s is not valid for pod %s" % (c, name))
            if pst.sim.get("scheduled_at") is None:
                self.send_text(200, "")
                return 200
            status = pst.obj.get("status") or {}
            cs = next((x for x in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])
                       if x.get("name") == c), None)
            previous = params.get("previous", ["false"])[0] in ("true", "1")
            if previous:
                if not cs or not cs.get("restartCount"):
                    raise err_bad_request('previous terminated container "%s" in pod "%s" not found' % (c, name))
            elif cs and "waiting" in (cs.get("state") or {}) and not cs.get("restartCount"):
                reason = cs["state"]["waiting"].get("reason", "ContainerCreating")
                if reason in ("ImagePullBackOff", "ErrImagePull"):
                    reason = "trying and failing to pull image"
                raise err_bad_request('container "%s" in pod "%s" is waiting to start: %s' % (c, name, reason))
            lines = sim.log_lines(pst, c, previous)
        follow = params.get("follow", ["false"])[0] in ("true", "1")
        text = self.render_log(lines, params)
        if not follow:
            self.send_text(200, text)
            return 200
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        sent = len(lines)
        try:
            if text:
                self.write_chunk(text)
            while True:
                with sim.lock:
                    if sim.get(R_POD, ns, name) is not pst:
                        break
                    cur = sim.log_lines(pst, c, False)
                    if len(cur) <= sent:
                        sim.cond.wait(0.5)
                        cur = sim.log_lines(pst, c, False)
                new, sent = cur[sent:], max(sent, len(cur))
                if new:
                    self.write_chunk(self.render_log(new, {"timestamps": params.get("timestamps", ["false"])}))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass
        return 200

    def write_chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        self.wfile.flush()

    @staticmethod
    def render_log(lines, params):
        since = params.get("sinceSeconds", [None])[0]
        if since:
            cutoff = time.time() - int(since)
            lines = [x for x in lines if x[0] >= cutoff]
        since_time = params.get("sinceTime", [None])[0]
        if since_time:
            try:
                cutoff = datetime.datetime.strptime(since_time[:19], "%Y-%m-%dT%H:%M:%S").replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                lines = [x for x in lines if x[0] >= cutoff]
            except ValueError:
                raise err_bad_request('parsing time "%s" as "2006-01-02T15:04:05Z07:00": cannot parse' % since_time)
        tail = params.get("tailLines", [None])[0]
        if tail is not None and tail != "":
            n = int(tail)
            if n >= 0:
                lines = lines[-n:] if n else []
        ts = params.get("timestamps", ["false"])[0] in ("true", "1")
        out = "".join(("%s %s\n" % (nano_ts(t), s)) if ts else (s + "\n") for t, s in lines)
        limit = params.get("limitBytes", [None])[0]
        if limit:
            out = out.encode()[:int(limit)].decode("utf-8", "ignore")
        return out


class AdminHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-sim-admin"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, obj):
        data = (json.dumps(obj, indent=None) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self._headers_buffer.append(b"\r\n" + data)
        self.flush_headers()

    def body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw.strip():
            return {}
        return json.loads(raw)

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        sim = self.server.sim
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        path = url.path.rstrip("/") or "/"
        try:
            body = self.body_json() if method == "POST" else {}
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            with sim.lock:
                if path == "/healthz":
                    return self.reply(200, {"ok": True})
                if path == "/objects" and method == "GET":
                    res = res_for_kindish(q.get("kind", "")) if q.get("kind") else None
                    if q.get("kind") and res is None:
                        raise ValueError("unknown kind %r" % q["kind"])
                    items = [copy.deepcopy(st.obj) for st in sorted(sim.objects.values(),
                                                                    key=lambda s: (s.res.plural, s.ns, s.name))
                             if (res is None or st.res is res) and ("namespace" not in q or st.ns == q["namespace"])]
                    return self.reply(200, {"resourceVersion": str(sim.rv), "items": items})
                if path == "/requests":
                    if method == "DELETE":
                        sim.requests = []
                        return self.reply(200, {"ok": True})
                    since = int(q.get("since", 0))
                    return self.reply(200, {"items": [e for e in sim.requests if e["seq"] > since]})
                if path == "/config":
                    if method == "POST":
                        for k, v in body.items():
                            if k not in DEFAULT_CONFIG:
                                raise ValueError("unknown config key %r (known: %s)" % (k, ", ".join(DEFAULT_CONFIG)))
                            sim.cfg[k] = v
                    return self.reply(200, sim.cfg)
                if path == "/hold" and method == "POST":
                    res = res_for_kindish(body.get("kind", ""))
                    if res is None:
                        raise ValueError("unknown kind %r" % body.get("kind"))
                    state = body.get("state", "auto")
                    if state not in HOLD_STATES:
                        raise ValueError("state must be one of %s" % ", ".join(HOLD_STATES))
                    key = (body.get("namespace", "") if res.namespaced or res is R_NS else "", res.kind,
                           body.get("name", ""))
                    if state == "auto":
                        sim.holds.pop(key, None)
                    else:
                        sim.holds[key] = state
                    sim.cond.notify_all()
                    return self.reply(200, {"holds": [list(k) + [v] for k, v in sim.holds.items()]})
                if path == "/holds":
                    return self.reply(200, {"holds": [list(k) + [v] for k, v in sim.holds.items()]})
                if path == "/logs" and method == "POST":
                    ns = body.get("namespace", "default")
                    if body.get("pod"):
                        key = (ns, "pod", body["pod"], body.get("container", ""))
                    elif body.get("workload"):
                        key = (ns, "workload", body["workload"], body.get("container", ""))
                    else:
                        raise ValueError("give pod or workload")
                    if not key[3]:
                        raise ValueError("give container")
                    lines = body.get("lines") or []
                    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
                        raise ValueError("lines must be a list of strings")
                    t = time.time()
                    stamped = [(t + i * 0.000001, x) for i, x in enumerate(lines)]
                    if body.get("append"):
                        if key not in sim.logs and key[1] == "pod":
                            pst = sim.get(R_POD, ns, key[2])
                            if pst is not None:  # append to what the pod shows now
                                sim.logs[key] = sim.log_lines(pst, key[3], False)
                        sim.logs.setdefault(key, []).extend(stamped)
                    else:
                        sim.logs[key] = stamped
                    sim.cond.notify_all()
                    return self.reply(200, {"ok": True, "lines": len(sim.logs[key])})
                if path == "/fail":
                    if method == "POST":
                        f = {"method": body.get("method", "*").upper() if body.get("method") else "*",
                             "path_prefix": body.get("path_prefix", "/"), "status": int(body.get("status", 500)),
                             "times": int(body.get("times", 1)), "skip": int(body.get("skip", 0))}
                        for k in ("retry_after", "message", "reason", "delay_ms", "drop"):
                            if k in body:
                                f[k] = body[k]
                        sim.faults.append(f)
                    elif method == "DELETE":
                        sim.faults = []
                    return self.reply(200, {"faults": sim.faults})
                if path == "/reset" and method == "POST":
                    sim.reset()
                    return self.reply(200, {"ok": True})
            self.reply(404, {"error": "no such admin endpoint: %s %s" % (method, path)})
        except (ValueError, TypeError, KeyError) as e:
            self.reply(400, {"error": str(e)})


class ApiServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, sim, token, ctx):
        self.sim, self.token, self.ctx = sim, token, ctx
        self.flow_uid, self.level_uid = str(uuid.uuid4()), str(uuid.uuid4())
        super().__init__(addr, ApiHandler)

    def finish_request(self, request, client_address):
        # TLS handshake here, in the connection's own thread, not in accept()
        try:
            request.settimeout(300)
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass


class AdminServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, sim):
        self.sim = sim
        super().__init__(addr, AdminHandler)

    def handle_error(self, request, client_address):
        pass


# --------------------------------------------------------------------------
# Certificates, kubeconfig, main
# --------------------------------------------------------------------------

def run_openssl(args, cwd):
    r = subprocess.run(["openssl"] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit("kube-sim: openssl %s failed: %s" % (args[0], r.stderr.decode(errors="replace")))


def ensure_certs(state_dir, sans):
    names = ["IP:127.0.0.1", "DNS:localhost"] + ["IP:" + s if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+:[0-9a-fA-F:]*", s)
                                                 else "DNS:" + s for s in sans]
    san = ",".join(names)
    tls = os.path.join(state_dir, "tls")
    os.makedirs(tls, exist_ok=True)
    files = {k: os.path.join(tls, k) for k in ("ca.crt", "ca.key", "server.crt", "server.key", "san")}
    if all(os.path.exists(f) for f in files.values()) and open(files["san"]).read() == san:
        return files
    run_openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650", "-subj", "/CN=kube-sim-ca",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"], tls)
    run_openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=kube-apiserver"], tls)
    with open(os.path.join(tls, "server.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=%s\n"
                "authorityKeyIdentifier=keyid,issuer\nsubjectKeyIdentifier=hash\n" % san)
    run_openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-set_serial", "0x" + secrets.token_hex(8), "-days", "825", "-out", "server.crt",
                 "-extfile", "server.ext"], tls)
    with open(files["san"], "w") as f:
        f.write(san)
    return files


def write_kubeconfig(path, server, ca_pem, token, cluster_id):
    c = "lke%d" % cluster_id
    text = ("apiVersion: v1\nkind: Config\npreferences: {}\n\nclusters:\n- cluster:\n"
            "    certificate-authority-data: %s\n    server: %s\n  name: %s\n\n"
            "users:\n- name: %s-admin\n  user:\n    as-user-extra: {}\n    token: %s\n\n"
            "contexts:\n- context:\n    cluster: %s\n    namespace: default\n    user: %s-admin\n  name: %s-ctx\n\n"
            "current-context: %s-ctx\n" % (base64.b64encode(ca_pem.encode()).decode(), server, c, c, token,
                                          c, c, c, c))
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def controller_loop(sim, stop):
    while not stop.is_set():
        try:
            sim.tick()
        except Exception:  # keep the loop alive; the traceback goes to stderr
            import traceback
            traceback.print_exc(file=sys.stderr)
        stop.wait(max(float(sim.cfg.get("tick_ms") or 25), 5.0) / 1000.0)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Kubernetes API stand-in for linode-ai tests (see the docstring).")
    ap.add_argument("--port", type=int, default=0, help="HTTPS port (0: any free one)")
    ap.add_argument("--admin-port", type=int, default=0, help="admin HTTP port (0: any free one)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--token", default=None, help="bearer token (default: random)")
    ap.add_argument("--san", action="append", default=[], help="extra certificate name or IP")
    ap.add_argument("--cluster-id", type=int, default=424242)
    ap.add_argument("--ready-ms", type=int, default=None)
    ap.add_argument("--lb-ms", type=int, default=None)
    ap.add_argument("--delete-ms", type=int, default=None)
    a = ap.parse_args(argv)
    state_dir = os.path.abspath(a.state_dir)
    os.makedirs(state_dir, exist_ok=True)
    files = ensure_certs(state_dir, a.san)
    ca_pem = open(files["ca.crt"]).read()
    token = a.token or secrets.token_urlsafe(48)
    cfg = {}
    for k in ("ready_ms", "lb_ms", "delete_ms"):
        if getattr(a, k) is not None:
            cfg[k] = getattr(a, k)
    sim = Sim(cfg, a.cluster_id)
    sim.request_log_file = os.path.join(state_dir, "requests.jsonl")
    open(sim.request_log_file, "w").close()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(files["server.crt"], files["server.key"])
    ctx.set_alpn_protocols(["http/1.1"])
    api = ApiServer((a.host, a.port), sim, token, ctx)
    admin = AdminServer(("127.0.0.1", a.admin_port), sim)
    stop = threading.Event()
    for target in (api.serve_forever, admin.serve_forever):
        threading.Thread(target=target, daemon=True).start()
    threading.Thread(target=controller_loop, args=(sim, stop), daemon=True).start()
    server = "https://%s:%d" % (a.host, api.server_address[1])
    kubeconfig = os.path.join(state_dir, "kubeconfig")
    write_kubeconfig(kubeconfig, server, ca_pem, token, a.cluster_id)

    def dump_and_exit(signum, frame):
        stop.set()
        try:
            with sim.lock:
                items = [st.obj for st in sorted(sim.objects.values(), key=lambda s: (s.res.plural, s.ns, s.name))]
                with open(os.path.join(state_dir, "objects.json"), "w") as f:
                    json.dump({"resourceVersion": str(sim.rv), "items": items}, f, indent=1)
        finally:
            os._exit(0)

    signal.signal(signal.SIGTERM, dump_and_exit)
    signal.signal(signal.SIGINT, dump_and_exit)
    line = {"server": server, "ca_pem": ca_pem, "token": token,
            "admin": "http://127.0.0.1:%d" % admin.server_address[1], "kubeconfig": kubeconfig,
            "state_dir": state_dir, "pid": os.getpid()}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    while not stop.is_set():
        stop.wait(3600)


if __name__ == "__main__":
    main()
