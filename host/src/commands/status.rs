//! `status`: the table of deployments, their Linode state and health.

use anyhow::Result;

use super::{runtime, Ctx};
use crate::cli::StatusArgs;
use crate::output::{json, table};
use crate::registry::Registry;
use crate::status::check_all;

pub fn run(ctx: &Ctx, args: &StatusArgs) -> Result<()> {
    let registry = Registry::open_default()?;
    let data = registry.load()?;
    let selected: Vec<_> = data
        .filter(args.app.as_deref(), args.env_name.as_deref())
        .into_iter()
        .cloned()
        .collect();
    if selected.is_empty() {
        if args.json {
            print!("{}", json(&serde_json::json!([])));
        } else if data.deployments.is_empty() {
            println!("No deployments yet. Start with 'linode-ai templates list' and 'linode-ai init <template>'.");
        } else {
            println!(
                "No deployments match the given --app/--env ({} in total).",
                data.deployments.len()
            );
        }
        return Ok(());
    }
    let config = ctx.config()?;
    let client = ctx.client(&config)?;
    if !client.has_token() {
        anyhow::bail!(crate::settings::missing_token_message());
    }
    let catalog = ctx.catalog()?;
    let rows = runtime()?.block_on(check_all(
        &client,
        &catalog,
        selected,
        args.concurrency as usize,
    ));
    // Remember what we saw (one locked write for all rows).
    let now = chrono::Utc::now();
    registry.update(|d| {
        for r in &rows {
            if let Some(rec) = d
                .deployments
                .iter_mut()
                .find(|x| x.deployment_id == r.deployment.deployment_id)
            {
                rec.last_status = r.status.clone();
                rec.last_detail = r.detail.clone();
                rec.last_checked_at = Some(now);
            }
        }
    })?;
    if args.json {
        print!("{}", json(&rows));
        return Ok(());
    }
    let url = |r: &crate::status::StatusRow| r.deployment.url.clone().unwrap_or_else(|| "-".into());
    let out = if args.verbose {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.deployment.app_name.clone(),
                    r.deployment.env.clone(),
                    r.deployment.region.clone(),
                    r.status.clone(),
                    url(r),
                    r.deployment
                        .linode_id
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| "-".into()),
                    r.deployment.linode_type.clone().unwrap_or_default(),
                    r.api_status.clone().unwrap_or_else(|| "-".into()),
                    r.http_status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "-".into()),
                    r.checked_at.format("%Y-%m-%d %H:%M:%SZ").to_string(),
                    r.detail.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &[
                "APP", "ENV", "REGION", "STATUS", "URL", "LINODE", "TYPE", "API", "HTTP",
                "CHECKED", "DETAIL",
            ],
            &rows,
            &ctx.style,
            Some(3),
        )
    } else {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.deployment.app_name.clone(),
                    r.deployment.env.clone(),
                    r.deployment.region.clone(),
                    r.status.clone(),
                    url(r),
                ]
            })
            .collect();
        table(
            &["APP", "ENV", "REGION", "STATUS", "URL"],
            &rows,
            &ctx.style,
            Some(3),
        )
    };
    print!("{out}");
    Ok(())
}
