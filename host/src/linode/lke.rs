//! LKE (Linode Kubernetes Engine) clusters and the NodeBalancers their
//! cloud controller makes, as the official spec (v4.189.0) gives them: only
//! the fields linode-ai reads or sends.

use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{ApiError, Labelled, LinodeClient};

/// `GET /lke/clusters/{id}` (the fields read).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LkeCluster {
    pub id: u64,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub k8s_version: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub created: Option<String>,
}

impl Labelled for LkeCluster {
    fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }
}

/// One pool of `POST /lke/clusters` (spec: `type` and `count` required).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CreatePool {
    #[serde(rename = "type")]
    pub linode_type: String,
    pub count: u32,
}

/// `POST /lke/clusters` (spec: `label`, `region`, `k8s_version`,
/// `node_pools` required; `tags` optional).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CreateLkeCluster {
    pub label: String,
    pub region: String,
    pub k8s_version: String,
    pub node_pools: Vec<CreatePool>,
    pub tags: Vec<String>,
}

/// A node of `GET /lke/clusters/{id}/pools` (`status`: `ready` or `not_ready`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LkeNode {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub instance_id: Option<u64>,
}

/// `GET /lke/clusters/{id}/pools` items.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LkePool {
    pub id: u64,
    #[serde(rename = "type", default)]
    pub linode_type: Option<String>,
    #[serde(default)]
    pub count: u32,
    #[serde(default)]
    pub nodes: Vec<LkeNode>,
}

impl LkePool {
    pub fn ready_nodes(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.status.as_deref() == Some("ready"))
            .count()
    }
}

#[derive(Debug, Deserialize)]
struct Version {
    id: String,
}

#[derive(Debug, Deserialize)]
struct KubeconfigBody {
    kubeconfig: String,
}

/// The cluster a NodeBalancer belongs to (`lke_cluster` in its JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeBalancerCluster {
    pub id: u64,
}

/// `GET /nodebalancers/{id}` (the fields read).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NodeBalancer {
    pub id: u64,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub ipv4: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub lke_cluster: Option<NodeBalancerCluster>,
}

/// The tag Linode's cloud controller puts on the NodeBalancers it makes for
/// cluster `id` (its cluster name on LKE).
pub fn ccm_tag(cluster: u64) -> String {
    format!("lke{cluster}")
}

impl NodeBalancer {
    /// Made by the cloud controller of cluster `cluster`.
    pub fn made_by(&self, cluster: u64) -> bool {
        self.lke_cluster.as_ref().map(|c| c.id) == Some(cluster)
            || self.tags.iter().any(|t| *t == ccm_tag(cluster))
    }
}

/// What `kubeconfig` answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Kubeconfig {
    /// The YAML, decoded.
    Ready(String),
    /// 503 while LKE is still making it (its answer for a new cluster).
    NotYet,
}

impl LinodeClient {
    /// `GET /lke/versions`: the newest first, as the API lists them (the
    /// spec asks for a token, `lke:read_only`).
    pub async fn lke_versions(&self) -> Result<Vec<String>, ApiError> {
        let v: Vec<Version> = self.list_all("/lke/versions", None, true).await?;
        Ok(v.into_iter().map(|v| v.id).collect())
    }

    /// Creates a cluster exactly once (its label is unique in the account).
    pub async fn create_lke_cluster(
        &self,
        body: &CreateLkeCluster,
    ) -> Result<LkeCluster, ApiError> {
        self.create_once("/lke/clusters", body, &body.label).await
    }

    pub async fn get_lke_cluster(&self, id: u64) -> Result<LkeCluster, ApiError> {
        self.request::<_, ()>(
            Method::GET,
            &format!("/lke/clusters/{id}"),
            None,
            None,
            true,
        )
        .await
    }

    /// Clusters matching `filter` (`tags` is filterable).
    pub async fn list_lke_clusters(
        &self,
        filter: Option<&serde_json::Value>,
    ) -> Result<Vec<LkeCluster>, ApiError> {
        self.list_all("/lke/clusters", filter, true).await
    }

    pub async fn lke_pools(&self, id: u64) -> Result<Vec<LkePool>, ApiError> {
        self.list_all(&format!("/lke/clusters/{id}/pools"), None, true)
            .await
    }

    /// Deletes a cluster (its nodes go with it; its NodeBalancers and
    /// volumes may not: see `workflow::lke`). Gone already counts as done.
    pub async fn delete_lke_cluster(&self, id: u64) -> Result<(), ApiError> {
        self.delete_if_there(&format!("/lke/clusters/{id}")).await
    }

    /// `DELETE path`; a 404 (gone already) counts as done.
    async fn delete_if_there(&self, path: &str) -> Result<(), ApiError> {
        match self
            .request::<serde_json::Value, ()>(Method::DELETE, path, None, None, true)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `GET /lke/clusters/{id}/kubeconfig`, decoded. One try: the caller
    /// polls while it is [`Kubeconfig::NotYet`].
    pub async fn lke_kubeconfig(&self, id: u64) -> Result<Kubeconfig, ApiError> {
        let path = format!("/lke/clusters/{id}/kubeconfig");
        let body = match self
            .send_once::<()>(&Method::GET, &path, None, None, true)
            .await
        {
            Ok((bytes, _)) => bytes,
            Err((e, _)) if e.status() == Some(503) => return Ok(Kubeconfig::NotYet),
            Err((e, _)) => return Err(e),
        };
        let decode = |message: String| ApiError::Decode {
            method: "GET".into(),
            path: path.clone(),
            message,
        };
        let k: KubeconfigBody = serde_json::from_slice(&body).map_err(|e| decode(e.to_string()))?;
        use base64::Engine;
        let yaml = base64::engine::general_purpose::STANDARD
            .decode(k.kubeconfig.trim())
            .map_err(|_| decode("the kubeconfig is not base64".into()))?;
        String::from_utf8(yaml)
            .map(Kubeconfig::Ready)
            .map_err(|_| decode("the kubeconfig is not UTF-8".into()))
    }

    /// Waits for the kubeconfig, asking every `poll`, for at most `limit`.
    pub async fn wait_lke_kubeconfig(
        &self,
        id: u64,
        poll: Duration,
        limit: Duration,
    ) -> Result<Option<String>, ApiError> {
        let start = std::time::Instant::now();
        loop {
            match self.lke_kubeconfig(id).await {
                Ok(Kubeconfig::Ready(k)) => return Ok(Some(k)),
                Ok(Kubeconfig::NotYet) => {}
                Err(e) if e.retryable() => {}
                Err(e) => return Err(e),
            }
            if start.elapsed() >= limit {
                return Ok(None);
            }
            tokio::time::sleep(poll).await;
        }
    }

    pub async fn list_nodebalancers(
        &self,
        filter: Option<&serde_json::Value>,
    ) -> Result<Vec<NodeBalancer>, ApiError> {
        self.list_all("/nodebalancers", filter, true).await
    }

    /// Deletes a NodeBalancer; gone already counts as done.
    pub async fn delete_nodebalancer(&self, id: u64) -> Result<(), ApiError> {
        self.delete_if_there(&format!("/nodebalancers/{id}")).await
    }
}
