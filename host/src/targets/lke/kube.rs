//! The Kubernetes API, spoken directly: a kubeconfig's server, CA and bearer
//! token (what LKE hands out), server-side apply, reads, deletes and pod
//! logs over HTTPS with reqwest. No Kubernetes client crate: the few calls
//! linode-ai makes do not need one, and kube-rs with k8s-openapi would add
//! minutes to a clean build.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

use crate::sanitize;

/// The field manager of linode-ai's applies.
pub const FIELD_MANAGER: &str = "linode-ai";
/// Answers larger than this are refused (logs are cut by `limitBytes`).
const BODY_LIMIT: usize = 8 << 20;

/// What a kubeconfig says about where and how to connect (its current
/// context's cluster and user).
#[derive(Clone)]
pub struct KubeAccess {
    pub server: String,
    pub ca_pem: Option<Vec<u8>>,
    token: String,
}

impl std::fmt::Debug for KubeAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeAccess")
            .field("server", &self.server)
            .field("token", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "user", alias = "context")]
    cluster: T,
}

#[derive(Deserialize, Default)]
struct ClusterEntry {
    server: String,
    #[serde(rename = "certificate-authority-data", default)]
    ca_data: Option<String>,
}

#[derive(Deserialize, Default)]
struct UserEntry {
    #[serde(default)]
    token: Option<String>,
}

#[derive(Deserialize)]
struct ContextEntry {
    cluster: String,
    user: String,
}

#[derive(Deserialize)]
struct KubeconfigFile {
    #[serde(default)]
    clusters: Vec<Named<ClusterEntry>>,
    #[serde(default)]
    users: Vec<Named<UserEntry>>,
    #[serde(default)]
    contexts: Vec<Named<ContextEntry>>,
    #[serde(rename = "current-context", default)]
    current_context: Option<String>,
}

impl KubeAccess {
    /// Reads an LKE kubeconfig (`what` names it in errors; its text is
    /// never shown: it holds the token).
    pub fn parse(text: &str, what: &str) -> Result<KubeAccess> {
        let k: KubeconfigFile = serde_yaml::from_str(text).map_err(|_| {
            anyhow!("{what} is not a kubeconfig (YAML with clusters, users, contexts)")
        })?;
        let ctx = match &k.current_context {
            Some(c) => k.contexts.iter().find(|x| &x.name == c),
            None => k.contexts.first(),
        }
        .ok_or_else(|| anyhow!("{what}: its current context is not among its contexts"))?;
        let cluster = k
            .clusters
            .iter()
            .find(|c| c.name == ctx.cluster.cluster)
            .ok_or_else(|| anyhow!("{what}: the context's cluster is not among its clusters"))?;
        let user = k
            .users
            .iter()
            .find(|u| u.name == ctx.cluster.user)
            .ok_or_else(|| anyhow!("{what}: the context's user is not among its users"))?;
        let token = user
            .cluster
            .token
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| anyhow!("{what}: its user has no token (LKE kubeconfigs carry one)"))?;
        let server = cluster.cluster.server.trim_end_matches('/').to_string();
        if !server.starts_with("https://") {
            bail!("{what}: the server is not an https:// address");
        }
        let ca_pem = match &cluster.cluster.ca_data {
            Some(b) => {
                use base64::Engine;
                Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b.trim())
                        .map_err(|_| anyhow!("{what}: certificate-authority-data is not base64"))?,
                )
            }
            None => None,
        };
        Ok(KubeAccess {
            server,
            ca_pem,
            token,
        })
    }
}

/// An error the API server answered with (its `Status` object), or a
/// transport failure.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("Kubernetes API {method} {path} failed ({code}{}): {}", reason.as_deref().map(|r| format!(" {r}")).unwrap_or_default(), sanitize::line(message))]
    Status {
        method: String,
        path: String,
        code: u16,
        reason: Option<String>,
        message: String,
    },
    #[error(
        "cannot reach the Kubernetes API at {server}: {}",
        sanitize::line(message)
    )]
    Network { server: String, message: String },
}

impl KubeError {
    pub fn code(&self) -> Option<u16> {
        match self {
            KubeError::Status { code, .. } => Some(*code),
            KubeError::Network { .. } => None,
        }
    }

    /// Worth another try: the network, 429, 5xx.
    pub fn retryable(&self) -> bool {
        match self {
            KubeError::Network { .. } => true,
            KubeError::Status { code, .. } => *code == 429 || *code >= 500,
        }
    }
}

