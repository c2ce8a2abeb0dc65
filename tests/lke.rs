//! `deploy --target lke` end to end, against both stand-ins: the Linode API
//! (tests/linode-sim: clusters, kubeconfigs, NodeBalancers, volumes) and a
//! Kubernetes API server (tests/kube-sim: server-side apply, workloads that
//! become ready, a LoadBalancer address on loopback), with the real Caddy
//! running the proxy's Caddyfile from the applied ConfigMap and a Pebble
//! certificate for the load balancer's name. What neither stand-in can
//! prove is in the closing notes and tests/kube-sim/kube_sim.py.

mod support;

#[path = "support/acme.rs"]
mod acme;
#[path = "support/kube.rs"]
mod kube;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acme::{free_port, Acme, Caddy};
use kube::{secret_value, wait_until, Controllers, KubeSim};
use linode_sim::upstream::{Kind, Upstream};
use serde_json::Value;
use support::*;

/// The load balancer's name kube-sim hands out (its address is 127.0.0.1).
const LB_NAME: &str = "nb-127-0-0-1.us-ord.nodebalancer.linode.com";

fn lke_env(kube: &KubeSim) -> Env {
    let env = Env::with(SimConfig {
        provisioning_ms: 200,
        booting_ms: 200,
        lke_node_ready_ms: 200,
        lke_kubeconfig_ready_ms: 400,
        ..Default::default()
    });
    env.sim.set_kube_api(kube.api());
    env
}

/// Runs `linode-ai` in the background (the test plays the cluster's side meanwhile).
fn spawn(env: &Env, args: &[&str], dir: &std::path::Path) -> std::process::Child {
    let mut c: Command = env.cmd(args, Some(dir));
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c.spawn().expect("start linode-ai")
}

