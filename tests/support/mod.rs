//! Test harness: runs the real `linode-ai` binary in a private HOME against
//! the local Linode API stand-in. Every address is loopback.

#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use linode_sim::{app::AppServer, Fault, Sim, SimConfig};

pub struct Env {
    pub sim: Sim,
    pub home: tempfile::TempDir,
    pub extra: Vec<(String, String)>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    pub fn fails(self) -> Run {
        assert_eq!(
            self.code, 1,
            "expected exit 1\nstdout:\n{}\nstderr:\n{}",
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

impl Env {
    pub fn new() -> Env {
        Env::with(SimConfig {
            provisioning_ms: 300,
            booting_ms: 300,
            ..Default::default()
        })
    }

    pub fn with(config: SimConfig) -> Env {
        Env {
            sim: Sim::start(config),
            home: tempfile::tempdir().unwrap(),
            extra: vec![],
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

    pub fn project(&self, template: &str) -> PathBuf {
        let dir = self.home().join(format!("proj-{template}"));
        self.run(
            &["init", template, "--directory", dir.to_str().unwrap()],
            None,
        )
        .ok();
        dir
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
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for (k, v) in &self.extra {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str], cwd: Option<&Path>) -> Run {
        Run::from(self.cmd(args, cwd).output().expect("run linode-ai"))
    }

    /// `deploy --dry-run --json` in `dir`, which must succeed.
    pub fn dry_run_json(&self, dir: &Path) -> serde_json::Value {
        self.run(&["deploy", "--dry-run", "--json"], Some(dir))
            .ok()
            .json()
    }

    pub fn posts(&self) -> Vec<serde_json::Value> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/v4/linode/instances")
            .map(|r| r.body.unwrap_or_default())
            .collect()
    }
}
