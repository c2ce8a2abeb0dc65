//! `deploy --wait`: the same checks as `status`, repeated until the app is
//! healthy, the Linode cannot come up, or the time is up.

use std::time::{Duration, Instant};

use super::execute::Progress;
use crate::health::{HealthVerdict, Prober};
use crate::hooks::TemplateHooks;
use crate::linode::LinodeClient;
use crate::registry::{Deployment, Registry};
use crate::state::Status;

/// Why waiting stopped without a healthy app.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("timed out after {secs}s waiting for {url} (last: {last}); it may still come up: run 'linode-ai status'")]
    TimedOut {
        secs: u64,
        url: String,
        last: String,
    },
    #[error("the app is unhealthy: {0}")]
    Failed(String),
    #[error("Linode {id} is {state}; it will not become healthy")]
    LinodeDown { id: u64, state: String },
    /// The check itself failed (the API did not answer as it should).
    #[error(transparent)]
    Check(#[from] crate::linode::ApiError),
}

/// Polls until healthy; reports each change of status as progress.
pub async fn wait_until_healthy(
    client: &LinodeClient,
    prober: &Prober,
    record: &Deployment,
    hooks: &TemplateHooks,
    timeout: Duration,
    poll: Duration,
    progress: &(dyn Fn(Progress) + Sync),
) -> std::result::Result<(), WaitError> {
    let start = Instant::now();
    let mut last: Option<(Status, Option<String>)> = None;
    let mut seen_logs = std::collections::HashSet::new();
    loop {
        let (state, verdict, logs) =
            crate::workflow::status::check_one(client, prober, hooks, record).await?;
        for l in logs {
            if !seen_logs.contains(&l) {
                progress(Progress::HookLog(l.clone()));
                seen_logs.insert(l);
            }
        }
        let status = match (&state, &verdict) {
            (Some(s), _) if s.status().is_some() => s.status().expect("checked"),
            _ => verdict.status(),
        };
        let detail = verdict.reason().map(str::to_string);
        if last.as_ref() != Some(&(status, detail.clone())) {
            progress(Progress::Phase {
                status,
                detail: detail.clone(),
            });
            last = Some((status, detail.clone()));
        }
        match (&state, &verdict) {
            (_, HealthVerdict::Healthy) => return Ok(()),
            (Some(s), _) if s.is_final() => {
                return Err(WaitError::LinodeDown {
                    id: record.linode_id.unwrap_or(0),
                    state: s.as_str().to_string(),
                })
            }
            // A failed boot step does not heal by waiting.
            (_, HealthVerdict::BootFailed(r)) => return Err(WaitError::Failed(r.clone())),
            _ => {}
        }
        if start.elapsed() >= timeout {
            return Err(WaitError::TimedOut {
                secs: timeout.as_secs(),
                url: record.url.clone().unwrap_or_default(),
                last: format!(
                    "{status}{}",
                    detail.map(|d| format!(", {d}")).unwrap_or_default()
                ),
            });
        }
        tokio::time::sleep(
            poll.min(timeout.saturating_sub(start.elapsed()))
                .max(Duration::from_millis(50)),
        )
        .await;
    }
}

/// After a wait that ended healthy: the record (and its registry copy) say running.
pub fn record_running(registry: &Registry, record: &mut Deployment) -> anyhow::Result<()> {
    record.last_status = Status::Running;
    record.last_detail = None;
    let id = record.deployment_id.clone();
    registry.update(|d| {
        if let Some(x) = d.deployments.iter_mut().find(|x| x.deployment_id == id) {
            x.last_status = Status::Running;
            x.last_detail = None;
            x.last_checked_at = Some(chrono::Utc::now());
        }
    })?;
    Ok(())
}
