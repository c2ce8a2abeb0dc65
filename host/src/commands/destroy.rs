//! `destroy`: pick targets, confirm, delete, forget.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Result};
use serde_json::json;

use super::{runtime, Ctx};
use crate::cli::DestroyArgs;
use crate::registry::{Deployment, Registry};

fn describe(d: &Deployment) -> String {
    format!(
        "{} (env: {}) Linode {} in {}{}",
        d.app_name,
        d.env,
        d.linode_id
            .map(|i| i.to_string())
            .unwrap_or_else(|| "(pending)".into()),
        d.region,
        d.url.as_ref().map(|u| format!(", {u}")).unwrap_or_default()
    )
}

pub fn run(ctx: &Ctx, args: &DestroyArgs) -> Result<()> {
    let registry = Registry::open_default()?;
    let data = registry.load()?;
    if data.deployments.is_empty() {
        bail!(
            "no deployments in {}; nothing to destroy",
            registry.path().display()
        );
    }
    let targets: Vec<Deployment> = data
        .filter(args.app.as_deref(), args.env_name.as_deref())
        .into_iter()
        .cloned()
        .collect();
    if targets.is_empty() {
        bail!("no deployment matches the given --app/--env; see 'linode-ai status'");
    }
    let filtered = args.app.is_some() || args.env_name.is_some();
    if targets.len() > 1 && !args.all {
        let list: Vec<String> = targets
            .iter()
            .map(|d| format!("  {}", describe(d)))
            .collect();
        bail!(
            "{} deployments match{}; narrow with --app and --env, or pass --all to destroy them all:\n{}",
            targets.len(),
            if filtered { "" } else { " (no --app/--env given)" },
            list.join("\n")
        );
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            bail!("refusing to destroy without confirmation: no terminal to ask on; pass --yes to confirm");
        }
        eprintln!("This will permanently delete:");
        for d in &targets {
            eprintln!("  {}", describe(d));
        }
        eprint!("Type 'yes' to continue: ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "yes" | "y") {
            bail!("aborted; nothing was destroyed");
        }
    }
    let config = ctx.config()?;
    let client = ctx.client(&config)?;
    if !client.has_token() {
        bail!(crate::settings::missing_token_message());
    }
    let rt = runtime()?;
    let mut results = Vec::new();
    let mut failed = 0;
    for d in &targets {
        let outcome = rt.block_on(async {
            let id = match d.linode_id {
                Some(id) => Some(id),
                // A pending record: the create may have happened; find it by label.
                None => match &d.label {
                    Some(label) => client.find_by_label(label).await?.map(|i| i.id),
                    None => None,
                },
            };
            match id {
                None => Ok::<_, crate::linode::ApiError>("no Linode was created; record removed"),
                Some(id) => match client.delete_instance(id).await {
                    Ok(()) => Ok("destroyed"),
                    Err(e) if e.is_not_found() => Ok("already gone (404); record removed"),
                    Err(e) => Err(e),
                },
            }
        });
        match outcome {
            Ok(what) => {
                registry.remove(&d.deployment_id)?;
                results.push(json!({ "deployment_id": d.deployment_id, "app_name": d.app_name, "env": d.env, "linode_id": d.linode_id, "result": what }));
                if !args.json {
                    println!("{}: {what}", describe(d));
                }
            }
            Err(e) => {
                failed += 1;
                results.push(json!({ "deployment_id": d.deployment_id, "app_name": d.app_name, "env": d.env, "linode_id": d.linode_id, "error": e.to_string() }));
                if !args.json {
                    eprintln!("error: {}: {e} (kept in the registry)", describe(d));
                }
            }
        }
    }
    if args.json {
        print!("{}", crate::output::json(&results));
    }
    if failed > 0 {
        bail!(
            "{failed} of {} deployment(s) could not be destroyed",
            targets.len()
        );
    }
    Ok(())
}
