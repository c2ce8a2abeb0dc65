//! `deploy`: the plan (`--dry-run`), or preflight, create and optionally wait.

use std::io::Write;

use anyhow::{bail, Result};
use serde_json::json;

use super::{runtime, Ctx};
use crate::blueprint::stack::Target;
use crate::blueprint::template::RouteAuth;
use crate::cli::DeployArgs;
use crate::health::Prober;
use crate::registry::Deployment;
use crate::sanitize;
use crate::state::Status;
use crate::targets::vm::firewall::FirewallChoice;
use crate::workflow::deploy::{
    self, DeployOptions, DeployPlan, DryRunCheck, FirewallPlan, Place, PlanContext, Progress,
};

/// The plan's options from the flags. Every field is named (uv's style): a
/// new flag that is neither passed on nor listed as the command's own does
/// not compile.
fn options(args: &DeployArgs) -> DeployOptions {
    let DeployArgs {
        region,
        linode_type,
        env_file,
        image,
        app_name,
        env_name,
        port,
        domain,
        acme_ca,
        ttl,
        model,
        cache_gb,
        no_cache,
        ssh_keys,
        ssh_from,
        firewall,
        no_firewall,
        // The command's own: how to run, not what to deploy (the LKE plan
        // reads --target and --replicas itself).
        target: _,
        replicas: _,
        cluster: _,
        replace: _,
        new: _,
        wait: _,
        timeout: _,
        dry_run: _,
        yes: _,
        directory: _,
        json: _,
    } = args;
    DeployOptions {
        region: region.clone(),
        linode_type: linode_type.clone(),
        env_file: env_file.clone(),
        image: image.clone(),
        app_name: app_name.clone(),
        env_name: env_name.clone(),
        https_port: *port,
        ssh_keys: ssh_keys.clone(),
        ssh_from: ssh_from.clone(),
        domain: domain.clone(),
        acme_ca: acme_ca.clone(),
        ttl: ttl.clone(),
        model: model.clone(),
        cache_gb: *cache_gb,
        no_cache: *no_cache,
        resume: None,
        firewall: Some(match (firewall, no_firewall) {
            (Some(id), _) => FirewallChoice::Existing(*id),
            (None, true) => FirewallChoice::Disabled,
            (None, false) => FirewallChoice::Create,
        }),
    }
}

/// A path users can try with their key: the template's first keyed route.
fn example_path(plan: &DeployPlan) -> Option<String> {
    let route = plan
        .stack
        .proxy
        .routes
        .iter()
        .find(|r| r.auth == RouteAuth::Key && matches!(r.target, Target::Service { .. }))?;
    let base = route.path.trim_end_matches('*');
    let svc = match &route.target {
        Target::Service { name, .. } => plan.stack.service(name)?,
        Target::Page(_) => return None,
    };
    // Ollama's model list, whether the template routes all of /api/* or only the calls chatting needs.
    let lists_models = plan
        .stack
        .proxy
        .routes
        .iter()
        .any(|r| r.auth == RouteAuth::Key && (r.path == "/api/tags" || r.path == "/api/*"));
    Some(match (base, svc.image.split(':').next().unwrap_or("")) {
        (_, i) if i.ends_with("ollama") && lists_models => "/api/tags".into(),
        ("/v1/", _) => "/v1/models".into(),
        ("/", i) if i.contains("text-embeddings-inference") => "/info".into(),
        (b, _) => b.to_string(),
    })
}

fn page_url(plan: &DeployPlan, base: &str) -> Option<String> {
    plan.stack
        .proxy
        .routes
        .iter()
        .find_map(|r| match &r.target {
            Target::Page(_) => Some(format!("{base}{}", r.path.trim_end_matches('*'))),
            _ => None,
        })
}