/// A client for one cluster.
#[derive(Clone)]
pub struct Kube {
    http: reqwest::Client,
    server: String,
    token: String,
}

/// The URL path of an object's kind (`/api/v1` or `/apis/<group>/<version>`,
/// the namespace unless cluster-scoped, the plural).
pub fn resource_path(api_version: &str, kind: &str, namespace: Option<&str>) -> Result<String> {
    let plural = match kind {
        "Namespace" => "namespaces",
        "Secret" => "secrets",
        "ConfigMap" => "configmaps",
        "Service" => "services",
        "PersistentVolumeClaim" => "persistentvolumeclaims",
        "Pod" => "pods",
        "Node" => "nodes",
        "Deployment" => "deployments",
        "StatefulSet" => "statefulsets",
        "DaemonSet" => "daemonsets",
        "Job" => "jobs",
        other => bail!("linode-ai does not apply objects of kind {other}"),
    };
    let base = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    let cluster_scoped = matches!(kind, "Namespace" | "Node");
    Ok(match (cluster_scoped, namespace) {
        (true, _) | (false, None) => format!("{base}/{plural}"),
        (false, Some(ns)) => format!("{base}/namespaces/{ns}/{plural}"),
    })
}

/// The path of one object (from its apiVersion, kind, namespace and name).
pub fn object_path(obj: &Value) -> Result<String> {
    let s = |k: &str| obj[k].as_str();
    let (Some(api), Some(kind), Some(name)) =
        (s("apiVersion"), s("kind"), obj["metadata"]["name"].as_str())
    else {
        bail!("an object without apiVersion, kind or metadata.name");
    };
    let ns = obj["metadata"]["namespace"].as_str();
    Ok(format!("{}/{name}", resource_path(api, kind, ns)?))
}

impl Kube {
    pub fn new(access: &KubeAccess) -> Result<Kube> {
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("linode-ai/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = &access.ca_pem {
            // The cluster's own CA, and only it.
            let cert = reqwest::Certificate::from_pem(pem)
                .context("the kubeconfig's certificate-authority-data is not a PEM certificate")?;
            b = b.tls_built_in_root_certs(false).add_root_certificate(cert);
        }
        Ok(Kube {
            http: b
                .build()
                .context("cannot set up the Kubernetes API client")?,
            server: access.server.clone(),
            token: access.token.clone(),
        })
    }

