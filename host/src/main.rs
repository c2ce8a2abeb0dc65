use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use linode_ai::cli::{Cli, Command, TemplatesCmd};
use linode_ai::commands::{self, Ctx};
use linode_ai::output::Style;

fn main() -> ExitCode {
    // Usage errors exit 2 (clap); everything else that fails exits 1.
    let cli = Cli::parse();
    let ctx = Ctx {
        style: Style::detect(),
        as_user: cli.as_user.clone(),
    };
    let result = match &cli.command {
        Command::Templates(TemplatesCmd::List { json }) => commands::templates::list(&ctx, *json),
        Command::Templates(TemplatesCmd::Show { name, json }) => {
            commands::templates::show(&ctx, name, *json)
        }
        Command::Templates(TemplatesCmd::Add { dir, force }) => {
            commands::templates::add(&ctx, dir, *force)
        }
        Command::Templates(TemplatesCmd::Remove { name }) => {
            commands::templates::remove(&ctx, name)
        }
        Command::Init(a) => commands::init::run(&ctx, &a.template, a.directory.as_deref()),
        Command::Deploy(a) => commands::deploy::run(&ctx, a),
        Command::Status(a) => commands::status::run(&ctx, a),
        Command::Destroy(a) => commands::destroy::run(&ctx, a),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "linode-ai",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{} {e:#}", ctx.style.error_label());
            ExitCode::from(1)
        }
    }
}