/// Prints the create's and the wait's progress on stderr (nothing with --json).
fn progress_printer(style: crate::output::Style, quiet: bool) -> impl Fn(Progress) {
    move |p: Progress| {
        if quiet {
            return;
        }
        match p {
            Progress::CreatingFirewall if style.interactive => {
                eprintln!("{}", style.dim("Creating firewall..."))
            }
            Progress::Creating if style.interactive => {
                eprintln!("{}", style.dim("Creating Linode..."))
            }
            Progress::CreatingFirewall | Progress::Creating => {}
            Progress::CreatedFirewall { id } => {
                eprintln!("{}", style.dim(&format!("Created firewall {id}")))
            }
            Progress::Created { linode_id } => {
                eprintln!("{}", style.dim(&format!("Created Linode {linode_id}")))
            }
            Progress::Dns(n) => eprintln!("  {} {}", style.dim("DNS:"), sanitize::line(&n)),
            Progress::CreatedVolume { id, label } => eprintln!(
                "{}",
                style.dim(&format!("Created cache volume {id} ({label})"))
            ),
            Progress::AttachedVolume { id, label } => eprintln!(
                "{}",
                style.dim(&format!("Attached cache volume {id} ({label})"))
            ),
            Progress::VolumeFailed(n) => {
                eprintln!("{} {}", style.yellow("warning:"), sanitize::line(&n))
            }
            Progress::HookLog(l) => {
                eprintln!("  {} {}", style.dim("hook log:"), sanitize::line(&l))
            }
            Progress::Step(s) => eprintln!("{}", style.dim(&sanitize::line(&s))),
            Progress::Phase { status, detail } => {
                let d = detail
                    .map(|d| format!(" ({})", sanitize::line(&d)))
                    .unwrap_or_default();
                eprintln!("  {} {}{d}", style.dim("status:"), style.status(status));
            }
        }
    }
}

