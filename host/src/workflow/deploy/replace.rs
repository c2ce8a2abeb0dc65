//! `deploy --replace`: once the new deployment is up, the old ones of the
//! same app and env go, each with an outcome the command reports.

use anyhow::Result;
use serde::Serialize;

use crate::blueprint::catalog::Catalog;
use crate::linode::LinodeClient;
use crate::registry::{Deployment, Registry};
use crate::workflow::destroy::{self, Outcome, Selection};

/// What became of one deployment `--replace` was to destroy.
#[derive(Debug, Clone, Serialize)]
pub struct Replaced {
    pub deployment_id: String,
    /// The target as `destroy` names it (or the record, when nothing was found).
    pub what: String,
    pub outcome: Outcome,
}

/// Destroys `old` (looked up afresh: the account may have changed while the
/// new one was made). One that is no longer anywhere is reported, not skipped.
/// `each` hears of every outcome as it happens.
pub async fn replace_old(
    client: &LinodeClient,
    registry: &Registry,
    catalog: &Catalog,
    paths: &crate::paths::Paths,
    poll: std::time::Duration,
    old: &[Deployment],
    each: &dyn Fn(&Replaced),
) -> Result<Vec<Replaced>> {
    let (joined, view) = destroy::survey(client, registry, catalog).await?;
    let mut out = Vec::new();
    for d in old {
        let sel = Selection {
            id: Some(d.deployment_id.clone()),
            ..Default::default()
        };
        match destroy::select(&joined, &view, &sel) {
            Ok(targets) => {
                for t in targets {
                    let outcome = destroy::destroy_one(client, registry, paths, poll, &t).await;
                    let r = Replaced {
                        deployment_id: d.deployment_id.clone(),
                        what: t.describe(),
                        outcome,
                    };
                    each(&r);
                    out.push(r);
                }
            }
            Err(_) => {
                let r = Replaced {
                    deployment_id: d.deployment_id.clone(),
                    what: format!(
                        "{} (env: {}) Linode {}",
                        d.app_name,
                        d.env,
                        d.linode_id
                            .map(|i| i.to_string())
                            .unwrap_or_else(|| "pending".into())
                    ),
                    outcome: Outcome::NotFound,
                };
                each(&r);
                out.push(r);
            }
        }
    }
    Ok(out)
}
