//! One module per command: parse results in, core calls, rendered output out.
//! Commands print (stdout for results, stderr for progress and notes) and
//! never speak HTTP themselves.

pub mod adopt;
pub mod deploy;
pub mod destroy;
pub mod hook;
pub mod image;
pub mod init;
pub mod logs;
pub mod park;
pub mod status;
pub mod templates;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Result;

use crate::blueprint::catalog::Catalog;
use crate::linode::LinodeClient;
use crate::output::Style;
use crate::paths::Paths;
use crate::registry::Registry;
use crate::settings::{ApiEnv, CliConfig, Tuning};

/// How the process ends (uv's `ExitStatus`, cargo's codes). Usage errors
/// exit 2 from clap itself, before any command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done.
    Success,
    /// 1: failed (the error is printed), or could not check.
    Failure,
    /// 3: checked, and something is not running (`status`, `hook test`).
    NotRunning,
    /// A child's own code passed through (`logs` runs ssh).
    External(u8),
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(match s {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::NotRunning => 3,
            ExitStatus::External(c) => c,
        })
    }
}

impl From<crate::workflow::status::Verdict> for ExitStatus {
    fn from(v: crate::workflow::status::Verdict) -> Self {
        use crate::workflow::status::Verdict;
        match v {
            Verdict::AllRunning => ExitStatus::Success,
            Verdict::NotAllRunning => ExitStatus::NotRunning,
            Verdict::CouldNotCheck => ExitStatus::Failure,
        }
    }
}

/// What every command gets: the process's inputs, gathered once in `main`.
pub struct Ctx {
    pub style: Style,
    pub as_user: Option<String>,
    pub paths: Paths,
    pub api_env: ApiEnv,
    pub tuning: Tuning,
    pub home: Option<PathBuf>,
}

impl Ctx {
    pub fn config(&self) -> Result<CliConfig> {
        CliConfig::load(
            self.paths.linode_cli_config.as_deref(),
            self.as_user.as_deref(),
        )
    }

    pub fn client(&self, config: &CliConfig) -> Result<LinodeClient> {
        LinodeClient::new(&config.api(&self.api_env), &self.tuning)
    }

    /// A client that must have a token.
    pub fn authed_client(&self) -> Result<LinodeClient> {
        let client = self.client(&self.config()?)?;
        if !client.has_token() {
            anyhow::bail!(crate::settings::missing_token_message());
        }
        Ok(client)
    }

    /// Stock plus installed templates; broken installed ones are warned about.
    pub fn catalog(&self) -> Catalog {
        let catalog = Catalog::load(&self.paths.templates);
        for p in &catalog.problems {
            self.warn(&format!("skipping installed template: {p}"));
        }
        catalog
    }

    /// The registry, made private if it was not.
    pub fn registry(&self) -> Registry {
        let r = Registry::new(self.paths.registry.clone());
        if let Some(note) = r.secure() {
            self.warn(&note);
        }
        r
    }

    pub fn warn(&self, msg: &str) {
        let s = self.style.for_stderr();
        eprintln!("{} {}", s.yellow("warning:"), crate::sanitize::block(msg));
    }

    pub fn note(&self, msg: &str) {
        eprintln!("note: {}", crate::sanitize::block(msg));
    }

    /// Asks a yes/no question on the terminal; false without one.
    pub fn confirm(&self, question: &str) -> Result<bool> {
        if !std::io::stdin().is_terminal() {
            return Ok(false);
        }
        eprint!("{question} [y/N] ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
    }
}

/// The process's one runtime, for the commands that talk HTTP.
pub fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    crate::rt::shared()
}
