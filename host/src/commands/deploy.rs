//! `deploy`: dry-run plan or real create, with optional wait.

use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use super::{runtime, Ctx};
use crate::cli::DeployArgs;
use crate::deploy::{self, DeployOptions, Progress};
use crate::registry::Registry;

fn poll_interval() -> Duration {
    let ms = std::env::var("LINODE_AI_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    Duration::from_millis(ms)
}

pub fn run(ctx: &Ctx, args: &DeployArgs) -> Result<()> {
    let config = ctx.config()?;
    let catalog = ctx.catalog()?;
    let dir = match &args.directory {
        Some(d) => d.clone(),
        None => std::env::current_dir()?,
    };
    let opts = DeployOptions {
        region: args.region.clone(),
        linode_type: args.linode_type.clone(),
        env_file: args.env_file.clone(),
        image: args.image.clone(),
        app_name: args.app_name.clone(),
        env_name: args.env_name.clone(),
        port: args.port,
        ssh_keys: args.ssh_keys.clone(),
    };
    let plan = deploy::plan(&dir, &opts, &catalog, &config, chrono::Utc::now())?;
    let client = ctx.client(&config)?;
    let rt = runtime()?;

    if args.dry_run {
        // Region/type checks need no token; skip them with a note when offline.
        let check = rt.block_on(async {
            let quick = client.clone().with_retry(crate::linode::RetryPolicy {
                max_attempts: 1,
                ..Default::default()
            });
            tokio::time::timeout(Duration::from_secs(10), deploy::preflight(&quick, &plan)).await
        });
        let checks = match check {
            Ok(Ok(())) => "passed".to_string(),
            Ok(Err(e)) => match e.downcast_ref::<crate::linode::ApiError>() {
                Some(
                    crate::linode::ApiError::Network { .. }
                    | crate::linode::ApiError::Timeout { .. },
                ) => {
                    format!(
                        "skipped: the API at {} is unreachable ({e})",
                        client.base_url()
                    )
                }
                _ => return Err(e),
            },
            Err(_) => format!(
                "skipped: the API at {} did not answer within 10s",
                client.base_url()
            ),
        };
        return print_dry_run(ctx, &plan, &checks, args.json, client.has_token());
    }

    if !client.has_token() {
        anyhow::bail!(crate::settings::missing_token_message());
    }
    rt.block_on(deploy::preflight(&client, &plan))?;
    let registry = Registry::open_default()?;
    let quiet = args.json;
    let style = ctx.style.for_stderr();
    let progress = move |p: Progress| {
        if quiet {
            return;
        }
        match p {
            // A transient hint only where someone watches; logs get the result lines.
            Progress::Creating if style.interactive => {
                eprintln!("{}", style.dim("Creating Linode..."))
            }
            Progress::Creating => {}
            Progress::Created { linode_id } => {
                eprintln!("{}", style.dim(&format!("Created Linode {linode_id}")))
            }
            Progress::Phase { phase, detail } => {
                let d = detail.map(|d| format!(" ({d})")).unwrap_or_default();
                eprintln!("  {} {}{d}", style.dim("status:"), style.status(phase));
            }
        }
    };
    for n in &plan.notes {
        if !quiet {
            eprintln!("note: {n}");
        }
    }
    let mut record = rt.block_on(deploy::execute(&client, &registry, &plan, &progress))?;
    let mut status = record.last_status.clone();
    let mut wait_error = None;
    if args.wait {
        let result = rt.block_on(deploy::wait_until_healthy(
            &client,
            &record,
            &plan.hooks,
            &plan.context,
            Duration::from_secs(args.timeout),
            poll_interval(),
            &progress,
        ));
        match result {
            Ok(_) => {
                status = "running".into();
                record.last_status = status.clone();
                registry.update_status(
                    &record.deployment_id,
                    "running",
                    None,
                    chrono::Utc::now(),
                )?;
            }
            Err(e) => wait_error = Some(e),
        }
    }
    if args.json {
        print!(
            "{}",
            crate::output::json(
                &json!({ "deployment": record, "status": status, "notes": plan.notes })
            )
        );
    } else {
        let s = &ctx.style;
        println!(
            "{}",
            s.bold(&format!(
                "Deployed {} (env: {})",
                record.app_name, record.env
            ))
        );
        println!();
        println!("Status:    {}", s.status(&status));
        println!(
            "Linode ID: {}",
            record.linode_id.map(|i| i.to_string()).unwrap_or_default()
        );
        println!("Region:    {}", record.region);
        println!(
            "URL:       {}",
            record.url.as_deref().unwrap_or("(no public IPv4 yet)")
        );
        println!();
        if status != "running" {
            println!("Run `linode-ai status` to check when it's ready.");
        }
    }
    match wait_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn print_dry_run(
    ctx: &Ctx,
    plan: &deploy::DeployPlan,
    checks: &str,
    as_json: bool,
    has_token: bool,
) -> Result<()> {
    let request = plan.request.redacted_json();
    // Hooks see real values; what they logged is shown redacted.
    let hook_logs: Vec<String> = plan
        .hooks
        .take_logs()
        .iter()
        .map(|l| deploy::redact(l, &plan.env))
        .collect();
    if as_json {
        print!(
            "{}",
            crate::output::json(&json!({
                "dry_run": true,
                "settings": plan.settings,
                "request": { "method": "POST", "path": "/linode/instances", "body": request },
                "user_data": plan.user_data_display,
                "user_data_bytes": plan.user_data.len(),
                "api_checks": checks,
                "has_hook": plan.hooks.has_hook(),
                "hook_load": plan.hooks.load_kind(),
                "hook_logs": hook_logs,
                "notes": plan.notes,
            }))
        );
        return Ok(());
    }
    let s = &ctx.style;
    let st = &plan.settings;
    println!("{}", s.bold("Deploy plan (dry run: nothing is created)"));
    println!();
    println!(
        "Template:    {} {}{}",
        st.template,
        st.template_version,
        if plan.hooks.has_hook() {
            " (with hook)"
        } else {
            ""
        }
    );
    println!("App / env:   {} / {}", st.app_name, st.env_name);
    println!("Region:      {}", st.region);
    println!("Linode type: {}", st.linode_type);
    println!("Base image:  {}", st.base_image);
    println!(
        "Container:   {} (port {} -> {})",
        st.image, st.external_port, st.internal_port
    );
    println!(
        "Env file:    {} ({} vars)",
        st.env_file.display(),
        plan.env.len()
    );
    println!("API checks:  {checks}");
    if !has_token {
        println!("Token:       none found (a real deploy needs LINODE_CLI_TOKEN or 'linode-cli configure')");
    }
    for n in &plan.notes {
        println!("Note:        {n}");
    }
    for l in &hook_logs {
        println!("Hook log:    {l}");
    }
    println!();
    println!("{}", s.bold("Request: POST /linode/instances"));
    println!("{}", serde_json::to_string_pretty(&request)?);
    println!();
    println!(
        "{}",
        s.bold(&format!(
            "User-data ({} bytes of 16384; env values redacted):",
            plan.user_data.len()
        ))
    );
    print!("{}", plan.user_data_display);
    if !plan.user_data_display.ends_with('\n') {
        println!();
    }
    Ok(())
}
