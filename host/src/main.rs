use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use linode_ai::cli::{Cli, Command, HookCmd, TemplatesCmd};
use linode_ai::commands::{self, Ctx, ExitStatus};
use linode_ai::output::{error_report, is_broken_pipe, Style};

/// Usage errors exit 2 (clap); the rest is [`ExitStatus`]: `status` and `hook
/// test` exit 3 when something is not running; everything else that fails
/// exits 1; a closed stdout exits quietly.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let style = Style::detect();
    match run(&cli, style) {
        Ok(status) => status.into(),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprint!("{}", error_report(&e, &style.for_stderr()));
            ExitStatus::Failure.into()
        }
    }
}

fn run(cli: &Cli, style: Style) -> anyhow::Result<ExitStatus> {
    if let Command::CompileHook { input, output } = &cli.command {
        // The bounded compiler child (see hooks::cache): no config, just the artifact.
        return linode_ai::hooks::cache::compile_main(input, output).map(|()| ExitStatus::Success);
    }
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
    let ok = |r: anyhow::Result<()>| r.map(|()| ExitStatus::Success);
    let code = match &cli.command {
        Command::Templates(TemplatesCmd::List { json }) => {
            ok(commands::templates::list(&ctx, *json, &mut out))
        }
        Command::Templates(TemplatesCmd::Show { name, json }) => {
            ok(commands::templates::show(&ctx, name, *json, &mut out))
        }
        Command::Templates(TemplatesCmd::Add { dir, force, dev }) => {
            ok(commands::templates::add(&ctx, dir, *force, *dev, &mut out))
        }
        Command::Templates(TemplatesCmd::Remove { name }) => {
            ok(commands::templates::remove(&ctx, name, &mut out))
        }
        Command::Templates(TemplatesCmd::New {
            name,
            from,
            hook,
            directory,
        }) => ok(commands::templates::new(
            &ctx,
            name,
            from,
            *hook,
            directory.as_deref(),
            &mut out,
        )),
        Command::Init(a) => ok(commands::init::run(
            &ctx,
            &a.template,
            a.directory.as_deref(),
            &mut out,
        )),
        Command::Deploy(a) => ok(commands::deploy::run(&ctx, a, &mut out)),
        Command::Status(a) => commands::status::run(&ctx, a, &mut out),
        Command::Adopt(a) => ok(commands::adopt::run(&ctx, a, &mut out)),
        Command::Logs(a) => commands::logs::run(&ctx, a, &mut out),
        Command::Destroy(a) => ok(commands::destroy::run(&ctx, a, &mut out)),
        Command::Park(a) => ok(commands::park::run(&ctx, a, &mut out)),
        Command::Resume(a) => ok(commands::deploy::resume(&ctx, a, &mut out)),
        Command::Image(c) => ok(commands::image::run(&ctx, c, &mut out)),
        Command::Hook(HookCmd::Test {
            template,
            probe_status,
            probe_body,
            probe_error,
            env,
            json,
        }) => commands::hook::test(
            &ctx,
            template,
            *probe_status,
            probe_body.as_deref(),
            probe_error.as_deref(),
            env,
            *json,
            &mut out,
        ),
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "linode-ai", &mut buf);
            out.write_all(&buf)?;
            Ok(ExitStatus::Success)
        }
        Command::CompileHook { .. } => Ok(ExitStatus::Success),
    }?;
    out.flush()?;
    Ok(code)
}
