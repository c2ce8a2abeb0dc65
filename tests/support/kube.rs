//! The Kubernetes API stand-in (tests/kube-sim/kube_sim.py) as a child
//! process, and a stand-in for what LKE's cloud controller and CSI driver do
//! in the Linode account when the cluster's objects ask for them.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use linode_sim::{KubeApi, Sim};
use serde_json::{json, Value};

/// kube_sim.py, running until dropped.
pub struct KubeSim {
    child: Child,
    pub server: String,
    pub ca_pem: String,
    pub token: String,
    pub admin: String,
    _dir: tempfile::TempDir,
}

impl Drop for KubeSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/kube-sim/kube_sim.py")
}

impl KubeSim {
    pub fn start() -> KubeSim {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(script())
            .args(["--port", "0", "--state-dir"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
            .spawn()
            .expect("start python3 tests/kube-sim/kube_sim.py");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "kube-sim did not start ({e}): {}",
                std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
            )
        });
        let s = |k: &str| v[k].as_str().unwrap().to_string();
        KubeSim {
            server: s("server"),
            ca_pem: s("ca_pem"),
            token: s("token"),
            admin: s("admin"),
            child,
            _dir: dir,
        }
    }

    pub fn api(&self) -> KubeApi {
        KubeApi {
            server: self.server.clone(),
            ca_pem: self.ca_pem.clone(),
            token: self.token.clone(),
        }
    }

    fn http() -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    /// Every object of `kind` (all namespaces), as the admin API lists them.
    pub fn objects(&self, kind: &str) -> Vec<Value> {
        let url = format!("{}/objects?kind={kind}", self.admin);
        admin_items(&Self::http(), &url).unwrap_or_else(|| panic!("kube-sim: GET {url}"))
    }

    /// The object of `kind` named `name` in `namespace`, if any.
    pub fn object(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.objects(kind)
            .into_iter()
            .find(|o| o["metadata"]["name"] == name && o["metadata"]["namespace"] == namespace)
    }

    /// The request log.
    pub fn requests(&self) -> Vec<Value> {
        let url = format!("{}/requests", self.admin);
        admin_items(&Self::http(), &url).unwrap_or_else(|| panic!("kube-sim: GET {url}"))
    }

    /// Clears the injected faults.
    pub fn delete_faults(&self) {
        Self::http()
            .delete(format!("{}/fail", self.admin))
            .send()
            .unwrap();
    }

    pub fn post(&self, path: &str, body: Value) -> Value {
        Self::http()
            .post(format!("{}{path}", self.admin))
            .json(&body)
            .send()
            .unwrap()
            .json()
            .unwrap_or(Value::Null)
    }
}

/// The `items` of an admin API answer (`{"items": [...]}`); `None` when
/// kube-sim did not answer.
fn admin_items(http: &reqwest::blocking::Client, url: &str) -> Option<Vec<Value>> {
    let v: Value = http.get(url).send().ok()?.json().ok()?;
    Some(v["items"].as_array().cloned().unwrap_or_default())
}

/// What the cluster's cloud controller and CSI driver do in the account:
/// a NodeBalancer (tagged as the Service's annotation says) once a
/// LoadBalancer Service has its address, removed with the Service; a
/// volume labelled as the driver labels it once a claim is bound (kept when
/// the claim goes: the retain storage class).
pub struct Controllers {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub made: Arc<Mutex<HashMap<String, u64>>>,
}

impl Drop for Controllers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const TAGS_ANNOTATION: &str = "service.beta.kubernetes.io/linode-loadbalancer-tags";

impl Controllers {
    pub fn start(sim: Arc<Sim>, kube: &KubeSim) -> Controllers {
        let stop = Arc::new(AtomicBool::new(false));
        let made: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let admin = kube.admin.clone();
        let (s, m) = (stop.clone(), made.clone());
        let thread = std::thread::spawn(move || {
            let http = KubeSim::http();
            // Nothing while kube-sim is going away at the test's end.
            let list = |kind: &str| -> Vec<Value> {
                admin_items(&http, &format!("{admin}/objects?kind={kind}")).unwrap_or_default()
            };
            while !s.load(Ordering::SeqCst) {
                let cluster = sim.lke_clusters().first().and_then(|c| c["id"].as_u64());
                if let Some(cid) = cluster {
                    let services = list("Service");
                    let mut seen = Vec::new();
                    for svc in &services {
                        let key = format!(
                            "svc/{}/{}",
                            svc["metadata"]["namespace"].as_str().unwrap_or(""),
                            svc["metadata"]["name"].as_str().unwrap_or("")
                        );
                        let has_address = svc["status"]["loadBalancer"]["ingress"]
                            .as_array()
                            .is_some_and(|a| !a.is_empty());
                        if !has_address || svc["metadata"]["deletionTimestamp"].is_string() {
                            continue;
                        }
                        seen.push(key.clone());
                        let mut made = m.lock().unwrap();
                        if let std::collections::hash_map::Entry::Vacant(slot) =
                            made.entry(key.clone())
                        {
                            let tags: Vec<String> = svc["metadata"]["annotations"][TAGS_ANNOTATION]
                                .as_str()
                                .map(|t| t.split(',').map(str::to_string).collect())
                                .unwrap_or_default();
                            let name = key.trim_start_matches("svc/");
                            slot.insert(sim.ccm_nodebalancer_tagged(cid, name, &tags));
                        }
                    }
                    {
                        let mut made = m.lock().unwrap();
                        let gone: Vec<String> = made
                            .keys()
                            .filter(|k| k.starts_with("svc/") && !seen.contains(k))
                            .cloned()
                            .collect();
                        for k in gone {
                            let id = made.remove(&k).unwrap();
                            sim.remove_nodebalancer(id);
                        }
                    }
                    let claims = list("PersistentVolumeClaim");
                    // A claim gone (its pod with it): the driver detaches its
                    // volume from the node; the retain class keeps the volume.
                    {
                        let mut made = m.lock().unwrap();
                        let live: Vec<String> = claims
                            .iter()
                            .map(|p| {
                                let uid = p["metadata"]["uid"].as_str().unwrap_or("");
                                format!("pvc/{}", uid.replace('-', ""))
                            })
                            .collect();
                        let gone: Vec<String> = made
                            .keys()
                            .filter(|k| k.starts_with("pvc/") && !live.contains(k))
                            .cloned()
                            .collect();
                        for k in gone {
                            let id = made.remove(&k).unwrap();
                            sim.detach_volume(id);
                        }
                    }
                    for pvc in claims {
                        if pvc["status"]["phase"] != "Bound" {
                            continue;
                        }
                        let uid = pvc["metadata"]["uid"]
                            .as_str()
                            .unwrap_or("")
                            .replace('-', "");
                        let key = format!("pvc/{uid}");
                        let mut made = m.lock().unwrap();
                        if !made.contains_key(&key) && uid.len() >= 16 {
                            let label = format!("pvc-{}", &uid[..16]);
                            let id = sim.csi_volume_labelled(cid, 10, Some(&label));
                            made.insert(key, id);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Controllers {
            stop,
            thread: Some(thread),
            made,
        }
    }

    /// Stops playing the controllers (what a cluster deleted by hand does).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Waits for `cond`, up to `limit`.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Secret's value (`data` is base64).
pub fn secret_value(secret: &Value, key: &str) -> Option<String> {
    use base64::Engine;
    if let Some(v) = secret["stringData"][key].as_str() {
        return Some(v.to_string());
    }
    let b = secret["data"][key].as_str()?;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).ok()?).ok()
}

pub fn json_body(v: &Value) -> Value {
    json!(v)
}
