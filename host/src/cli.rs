//! Command-line definitions (clap). Parsing only: no behaviour here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "linode-ai",
    version,
    about = "Deploy AI demo apps (Ollama chat, an OpenAI-compatible LLM API, embeddings) to a fresh Linode",
    long_about = "Deploy AI demo apps to a fresh Linode instance from public container images, using cloud-init.\n\
                  Pick a template, 'init' a project, 'deploy', watch 'status' until the URL answers, then 'destroy'.\n\n\
                  Auth and API settings come from linode-cli: LINODE_CLI_TOKEN or the token of linode-cli's default user."
)]
pub struct Cli {
    /// Use this linode-cli user's token and defaults instead of the default user.
    #[arg(long, global = true, value_name = "USER", env = "LINODE_AI_AS_USER")]
    pub as_user: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List and inspect AI templates
    #[command(subcommand)]
    Templates(TemplatesCmd),
    /// Initialize a local project from a template
    Init(InitArgs),
    /// Deploy the current AI project to Linode
    Deploy(DeployArgs),
    /// Show status of deployments
    Status(StatusArgs),
    /// Destroy a deployment and its Linode
    Destroy(DestroyArgs),
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum TemplatesCmd {
    /// List stock and installed templates
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a template's details
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Install a template (template.yml and its hook) from a directory
    Add {
        dir: PathBuf,
        /// Replace a stock or installed template of the same name
        #[arg(long)]
        force: bool,
    },
    /// Uninstall an installed template
    Remove { name: String },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Template name (see 'linode-ai templates list')
    pub template: String,
    /// Create the project here (must be empty or absent) instead of the current directory
    #[arg(long, short = 'd', value_name = "DIR")]
    pub directory: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Linode region id, e.g. us-ord
    #[arg(long)]
    pub region: Option<String>,
    /// Linode plan id, e.g. g6-standard-2
    #[arg(long)]
    pub linode_type: Option<String>,
    /// Env file to read (default: env.file from ai.linode.yml, i.e. .env)
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// Container image to run instead of the template's
    #[arg(long)]
    pub image: Option<String>,
    /// App name used in tags, label and the registry
    #[arg(long)]
    pub app_name: Option<String>,
    /// Environment name (default: "default")
    #[arg(long = "env", value_name = "ENV")]
    pub env_name: Option<String>,
    /// Port to publish the app on (default: the template's external_port)
    #[arg(long)]
    pub port: Option<u16>,
    /// SSH public key file to authorize for root (repeatable; default: ~/.ssh/*.pub)
    #[arg(long = "ssh-key", value_name = "FILE")]
    pub ssh_keys: Vec<PathBuf>,
    /// Wait until the app answers its health check
    #[arg(long)]
    pub wait: bool,
    /// Seconds to wait with --wait
    #[arg(long, default_value_t = 900, requires = "wait", value_name = "SECS")]
    pub timeout: u64,
    /// Show the request and user-data without creating anything (no token needed)
    #[arg(long)]
    pub dry_run: bool,
    /// Project directory (default: the current directory)
    #[arg(long, short = 'd', value_name = "DIR")]
    pub directory: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long)]
    pub app: Option<String>,
    #[arg(long = "env", value_name = "ENV")]
    pub env_name: Option<String>,
    /// Show Linode id, label, type, API status and last check
    #[arg(long, short = 'V')]
    pub verbose: bool,
    #[arg(long)]
    pub json: bool,
    /// Deployments checked at once
    #[arg(long, default_value_t = crate::status::DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub concurrency: u16,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[arg(long)]
    pub app: Option<String>,
    #[arg(long = "env", value_name = "ENV")]
    pub env_name: Option<String>,
    /// Destroy every matching deployment (needed when several match)
    #[arg(long)]
    pub all: bool,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[arg(long)]
    pub json: bool,
}
