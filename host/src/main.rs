use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use linode_ai::cli::{Cli, Command, TemplatesCmd};
use linode_ai::commands::{self, Ctx};
use linode_ai::output::{error_report, is_broken_pipe, Style};

/// Usage errors exit 2 (clap); `status` exits 3 when something is not
/// running; everything else that fails exits 1; a closed stdout exits quietly.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let style = Style::detect();
    let result = run(&cli, style);
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprint!("{}", error_report(&e, &style.for_stderr()));
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli, style: Style) -> anyhow::Result<u8> {
    let ctx = Ctx {
        style,
        as_user: cli.as_user.clone(),
        paths: linode_ai::paths::Paths::from_process()?,
        api_env: linode_ai::settings::ApiEnv::from_process(),
        tuning: cli.tuning.tuning(),
        home: dirs::home_dir(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let code = match &cli.command {
        Command::Templates(TemplatesCmd::List { json }) => {
            commands::templates::list(&ctx, *json, &mut out).map(|()| 0)
        }
        Command::Templates(TemplatesCmd::Show { name, json }) => {
            commands::templates::show(&ctx, name, *json, &mut out).map(|()| 0)
        }
        Command::Templates(TemplatesCmd::Add { dir, force }) => {
            commands::templates::add(&ctx, dir, *force, &mut out).map(|()| 0)
        }
        Command::Templates(TemplatesCmd::Remove { name }) => {
            commands::templates::remove(&ctx, name, &mut out).map(|()| 0)
        }
        Command::Init(a) => {
            commands::init::run(&ctx, &a.template, a.directory.as_deref(), &mut out).map(|()| 0)
        }
        Command::Deploy(a) => commands::deploy::run(&ctx, a, &mut out).map(|()| 0),
        Command::Status(a) => commands::status::run(&ctx, a, &mut out),
        Command::Adopt(a) => commands::adopt::run(&ctx, a, &mut out).map(|()| 0),
        Command::Logs(a) => commands::logs::run(&ctx, a, &mut out),
        Command::Destroy(a) => commands::destroy::run(&ctx, a, &mut out).map(|()| 0),
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "linode-ai", &mut buf);
            out.write_all(&buf)?;
            Ok(0)
        }
    }?;
    out.flush()?;
    Ok(code)
}
