//! `destroy`: choose targets (registry and account), confirm, delete, forget.

use std::io::{IsTerminal, Write};

use anyhow::{bail, Result};
use serde_json::json;

use super::{runtime, Ctx};
use crate::cli::DestroyArgs;
use crate::workflow::destroy::{destroy_one, select, survey, Selection};

pub fn run(ctx: &Ctx, args: &DestroyArgs, out: &mut dyn Write) -> Result<()> {
    let registry = ctx.registry();
    // A corrupt registry stops everything before any API call.
    registry.load()?;
    let client = ctx.authed_client()?;
    let catalog = ctx.catalog();
    let rt = runtime()?;
    let (joined, view) = rt.block_on(survey(&client, &registry, &catalog))?;
    if let Some(note) = crate::workflow::account::skipped_note(
        &view.skipped_matching(args.which.app.as_deref(), args.which.env_name.as_deref()),
    ) {
        ctx.warn(&note);
    }
    let targets = select(
        &joined,
        &view,
        &Selection {
            app: args.which.app.clone(),
            env: args.which.env_name.clone(),
            id: args.id.clone(),
            all: args.all,
            expired: args.expired.then(chrono::Utc::now),
            keep_volume: args.keep_volume,
        },
    )?;
    if targets.is_empty() {
        // Only with --expired: nothing to do is the common case for a cron line.
        if args.json {
            write!(out, "{}", crate::output::json(&json!([])))?;
        } else {
            writeln!(out, "Nothing has expired.")?;
        }
        return Ok(());
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            bail!("refusing to destroy without confirmation: no terminal to ask on; pass --yes to confirm");
        }
        eprintln!("This will permanently delete:");
        for t in &targets {
            eprintln!("  {}", t.describe());
        }
        if !ctx.confirm("Delete?")? {
            bail!("aborted; nothing was destroyed");
        }
    }
    let mut results = Vec::new();
    let mut failed = 0;
    for t in &targets {
        let outcome = rt.block_on(destroy_one(&client, &registry, &ctx.paths.known_hosts, t));
        if outcome.is_failure() {
            failed += 1;
            if !args.json {
                eprintln!(
                    "{} {}: {}",
                    ctx.style.for_stderr().red("error:"),
                    t.describe(),
                    crate::sanitize::line(&outcome.describe())
                );
            }
        } else if !args.json {
            writeln!(out, "{}: {}", t.describe(), outcome.describe())?;
        }
        let (deployment_id, app_name, env, linode_id) = match t {
            crate::workflow::destroy::Target::Deployment {
                record, instance, ..
            } => (
                Some(record.deployment_id.clone()),
                Some(record.app_name.clone()),
                Some(record.env.clone()),
                *instance,
            ),
            crate::workflow::destroy::Target::OrphanFirewall(_) => (None, None, None, None),
        };
        results.push(json!({
            "deployment_id": deployment_id, "app_name": app_name, "env": env, "linode_id": linode_id,
            "target": t.describe(), "result": outcome.describe(), "outcome": outcome,
        }));
    }
    if args.json {
        write!(out, "{}", crate::output::json(&results))?;
    }
    if failed > 0 {
        bail!(
            "{failed} of {} target(s) could not be destroyed",
            targets.len()
        );
    }
    Ok(())
}