fn finish(child: std::process::Child, limit: Duration) -> Run {
    let start = Instant::now();
    let id = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if start.elapsed() > limit {
            unsafe { libc_kill(id) };
            panic!("linode-ai did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Run::from(waiter.join().unwrap())
}

/// The child, to be waited for by [`finish`] (it has exited).
fn child_take(child: &mut std::process::Child) -> std::process::Child {
    let mut c = Command::new("true").spawn().unwrap();
    std::mem::swap(&mut c, child);
    c
}

unsafe fn libc_kill(pid: u32) {
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
}

/// The proxy as the cluster would run it: the applied Caddyfile, the
/// applied name and key, in front of `upstream` standing in for `service`.
struct Proxy {
    caddy: Caddy,
    root: String,
    _acme: Acme,
    _tmp: tempfile::TempDir,
}

#[allow(clippy::too_many_arguments)]
fn start_proxy(
    kube: &KubeSim,
    namespace: &str,
    acme: Acme,
    tmp: tempfile::TempDir,
    http: u16,
    https: u16,
    upstreams: &[(&str, u16)],
    key_env: &str,
) -> Proxy {
    let config = kube
        .object("ConfigMap", namespace, "proxy-config")
        .expect("the proxy's ConfigMap was applied");
    let caddyfile = config["data"]["Caddyfile"].as_str().unwrap().to_string();
    let boot = kube.object("ConfigMap", namespace, "app-boot").unwrap();
    let host = boot["data"]["LINODE_AI_HOSTNAME"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = kube.object("Secret", namespace, "app-env").unwrap();
    let key = secret_value(&secret, key_env).expect("the key is in the Secret");
    let status = tmp.path().join("status");
    std::fs::create_dir_all(&status).unwrap();
    std::fs::write(
        status.join("boot.json"),
        config["data"]["boot.json"].as_str().unwrap(),
    )
    .unwrap();
    let mut vars: Vec<(&str, String)> = vec![
        (key_env, key),
        ("LINODE_AI_STATUS_DIR", status.display().to_string()),
    ];
    let names: Vec<String> = upstreams
        .iter()
        .map(|(s, _)| {
            format!(
                "LINODE_AI_UPSTREAM_{}",
                s.to_ascii_uppercase().replace('-', "_")
            )
        })
        .collect();
    for ((_, port), name) in upstreams.iter().zip(&names) {
        vars.push((name.as_str(), format!("127.0.0.1:{port}")));
    }
    let caddy = Caddy::start(tmp.path(), &caddyfile, &host, http, https, &acme, &vars);
    let root = acme.issuing_root();
    caddy.wait_certificate(&root);
    Proxy {
        caddy,
        root,
        _acme: acme,
        _tmp: tmp,
    }
}

/// Waits for `cond` while `child` runs (its output, if it stops first).
fn wait_while_running(child: &mut std::process::Child, what: &str, mut cond: impl FnMut() -> bool) {
    wait_until(what, Duration::from_secs(90), || {
        if let Ok(Some(_)) = child.try_wait() {
            let out = finish(child_take(child), Duration::from_secs(5));
            panic!("deploy stopped early:\n{}\n{}", out.stdout, out.stderr);
        }
        cond()
    });
}

/// `deploy --target lke --wait` in `dir` (and `extra` flags) while the test
/// plays the cluster's side: once the load balancer's name is applied, the
/// proxy runs the applied Caddyfile in front of `upstream` (standing in for
/// `service`) with a Pebble certificate. The deploy's output, the proxy, and
/// its HTTPS port (the deployment's `--port`).
fn deploy_served(
    env: &Env,
    kube: &KubeSim,
    dir: &std::path::Path,
    extra: &[&str],
    (service, upstream): (&str, u16),
    key_env: &str,
) -> (Run, Proxy, u16) {
    let tmp = tempfile::tempdir().unwrap();
    let (http, https) = (free_port(), free_port());
    let acme = Acme::start(tmp.path(), http, https);
    // The probes trust what Pebble issues (as the real ones trust Let's Encrypt).
    std::fs::write(env.home().join("probe-ca.pem"), acme.issuing_root()).unwrap();
    let port = https.to_string();
    let mut args = vec![
        "deploy",
        "--target",
        "lke",
        "--port",
        &port,
        "--wait",
        "--timeout",
        "120",
    ];
    args.extend_from_slice(extra);
    let mut child = spawn(env, &args, dir);
    let plan = env
        .run(
            &["deploy", "--target", "lke", "--dry-run", "--json"],
            Some(dir),
        )
        .ok()
        .json();
    let ns = plan["namespace"].as_str().unwrap().to_string();
    wait_while_running(&mut child, "the load balancer's name applied", || {
        kube.object("ConfigMap", &ns, "app-boot")
            .is_some_and(|c| c["data"]["LINODE_AI_HOSTNAME"] == LB_NAME)
    });
    let proxy = start_proxy(
        kube,
        &ns,
        acme,
        tmp,
        http,
        https,
        &[(service, upstream)],
        key_env,
    );
    (finish(child, Duration::from_secs(180)), proxy, https)
}

/// The embeddings template on a new cluster with two replicas: the
/// requests the Linode API and the cluster's API get, the proxy serving the
/// load balancer's name with a certificate, status here and on another
/// machine, pod logs, and a destroy that leaves nothing in the account.
#[test]
fn embeddings_on_lke_from_create_to_destroy() {
    let kube = KubeSim::start();
    let env = lke_env(&kube);
    let dir = env.project("embeddings");
    let tei = Upstream::start(Kind::Echo);
    let controllers = Controllers::start(env.sim.clone(), &kube);
    let (out, proxy, https) = deploy_served(
        &env,
        &kube,
        &dir,
        &["--replicas", "2"],
        ("tei", tei.port),
        "API_KEY",
    );
    let out = out.ok();
    let port = https.to_string();
    let ns = "embeddings-default";
    let url = format!("https://{LB_NAME}:{https}");
    assert!(out.stdout.contains(&url), "{}", out.stdout);
    assert!(out.stdout.contains("running"), "{}", out.stdout);

    // The Linode API: one cluster, valid for the spec, tagged; its firewall.
    let posts = env.posts_to("/v4/lke/clusters");
    assert_eq!(posts.len(), 1, "one create");
    let errors = spec_errors("POST /lke/clusters", &posts[0]);
    assert!(errors.is_empty(), "{errors:?}\n{}", posts[0]);
    assert_eq!(posts[0]["node_pools"][0]["count"], 2, "a node per replica");
    let clusters = env.sim.lke_clusters();
    let cid = clusters[0]["id"].as_u64().unwrap();
    let tags: Vec<String> = serde_json::from_value(clusters[0]["tags"].clone()).unwrap();
    assert!(
        tags.contains(&"build_ai_app=embeddings".to_string()),
        "{tags:?}"
    );
    let fw_posts = env.posts_to("/v4/networking/firewalls");
    assert!(spec_errors("POST /networking/firewalls", &fw_posts[0]).is_empty());
    // Made before the cluster, then tagged with it.
    let tag_put = env
        .sim
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT" && r.path.starts_with("/v4/networking/firewalls/"))
        .expect("the firewall's cluster tag");
    let errors = spec_errors(
        "PUT /networking/firewalls/{firewallId}",
        tag_put.body.as_ref().unwrap(),
    );
    assert!(errors.is_empty(), "{errors:?}");
    let (fw, _) = env.sim.firewalls().into_iter().next().unwrap();
    let fw_tags: Vec<String> = serde_json::from_value(fw["tags"].clone()).unwrap();
    assert!(
        fw_tags.contains(&format!("build_ai_lke={cid}")),
        "{fw_tags:?}"
    );
    let ports: Vec<String> = fw["rules"]["inbound"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ports"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ports,
        vec!["80".to_string(), port.clone()],
        "no SSH on a NodeBalancer"
    );
    // The NodeBalancer carries the deployment's tags (from the Service's annotation).
    let nbs = env.sim.nodebalancers();
    assert_eq!(nbs.len(), 1);
    assert!(nbs[0]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "build_ai_app=embeddings"));

    // The kubeconfig: kept 0600, never printed.
    let kc = env
        .home()
        .join(format!("config/linode-ai/kube/lke{cid}.yaml"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kc).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(!out.stdout.contains(&kube.token) && !out.stderr.contains(&kube.token));

    // The cluster's API: server-side apply as linode-ai, the token, the objects.
    let reqs = kube.requests();
    let applies: Vec<&Value> = reqs.iter().filter(|r| r["method"] == "PATCH").collect();
    assert!(applies.len() >= 9, "{} applies", applies.len());
    for r in &applies {
        assert_eq!(r["content_type"], "application/apply-patch+yaml");
        assert!(r["status"].as_u64().unwrap() < 300, "{r}");
        assert!(
            r["query"]
                .as_str()
                .unwrap_or_default()
                .contains("fieldManager=linode-ai"),
            "{r}"
        );
    }
    assert!(reqs.iter().all(|r| r["authorized"] == true));
    let tei_set = kube.object("StatefulSet", ns, "tei").unwrap();
    assert_eq!(tei_set["spec"]["replicas"], 2);
    assert_eq!(tei_set["status"]["readyReplicas"], 2);
    let svc = kube.object("Service", ns, "proxy").unwrap();
    assert_eq!(svc["spec"]["type"], "LoadBalancer");
    assert_eq!(
        svc["metadata"]["annotations"]
            ["service.beta.kubernetes.io/linode-loadbalancer-firewall-id"],
        fw["id"].as_u64().unwrap().to_string()
    );

    // Through the real proxy with its certificate: the key rules hold on LKE.
    let c = proxy.caddy.client(&proxy.root);
    let key = std::fs::read_to_string(dir.join(".env"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("API_KEY=").map(str::to_string))
        .unwrap();
    let denied = c.post(proxy.caddy.url("/embed")).send().unwrap();
    assert_eq!(denied.status(), 401);
    let ok = c
        .post(proxy.caddy.url("/embed"))
        .header("Authorization", format!("Bearer {key}"))
        .body("{\"inputs\":\"x\"}")
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);

    // status: the replicas and the cost.
    let st = env.run(&["status", "--json"], Some(&dir)).ok().json();
    let row = &st["rows"][0];
    assert_eq!(row["status"], "running", "{st}");
    assert_eq!(row["target"], "lke");
    assert_eq!(row["detail"], "replicas proxy 1/1, tei 2/2");
    assert_eq!(row["http_status"], 200);
    // Two nodes at the stand-in's g6-standard-2 price, the NodeBalancer, 30 GB.
    assert_eq!(st["cost"]["linodes"], 2);
    assert_eq!(row["price"]["monthly"], 2.0 * 24.0 + 10.0 + 3.0);
    let plain = env.run(&["status"], Some(&dir)).ok();
    assert!(
        plain.stdout.contains(
            "Cost: 2 Linodes, 1 NodeBalancer and 30 GB of Block Storage (LKE) at $0.090/h ($61.00/month)"
        ),
        "{}",
        plain.stdout
    );

    // A kubeconfig reset in Cloud Manager (its token no longer taken): the
    // new one is fetched and kept.
    let kept = std::fs::read_to_string(&kc).unwrap();
    std::fs::write(&kc, kept.replace(&kube.token, "revoked-token")).unwrap();
    let st = env.run(&["status", "--json"], Some(&dir)).ok().json();
    assert_eq!(st["rows"][0]["status"], "running", "{st}");
    assert_eq!(std::fs::read_to_string(&kc).unwrap(), kept);

    // Another machine sees it from the tags (and the cluster's kubeconfig).
    let other = env.other_machine();
    std::fs::write(other.home().join("probe-ca.pem"), &proxy.root).unwrap();
    // (untracked: exit 3, as for a VM deployment made elsewhere)
    let seen = other.run(&["status"], None).code(3);
    assert!(
        seen.stdout.contains("untracked")
            && seen
                .stdout
                .contains("on LKE, running (replicas proxy 1/1, tei 2/2)")
            && seen.stdout.contains(&url),
        "{}",
        seen.stdout
    );
    // ... and records it with adopt: then it is running there too.
    other.run(&["adopt", "--all"], None).ok();
    let adopted = other.run(&["status", "--json"], None).ok().json();
    assert_eq!(adopted["rows"][0]["status"], "running", "{adopted}");
    assert_eq!(adopted["rows"][0]["lke"]["cluster_id"], cid);

    // Pod logs through the API.
    let logs = env
        .run(&["logs", "--service", "tei", "--lines", "5"], Some(&dir))
        .ok();
    assert!(logs.stdout.contains("==> tei-0 <=="), "{}", logs.stdout);
    assert!(logs.stdout.contains("==> tei-1 <=="), "{}", logs.stdout);

    // destroy: the namespace, the NodeBalancer, the claims' volumes, the
    // cluster, the firewall, the record, the kubeconfig.
    let volumes_before = env.sim.volumes().len();
    assert!(volumes_before >= 3, "two tei claims and the proxy's");
    env.run(&["destroy", "--app", "embeddings", "--yes"], Some(&dir))
        .ok();
    assert!(
        kube.object("Namespace", "", ns).is_none()
            || kube
                .objects("Namespace")
                .iter()
                .all(|n| n["metadata"]["name"] != ns)
    );
    assert!(env.sim.lke_clusters().is_empty(), "cluster deleted");
    assert!(env.sim.nodebalancers().is_empty(), "NodeBalancer gone");
    assert!(env.sim.volumes().is_empty(), "{:?}", env.sim.volumes());
    assert!(env.sim.firewalls().is_empty(), "firewall deleted");
    assert!(env.records().is_empty());
    assert!(!kc.exists(), "kubeconfig removed with its cluster");
    drop(controllers);
}

/// What `deploy --target lke` did on the cluster for llm-api: `(stdout,
/// the DaemonSets applied, vLLM's ready replicas)`.
fn llm_api_on_gpu_nodes(preinstalled: bool) -> (Run, Vec<Value>, Value) {
    let kube = KubeSim::start();
    kube.post(
        "/config",
        serde_json::json!({"gpu_nodes": 1, "gpu_plugin_preinstalled": preinstalled}),
    );
    kube.post("/reset", serde_json::json!({}));
    let env = lke_env(&kube);
    let dir = env.project("llm-api");
    let vllm = Upstream::start(Kind::Echo);
    let _controllers = Controllers::start(env.sim.clone(), &kube);
    let (out, _proxy, _) =
        deploy_served(&env, &kube, &dir, &[], ("vllm", vllm.port), "VLLM_API_KEY");
    let ns = "llm-api-default";
    let sets = kube.objects("DaemonSet");
    let vllm_set = kube.object("StatefulSet", ns, "vllm").unwrap();
    (out, sets, vllm_set["status"]["readyReplicas"].clone())
}

/// GPU nodes that do not advertise `nvidia.com/gpu` get NVIDIA's device
/// plugin (without it vLLM's pod never schedules); a cluster that ships it
/// is left alone.
#[test]
fn llm_api_on_lke_gets_the_gpu_device_plugin_only_when_missing() {
    let (out, sets, ready) = llm_api_on_gpu_nodes(false);
    let out = out.ok();
    assert!(
        out.stderr.contains("installing NVIDIA's device plugin"),
        "{}",
        out.stderr
    );
    assert_eq!(sets.len(), 1, "{sets:?}");
    assert_eq!(sets[0]["metadata"]["namespace"], "kube-system");
    assert_eq!(sets[0]["status"]["numberReady"], 3, "a plugin pod per node");
    assert_eq!(ready, 1, "vLLM scheduled on the GPU node");

    let (out, sets, ready) = llm_api_on_gpu_nodes(true);
    let out = out.ok();
    assert!(!out.stderr.contains("device plugin"), "{}", out.stderr);
    assert!(sets.is_empty(), "{sets:?}");
    assert_eq!(ready, 1);
}

/// A deploy killed (-9) while each of its requests is on the way, whether
/// the request then lands or is lost: `status` here and on another machine
/// sees the one deployment (never "could not check"), and `destroy --all`
/// then leaves no cluster, NodeBalancer, volume or firewall.
#[test]
fn kill_9_at_each_lke_deploy_step_leaves_nothing_unseen() {
    // (what, the Linode API request held (method, path prefix, lands),
    //  or the cluster's API held: (kube-sim fault or hold))
    enum At {
        Linode(&'static str, &'static str, bool),
        KubeFail(&'static str, &'static str),
        KubeHold(&'static str, &'static str),
    }
    let steps = [
        At::Linode("POST", "/v4/networking/firewalls", true),
        At::Linode("POST", "/v4/lke/clusters", true),
        At::Linode("POST", "/v4/lke/clusters", false),
        At::Linode("PUT", "/v4/networking/firewalls/", true),
        At::Linode("GET", "/v4/lke/clusters/", true),
        At::KubeFail("PATCH", "/api/v1/namespaces/embeddings-default/secrets"),
        At::KubeHold("Service", "proxy"),
        At::KubeHold("StatefulSet", "tei"),
    ];
    let kube = KubeSim::start();
    for at in steps {
        kube.post("/reset", serde_json::json!({}));
        let env = lke_env(&kube);
        let controllers = Controllers::start(env.sim.clone(), &kube);
        let dir = env.project("embeddings");
        let what = match &at {
            At::Linode(m, p, lands) => {
                env.sim.add_fault(Fault {
                    method: m.to_string(),
                    path: p.to_string(),
                    delay_before_ms: 3000,
                    status: if *lands { 0 } else { 500 },
                    reason: "lost".into(),
                    ..Default::default()
                });
                format!("{m} {p} {}", if *lands { "lands" } else { "is lost" })
            }
            At::KubeFail(m, p) => {
                kube.post(
                    "/fail",
                    serde_json::json!({"method": m, "path_prefix": p, "status": 503, "delay_ms": 3000, "times": -1}),
                );
                format!("{m} {p} on the cluster")
            }
            At::KubeHold(kind, name) => {
                kube.post(
                    "/hold",
                    serde_json::json!({"namespace": "embeddings-default", "kind": kind, "name": name, "state": "pending"}),
                );
                format!("waiting for {kind} {name}")
            }
        };
        let before = env.sim.requests().len();
        let kube_before = kube.requests().len();
        let mut child = spawn(
            &env,
            &["deploy", "--target", "lke", "--wait", "--timeout", "60"],
            &dir,
        );
        let reached = || match &at {
            At::Linode(m, p, _) => env.sim.requests()[before..]
                .iter()
                .any(|r| r.method == *m && r.path.starts_with(p)),
            At::KubeFail(m, p) => kube.requests()[kube_before..]
                .iter()
                .any(|r| r["method"] == *m && r["path"].as_str().unwrap_or("").starts_with(p)),
            At::KubeHold(kind, _) => {
                let wanted = if *kind == "Service" {
                    "services/proxy"
                } else {
                    "statefulsets"
                };
                kube.requests()[kube_before..]
                    .iter()
                    .filter(|r| {
                        r["method"] == "GET" && r["path"].as_str().unwrap_or("").contains(wanted)
                    })
                    .count()
                    >= 2
            }
        };
        wait_until(&what, Duration::from_secs(30), reached);
        child.kill().unwrap();
        child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(3500)); // the held request lands (or not)
        kube.delete_faults();
        assert_status_sees_one(&env, &what);
        let out = env.run(&["destroy", "--all", "--yes"], None);
        assert_eq!(out.code, 0, "{what}: {}{}", out.stdout, out.stderr);
        assert!(
            env.sim.lke_clusters().is_empty()
                && env.sim.nodebalancers().is_empty()
                && env.sim.volumes().is_empty()
                && env.sim.firewalls().is_empty()
                && env.records().is_empty(),
            "{what}: left {:?} {:?} {:?} {:?} {:?}",
            env.sim.lke_clusters(),
            env.sim.nodebalancers(),
            env.sim.volumes(),
            env.sim.firewalls(),
            env.records()
        );
        controllers.stop();
    }
}

/// `--cluster ID`: a second app on the first app's cluster. Destroying it
/// removes its namespace, its NodeBalancer and its claims' volumes, and
/// leaves the cluster and the first app alone; with the cloud controller
/// gone, destroying the first deletes the NodeBalancer the cluster left.
#[test]
fn a_second_app_on_an_existing_cluster_leaves_the_cluster_and_the_first_app() {
    let kube = KubeSim::start();
    let env = lke_env(&kube);
    let controllers = Controllers::start(env.sim.clone(), &kube);
    let first = env.project("embeddings");
    env.run(
        &["deploy", "--target", "lke", "--app-name", "first"],
        Some(&first),
    )
    .ok();
    let cid = env.sim.lke_clusters()[0]["id"].as_u64().unwrap();
    let second = env.project("embeddings");
    let out = env
        .run(
            &[
                "deploy",
                "--target",
                "lke",
                "--app-name",
                "second",
                "--cluster",
                &cid.to_string(),
            ],
            Some(&second),
        )
        .ok();
    assert!(
        out.stdout.contains("yours: destroy leaves it"),
        "{}",
        out.stdout
    );
    assert_eq!(
        env.posts_to("/v4/lke/clusters").len(),
        1,
        "no second cluster"
    );
    wait_until(
        "two NodeBalancers and four volumes",
        Duration::from_secs(20),
        || env.sim.nodebalancers().len() == 2 && env.sim.volumes().len() == 4,
    );
    let st = env.run(&["status", "--json"], None).json();
    let rows = st["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{st}");
    let second_row = rows.iter().find(|r| r["app_name"] == "second").unwrap();
    assert_eq!(second_row["lke"]["cluster_owned"], false);
    // Its nodes are the first app's: only its NodeBalancer and 20 GB are its own.
    assert_eq!(second_row["price"]["monthly"], 10.0 + 2.0, "{second_row}");

    env.run(&["destroy", "--app", "second", "--yes"], None).ok();
    assert_eq!(env.sim.lke_clusters().len(), 1, "the cluster stays");
    let nbs = env.sim.nodebalancers();
    assert_eq!(nbs.len(), 1);
    assert!(
        nbs[0]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "build_ai_app=first"),
        "{nbs:?}"
    );
    assert_eq!(env.sim.volumes().len(), 2, "the first app's claims stay");
    assert!(
        kube.object("Namespace", "", "first-default").is_some()
            || kube
                .objects("Namespace")
                .iter()
                .any(|n| n["metadata"]["name"] == "first-default")
    );
    assert!(kube
        .objects("Namespace")
        .iter()
        .all(|n| n["metadata"]["name"] != "second-default"));
    assert_eq!(env.records().len(), 1);
    // The released PersistentVolumes of its claims go too (the cluster stays).
    let pv_deletes = kube
        .requests()
        .iter()
        .filter(|r| {
            r["method"] == "DELETE"
                && r["path"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("/api/v1/persistentvolumes/pvc-")
        })
        .count();
    assert_eq!(pv_deletes, 2, "tei's claim and the proxy's");

    controllers.stop();
    env.run(&["destroy", "--app", "first", "--yes"], None).ok();
    assert!(env.sim.lke_clusters().is_empty());
    assert!(
        env.sim.nodebalancers().is_empty(),
        "the one left was deleted"
    );
    assert!(env.sim.volumes().is_empty());
    assert!(env.sim.firewalls().is_empty());
    assert!(env.records().is_empty());
}

/// chat-webui's post-start scripts run on LKE as its post_start_jobs (the
/// model pull, the admin account), and the proxy starts only after them,
/// as on a VM: Open WebUI's first sign-up is its admin, so nobody reaches
/// the site before the job made it. A job that gives up stops the deploy,
/// names itself and its log, and the proxy never starts.
#[test]
fn chat_webui_on_lke_runs_its_post_start_jobs_before_the_proxy() {
    let kube = KubeSim::start();
    let env = lke_env(&kube);
    let _controllers = Controllers::start(env.sim.clone(), &kube);
    let ns = "chat-webui-default";
    let dir = env.project("chat-webui");
    let jobs_of = || -> Vec<Value> {
        kube.objects("Job")
            .into_iter()
            .filter(|j| j["metadata"]["namespace"] == ns)
            .collect()
    };
    // The Jobs' names (a digest of what they run) from the plan: held
    // before they exist.
    let plan = env
        .run(
            &["deploy", "--target", "lke", "--dry-run", "--json"],
            Some(&dir),
        )
        .ok()
        .json();
    let job_names: Vec<String> = plan["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "Job")
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(job_names.len(), 2, "{job_names:?}");
    let hold = |name: &str, state: &str| {
        kube.post(
            "/hold",
            serde_json::json!({"namespace": ns, "kind": "Job", "name": name, "state": state}),
        );
    };
    for name in &job_names {
        hold(name, "pending");
    }
    let mut child = spawn(&env, &["deploy", "--target", "lke"], &dir);
    wait_while_running(&mut child, "the post-start jobs applied", || {
        jobs_of().len() == 2
    });
    // Every other workload is ready well within this; the proxy still waits.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        kube.object("Deployment", ns, "proxy").is_none(),
        "the proxy started before the post-start jobs finished"
    );
    assert!(
        kube.object("Service", ns, "proxy").is_some(),
        "its load balancer is up (for the name)"
    );
    for name in &job_names {
        hold(name, "auto");
    }
    let out = finish(child, Duration::from_secs(120)).ok();
    assert!(
        out.stderr.contains("Post-start: job create-admin 0/1"),
        "{}",
        out.stderr
    );
    assert!(kube.object("Deployment", ns, "proxy").is_some());
    let admin = jobs_of()
        .into_iter()
        .find(|j| {
            j["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("create-admin-")
        })
        .unwrap();
    let c = &admin["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "ghcr.io/open-webui/open-webui:v0.11.3");
    assert_eq!(c["command"][0], "/bin/bash");
    let names: Vec<&str> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "WEBUI_ADMIN_EMAIL",
            "WEBUI_ADMIN_PASSWORD",
            "LINODE_AI_SERVICE_URL"
        ]
    );
    let st = env.run(&["status", "--json"], Some(&dir)).json();
    let detail = st["rows"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        detail.contains("job create-admin 1/1") && detail.contains("job pull-model 1/1"),
        "{st}"
    );
    let logs = env
        .run(&["logs", "--service", "create-admin"], Some(&dir))
        .ok();
    assert!(logs.stdout.contains("==> create-admin-"), "{}", logs.stdout);
    env.run(&["destroy", "--all", "--yes"], None).ok();

    // A job that gives up (the stand-in's backoff compressed to 10 ms doubling).
    kube.post("/reset", serde_json::json!({}));
    kube.post("/config", serde_json::json!({"ready_ms": 10}));
    let env = lke_env(&kube);
    let _controllers = Controllers::start(env.sim.clone(), &kube);
    let dir = env.project("chat-webui");
    let admin = job_names
        .iter()
        .find(|n| n.starts_with("create-admin-"))
        .unwrap();
    hold(admin, "fail");
    let out = finish(
        spawn(&env, &["deploy", "--target", "lke"], &dir),
        Duration::from_secs(120),
    )
    .fails();
    assert!(
        out.stderr
            .contains("job create-admin failed: Job has reached the specified backoff limit")
            && out
                .stderr
                .contains("'linode-ai logs --service create-admin'"),
        "{}",
        out.stderr
    );
    assert!(kube.object("Deployment", ns, "proxy").is_none(), "no proxy");
    kube.post("/config", serde_json::json!({"ready_ms": 300}));
    env.run(&["destroy", "--all", "--yes"], None).ok();
    assert!(env.sim.lke_clusters().is_empty() && env.sim.firewalls().is_empty());
}

/// The cluster deleted by hand (its NodeBalancer and the claims' volumes
/// stay, as on LKE): `status` says `missing`, and `destroy` removes what it
/// left, the volumes by the labels recorded at deploy.
#[test]
fn a_cluster_deleted_by_hand_reads_missing_and_destroy_removes_what_it_left() {
    let kube = KubeSim::start();
    let env = lke_env(&kube);
    let controllers = Controllers::start(env.sim.clone(), &kube);
    let dir = env.project("embeddings");
    env.run(&["deploy", "--target", "lke"], Some(&dir)).ok();
    wait_until(
        "the NodeBalancer and two volumes",
        Duration::from_secs(20),
        || env.sim.nodebalancers().len() == 1 && env.sim.volumes().len() == 2,
    );
    let record = env.records()[0].clone();
    assert_eq!(
        record["lke"]["volume_labels"].as_array().map(Vec::len),
        Some(2),
        "{record}"
    );
    controllers.stop();
    let cid = env.sim.lke_clusters()[0]["id"].as_u64().unwrap();
    let deleted = reqwest::blocking::Client::new()
        .delete(format!("{}/lke/clusters/{cid}", env.sim.base_url()))
        .bearer_auth("test-token")
        .send()
        .unwrap();
    assert!(deleted.status().is_success());
    let st = env.run(&["status", "--json"], Some(&dir)).code(3).json();
    assert_eq!(st["rows"][0]["status"], "missing", "{st}");
    assert!(
        st["rows"][0]["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("LKE cluster {cid} no longer exists")),
        "{st}"
    );
    env.run(&["destroy", "--all", "--yes"], None).ok();
    assert!(
        env.sim.nodebalancers().is_empty(),
        "{:?}",
        env.sim.nodebalancers()
    );
    assert!(env.sim.volumes().is_empty(), "{:?}", env.sim.volumes());
    assert!(env.sim.firewalls().is_empty());
    assert!(env.records().is_empty());
}

/// What LKE cannot take is refused before anything is made; a cluster
/// create the API refuses leaves nothing (its firewall is deleted again).
#[test]
fn refused_lke_deploys_leave_nothing() {
    let kube = KubeSim::start();
    let env = lke_env(&kube);
    let dir = env.project("embeddings");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--region", "ap-west"],
            "region \"ap-west\" has no LKE (Kubernetes)",
        ),
        (
            &["--cluster", "999"],
            "--cluster 999: no LKE cluster 999 in this account",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["deploy", "--target", "lke"];
        args.extend_from_slice(flags);
        let out = env.run(&args, Some(&dir)).fails();
        assert!(out.stderr.contains(want), "{flags:?}: {}", out.stderr);
    }
    let llm = env.project("llm-api");
    let out = env
        .run(
            &[
                "deploy",
                "--target",
                "lke",
                "--linode-type",
                "g1-gpu-rtx6000-1",
            ],
            Some(&llm),
        )
        .fails();
    assert!(
        out.stderr.contains("cannot be an LKE node"),
        "{}",
        out.stderr
    );
    assert!(env.sim.firewalls().is_empty() && env.records().is_empty());
    assert!(env.posts_to("/v4/lke/clusters").is_empty());

    env.sim.add_fault(Fault {
        method: "POST".into(),
        path: "/v4/lke/clusters".into(),
        status: 400,
        reason: "Too many clusters".into(),
        ..Default::default()
    });
    let out = env.run(&["deploy", "--target", "lke"], Some(&dir)).fails();
    assert!(
        out.stderr.contains("creating LKE cluster")
            && out.stderr.contains("failed; nothing is left")
            && out.stderr.contains("Too many clusters"),
        "{}",
        out.stderr
    );
    assert_eq!(env.posts_to("/v4/networking/firewalls").len(), 1);
    assert!(env.sim.firewalls().is_empty(), "its firewall deleted again");
    assert!(env.records().is_empty());
}
