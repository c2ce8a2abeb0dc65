//! `park`: choose deployments like destroy, check each has a cache volume,
//! confirm, park, print.

use std::io::{IsTerminal, Write};

use anyhow::{bail, Result};
use serde_json::json;

use super::{runtime, Ctx};
use crate::cli::ParkArgs;
use crate::workflow::destroy::{select, survey, Selection, Target};
use crate::workflow::park::{check_parkable, park_one};

pub fn run(ctx: &Ctx, args: &ParkArgs, out: &mut dyn Write) -> Result<()> {
    let registry = ctx.registry();
    registry.load()?;
    let client = ctx.authed_client()?;
    let catalog = ctx.catalog();
    let rt = runtime()?;
    let (joined, view) = rt.block_on(survey(&client, &registry, &catalog))?;
    let targets: Vec<Target> = select(
        &joined,
        &view,
        &Selection {
            app: args.which.app.clone(),
            env: args.which.env_name.clone(),
            id: args.id.clone(),
            all: args.all,
            expired: args.expired.then(chrono::Utc::now),
            keep_volume: false,
        },
    )?
    .into_iter()
    // Firewalls left without a deployment are destroy's business.
    .filter(|t| matches!(t, Target::Deployment { .. }))
    .collect();
    if targets.is_empty() {
        if args.json {
            write!(out, "{}", crate::output::json(&json!([])))?;
        } else {
            writeln!(out, "Nothing has expired.")?;
        }
        return Ok(());
    }
    check_parkable(&targets)?;
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            bail!("refusing to park without confirmation: no terminal to ask on; pass --yes to confirm");
        }
        eprintln!("This deletes the Linode of (the cache volume and the firewall stay, and keep costing):");
        for t in &targets {
            eprintln!("  {}", t.describe());
        }
        if !ctx.confirm("Park?")? {
            bail!("aborted; nothing was parked");
        }
    }
    let mut results = Vec::new();
    let mut failed = 0;
    for t in &targets {
        let outcome = rt.block_on(park_one(&client, &registry, &ctx.paths.known_hosts, t));
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
        if let Target::Deployment { record, .. } = t {
            results.push(json!({
                "deployment_id": record.deployment_id, "app_name": record.app_name, "env": record.env,
                "target": t.describe(), "outcome": outcome,
            }));
        }
    }
    if args.json {
        write!(out, "{}", crate::output::json(&results))?;
    }
    if failed > 0 {
        bail!("{failed} of {} could not be parked", targets.len());
    }
    Ok(())
}