/// Another deployment of this app and env exists and neither --replace nor
/// --new was given: off a terminal (or with --yes) that is an error naming the
/// ways forward; on one, ask. True: replace it; false: make another beside it.
fn ask_replace(
    ctx: &Ctx,
    args: &DeployArgs,
    plan: &DeployPlan,
    existing: &[Deployment],
) -> Result<bool> {
    let list: Vec<String> = existing
        .iter()
        .map(|d| {
            if d.last_status == crate::state::Status::Parked && d.linode_id.is_none() {
                return format!(
                    "  parked, its cache volume kept ('linode-ai resume' brings it back without downloading again), created {}",
                    d.created_at.format("%Y-%m-%d %H:%M UTC")
                );
            }
            format!(
                "  Linode {} ({}), created {}",
                d.linode_id
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "pending".into()),
                d.url.as_deref().unwrap_or("no URL yet"),
                d.created_at.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .collect();
    let what = format!(
        "{} (env: {}) already exists:\n{}",
        plan.settings.app_name,
        plan.settings.env_name,
        list.join("\n")
    );
    if args.yes || !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        bail!("{what}\npass --replace to make a new one and then destroy the old, or --new to keep both (or --env NAME for another environment)");
    }
    ctx.note(&what);
    if ctx.confirm("Replace it (the new one is made first, then the old one is destroyed)?")? {
        return Ok(true);
    }
    if !ctx.confirm("Make another one beside it?")? {
        bail!("aborted; nothing was created");
    }
    Ok(false)
}

pub fn run(ctx: &Ctx, args: &DeployArgs, out: &mut dyn Write) -> Result<()> {
    run_with(ctx, args, None, out)
}

/// `resume`: the project's deploy, onto the parked deployment's kept cache
/// volume and firewall, with its deployment id.
pub fn resume(ctx: &Ctx, args: &crate::cli::ResumeArgs, out: &mut dyn Write) -> Result<()> {
    let crate::cli::ResumeArgs {
        wait,
        timeout,
        ttl,
        ssh_keys,
        dry_run,
        yes,
        directory,
        json,
    } = args;
    let deploy_args = DeployArgs {
        wait: *wait,
        timeout: *timeout,
        ttl: ttl.clone(),
        ssh_keys: ssh_keys.clone(),
        dry_run: *dry_run,
        yes: *yes,
        directory: directory.clone(),
        json: *json,
        ..Default::default()
    };
    // The project's app and env (as deploy resolves them), then what is parked for them.
    let catalog = ctx.catalog();
    let settings = plan_project(ctx, &catalog, &deploy_args, None)?.settings;
    let client = ctx.authed_client()?;
    let registry = ctx.registry();
    let rt = runtime()?;
    let (joined, view) = rt.block_on(crate::workflow::destroy::survey(
        &client, &registry, &catalog,
    ))?;
    let from =
        crate::workflow::park::find_parked(&joined, &view, &settings.app_name, &settings.env_name)?;
    // Served as it was parked: its own domain and model (flags of its deploy, not in the project).
    let model_env = catalog
        .get(&settings.template)
        .and_then(|t| t.linode().model.as_ref())
        .map(|m| m.env.clone());
    let deploy_args = DeployArgs {
        domain: from.domain.clone(),
        model: model_env.and_then(|v| from.public_env.get(&v).cloned()),
        ..deploy_args
    };
    run_with(ctx, &deploy_args, Some(from), out)
}

/// The plan of the project in `args.directory` (or here), with a spinner
/// while a hook compiles.
fn plan_project(
    ctx: &Ctx,
    catalog: &crate::blueprint::catalog::Catalog,
    args: &DeployArgs,
    resume: Option<deploy::plan::ResumeFrom>,
) -> Result<DeployPlan> {
    let config = ctx.config()?;
    let dir = match &args.directory {
        Some(d) => d.clone(),
        None => std::env::current_dir()?,
    };
    let spinner = crate::output::Progress::new(&ctx.style.for_stderr());
    deploy::plan(
        &dir,
        &DeployOptions {
            resume,
            ..options(args)
        },
        &PlanContext {
            catalog,
            config: &config,
            home: ctx.home.as_deref(),
            hook_cache: &ctx.paths.hook_cache,
            now: chrono::Utc::now(),
            progress: &|t, size| spinner.compiling(t, size),
        },
    )
}

fn run_with(
    ctx: &Ctx,
    args: &DeployArgs,
    resume: Option<deploy::plan::ResumeFrom>,
    out: &mut dyn Write,
) -> Result<()> {
    let config = ctx.config()?;
    let catalog = ctx.catalog();
    let resumed = resume.as_ref().map(|r| r.deployment_id.to_string());
    let mut plan = plan_project(ctx, &catalog, args, resume)?;
    let client = ctx.client(&config)?;
    let rt = runtime()?;

    if args.target == crate::cli::TargetKind::Vm && args.replicas > 1 {
        bail!("--replicas is for --target lke (Kubernetes does the replicas); one Linode runs one copy of the app");
    }
    if args.target == crate::cli::TargetKind::Vm && args.cluster.is_some() {
        bail!("--cluster is for --target lke (a Kubernetes cluster to deploy onto)");
    }
    if args.target == crate::cli::TargetKind::Lke {
        if args.dry_run {
            let check = rt.block_on(deploy::dry_run_preflight(&client, &plan, Place::Lke))?;
            return print_lke_plan(&plan, &check, args.replicas, args.json, out);
        }
        return run_lke(ctx, args, &plan, &client, out);
    }
    if args.dry_run {
        let check = rt.block_on(deploy::dry_run_preflight(&client, &plan, Place::Vm))?;
        if let DryRunCheck::Passed(offer) = &check {
            gpu_base_note(&mut plan, offer, client.has_token());
        }
        return print_dry_run(ctx, &plan, &check, args.json, client.has_token(), out);
    }
    if !client.has_token() {
        bail!(crate::settings::missing_token_message());
    }
    let offer = rt.block_on(deploy::preflight_create(&client, &plan, Place::Vm))?;
    gpu_base_note(&mut plan, &offer, true);
    let registry = ctx.registry();
    // This app/env is ours until we create it or stop (no other run here can pass the check below).
    let reservation = deploy::reserve(&registry, &plan, args.new)?;

    // Another deployment of this app and env: ask, or need --replace / --new.
    let mut existing = rt.block_on(deploy::existing_same_app_env(
        &client, &registry, &catalog, &plan,
    ))?;
    // The parked deployment this resumes is not another one.
    existing.retain(|d| Some(&d.deployment_id) != resumed.as_ref());
    let replace = args.replace
        || (!existing.is_empty() && !args.new && ask_replace(ctx, args, &plan, &existing)?);

    let quiet = args.json;
    for n in &plan.notes {
        if !quiet {
            ctx.note(n);
        }
    }
    if let Some(p) = &offer.price {
        if !quiet {
            ctx.note(&format!(
                "{} in {} costs {}",
                plan.settings.linode_type,
                plan.settings.region,
                deploy::format_price(p)
            ));
        }
    }
    deploy::save_generated(&plan)?;
    if !plan.generated.is_empty() && !quiet {
        ctx.note(&format!(
            "generated {} and saved {} in {} (mode 0600); {} not shown again",
            plan.generated.join(", "),
            if plan.generated.len() == 1 {
                "it"
            } else {
                "them"
            },
            plan.settings.env_file.display(),
            if plan.generated.len() == 1 {
                "it is"
            } else {
                "they are"
            },
        ));
    }
    let progress = progress_printer(ctx.style.for_stderr(), quiet);
    if !quiet {
        for l in &plan.hook_logs {
            eprintln!("hook log: {}", sanitize::line(l));
        }
    }
    reservation.hand_over();
    let mut record = rt.block_on(deploy::execute(&client, &registry, &plan, &progress))?;
    let mut wait_error = None;
    if args.wait {
        let prober = Prober::new([&record], ctx.tuning.probe_ca.as_deref())?;
        let result = rt.block_on(deploy::wait_until_healthy(
            &client,
            &prober,
            &record,
            &plan.hooks,
            std::time::Duration::from_secs(args.timeout),
            ctx.tuning.poll,
            &progress,
        ));
        match result {
            Ok(()) => deploy::record_running(&registry, &mut record)?,
            Err(e) => {
                if !quiet {
                    super::logs::print_boot_tail(ctx, &record, 25);
                }
                wait_error = Some(e);
            }
        }
    }
    let mut replaced = Vec::new();
    if replace && wait_error.is_none() {
        replaced = rt.block_on(deploy::replace_old(
            &client,
            &registry,
            &catalog,
            &ctx.paths,
            ctx.tuning.poll,
            &existing,
            &|r| {
                if !quiet {
                    ctx.note(&format!("replaced: {}: {}", r.what, r.outcome.describe()));
                }
            },
        ))?;
    }
    let url = sanitize::line(record.url.as_deref().unwrap_or_default());
    let key = plan.stack.proxy.key_env.clone();
    let example = example_path(&plan);
    if args.json {
        write!(
            out,
            "{}",
            crate::output::json(&json!({
                "deployment": record,
                "status": record.last_status,
                "url": url,
                "chat_url": page_url(&plan, &url),
                "key_env": key,
                "env_file": plan.settings.env_file,
                "curl": key.as_ref().zip(example.as_ref()).map(|(k, p)| format!("curl -H \"Authorization: Bearer ${k}\" {url}{p}")),
                "price": offer.price,
                "replaced": replaced,
                "notes": plan.notes,
            }))
        )?;
    } else {
        print_summary(ctx, &plan, &record, offer.price.as_ref(), &url, out)?;
    }
    match wait_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// `deploy --target lke`: the cluster (or `--cluster`), the objects, the
/// load balancer's name, then (with --wait) every replica ready and the
/// proxy healthy.
fn run_lke(
    ctx: &Ctx,
    args: &DeployArgs,
    plan: &DeployPlan,
    client: &crate::linode::LinodeClient,
    out: &mut dyn Write,
) -> Result<()> {
    if !client.has_token() {
        bail!(crate::settings::missing_token_message());
    }
    let rt = runtime()?;
    let offer = rt.block_on(deploy::preflight_create(client, plan, Place::Lke))?;
    let lke = deploy::lke::lke_plan(plan, args.replicas, offer.price.as_ref())?;
    let registry = ctx.registry();
    let reservation = deploy::reserve(&registry, plan, args.new)?;
    let existing = rt.block_on(deploy::existing_same_app_env(
        client,
        &registry,
        &ctx.catalog(),
        plan,
    ))?;
    if !existing.is_empty() && !args.new {
        bail!(
            "{} (env: {}) is already deployed ({}); on LKE 'deploy --replace' is not offered yet: 'linode-ai destroy --app {} --env {}' first, another --env, or --new to deploy beside it",
            plan.settings.app_name,
            plan.settings.env_name,
            existing
                .iter()
                .map(|d| d.deployment_id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            plan.settings.app_name,
            plan.settings.env_name
        );
    }
    let quiet = args.json;
    deploy::save_generated(plan)?;
    if !quiet {
        if let Some(m) = lke.monthly_usd {
            ctx.note(&format!(
                "cluster {}: {} node(s) of {}, a NodeBalancer and {} GB of Block Storage: ${m:.2}/month",
                lke.cluster.label,
                lke.cluster.node_pools.iter().map(|p| p.count).sum::<u32>(),
                plan.settings.linode_type,
                lke.cluster.volume_gb
            ));
        }
    }
    let progress = progress_printer(ctx.style.for_stderr(), quiet);
    let opts = deploy::lke::LkeOptions {
        cluster: args.cluster,
        replicas: args.replicas,
        kube_dir: ctx.paths.kube.clone(),
        probe_ca: ctx.tuning.probe_ca.clone(),
        poll: ctx.tuning.poll,
        timeout: std::time::Duration::from_secs(args.timeout),
    };
    let start = rt.block_on(deploy::lke::prepare(client, &opts))?;
    reservation.hand_over();
    let mut record = rt.block_on(deploy::lke::deploy(
        client, &registry, plan, &lke, &opts, start, &progress,
    ))?;
    let mut wait_error = None;
    if args.wait {
        match rt.block_on(deploy::lke::wait_running(
            client,
            &plan.hooks,
            &record,
            &opts,
            &progress,
        )) {
            Ok(()) => {
                rt.block_on(deploy::lke::remember_volumes(
                    client,
                    &registry,
                    &opts,
                    &mut record,
                ));
                deploy::record_running(&registry, &mut record)?
            }
            Err(e) => wait_error = Some(e),
        }
    }
    let url = sanitize::line(record.url.as_deref().unwrap_or_default());
    if args.json {
        write!(
            out,
            "{}",
            crate::output::json(&json!({
                "deployment": record,
                "status": record.last_status,
                "url": url,
                "chat_url": page_url(plan, &url),
                "key_env": plan.stack.proxy.key_env,
                "env_file": plan.settings.env_file,
                "cluster": lke.cluster,
                "monthly_usd": lke.monthly_usd,
            }))
        )?;
    } else {
        let l = record.lke.as_ref();
        writeln!(out, "Deployed {} on LKE", plan.settings.template)?;
        writeln!(out, "URL:        {url}")?;
        if let Some(p) = page_url(plan, &url) {
            writeln!(out, "Chat page:  {p}")?;
        }
        writeln!(
            out,
            "Cluster:    {} ({}){}",
            l.and_then(|l| l.cluster_id)
                .map(|c| c.to_string())
                .unwrap_or_default(),
            lke.cluster.label,
            if args.cluster.is_some() {
                ", yours: destroy leaves it"
            } else {
                ""
            }
        )?;
        writeln!(out, "Namespace:  {}", lke.namespace)?;
        writeln!(out, "Status:     {}", record.last_status.as_str())?;
        if let Some(k) = &plan.stack.proxy.key_env {
            writeln!(
                out,
                "Key:        ${k} in {} (send it as 'Authorization: Bearer')",
                plan.settings.env_file.display()
            )?;
        }
        writeln!(
            out,
            "Next:       linode-ai status --app {} --env {}; linode-ai logs --service NAME; linode-ai destroy",
            plan.settings.app_name, plan.settings.env_name
        )?;
    }
    match wait_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The text a deploy ends with: what was made, where, its price, how to try it.
fn print_summary(
    ctx: &Ctx,
    plan: &DeployPlan,
    record: &Deployment,
    price: Option<&crate::linode::Price>,
    url: &str,
    out: &mut dyn Write,
) -> Result<()> {
    let key = &plan.stack.proxy.key_env;
    let example = example_path(plan);
    let s = &ctx.style;
    writeln!(
        out,
        "{}",
        s.bold(&format!(
            "Deployed {} (env: {})",
            record.app_name, record.env
        ))
    )?;
    writeln!(out)?;
    writeln!(out, "Status:    {}", s.status(record.last_status))?;
    writeln!(
        out,
        "Linode ID: {}",
        record.linode_id.map(|i| i.to_string()).unwrap_or_default()
    )?;
    writeln!(out, "Region:    {}", record.region)?;
    writeln!(
        out,
        "URL:       {}",
        if url.is_empty() {
            "(no public IPv4 yet)"
        } else {
            &url
        }
    )?;
    if let Some(chat) = page_url(plan, url) {
        writeln!(
            out,
            "Chat:      {chat}  (open it in a browser; it asks for the key once)"
        )?;
    }
    let fw = match (
        &plan.firewall,
        record.firewall.as_ref().and_then(|f| f.id()),
    ) {
        (FirewallPlan::Create(b), Some(id)) => {
            format!(
                "{id} (open: {})",
                crate::targets::vm::firewall::describe(&b.rules)
            )
        }
        (FirewallPlan::Existing(id), _) => format!("{id} (yours; kept on destroy)"),
        (FirewallPlan::Disabled, _) => "none (--no-firewall)".into(),
        _ => "-".into(),
    };
    writeln!(out, "Firewall:  {fw}")?;
    writeln!(
        out,
        "Price:     {}",
        price
            .map(deploy::format_price)
            .unwrap_or_else(|| "unknown (the API gave no valid price)".into())
    )?;
    if let Some(ip) = &record.ipv4 {
        if let Some(d) = &record.domain {
            if record.dns_records.is_empty() {
                writeln!(out, "DNS:       point an A record for {d} at {ip}")?;
            }
            for r in &record.dns_records {
                writeln!(
                    out,
                    "DNS:       {} record {} -> {} made in your DNS Manager (removed on destroy)",
                    r.kind,
                    sanitize::line(&r.name),
                    sanitize::line(&r.target)
                )?;
            }
        }
    }
    if let (Some(k), Some(p)) = (&key, &example) {
        writeln!(out)?;
        writeln!(
            out,
            "Try it (the key is {k} in {}):",
            plan.settings.env_file.display()
        )?;
        // Reads the one line, runs nothing of the file (no `. .env`: that
        // would run `$(...)` and expand `$` in values).
        writeln!(
            out,
            "  {k}=$(sed -n 's/^{k}=//p' {})",
            crate::shell::shell_quote(&plan.settings.env_file.display().to_string())
        )?;
        writeln!(out, "  curl -H \"Authorization: Bearer ${k}\" {url}{p}")?;
    }
    writeln!(out)?;
    if record.last_status != Status::Running {
        writeln!(out, "The first boot takes a few minutes (the certificate, the images, the model). Run `linode-ai status` to check when it's ready.")?;
    }
    Ok(())
}

/// `deploy --target lke --dry-run`: the cluster, its price and the objects.
fn print_lke_plan(
    plan: &DeployPlan,
    check: &DryRunCheck,
    replicas: u32,
    as_json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let price = match check {
        DryRunCheck::Passed(offer) => offer.price,
        DryRunCheck::Skipped(_) => None,
    };
    let lke = deploy::lke::lke_plan(plan, replicas, price.as_ref())?;
    let checks = match check {
        DryRunCheck::Passed(_) => "passed".to_string(),
        DryRunCheck::Skipped(why) => format!("skipped: {why}"),
    };
    if as_json {
        write!(
            out,
            "{}",
            crate::output::json(&json!({
                "dry_run": true,
                "target": "lke",
                "settings": plan.settings,
                "api_checks": checks,
                "cluster": lke.cluster,
                "namespace": lke.namespace,
                "monthly_usd": lke.monthly_usd,
                "objects": lke.objects,
                "notes": lke.notes,
            }))
        )?;
        return Ok(());
    }
    let st = &plan.settings;
    writeln!(
        out,
        "Plan for {} on LKE (dry run: nothing is created)",
        st.template
    )?;
    writeln!(out, "App / env:   {} / {}", st.app_name, st.env_name)?;
    writeln!(
        out,
        "Cluster:     {} in {}",
        lke.cluster.label, lke.cluster.region
    )?;
    for p in &lke.cluster.node_pools {
        writeln!(
            out,
            "Node pool:   {} x {}{}",
            p.count,
            p.linode_type,
            price
                .map(|p| format!(", {} each", deploy::format_price(&p)))
                .unwrap_or_default()
        )?;
    }
    writeln!(
        out,
        "Storage:     {} GB of Block Storage for the volumes and the proxy's certificates",
        lke.cluster.volume_gb
    )?;
    writeln!(
        out,
        "Per month:   {}",
        lke.monthly_usd
            .map(|m| format!("${m:.2} (nodes, the NodeBalancer, the volumes)"))
            .unwrap_or_else(|| "unknown (the API's prices were not read)".into())
    )?;
    writeln!(out, "Namespace:   {}", lke.namespace)?;
    let mut kinds: Vec<String> = Vec::new();
    for o in &lke.objects {
        kinds.push(format!(
            "{} {}",
            o["kind"].as_str().unwrap_or("?"),
            o["metadata"]["name"].as_str().unwrap_or("?")
        ));
    }
    writeln!(out, "Objects:     {}", kinds.join(", "))?;
    writeln!(out, "API checks:  {checks}")?;
    // (The plan's own notes are about a VM: SSH, expiry tags, cache volume.)
    for n in &lke.notes {
        writeln!(out, "note: {}", sanitize::block(n))?;
    }
    writeln!(
        out,
        "'--json' prints every object (the Secret's values redacted)."
    )?;
    Ok(())
}

/// A GPU template starts from the account's GPU base Image when there is
/// one; the plan says which, or how to make one.
fn gpu_base_note(plan: &mut DeployPlan, offer: &deploy::Offer, looked: bool) {
    if let Some(note) = deploy::use_gpu_base(plan, offer) {
        plan.notes.push(note);
    } else if looked && plan.stack.needs_gpu() && plan.template.linode().gpu {
        plan.notes.push(format!(
            "no GPU base Image for driver {} in the account: the boot installs the driver (1-2 minutes, 3-8 with DKMS); 'linode-ai image build --gpu' makes one",
            plan.template.linode().nvidia_driver
        ));
    }
}

fn print_dry_run(
    ctx: &Ctx,
    plan: &DeployPlan,
    check: &DryRunCheck,
    as_json: bool,
    has_token: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let request = plan.request.redacted_json();
    let (checks, price) = match check {
        DryRunCheck::Passed(offer) => ("passed".to_string(), offer.price),
        DryRunCheck::Skipped(why) => (format!("skipped: {why}"), None),
    };
    let firewall_request = match &plan.firewall {
        FirewallPlan::Create(body) => Some(serde_json::to_value(body)?),
        _ => None,
    };
    let caddyfile = crate::blueprint::proxy::caddyfile(&plan.stack);
    let routes = crate::blueprint::proxy::describe(&plan.stack);
    let hook_logs: Vec<String> = plan.hook_logs.iter().map(|l| sanitize::line(l)).collect();
    if as_json {
        return write_dry_run_json(
            plan,
            &checks,
            price,
            &request,
            firewall_request.as_ref(),
            &routes,
            &caddyfile,
            &hook_logs,
            out,
        );
    }
    write_plan_summary(ctx, plan, &checks, price, has_token, &hook_logs, out)?;
    write_plan_documents(
        ctx,
        plan,
        &request,
        firewall_request.as_ref(),
        &routes,
        &caddyfile,
        out,
    )
}

/// `--dry-run --json`: the plan as one document.
#[allow(clippy::too_many_arguments)]
fn write_dry_run_json(
    plan: &DeployPlan,
    checks: &str,
    price: Option<crate::linode::Price>,
    request: &serde_json::Value,
    firewall_request: Option<&serde_json::Value>,
    routes: &[String],
    caddyfile: &str,
    hook_logs: &[String],
    out: &mut dyn Write,
) -> Result<()> {
    let services: Vec<_> = plan
        .stack
        .services
        .iter()
        .map(|s| json!({"name": s.name, "image": s.image, "port": s.port, "gpus": s.gpus, "depends_on": s.depends_on.iter().map(|(d, _)| d).collect::<Vec<_>>()}))
        .collect();
    let mut requests = Vec::new();
    if let Some(b) = firewall_request {
        requests.push(json!({ "method": "POST", "path": "/networking/firewalls", "body": b }));
    }
    requests.push(json!({ "method": "POST", "path": "/linode/instances", "body": request }));
    write!(
        out,
        "{}",
        crate::output::json(&json!({
            "dry_run": true,
            "settings": plan.settings,
            "url": plan.url_hint(),
            "services": services,
            "request": { "method": "POST", "path": "/linode/instances", "body": request },
            "requests": requests,
            "cache": plan.cache.as_ref().map(|c| json!({"label": c.label, "size_gb": c.size_gb, "monthly_usd": c.monthly_price()})),
            "firewall": match &plan.firewall { FirewallPlan::Create(b) => json!({"create": b.label}), FirewallPlan::Existing(id) => json!({"existing": id}), FirewallPlan::Disabled => json!("none") },
            "proxy": { "routes": routes, "caddyfile": caddyfile, "key_env": plan.stack.proxy.key_env },
            "user_data": plan.user_data_display,
            "user_data_bytes": plan.user_data.len(),
            "api_checks": checks,
            "price": price,
            "generated": plan.generated,
            "has_hook": plan.hooks.has_hook(),
            "hook_load": plan.hooks.load_kind(),
            "hook_logs": hook_logs,
            "hook_changes": plan.hook_diff.iter().map(|(s, a, r)| json!({"section": s, "added": a, "removed": r})).collect::<Vec<_>>(),
            "notes": plan.notes,
        }))
    )?;
    Ok(())
}

/// The plan's key facts, a line each.
fn write_plan_summary(
    ctx: &Ctx,
    plan: &DeployPlan,
    checks: &str,
    price: Option<crate::linode::Price>,
    has_token: bool,
    hook_logs: &[String],
    out: &mut dyn Write,
) -> Result<()> {
    let s = &ctx.style;
    let st = &plan.settings;
    writeln!(
        out,
        "{}",
        s.bold("Deploy plan (dry run: nothing is created)")
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Template:    {} {}{}",
        st.template,
        st.template_version,
        if plan.hooks.has_hook() {
            " (with hook)"
        } else {
            ""
        }
    )?;
    writeln!(out, "App / env:   {} / {}", st.app_name, st.env_name)?;
    writeln!(out, "Region:      {}", st.region)?;
    writeln!(
        out,
        "Linode type: {}{}",
        st.linode_type,
        price
            .map(|p| format!(", {}", deploy::format_price(&p)))
            .unwrap_or_else(|| ", price unknown".into())
    )?;
    writeln!(out, "Base image:  {}", plan.request.image)?;
    for (i, svc) in plan.stack.services.iter().enumerate() {
        writeln!(
            out,
            "{}{} {}{} (private network only)",
            if i == 0 {
                "Services:    "
            } else {
                "             "
            },
            svc.name,
            svc.image,
            svc.port.map(|p| format!(", port {p}")).unwrap_or_default()
        )?;
    }
    writeln!(
        out,
        "Proxy:       {} on ports 80 and {} (the only published ports)",
        crate::blueprint::proxy::CADDY_IMAGE,
        st.https_port
    )?;
    writeln!(
        out,
        "URL:         {}{}",
        plan.url_hint(),
        if st.domain.is_none() {
            " (the name is derived on the instance from its IPv4)"
        } else {
            ""
        }
    )?;
    match &plan.stack.proxy.key_env {
        Some(k) => writeln!(
            out,
            "API key:     {k} from {} (\"Authorization: Bearer <key>\")",
            st.env_file.display()
        )?,
        None => writeln!(out, "API key:     none: the app's own login protects it")?,
    }
    match &plan.firewall {
        FirewallPlan::Create(b) => writeln!(
            out,
            "Firewall:    new, {} (open: {})",
            b.label,
            crate::targets::vm::firewall::describe(&b.rules)
        )?,
        FirewallPlan::Existing(id) => writeln!(out, "Firewall:    {id} (yours)")?,
        FirewallPlan::Disabled => writeln!(out, "Firewall:    none (--no-firewall)")?,
    }
    match &plan.cache {
        Some(c) if c.existing.is_some() => writeln!(
            out,
            "Cache:       volume {} ({}, {} GB, ${:.2}/month), kept by park: the images and the models are on it",
            c.existing.unwrap_or(0),
            c.label,
            c.size_gb,
            c.monthly_price()
        )?,
        Some(c) => writeln!(
            out,
            "Cache:       new volume {}, {} GB, ${:.2}/month (Docker's images and the models; park keeps it, destroy deletes it)",
            c.label,
            c.size_gb,
            c.monthly_price()
        )?,
        None => {}
    }
    writeln!(
        out,
        "Env file:    {} ({} vars)",
        st.env_file.display(),
        plan.env.len()
    )?;
    if !plan.generated.is_empty() {
        writeln!(
            out,
            "Generated:   {} (empty in the env file; saved there on deploy)",
            plan.generated.join(", ")
        )?;
    }
    writeln!(out, "API checks:  {checks}")?;
    if !has_token {
        writeln!(out, "Token:       none found (a real deploy needs LINODE_CLI_TOKEN or 'linode-cli configure')")?;
    }
    for n in &plan.notes {
        writeln!(out, "Note:        {}", sanitize::line(n))?;
    }
    for l in hook_logs {
        writeln!(out, "Hook log:    {l}")?;
    }
    if plan.hooks.has_hook() {
        if plan.hook_diff.is_empty() {
            writeln!(out, "Hook:        kept the default user-data")?;
        } else {
            let parts: Vec<String> = plan
                .hook_diff
                .iter()
                .map(|(s, a, r)| format!("{s} +{a}/-{r}"))
                .collect();
            writeln!(
                out,
                "Hook:        changed {} (lines added/removed)",
                parts.join(", ")
            )?;
        }
    }
    Ok(())
}

/// The requests, the routes, the proxy's config and the user-data, in full.
fn write_plan_documents(
    ctx: &Ctx,
    plan: &DeployPlan,
    request: &serde_json::Value,
    firewall_request: Option<&serde_json::Value>,
    routes: &[String],
    caddyfile: &str,
    out: &mut dyn Write,
) -> Result<()> {
    let s = &ctx.style;
    if let Some(b) = firewall_request {
        writeln!(out)?;
        writeln!(out, "{}", s.bold("Request: POST /networking/firewalls"))?;
        writeln!(out, "{}", serde_json::to_string_pretty(b)?)?;
    }
    writeln!(out)?;
    writeln!(out, "{}", s.bold("Request: POST /linode/instances"))?;
    writeln!(out, "{}", serde_json::to_string_pretty(request)?)?;
    writeln!(out)?;
    writeln!(out, "{}", s.bold("Proxy routes"))?;
    for r in routes {
        writeln!(out, "  {r}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        s.bold(&format!(
            "Proxy config ({}; the key is read from the environment, never written here)",
            crate::blueprint::proxy::CADDYFILE
        ))
    )?;
    write!(out, "{caddyfile}")?;
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        s.bold(&format!(
            "User-data ({} bytes of 16384; secrets shown as <redacted>):",
            plan.user_data.len()
        ))
    )?;
    let shown = crate::targets::vm::cloud_init::readable(&plan.user_data_display);
    write!(out, "{}", sanitize::block(&shown))?;
    if !shown.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}
