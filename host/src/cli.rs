//! Command-line definitions (clap). Parsing only: no behaviour here.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::settings::{parse_millis, parse_seconds, Tuning};

#[derive(Debug, Parser)]
#[command(
    name = "linode-ai",
    version,
    about = "Deploy AI demo apps (Ollama chat, an OpenAI-compatible LLM API, embeddings) to a fresh Linode",
    long_about = "Deploy AI demo apps to a fresh Linode instance from public container images, using cloud-init.\n\
                  Pick a template, 'init' a project, 'deploy', watch 'status' until the URL answers, then 'destroy'.\n\
                  Every deployment gets HTTPS on its own name, an API key in front of the app and a Cloud Firewall.\n\n\
                  Auth and API settings come from linode-cli: LINODE_CLI_TOKEN or the token of linode-cli's default user."
)]
pub struct Cli {
    /// Use this linode-cli user's token and defaults instead of the default user.
    #[arg(long, global = true, value_name = "USER", env = "LINODE_AI_AS_USER")]
    pub as_user: Option<String>,

    #[command(flatten)]
    pub tuning: TuningArgs,

    #[command(subcommand)]
    pub command: Command,
}

// These knobs are usually set through their environment variable, so the
// error names it (clap names only the flag).
fn seconds(v: &str) -> Result<Duration, String> {
    parse_seconds(v, 3600.0).map_err(|e| format!("{e} (LINODE_AI_API_TIMEOUT_SECS)"))
}
fn budget(v: &str) -> Result<Duration, String> {
    if v.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    parse_seconds(v, 3600.0).map_err(|e| format!("{e} (LINODE_AI_RETRY_BUDGET_SECS)"))
}
fn retry_ms(v: &str) -> Result<Duration, String> {
    parse_millis(v, 1..=60_000).map_err(|e| format!("{e} (LINODE_AI_RETRY_BASE_MS)"))
}
fn poll_ms(v: &str) -> Result<Duration, String> {
    parse_millis(v, 10..=600_000).map_err(|e| format!("{e} (LINODE_AI_POLL_MS)"))
}
/// A value that may not be empty: `--region ""` is a mistake, not "the default".
fn non_empty(v: &str) -> Result<String, String> {
    if v.trim().is_empty() {
        return Err("must not be empty (leave the flag out to use the default)".into());
    }
    Ok(v.to_string())
}

/// Knobs for timeouts, retries and tests (hidden; set by environment variable).
#[derive(Debug, Args)]
pub struct TuningArgs {
    /// Per-request API timeout in seconds.
    #[arg(long, global = true, hide = true, env = "LINODE_AI_API_TIMEOUT_SECS", value_parser = seconds, value_name = "SECS")]
    pub api_timeout_secs: Option<Duration>,
    /// First retry backoff in milliseconds (doubles, capped at 30 s).
    #[arg(long, global = true, hide = true, env = "LINODE_AI_RETRY_BASE_MS", value_parser = retry_ms, value_name = "MS")]
    pub retry_base_ms: Option<Duration>,
    /// No API retry starts after this many seconds.
    #[arg(long, global = true, hide = true, env = "LINODE_AI_RETRY_BUDGET_SECS", value_parser = budget, value_name = "SECS")]
    pub retry_budget_secs: Option<Duration>,
    /// `deploy --wait` poll interval in milliseconds.
    #[arg(long, global = true, hide = true, env = "LINODE_AI_POLL_MS", value_parser = poll_ms, value_name = "MS")]
    pub poll_ms: Option<Duration>,
    /// A PEM CA certificate the health probes trust besides the public roots.
    #[arg(
        long,
        global = true,
        hide = true,
        env = "LINODE_AI_PROBE_CA",
        value_name = "FILE"
    )]
    pub probe_ca: Option<PathBuf>,
    /// The port `linode-ai logs` connects to.
    #[arg(
        long,
        global = true,
        hide = true,
        env = "LINODE_AI_SSH_PORT",
        value_name = "PORT"
    )]
    pub ssh_port: Option<u16>,
}

