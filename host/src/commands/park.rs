//! `park`: choose deployments like destroy, check each has a cache volume,
//! confirm, park, print (the choosing and reporting are destroy's).

use std::io::Write;

use anyhow::Result;

use super::destroy::{choose, confirm_and_run, Words};
use super::{runtime, Ctx};
use crate::cli::ParkArgs;
use crate::workflow::destroy::Target;
use crate::workflow::park::{check_parkable, park_one};

pub fn run(ctx: &Ctx, args: &ParkArgs, out: &mut dyn Write) -> Result<()> {
    let registry = ctx.registry();
    registry.load()?;
    let client = ctx.authed_client()?;
    let rt = runtime()?;
    let Some(targets) = choose(ctx, &client, rt, &args.pick, false, out)? else {
        return Ok(());
    };
    // Firewalls left without a deployment are destroy's business.
    let targets: Vec<Target> = targets
        .into_iter()
        .filter(|t| matches!(t, Target::Deployment { .. }))
        .collect();
    if targets.is_empty() {
        if args.pick.json {
            write!(out, "{}", crate::output::json(&serde_json::json!([])))?;
        } else {
            writeln!(out, "Nothing has expired.")?;
        }
        return Ok(());
    }
    check_parkable(&targets)?;
    let words = Words {
        heading:
            "This deletes the Linode of (the cache volume and the firewall stay, and keep costing):",
        question: "Park?",
        verb: "park",
        aborted: "aborted; nothing was parked",
        failed: "could not be parked",
    };
    confirm_and_run(ctx, &args.pick, &targets, &words, out, |t| {
        rt.block_on(park_one(&client, &registry, &ctx.paths.known_hosts, t))
    })
}
