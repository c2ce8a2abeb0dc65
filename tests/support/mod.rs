//! Test harness: runs the real `linode-ai` binary in a private HOME against
//! the local Linode API stand-in. Every address is loopback; every child
//! process has a time limit; waits poll for readiness instead of sleeping.

#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use linode_sim::{app::AppServer, app::TestCa, Fault, Sim, SimConfig};

/// How long any one run of the binary may take before it is killed as hung.
/// A guard against hangs, not a judge of speed: generous, because a debug
/// build compiling the Python hook example (28-37 s when idle) took over
/// 120 s on a loaded 2-core machine. Speed is measured in tests/bench.sh.
/// The stock templates, in the catalog's order.
#[allow(dead_code)]
pub const STOCK_TEMPLATES: [&str; 5] = ["chat-agent", "chat-webui", "llm-api", "embeddings", "rag"];

pub const CHILD_LIMIT: Duration = Duration::from_secs(600);

/// Fails if work that usually takes about `typical` took ten times that: a
/// guard against hangs (a guest sleeping an hour, a read that never ends),
/// not a speed check, which a shared machine would fail at random.
pub fn assert_no_hang(what: &str, took: Duration, typical: Duration) {
    let limit = typical * 10;
    assert!(
        took < limit,
        "{what} took {took:?}, past {limit:?}: this bound guards against hangs, it is not a speed check (usually well under {typical:?})"
    );
}

/// Whether this is a CI run (`CI` set, as CI services do): there a test may
/// not pass by skipping what it tests.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

pub struct Env {
    /// Shared by every "machine" of a test (one account).
    pub sim: std::sync::Arc<Sim>,
    pub home: tempfile::TempDir,
    pub extra: Vec<(String, String)>,
    /// Signs the certificates of the HTTPS stand-ins; trusted by the probes.
    pub ca: TestCa,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
    pub fn ok(self) -> Run {
        self.code(0)
    }
    pub fn fails(self) -> Run {
        self.code(1)
    }
    pub fn code(self, want: i32) -> Run {
        assert_eq!(
            self.code, want,
            "expected exit {want}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_linode-ai")
}

/// Runs `cmd` to completion within `limit`, killing it (and failing) if it hangs.
pub fn run_limited(mut cmd: Command, limit: Duration, what: &str) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap_or_else(|e| panic!("{what}: {e}")),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("{what}: still running after {limit:?}; killed");
        }
    }
}

