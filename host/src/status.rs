//! `status` as data: every deployment is checked concurrently (bounded):
//! the instance's API status, then the health probe of the published port.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::deploy::map_api_status;
use crate::health::{self, HealthVerdict, ProbeResult};
use crate::hooks::{DeployContext, TemplateHooks};
use crate::linode::LinodeClient;
use crate::registry::Deployment;
use crate::template::Catalog;

/// How many deployments are checked at once.
pub const DEFAULT_CONCURRENCY: u16 = 100;

/// One row of `status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    #[serde(flatten)]
    pub deployment: Deployment,
    /// The instance status the API reported (None: not asked or not found).
    pub api_status: Option<String>,
    pub status: String,
    pub detail: Option<String>,
    pub http_status: Option<u16>,
    pub checked_at: DateTime<Utc>,
}

fn hooks_for(catalog: &Catalog, d: &Deployment) -> TemplateHooks {
    catalog
        .get(&d.template)
        .and_then(|t| TemplateHooks::for_template(t).ok())
        .unwrap_or_else(|| {
            TemplateHooks::builtin(
                &d.template,
                &d.template_version,
                d.health.success_codes.clone(),
            )
        })
}

fn context_for(d: &Deployment) -> DeployContext {
    DeployContext {
        template: d.template.clone(),
        template_version: d.template_version.clone(),
        app_name: d.app_name.clone(),
        env_name: d.env.clone(),
        region: d.region.clone(),
        linode_type: d.linode_type.clone().unwrap_or_default(),
        image: d.image.clone().unwrap_or_default(),
        internal_port: d.internal_port.unwrap_or(0),
        external_port: d.health.port,
        env_vars: d.public_env.clone(),
    }
}

/// Checks one deployment.
pub async fn check_one(
    client: &LinodeClient,
    probe_client: &reqwest::Client,
    hooks: &TemplateHooks,
    d: Deployment,
) -> StatusRow {
    let row = |api_status: Option<String>,
               status: &str,
               detail: Option<String>,
               http: Option<u16>,
               d: Deployment| StatusRow {
        deployment: d,
        api_status,
        status: status.to_string(),
        detail,
        http_status: http,
        checked_at: Utc::now(),
    };
    let Some(id) = d.linode_id else {
        return match d.label.as_deref() {
            Some(label) => match client.find_by_label(label).await {
                Ok(Some(i)) => row(i.status.clone(), "pending", Some(format!("Linode {} exists but the record was not completed; 'linode-ai destroy' removes it", i.id)), None, d),
                Ok(None) => row(None, "pending", Some("create did not complete; no Linode has this label".into()), None, d),
                Err(e) => row(None, "unknown", Some(e.to_string()), None, d),
            },
            None => row(None, "pending", None, None, d),
        };
    };
    let instance = match client.get_instance(id).await {
        Ok(i) => i,
        Err(e) if e.is_not_found() => {
            return row(
                None,
                "missing",
                Some(format!("Linode {id} no longer exists")),
                None,
                d,
            )
        }
        Err(e) => return row(None, "unknown", Some(e.to_string()), None, d),
    };
    let api = instance.status.clone().unwrap_or_default();
    let mapped = map_api_status(&api);
    if mapped != "running" {
        return row(Some(api), mapped, None, None, d);
    }
    let Some(target) = d.probe_target() else {
        return row(
            Some(api),
            "unknown",
            Some("no address recorded".into()),
            None,
            d,
        );
    };
    let probe = health::probe(
        probe_client,
        &target,
        Duration::from_secs(d.health.timeout_seconds.max(1)),
    )
    .await;
    let http = match &probe {
        ProbeResult::Response { status, .. } => Some(*status),
        ProbeResult::Error { .. } => None,
    };
    // A hook runs synchronously (bounded by its deadline): let other checks proceed meanwhile.
    match tokio::task::block_in_place(|| hooks.health(&context_for(&d), &probe)) {
        Ok(HealthVerdict::Healthy) => row(Some(api), "running", None, http, d),
        Ok(v) => {
            let (status, reason) = (v.status(), v.reason().map(str::to_string));
            row(Some(api), status, reason, http, d)
        }
        Err(e) => row(Some(api), "degraded", Some(format!("{e:#}")), http, d),
    }
}

/// Checks all deployments with at most `concurrency` in flight; rows keep the input order.
pub async fn check_all(
    client: &LinodeClient,
    catalog: &Catalog,
    deployments: Vec<Deployment>,
    concurrency: usize,
) -> Vec<StatusRow> {
    let sem = Arc::new(Semaphore::new(concurrency.max(1)));
    let probe_client = health::probe_client();
    let mut tasks = tokio::task::JoinSet::new();
    // One hooks instance per template, shared by its deployments.
    let mut by_template: std::collections::HashMap<String, Arc<TemplateHooks>> = Default::default();
    for (i, d) in deployments.into_iter().enumerate() {
        let (client, probe_client, sem) = (client.clone(), probe_client.clone(), sem.clone());
        let hooks = by_template
            .entry(d.template.clone())
            .or_insert_with(|| Arc::new(hooks_for(catalog, &d)))
            .clone();
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await.expect("semaphore open");
            (i, check_one(&client, &probe_client, &hooks, d).await)
        });
    }
    let mut rows = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(r) = done {
            rows.push(r);
        }
    }
    rows.sort_by_key(|(i, _)| *i);
    rows.into_iter().map(|(_, r)| r).collect()
}
