//! `status`: the table of deployments, their Linode state and health, the
//! orphaned firewalls and what it all costs. Exit codes: 0 all running,
//! 3 checked but something is not running, 1 could not check.

use std::io::Write;

use anyhow::Result;

use super::{runtime, Ctx, ExitStatus};
use crate::cli::StatusArgs;
use crate::output::{json, table};
use crate::workflow::deploy::format_price;
use crate::workflow::status::{StatusQuery, StatusReport};

/// Runs `status`; returns the exit code.
pub fn run(ctx: &Ctx, args: &StatusArgs, out: &mut dyn Write) -> Result<ExitStatus> {
    let registry = ctx.registry();
    let client = ctx.authed_client()?;
    let catalog = ctx.catalog();
    let report = runtime()?.block_on(crate::workflow::status::status(
        &client,
        &registry,
        &catalog,
        &StatusQuery {
            app: args.which.app(),
            env: args.which.env(),
            concurrency: args.concurrency as usize,
            hook_cache: &ctx.paths.hook_cache,
            types_cache: &ctx.paths.types_cache,
            probe_ca: ctx.tuning.probe_ca.as_deref(),
            kube_dir: &ctx.paths.kube,
        },
    ))?;
    let skipped: Vec<&crate::linode::Skipped> = report.skipped.iter().collect();
    if let Some(note) = crate::workflow::account::skipped_note(&skipped) {
        ctx.warn(&note);
    }
    if let Some(existing) = &report.unmatched {
        ctx.note(&crate::workflow::status::unmatched_message(
            args.which.app(),
            args.which.env(),
            existing,
        ));
    }
    if args.json {
        write!(out, "{}", json(&report))?;
        return Ok(report.verdict().into());
    }
    render(ctx, args, &report, out)?;
    if let Some(e) = &report.account_error {
        ctx.warn(&format!(
            "could not list the account, nothing was checked: {e}"
        ));
    }
    Ok(report.verdict().into())
}