/// Polls `cond` until it holds, failing with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What the official Linode spec (the subset in tests/data) finds wrong with
/// a request body; `name` is `POST /volumes`, `PUT /linode/instances/{linodeId}`...
pub fn spec_errors(name: &str, body: &serde_json::Value) -> Vec<String> {
    static SPEC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(|| {
        serde_json::from_str(include_str!("../data/linode-openapi-subset.json")).unwrap()
    });
    let schema = &spec["requests"][name];
    assert!(schema.is_object(), "{name} is in the subset");
    jsonschema::validator_for(schema)
        .unwrap()
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

/// The name a Linode at the stand-in's address (127.0.0.1) serves: derived
/// from the IPv4, as its boot derives it (the stand-in's rDNS, `localhost`,
/// stands for a custom rDNS name, which is not used).
pub const SERVED_NAME: &str = "127-0-0-1.ip.linodeusercontent.com";

impl Env {
    pub fn new() -> Env {
        Env::with(SimConfig {
            provisioning_ms: 300,
            booting_ms: 300,
            ..Default::default()
        })
    }

    pub fn with(config: SimConfig) -> Env {
        let home = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        ca.write(&home.path().join("probe-ca.pem"));
        Env {
            sim: std::sync::Arc::new(Sim::start(config)),
            home,
            extra: vec![],
            ca,
        }
    }

    /// A second machine (its own home and registry) on the same account.
    pub fn other_machine(&self) -> Env {
        let home = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        ca.write(&home.path().join("probe-ca.pem"));
        Env {
            sim: self.sim.clone(),
            home,
            extra: self.extra.clone(),
            ca,
        }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn registry_path(&self) -> PathBuf {
        self.home().join("config/linode-ai/ai-deployments.json")
    }

    pub fn registry(&self) -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.registry_path())
                .unwrap_or_else(|_| "{\"deployments\":[]}".into()),
        )
        .unwrap()
    }

    pub fn records(&self) -> Vec<serde_json::Value> {
        self.registry()["deployments"].as_array().unwrap().clone()
    }

    /// `init <template>` into a fresh directory.
    pub fn project(&self, template: &str) -> PathBuf {
        let dir = self.home().join(format!("proj-{template}-{}", uuid_like()));
        self.run(
            &["init", template, "--directory", dir.to_str().unwrap()],
            None,
        )
        .ok();
        dir
    }

    /// An HTTPS stand-in for a deployed proxy, trusted by the probes, with a
    /// certificate for the name a deployment on the stand-in's 127.0.0.1
    /// serves.
    pub fn https_app(&self) -> AppServer {
        AppServer::https(&self.ca, &["localhost", SERVED_NAME])
    }

    pub fn cmd(&self, args: &[&str], cwd: Option<&Path>) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .current_dir(cwd.unwrap_or(self.home()))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join("config"))
            .env("XDG_DATA_HOME", self.home().join("data"))
            .env("XDG_CACHE_HOME", self.home().join("cache"))
            .env(
                "LINODE_CLI_API_HOST",
                format!("127.0.0.1:{}", self.sim.port),
            )
            .env("LINODE_CLI_API_SCHEME", "http")
            .env("LINODE_CLI_TOKEN", "test-token")
            .env("LINODE_AI_RETRY_BASE_MS", "20")
            .env("LINODE_AI_POLL_MS", "100")
            .env("LINODE_AI_PROBE_CA", self.home().join("probe-ca.pem"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for (k, v) in &self.extra {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str], cwd: Option<&Path>) -> Run {
        Run::from(run_limited(
            self.cmd(args, cwd),
            CHILD_LIMIT,
            &format!("linode-ai {}", args.join(" ")),
        ))
    }

    /// `deploy --dry-run --json` in `dir`, which must succeed.
    pub fn dry_run_json(&self, dir: &Path) -> serde_json::Value {
        self.run(&["deploy", "--dry-run", "--json"], Some(dir))
            .ok()
            .json()
    }

    pub fn posts(&self) -> Vec<serde_json::Value> {
        self.posts_to("/v4/linode/instances")
    }

    pub fn posts_to(&self, path: &str) -> Vec<serde_json::Value> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == path)
            .map(|r| r.body.unwrap_or_default())
            .collect()
    }

    /// Waits until every instance of the stand-in is running.
    pub fn wait_running(&self) {
        wait_for("instances to be running", Duration::from_secs(10), || {
            self.sim
                .instances()
                .iter()
                .all(|i| i["status"] == "running")
        });
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{}", N.fetch_add(1, Ordering::Relaxed))
}

/// The user-data a create request carried, decoded.
pub fn user_data(post: &serde_json::Value) -> String {
    use base64::Engine;
    let ud = post["metadata"]["user_data"].as_str().unwrap();
    assert!(!ud.contains('\n'), "one line of base64");
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(ud)
            .unwrap(),
    )
    .unwrap()
}

/// After a run was killed mid-way: `status` on this machine and on another
/// sees exactly one deployment, and never says it could not check (exit 1).
pub fn assert_status_sees_one(env: &Env, what: &str) {
    for e in [env, &env.other_machine()] {
        let out = e.run(&["status", "--json"], None);
        assert_ne!(
            out.code, 1,
            "{what}: status could not check:\n{}{}",
            out.stdout, out.stderr
        );
        let j = out.json();
        assert_eq!(j["rows"].as_array().unwrap().len(), 1, "{what}: {j}");
    }
}

/// Writes `.env` in `dir`.
pub fn write_env(dir: &Path, text: &str) {
    std::fs::write(dir.join(".env"), text).unwrap();
}
