//! `logs`: a deployment's boot log or its app's logs, over SSH.

use std::io::Write;

use anyhow::{bail, Context, Result};

use super::Ctx;
use crate::cli::LogsArgs;
use crate::registry::Deployment;
use crate::targets::vm::ssh::{self, LogKind, SshTarget};

fn target(ctx: &Ctx, d: &Deployment, identity: Option<std::path::PathBuf>) -> Result<SshTarget> {
    let (Some(address), Some(linode_id)) = (d.ipv4.clone(), d.linode_id) else {
        bail!(
            "{} (env: {}) has no address yet; see 'linode-ai status'",
            d.app_name,
            d.env
        );
    };
    Ok(SshTarget {
        address,
        port: ctx.tuning.ssh_port,
        linode_id,
        known_hosts: ctx.paths.known_hosts.clone(),
        identity,
    })
}

pub fn run(ctx: &Ctx, args: &LogsArgs, out: &mut dyn Write) -> Result<super::ExitStatus> {
    let data = ctx.registry().load()?;
    let matches: Vec<&Deployment> = data
        .filter(args.which.app(), args.which.env())
        .into_iter()
        .filter(|d| args.id.as_deref().is_none_or(|id| d.matches_id(id, None)))
        .collect();
    let d = match matches.as_slice() {
        [one] => *one,
        [] => bail!("no deployment matches; see 'linode-ai status' (untracked ones need 'linode-ai adopt' first)"),
        many => bail!(
            "{} deployments match; narrow with --app, --env or --id:\n{}",
            many.len(),
            many.iter()
                .map(|d| format!("  {} (env: {}) {}", d.app_name, d.env, d.deployment_id))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    if d.target == crate::state::DeployTarget::Lke {
        return lke_logs(ctx, args, d, out);
    }
    let kind = if args.boot {
        LogKind::Boot
    } else {
        let service = args
            .service
            .clone()
            .or_else(|| d.probes.first().map(|p| p.service.clone()));
        LogKind::Service(service.unwrap_or_else(|| "app".into()))
    };
    let t = target(
        ctx,
        d,
        args.identity.clone().or_else(|| d.ssh_identity.clone()),
    )?;
    let status = ssh::command(
        &t,
        &ssh::remote_command(&kind, args.follow, args.lines),
        true,
    )
    .status()
    .context("cannot run ssh (is OpenSSH's client installed?)")?;
    match status.code() {
        Some(0) => Ok(super::ExitStatus::Success),
        Some(255) => bail!(
            "ssh could not log in to root@{} (exit 255): the deployment needs your SSH key (deploy --ssh-key) and port 22 open to you (--ssh-from)",
            t.address
        ),
        Some(c) => Ok(super::ExitStatus::External(u8::try_from(c).unwrap_or(1))),
        None => Ok(super::ExitStatus::Failure),
    }
}

/// An LKE deployment's pod logs, through the cluster's API (no SSH).
fn lke_logs(
    ctx: &Ctx,
    args: &LogsArgs,
    d: &Deployment,
    out: &mut dyn Write,
) -> Result<super::ExitStatus> {
    if args.boot || args.follow {
        bail!(
            "{} runs on LKE: there is no boot log, and --follow is not offered there yet; 'linode-ai logs --service NAME' shows a service's pods",
            d.app_name
        );
    }
    let service = args
        .service
        .clone()
        .or_else(|| d.probes.first().map(|p| p.service.clone()))
        .unwrap_or_else(|| crate::blueprint::stack::PROXY.to_string());
    let config = ctx.config()?;
    let client = ctx.client(&config)?;
    let pods = super::runtime()?.block_on(crate::workflow::lke::logs(
        &client,
        &ctx.paths.kube,
        d,
        &service,
        args.lines,
    ))?;
    for (pod, text) in pods {
        writeln!(out, "==> {} <==", crate::sanitize::line(&pod))?;
        write!(out, "{}", crate::sanitize::block(&text))?;
        if !text.ends_with('\n') {
            writeln!(out)?;
        }
    }
    Ok(super::ExitStatus::Success)
}

/// After `deploy --wait` gives up: the last lines of the boot log, if SSH works.
pub fn print_boot_tail(ctx: &Ctx, d: &Deployment, lines: u32) {
    let Ok(t) = target(ctx, d, d.ssh_identity.clone()) else {
        return;
    };
    let out = ssh::command(&t, &ssh::remote_command(&LogKind::Boot, false, lines), true)
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            eprintln!("Last lines of the boot log (linode-ai logs --boot shows more):");
            eprint!(
                "{}",
                crate::sanitize::block(&String::from_utf8_lossy(&o.stdout))
            );
        }
        _ => {
            eprintln!("(the boot log is not reachable over SSH; try 'linode-ai logs --boot' later)")
        }
    }
}
