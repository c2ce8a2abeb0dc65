//! `destroy`: choose targets (registry and account), confirm, delete, forget.
//! The choosing, confirming and reporting are `park`'s too.

use std::io::{IsTerminal, Write};

use anyhow::{bail, Result};
use serde_json::json;

use super::{runtime, Ctx};
use crate::cli::{DestroyArgs, Pick};
use crate::linode::LinodeClient;
use crate::workflow::destroy::{destroy_one, select, survey, Done, Selection, Target};

pub fn run(ctx: &Ctx, args: &DestroyArgs, out: &mut dyn Write) -> Result<()> {
    let registry = ctx.registry();
    // A corrupt registry stops everything before any API call.
    registry.load()?;
    let client = ctx.authed_client()?;
    let rt = runtime()?;
    let Some(targets) = choose(ctx, &client, rt, &args.pick, args.keep_volume, out)? else {
        return Ok(());
    };
    let words = Words {
        heading: "This will permanently delete:",
        question: "Delete?",
        verb: "destroy",
        aborted: "aborted; nothing was destroyed",
        failed: "target(s) could not be destroyed",
    };
    confirm_and_run(ctx, &args.pick, &targets, &words, out, |t| {
        rt.block_on(destroy_one(
            &client,
            &registry,
            &ctx.paths,
            ctx.tuning.poll,
            t,
        ))
    })
}

/// The targets `pick` names (a skipped instance of theirs is warned
/// about); `None` when `--expired` found nothing, which is said.
pub(super) fn choose(
    ctx: &Ctx,
    client: &LinodeClient,
    rt: &tokio::runtime::Runtime,
    pick: &Pick,
    keep_volume: bool,
    out: &mut dyn Write,
) -> Result<Option<Vec<Target>>> {
    let catalog = ctx.catalog();
    let registry = ctx.registry();
    let (joined, view) = rt.block_on(survey(client, &registry, &catalog))?;
    if let Some(note) = crate::workflow::account::skipped_note(
        &view.skipped_matching(pick.which.app.as_deref(), pick.which.env_name.as_deref()),
    ) {
        ctx.warn(&note);
    }
    let targets = select(
        &joined,
        &view,
        &Selection {
            app: pick.which.app.clone(),
            env: pick.which.env_name.clone(),
            id: pick.id.clone(),
            all: pick.all,
            expired: pick.expired.then(chrono::Utc::now),
            keep_volume,
        },
    )?;
    if targets.is_empty() {
        // Only with --expired: nothing to do is the common case for a cron line.
        if pick.json {
            write!(out, "{}", crate::output::json(&json!([])))?;
        } else {
            writeln!(out, "Nothing has expired.")?;
        }
        return Ok(None);
    }
    Ok(Some(targets))
}

/// What an action over targets says.
pub(super) struct Words {
    pub heading: &'static str,
    pub question: &'static str,
    pub verb: &'static str,
    pub aborted: &'static str,
    pub failed: &'static str,
}

/// Confirms (unless `--yes`), acts on each target, reports each outcome
/// (text or JSON) and fails when any did.
pub(super) fn confirm_and_run<O: Done>(
    ctx: &Ctx,
    pick: &Pick,
    targets: &[Target],
    words: &Words,
    out: &mut dyn Write,
    act: impl Fn(&Target) -> O,
) -> Result<()> {
    if !pick.yes {
        if !std::io::stdin().is_terminal() {
            bail!(
                "refusing to {} without confirmation: no terminal to ask on; pass --yes to confirm",
                words.verb
            );
        }
        eprintln!("{}", words.heading);
        for t in targets {
            eprintln!("  {}", t.describe());
        }
        if !ctx.confirm(words.question)? {
            bail!("{}", words.aborted);
        }
    }
    let mut results = Vec::new();
    let mut failed = 0;
    for t in targets {
        let outcome = act(t);
        if outcome.is_failure() {
            failed += 1;
            if !pick.json {
                eprintln!(
                    "{} {}: {}",
                    ctx.style.for_stderr().red("error:"),
                    t.describe(),
                    crate::sanitize::line(&outcome.describe())
                );
            }
        } else if !pick.json {
            writeln!(out, "{}: {}", t.describe(), outcome.describe())?;
        }
        let (deployment_id, app_name, env, linode_id) = match t {
            Target::Deployment {
                record, instance, ..
            } => (
                Some(record.deployment_id.clone()),
                Some(record.app_name.clone()),
                Some(record.env.clone()),
                *instance,
            ),
            Target::OrphanFirewall(_) => (None, None, None, None),
        };
        results.push(json!({
            "deployment_id": deployment_id, "app_name": app_name, "env": env, "linode_id": linode_id,
            "target": t.describe(), "result": outcome.describe(), "outcome": outcome,
        }));
    }
    if pick.json {
        write!(out, "{}", crate::output::json(&results))?;
    }
    if failed > 0 {
        bail!("{failed} of {} {}", targets.len(), words.failed);
    }
    Ok(())
}
