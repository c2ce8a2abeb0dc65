//! `adopt`: records deployments the account holds (by their tags) but this
//! machine's registry does not (see [`crate::workflow::adopt`]).

use std::io::Write;

use anyhow::{bail, Result};

use super::{runtime, Ctx};
use crate::cli::AdoptArgs;
use crate::workflow::adopt::{adopt, AdoptQuery};

pub fn run(ctx: &Ctx, args: &AdoptArgs, out: &mut dyn Write) -> Result<()> {
    if !args.all && !args.which.any() {
        bail!("say which: --app A [--env E], or --all for every untracked deployment (see 'linode-ai status')");
    }
    let registry = ctx.registry();
    // A corrupt registry stops everything before any API call.
    registry.load()?;
    let client = ctx.authed_client()?;
    let catalog = ctx.catalog();
    let q = AdoptQuery {
        app: args.which.app(),
        env: args.which.env(),
    };
    let adopted = runtime()?.block_on(adopt(&client, &registry, &catalog, &q))?;
    if let Some(note) = &adopted.skipped_note {
        ctx.warn(note);
    }
    if adopted.records.is_empty() {
        bail!("no untracked deployment matches; 'linode-ai status' lists them");
    }
    if args.json {
        write!(out, "{}", crate::output::json(&adopted.records))?;
    } else {
        for r in &adopted.records {
            writeln!(
                out,
                "adopted {} (env: {}) Linode {} from template {} {}",
                crate::sanitize::field(&r.app_name),
                crate::sanitize::field(&r.env),
                r.linode_id.unwrap_or(0),
                crate::sanitize::field(&r.template),
                crate::sanitize::field(&r.template_version)
            )?;
        }
    }
    Ok(())
}