    fn scrub(&self, text: &str) -> String {
        sanitize::scrub(text, &[self.token.as_str()])
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Vec<u8>, KubeError> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path_and_query}", self.server))
            .bearer_auth(&self.token)
            .header("Accept", "application/json");
        if let Some((ctype, bytes)) = body {
            req = req.header("Content-Type", ctype).body(bytes);
        }
        let path = path_and_query
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        let network = |e: reqwest::Error| {
            let mut message = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                message = format!("{message}: {s}");
                src = s.source();
            }
            KubeError::Network {
                server: self.server.clone(),
                message: self.scrub(&sanitize::cut(&message, 400)),
            }
        };
        let mut resp = req.send().await.map_err(network)?;
        let status = resp.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(network)? {
            if bytes.len() + chunk.len() > BODY_LIMIT {
                break;
            }
            bytes.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return Ok(bytes);
        }
        let st: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Err(KubeError::Status {
            method: method.to_string(),
            path: self.scrub(&path),
            code: status.as_u16(),
            reason: st["reason"].as_str().map(str::to_string),
            message: self.scrub(&sanitize::cut(
                st["message"]
                    .as_str()
                    .unwrap_or(status.canonical_reason().unwrap_or("error")),
                600,
            )),
        })
    }

    async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Value, KubeError> {
        let bytes = self.send(method.clone(), path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| KubeError::Status {
            method: method.to_string(),
            path: path.into(),
            code: 200,
            reason: Some("NotJSON".into()),
            message: format!("the answer is not JSON: {e}"),
        })
    }

    /// With a few tries on the network, 429 and 5xx (every call here is
    /// idempotent: applies, reads, deletes).
    async fn json_retrying(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Value, KubeError> {
        let mut attempt = 0u32;
        loop {
            match self.json(method.clone(), path, body.clone()).await {
                Err(e) if e.retryable() && attempt < 4 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
                other => return other,
            }
        }
    }

    /// `GET /api` (discovery, which needs a valid token): whether the
    /// token is still taken.
    pub async fn authenticated(&self) -> Result<(), KubeError> {
        self.json(reqwest::Method::GET, "/api", None)
            .await
            .map(|_| ())
    }

    /// `GET /version`: the server's Kubernetes version.
    pub async fn version(&self) -> Result<String, KubeError> {
        let v = self.json(reqwest::Method::GET, "/version", None).await?;
        Ok(v["gitVersion"].as_str().unwrap_or("unknown").to_string())
    }

    /// Server-side apply (`application/apply-patch+yaml`; JSON is YAML),
    /// forcing linode-ai's ownership of the fields it sets.
    pub async fn apply(&self, obj: &Value) -> Result<Value, KubeError> {
        let path = object_path(obj).map_err(|e| KubeError::Status {
            method: "PATCH".into(),
            path: String::new(),
            code: 0,
            reason: None,
            message: e.to_string(),
        })?;
        let body = serde_json::to_vec(obj).expect("a JSON value serialises");
        self.json_retrying(
            reqwest::Method::PATCH,
            &format!("{path}?fieldManager={FIELD_MANAGER}&force=true"),
            Some(("application/apply-patch+yaml", body)),
        )
        .await
    }

    /// One object, `None` when it does not exist.
    pub async fn get(&self, path: &str) -> Result<Option<Value>, KubeError> {
        match self.json_retrying(reqwest::Method::GET, path, None).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.code() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The items of a list (`selector`: a label selector).
    pub async fn list(&self, path: &str, selector: Option<&str>) -> Result<Vec<Value>, KubeError> {
        let q = match selector {
            Some(s) => format!("{path}?labelSelector={}", encode(s)),
            None => path.to_string(),
        };
        let v = self.json_retrying(reqwest::Method::GET, &q, None).await?;
        Ok(v["items"].as_array().cloned().unwrap_or_default())
    }

    /// Deletes one object; `false` when it was not there.
    pub async fn delete(&self, path: &str) -> Result<bool, KubeError> {
        match self
            .json_retrying(reqwest::Method::DELETE, path, None)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some(404) => Ok(false),
            // A namespace already terminating.
            Err(e) if e.code() == Some(409) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// The last `tail` lines of a pod's container.
    pub async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        tail: u32,
    ) -> Result<String, KubeError> {
        let path = format!(
            "/api/v1/namespaces/{namespace}/pods/{pod}/log?container={}&tailLines={tail}&limitBytes={}",
            encode(container),
            BODY_LIMIT / 2
        );
        let bytes = self.send(reqwest::Method::GET, &path, None).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LKE: &str = "apiVersion: v1\nkind: Config\npreferences: {}\nclusters:\n- cluster:\n    certificate-authority-data: LS0tLS1CRUdJTg==\n    server: https://1a2b.us-ord-1.linodelke.net:443\n  name: lke123\nusers:\n- name: lke123-admin\n  user:\n    as-user-extra: {}\n    token: s3cret-token\ncontexts:\n- context:\n    cluster: lke123\n    namespace: default\n    user: lke123-admin\n  name: lke123-ctx\ncurrent-context: lke123-ctx\n";

    #[test]
    fn an_lke_kubeconfig_reads_and_hides_its_token() {
        let a = KubeAccess::parse(LKE, "the kubeconfig").unwrap();
        assert_eq!(a.server, "https://1a2b.us-ord-1.linodelke.net:443");
        assert_eq!(a.ca_pem.as_deref(), Some(&b"-----BEGIN"[..]));
        assert!(!format!("{a:?}").contains("s3cret"));
    }

    #[test]
    fn a_broken_kubeconfig_is_named_without_its_text() {
        for bad in [
            "{",
            &LKE.replace("token: s3cret-token", "token: ''"),
            &LKE.replace("https://", "http://"),
            &LKE.replace("current-context: lke123-ctx", "current-context: other"),
        ] {
            let e = KubeAccess::parse(bad, "kube/123.yaml")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("kube/123.yaml"), "{e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn paths_follow_the_api_groups() {
        assert_eq!(
            resource_path("apps/v1", "Deployment", Some("ns")).unwrap(),
            "/apis/apps/v1/namespaces/ns/deployments"
        );
        assert_eq!(
            resource_path("v1", "Namespace", Some("x")).unwrap(),
            "/api/v1/namespaces"
        );
        assert_eq!(
            object_path(&serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"}})).unwrap(),
            "/api/v1/namespaces/n/secrets/s"
        );
        assert_eq!(
            resource_path("batch/v1", "Job", Some("ns")).unwrap(),
            "/apis/batch/v1/namespaces/ns/jobs"
        );
        assert!(resource_path("batch/v1", "CronJob", None).is_err());
    }
}