fn render(ctx: &Ctx, args: &StatusArgs, report: &StatusReport, out: &mut dyn Write) -> Result<()> {
    if report.rows.is_empty()
        && report.orphan_firewalls.is_empty()
        && report.young_firewalls.is_empty()
    {
        if args.which.any() {
            writeln!(out, "No deployments match the given --app/--env.")?;
        } else {
            writeln!(out, "No deployments yet. Start with 'linode-ai templates list' and 'linode-ai init <template>'.")?;
        }
        return Ok(());
    }
    let url = |r: &crate::workflow::status::StatusRow| {
        r.deployment.url.clone().unwrap_or_else(|| "-".into())
    };
    let rows: Vec<Vec<String>> = report
        .rows
        .iter()
        .map(|r| {
            let mut row = vec![
                r.deployment.app_name.clone(),
                r.deployment.env.clone(),
                r.deployment.region.clone(),
                if r.expired {
                    "expired".to_string()
                } else {
                    r.status.as_str().to_string()
                },
                url(r),
            ];
            if args.verbose {
                row.extend([
                    r.deployment
                        .linode_id
                        .map(|i| i.to_string())
                        .or_else(|| {
                            let id = r.deployment.lke.as_ref()?.cluster_id?;
                            Some(format!("lke{id}"))
                        })
                        .unwrap_or_else(|| "-".into()),
                    r.deployment.linode_type.clone().unwrap_or_default(),
                    r.deployment
                        .firewall
                        .as_ref()
                        .map(|f| f.describe())
                        .unwrap_or_else(|| "-".into()),
                    r.price
                        .and_then(|p| p.hourly)
                        .map(|h| format!("${h:.3}/h"))
                        .unwrap_or_else(|| "-".into()),
                    r.api_status
                        .as_ref()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "-".into()),
                    r.http_status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "-".into()),
                    r.checked_at.format("%Y-%m-%d %H:%M:%SZ").to_string(),
                ]);
            }
            let expiry = r.deployment.expires_at.map(|t| {
                let span = crate::naming::format_span(t - r.checked_at);
                if r.expired {
                    format!("EXPIRED {span} ago: linode-ai destroy --expired")
                } else {
                    format!("expires in {span}")
                }
            });
            let detail: Vec<String> = [expiry, r.detail.clone()].into_iter().flatten().collect();
            row.push(detail.join("; "));
            row
        })
        .collect();
    let mut headers = vec!["APP", "ENV", "REGION", "STATUS", "URL"];
    if args.verbose {
        headers.extend([
            "LINODE", "TYPE", "FIREWALL", "PRICE", "API", "HTTP", "CHECKED",
        ]);
    }
    headers.push("DETAIL");
    // An expired deployment is shown as such whatever its health (JSON keeps
    // both: `status` and `expired`).
    let tones: Vec<crate::state::Tone> = report
        .rows
        .iter()
        .map(|r| {
            if r.expired {
                crate::state::Tone::Bad
            } else {
                r.status.tone()
            }
        })
        .collect();
    write!(
        out,
        "{}",
        table(&headers, &rows, &ctx.style, Some((3, &tones)))
    )?;
    if args.verbose {
        for r in &report.rows {
            for l in &r.hook_logs {
                writeln!(
                    out,
                    "hook log ({}): {}",
                    crate::sanitize::field(&r.deployment.app_name),
                    crate::sanitize::line(l)
                )?;
            }
        }
    }
    for f in &report.orphan_firewalls {
        let dep = crate::naming::DeploymentTags::parse(&f.tags);
        writeln!(
            out,
            "orphaned firewall {} ({}) of a deployment with no instance{}; 'linode-ai destroy --id {}' deletes it",
            f.id,
            crate::sanitize::field(f.label.as_deref().unwrap_or("?")),
            dep.app.map(|a| format!(" (app {})", crate::sanitize::field(&a))).unwrap_or_default(),
            f.id
        )?;
    }
    for f in &report.young_firewalls {
        let dep = crate::naming::DeploymentTags::parse(&f.tags);
        let age = f
            .created
            .as_deref()
            .and_then(crate::linode::parse_timestamp)
            .map(|t| {
                format!(
                    ", made {}s ago",
                    (chrono::Utc::now() - t).num_seconds().max(0)
                )
            })
            .unwrap_or_default();
        writeln!(
            out,
            "firewall {} ({}){}{age} has no Linode yet: a deploy (perhaps on another machine) may still be creating it, so it is left alone for an hour ('linode-ai destroy --id {}' deletes it now)",
            f.id,
            crate::sanitize::field(f.label.as_deref().unwrap_or("?")),
            match (dep.app, dep.env) {
                (Some(a), Some(e)) => format!(" of {} (env: {})", crate::sanitize::field(&a), crate::sanitize::field(&e)),
                (Some(a), None) => format!(" of {}", crate::sanitize::field(&a)),
                _ => String::new(),
            },
            f.id
        )?;
    }
    let c = &report.cost;
    if c.linodes > 0 || c.nodebalancers > 0 {
        let lke = if c.nodebalancers > 0 {
            format!(
                ", {} NodeBalancer{} and {} GB of Block Storage (LKE)",
                c.nodebalancers,
                if c.nodebalancers == 1 { "" } else { "s" },
                c.claim_gb
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "\nCost: {} Linode{}{lke} at {}; about ${:.2} since they were created{}",
            c.linodes,
            if c.linodes == 1 { "" } else { "s" },
            format_price(&crate::linode::Price {
                hourly: Some(c.hourly),
                monthly: Some(c.monthly)
            }),
            c.so_far,
            if c.unpriced > 0 {
                format!(" ({} without a known price)", c.unpriced)
            } else {
                String::new()
            }
        )?;
    }
    if c.volume_gb > 0 {
        writeln!(
            out,
            "{}Cache volumes: {} GB of Block Storage at ${:.2}/month (billed whether a Linode runs or not)",
            if c.linodes > 0 { "" } else { "\n" },
            c.volume_gb,
            c.volume_gb as f64 * crate::linode::VOLUME_MONTHLY_PER_GB
        )?;
    }
    if report.rows.iter().any(|r| !r.tracked) {
        writeln!(out, "Untracked deployments carry linode-ai's tags but have no record here: 'linode-ai adopt' records them.")?;
    }
    Ok(())
}