impl TuningArgs {
    pub fn tuning(&self) -> Tuning {
        let d = Tuning::default();
        Tuning {
            api_timeout: self.api_timeout_secs.unwrap_or(d.api_timeout),
            retry_base: self.retry_base_ms.unwrap_or(d.retry_base),
            retry_budget: self.retry_budget_secs.unwrap_or(d.retry_budget),
            poll: self.poll_ms.unwrap_or(d.poll),
            probe_ca: self.probe_ca.clone(),
            ssh_port: self.ssh_port.filter(|p| *p != 0).unwrap_or(d.ssh_port),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, inspect, create and install templates
    #[command(subcommand)]
    Templates(TemplatesCmd),
    /// Initialize a local project from a template
    Init(InitArgs),
    /// Deploy the current AI project to Linode
    Deploy(DeployArgs),
    /// Show status of deployments (and of linode-ai resources in the account)
    #[command(
        after_help = "Exit codes: 0 every deployment is running (or parked); 3 checked, and something is not \
                            running (or --app/--env match nothing); 1 could not check (API error, authentication, malformed answer); \
                            2 usage error."
    )]
    Status(StatusArgs),
    /// Record deployments found in the account but not in this machine's registry
    Adopt(AdoptArgs),
    /// Show a deployment's boot log or its app's logs (over SSH)
    Logs(LogsArgs),
    /// Destroy a deployment: its Linode, its firewall and its record
    Destroy(DestroyArgs),
    /// Stop paying for a deployment's Linode: delete it, keep its cache volume,
    /// firewall and record ('resume' brings it back without downloading again)
    Park(ParkArgs),
    /// Bring a parked deployment back: a new Linode on its kept cache volume
    Resume(ResumeArgs),
    /// GPU base Images: Docker and the NVIDIA driver preinstalled, so GPU
    /// deploys skip the driver install
    #[command(subcommand)]
    Image(ImageCmd),
    /// Run a template's hook on your machine
    #[command(subcommand)]
    Hook(HookCmd),
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Compiles a hook component in a bounded child process (internal).
    #[command(name = "__compile-hook", hide = true)]
    CompileHook { input: PathBuf, output: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum TemplatesCmd {
    /// List stock and installed templates
    List {
        /// Print machine-readable JSON on stdout instead of text
        #[arg(long)]
        json: bool,
    },
    /// Show a template's details
    Show {
        name: String,
        /// Print machine-readable JSON on stdout instead of text
        #[arg(long)]
        json: bool,
    },
    /// Install a template (template.yml and its hook) from a directory
    Add {
        dir: PathBuf,
        /// Replace a stock or installed template of the same name
        #[arg(long)]
        force: bool,
        /// Read the directory on every use (edit and re-run without re-adding)
        #[arg(long)]
        dev: bool,
    },
    /// Uninstall an installed template
    Remove { name: String },
    /// Create a template directory to edit (with a Rust hook crate on the guest SDK)
    New {
        name: String,
        /// Start from this template's services (default: chat-agent)
        #[arg(long, value_name = "TEMPLATE", default_value = "chat-agent")]
        from: String,
        /// Include a hook crate
        #[arg(long, value_enum, default_value = "rust")]
        hook: HookLang,
        /// Where to create it (default: ./NAME)
        #[arg(long, short = 'd', value_name = "DIR")]
        directory: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HookLang {
    Rust,
    None,
}

#[derive(Debug, Subcommand)]
pub enum HookCmd {
    /// Runs a template's evaluate-health on a probe given here (no Linode needed)
    Test {
        /// A template directory, or the name of an installed template
        template: String,
        /// The fronted service's HTTP status
        #[arg(long, default_value_t = 200)]
        probe_status: u16,
        /// File holding the probe's body
        #[arg(long, value_name = "FILE")]
        probe_body: Option<PathBuf>,
        /// The probe got no answer, with this message
        #[arg(long, value_name = "MESSAGE", conflicts_with_all = ["probe_body"])]
        probe_error: Option<String>,
        /// A variable's value the hook sees (in status only public ones are known), KEY=VALUE.
        /// (`--env` names an environment in deploy/status/destroy; here it is kept as an alias)
        #[arg(long = "var", visible_alias = "env", value_name = "KEY=VALUE")]
        env: Vec<String>,
        /// Print machine-readable JSON on stdout instead of text
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Template name (see 'linode-ai templates list')
    pub template: String,
    /// Create the project here (must be empty or absent) instead of the current directory
    #[arg(long, short = 'd', value_name = "DIR")]
    pub directory: Option<PathBuf>,
}

/// `deploy --target`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TargetKind {
    /// One Linode booted by cloud-init.
    #[default]
    Vm,
    /// A Linode Kubernetes Engine cluster.
    Lke,
}

#[derive(Debug, Default, Args)]
pub struct DeployArgs {
    /// Where it runs: one Linode (`vm`), or an LKE cluster (`lke`: a new
    /// one sized from the template, or --cluster)
    #[arg(long, value_enum, default_value = "vm")]
    pub target: TargetKind,
    /// LKE: an existing cluster's id (linode-ai then never deletes it)
    #[arg(long, value_name = "ID")]
    pub cluster: Option<u64>,
    /// LKE: replicas of the fronted service (a stateless one), one node each
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub replicas: u32,
    /// Linode region id, e.g. us-ord
    #[arg(long, value_parser = non_empty)]
    pub region: Option<String>,
    /// Linode plan id, e.g. g6-standard-2
    #[arg(long, value_parser = non_empty)]
    pub linode_type: Option<String>,
    /// Env file to read (default: env.file from ai.linode.yml, i.e. .env)
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// Container image for the app (the service the proxy fronts) instead of the template's
    #[arg(long, value_parser = non_empty)]
    pub image: Option<String>,
    /// App name used in tags, label and the registry
    #[arg(long, value_parser = non_empty)]
    pub app_name: Option<String>,
    /// Environment name (default: "default")
    #[arg(long = "env", value_name = "ENV", value_parser = non_empty)]
    pub env_name: Option<String>,
    /// HTTPS port the proxy listens on (default 443; port 80 always serves the certificate check)
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Serve your own DNS name instead of a-b-c-d.ip.linodeusercontent.com (its A
    /// record is made when the name is in your Linode DNS Manager; otherwise
    /// point it at the instance yourself)
    #[arg(long, value_name = "NAME", value_parser = non_empty)]
    pub domain: Option<String>,
    /// ACME directory the certificate is ordered from (default Let's Encrypt; its staging
    /// directory spares the 5-certificates-a-week limit when you redeploy often)
    #[arg(long, value_name = "URL")]
    pub acme_ca: Option<String>,
    /// Expire after this long: 90m, 8h, 2d (`none`: never; default: the
    /// template's, e.g. 8h on GPU plans). `status` marks it then and
    /// `linode-ai destroy --expired` removes it (run it from cron)
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// The model to serve instead of the template's: an Ollama name (chat-agent,
    /// chat-webui, rag: llama3.2:1b) or a Hugging Face repo id (llm-api,
    /// embeddings: Qwen/Qwen2.5-1.5B-Instruct); checked for form before any API call
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// A cache volume of N GB (Block Storage, $0.10/GB-month) holding Docker's
    /// images and the models, instead of the template's size
    #[arg(long = "cache-gb", value_name = "N", conflicts_with = "no_cache")]
    pub cache_gb: Option<u32>,
    /// No cache volume, even when the template has one (every boot downloads again)
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// SSH public key file to authorize for root (repeatable; default: ~/.ssh/*.pub)
    #[arg(long = "ssh-key", value_name = "FILE")]
    pub ssh_keys: Vec<PathBuf>,
    /// Open SSH only to this network (repeatable; default: everyone). Needs a key.
    #[arg(long = "ssh-from", value_name = "CIDR")]
    pub ssh_from: Vec<String>,
    /// Attach this existing Cloud Firewall instead of creating one (kept on destroy)
    #[arg(long, value_name = "ID", conflicts_with = "no_firewall")]
    pub firewall: Option<u64>,
    /// Create no Cloud Firewall (every port the instance opens is reachable)
    #[arg(long)]
    pub no_firewall: bool,
    /// When this app/env already exists: make the new one, then destroy the old
    #[arg(long, conflicts_with = "new")]
    pub replace: bool,
    /// When this app/env already exists: make another one beside it
    #[arg(long)]
    pub new: bool,
    /// Wait until the app answers its health check
    #[arg(long)]
    pub wait: bool,
    /// Seconds to wait with --wait
    #[arg(long, default_value_t = 1800, requires = "wait", value_name = "SECS")]
    pub timeout: u64,
    /// Show the requests and user-data without creating anything (no token needed)
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (replacing a deployment)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Project directory (default: the current directory)
    #[arg(long, short = 'd', value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// Print machine-readable JSON on stdout instead of text
    #[arg(long)]
    pub json: bool,
}

/// Which deployments a command is about (`--app`, `--env`; both optional).
#[derive(Debug, Args)]
pub struct Which {
    /// Only this app's deployments
    #[arg(long, value_parser = non_empty)]
    pub app: Option<String>,
    /// Only deployments of this environment
    #[arg(long = "env", value_name = "ENV", value_parser = non_empty)]
    pub env_name: Option<String>,
}

impl Which {
    pub fn app(&self) -> Option<&str> {
        self.app.as_deref()
    }
    pub fn env(&self) -> Option<&str> {
        self.env_name.as_deref()
    }
    pub fn any(&self) -> bool {
        self.app.is_some() || self.env_name.is_some()
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub which: Which,
    /// Show Linode id, type, firewall, price, API status, HTTP status, hook log lines
    #[arg(long, short = 'V')]
    pub verbose: bool,
    /// Print machine-readable JSON on stdout instead of text
    #[arg(long)]
    pub json: bool,
    /// Deployments checked at once
    #[arg(long, default_value_t = crate::workflow::status::DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub concurrency: u16,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    #[command(flatten)]
    pub which: Which,
    /// Adopt every untracked deployment
    #[arg(long)]
    pub all: bool,
    /// Print machine-readable JSON on stdout instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub which: Which,
    /// A deployment id (or its first characters) or a Linode id
    #[arg(long)]
    pub id: Option<String>,
    /// cloud-init's status and the boot log instead of the app's logs
    #[arg(long)]
    pub boot: bool,
    /// A service's logs (default: the one the proxy fronts)
    #[arg(long, conflicts_with = "boot")]
    pub service: Option<String>,
    /// Keep printing new lines
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Lines to show
    #[arg(long, default_value_t = 200)]
    pub lines: u32,
    /// SSH private key to use (default: ssh's own choice)
    #[arg(long, short = 'i', value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

/// Which deployments `destroy` and `park` act on, and how they answer.
#[derive(Debug, Args)]
pub struct Pick {
    #[command(flatten)]
    pub which: Which,
    /// A deployment id (or its first 6+ characters), a Linode id, or a firewall label
    #[arg(long)]
    pub id: Option<String>,
    /// Every matching deployment (needed when several match)
    #[arg(long)]
    pub all: bool,
    /// The deployments whose expiry (deploy --ttl) has passed, all of them (or
    /// those of --app/--env); nothing expired is not an error
    #[arg(long, conflicts_with = "id")]
    pub expired: bool,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print machine-readable JSON on stdout instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub pick: Pick,
    /// Keep the cache volumes (Docker's images and the models): a later deploy
    /// can use them; they keep costing $0.10/GB-month until destroyed
    #[arg(long = "keep-volume")]
    pub keep_volume: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImageCmd {
    /// Build a private Image with Docker, the NVIDIA driver for its kernel and
    /// the container toolkit: a GPU Linode installs them, powers off, its disk
    /// is captured and the Linode deleted (15-25 minutes of a GPU plan)
    Build(ImageBuildArgs),
    /// List the account's GPU base Images with their size and monthly price
    List {
        /// Print machine-readable JSON on stdout instead of text
        #[arg(long)]
        json: bool,
    },
    /// Delete a GPU base Image (GPU deploys then install the driver again)
    Delete {
        /// The Image's id (`private/123`)
        id: String,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct ImageBuildArgs {
    /// A GPU base Image (the only kind)
    #[arg(long, required = true)]
    pub gpu: bool,
    /// Region of the build Linode and of the Image (default: llm-api's)
    #[arg(long)]
    pub region: Option<String>,
    /// GPU plan of the build Linode (default: llm-api's)
    #[arg(long, value_name = "TYPE")]
    pub linode_type: Option<String>,
    /// Ubuntu NVIDIA driver branch (default: llm-api's, 580-server)
    #[arg(long, value_name = "BRANCH")]
    pub driver: Option<String>,
    /// Seconds the build may take before it is given up and deleted
    #[arg(long, default_value_t = 2400)]
    pub timeout: u64,
    /// Show the plan and the build's user-data; create nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Print machine-readable JSON on stdout instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ParkArgs {
    #[command(flatten)]
    pub pick: Pick,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Wait until the app answers its health check
    #[arg(long)]
    pub wait: bool,
    /// Seconds to wait with --wait
    #[arg(long, default_value_t = 1800, requires = "wait", value_name = "SECS")]
    pub timeout: u64,
    /// Expiry of the resumed deployment, from now (as deploy --ttl)
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// SSH public key file to authorize for root (repeatable; default: ~/.ssh/*.pub)
    #[arg(long = "ssh-key", value_name = "FILE")]
    pub ssh_keys: Vec<PathBuf>,
    /// Show the plan without creating anything
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Project directory (default: the current directory): its template and .env
    #[arg(long, short = 'd', value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// Print machine-readable JSON on stdout instead of text
    #[arg(long)]
    pub json: bool,
}
