//! The one client every Linode API request goes through: auth, base URL
//! overrides, typed errors from the API's error body, bounded retries.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::settings::ApiSettings;

/// One entry of the API's `{"errors": [...]}` body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FieldError {
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    errors: Vec<FieldError>,
}

/// What can go wrong talking to the API; callers branch on the kind.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("Linode API {method} {path} failed ({status}): {}", describe(errors))]
    Api {
        method: String,
        path: String,
        status: u16,
        errors: Vec<FieldError>,
    },
    #[error("Linode API {method} {path} timed out")]
    Timeout { method: String, path: String },
    #[error("cannot reach the Linode API at {base}: {message}")]
    Network { base: String, message: String },
    #[error("unexpected response from Linode API {method} {path}: {message}")]
    Decode {
        method: String,
        path: String,
        message: String,
    },
    #[error("{0}")]
    MissingToken(String),
}

fn describe(errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return "no reason given".into();
    }
    errors
        .iter()
        .map(|e| match &e.field {
            Some(f) => format!("{f}: {}", e.reason),
            None => e.reason.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
    /// Could the server have acted on the request though we saw no answer?
    fn maybe_applied(&self) -> bool {
        matches!(self, ApiError::Timeout { .. } | ApiError::Network { .. })
            || matches!(self.status(), Some(500..=599))
    }
    /// Worth another try (429, 400 `Linode busy.`, 408, 5xx, network).
    fn retryable(&self) -> bool {
        match self {
            ApiError::Api { status, errors, .. } => match status {
                429 | 408 | 500..=599 => true,
                400 => errors
                    .iter()
                    .any(|e| e.reason.trim().eq_ignore_ascii_case("Linode busy.")),
                _ => false,
            },
            ApiError::Timeout { .. } | ApiError::Network { .. } => true,
            _ => false,
        }
    }
}

/// Capped exponential backoff.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        let base_ms = std::env::var("LINODE_AI_RETRY_BASE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(500);
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(base_ms),
            cap: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let backoff = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.cap);
        match retry_after {
            Some(ra) => ra.min(Duration::from_secs(120)),
            None => backoff,
        }
    }
}

// ---- request and response types -------------------------------------------

/// `POST /linode/instances` body. `Debug` redacts the root password.
#[derive(Clone, Serialize)]
pub struct CreateInstance {
    pub region: String,
    #[serde(rename = "type")]
    pub linode_type: String,
    pub image: String,
    pub label: String,
    pub tags: Vec<String>,
    pub root_pass: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorized_keys: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorized_users: Vec<String>,
    pub metadata: Metadata,
    pub booted: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    /// One-line standard base64 of the cloud-config document.
    pub user_data: String,
}

impl std::fmt::Debug for CreateInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateInstance")
            .field("region", &self.region)
            .field("type", &self.linode_type)
            .field("label", &self.label)
            .field("root_pass", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl CreateInstance {
    /// The body as JSON with the root password and user-data redacted, for `--dry-run`.
    pub fn redacted_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("serialises");
        v["root_pass"] =
            serde_json::Value::String("<redacted: 68 random characters, never stored>".into());
        v["metadata"]["user_data"] = serde_json::Value::String(format!(
            "<base64 of the user-data below, {} characters; env values redacted here>",
            self.metadata.user_data.len()
        ));
        v
    }
}

/// An instance as the API returns it. Everything optional: the API returns
/// nulls and fields its spec does not list.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Instance {
    pub id: u64,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub ipv4: Vec<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default, rename = "type")]
    pub linode_type: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    /// Naive UTC (`2018-01-01T00:01:01`), no zone suffix.
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

impl Instance {
    /// The first public IPv4 (the list can also hold a private 192.168.x address).
    pub fn public_ipv4(&self) -> Option<&str> {
        self.ipv4
            .iter()
            .map(String::as_str)
            .find(|a| {
                a.parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| !ip.is_private())
            })
            .or_else(|| self.ipv4.first().map(String::as_str))
    }
}

/// Parses the API's naive UTC timestamps.
pub fn parse_timestamp(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

#[derive(Debug, Clone, Deserialize)]
pub struct InstanceIps {
    #[serde(default)]
    pub ipv4: Option<Ipv4Groups>,
}

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Ipv4Groups {
    #[serde(default)]
    pub public: Vec<IpAddress>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IpAddress {
    pub address: String,
    #[serde(default)]
    pub rdns: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Region {
    pub id: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct LinodeType {
    pub id: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub memory: u64,
    #[serde(default)]
    pub vcpus: u64,
    #[serde(default)]
    pub gpus: u64,
    #[serde(default)]
    pub price: Option<Price>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Price {
    #[serde(default)]
    pub hourly: Option<f64>,
    #[serde(default)]
    pub monthly: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct Page<T> {
    data: Vec<T>,
    #[serde(default)]
    pages: u32,
}

// ---- the client -------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct LinodeClient {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
    retry: RetryPolicy,
}

impl LinodeClient {
    pub fn new(settings: &ApiSettings) -> anyhow::Result<LinodeClient> {
        let timeout = std::env::var("LINODE_AI_API_TIMEOUT_SECS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(30.0);
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("linode-ai/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs_f64(timeout))
            .connect_timeout(Duration::from_secs(10));
        if let Some(ca) = &settings.ca_file {
            use anyhow::Context;
            let pem = std::fs::read(ca)
                .with_context(|| format!("cannot read LINODE_CLI_CA file {}", ca.display()))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
            builder = builder.add_root_certificate(cert);
        }
        Ok(LinodeClient {
            http: builder.build()?,
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            token: settings.token.clone(),
            retry: RetryPolicy::default(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// One attempt.
    async fn send_once<B: Serialize>(
        &self,
        method: &Method,
        path: &str,
        body: Option<&B>,
        filter: Option<&serde_json::Value>,
        auth: bool,
    ) -> Result<(Vec<u8>, StatusCode), (ApiError, Option<Duration>)> {
        let url = format!("{}{}", self.base_url, path);
        let mut req = self.http.request(method.clone(), &url);
        if auth {
            let Some(token) = &self.token else {
                return Err((
                    ApiError::MissingToken(crate::settings::missing_token_message()),
                    None,
                ));
            };
            req = req.bearer_auth(token);
        }
        if let Some(f) = filter {
            req = req.header("X-Filter", f.to_string());
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let m = method.to_string();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Err((
                    ApiError::Timeout {
                        method: m,
                        path: path.into(),
                    },
                    None,
                ))
            }
            Err(e) => {
                let mut message = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    message = format!("{message}: {s}");
                    src = s.source();
                }
                return Err((
                    ApiError::Network {
                        base: self.base_url.clone(),
                        message,
                    },
                    None,
                ));
            }
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = match resp.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) if e.is_timeout() => {
                return Err((
                    ApiError::Timeout {
                        method: m,
                        path: path.into(),
                    },
                    None,
                ))
            }
            Err(e) => {
                return Err((
                    ApiError::Network {
                        base: self.base_url.clone(),
                        message: e.to_string(),
                    },
                    None,
                ))
            }
        };
        if status.is_success() {
            return Ok((bytes, status));
        }
        let errors = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|b| b.errors)
            .unwrap_or_else(|_| {
                vec![FieldError {
                    reason: status.canonical_reason().unwrap_or("error").to_string(),
                    field: None,
                }]
            });
        Err((
            ApiError::Api {
                method: m,
                path: path.into(),
                status: status.as_u16(),
                errors,
            },
            retry_after,
        ))
    }

    /// Sends with retries. `idempotent` requests are retried after a timeout;
    /// others only on errors that prove the server did nothing.
    async fn request<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        filter: Option<&serde_json::Value>,
        auth: bool,
    ) -> Result<T, ApiError> {
        let idempotent = method != Method::POST;
        let mut attempt = 0;
        loop {
            match self.send_once(&method, path, body, filter, auth).await {
                Ok((bytes, _)) => {
                    return serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
                        method: method.to_string(),
                        path: path.into(),
                        message: e.to_string(),
                    })
                }
                Err((err, retry_after)) => {
                    attempt += 1;
                    let may_retry = err.retryable() && (idempotent || !err.maybe_applied());
                    if !may_retry || attempt >= self.retry.max_attempts {
                        return Err(err);
                    }
                    tokio::time::sleep(self.retry.delay(attempt - 1, retry_after)).await;
                }
            }
        }
    }

    async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        filter: Option<&serde_json::Value>,
        auth: bool,
    ) -> Result<Vec<T>, ApiError> {
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let p: Page<T> = self
                .request::<_, ()>(
                    Method::GET,
                    &format!("{path}?page={page}&page_size=500"),
                    None,
                    filter,
                    auth,
                )
                .await?;
            out.extend(p.data);
            if page >= p.pages.max(1) {
                return Ok(out);
            }
            page += 1;
        }
    }

    /// `GET /regions` (no token needed).
    pub async fn regions(&self) -> Result<Vec<Region>, ApiError> {
        self.list_all("/regions", None, false).await
    }

    /// `GET /linode/types` (no token needed).
    pub async fn types(&self) -> Result<Vec<LinodeType>, ApiError> {
        self.list_all("/linode/types", None, false).await
    }

    pub async fn get_instance(&self, id: u64) -> Result<Instance, ApiError> {
        self.request::<_, ()>(
            Method::GET,
            &format!("/linode/instances/{id}"),
            None,
            None,
            true,
        )
        .await
    }

    pub async fn instance_ips(&self, id: u64) -> Result<InstanceIps, ApiError> {
        self.request::<_, ()>(
            Method::GET,
            &format!("/linode/instances/{id}/ips"),
            None,
            None,
            true,
        )
        .await
    }

    pub async fn find_by_label(&self, label: &str) -> Result<Option<Instance>, ApiError> {
        let filter = serde_json::json!({ "label": label });
        let found: Vec<Instance> = self
            .list_all("/linode/instances", Some(&filter), true)
            .await?;
        Ok(found
            .into_iter()
            .find(|i| i.label.as_deref() == Some(label)))
    }

    pub async fn delete_instance(&self, id: u64) -> Result<(), ApiError> {
        let _: serde_json::Value = self
            .request::<_, ()>(
                Method::DELETE,
                &format!("/linode/instances/{id}"),
                None,
                None,
                true,
            )
            .await?;
        Ok(())
    }

    /// Creates an instance exactly once: when a try may have reached the API
    /// (timeout, connection lost, 5xx) the label is looked up before trying again.
    pub async fn create_instance(&self, body: &CreateInstance) -> Result<Instance, ApiError> {
        let mut attempt = 0;
        loop {
            let result = self
                .request::<Instance, _>(Method::POST, "/linode/instances", Some(body), None, true)
                .await;
            let err = match result {
                Ok(i) => return Ok(i),
                Err(e) => e,
            };
            attempt += 1;
            if !err.maybe_applied() || attempt >= self.retry.max_attempts {
                return Err(err);
            }
            // The create may have happened: never create a second Linode.
            tokio::time::sleep(self.retry.delay(attempt - 1, None)).await;
            if let Some(existing) = self.find_by_label(&body.label).await? {
                return Ok(existing);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_timestamps_parse() {
        assert!(parse_timestamp("2018-01-01T00:01:01").is_some());
        assert!(parse_timestamp("2018-01-01T00:01:01.123").is_some());
    }

    #[test]
    fn instance_tolerates_nulls_and_unknown_fields() {
        let i: Instance = serde_json::from_str(
            r#"{"id": 5, "label": null, "status": "running", "ipv4": ["192.168.1.2", "203.0.113.9"],
                "image": null, "created": "2018-01-01T00:01:01", "brand_new_field": {"x": 1}}"#,
        )
        .unwrap();
        assert_eq!(i.public_ipv4(), Some("203.0.113.9"));
    }

    #[test]
    fn busy_and_rate_limits_retry_but_validation_does_not() {
        let api = |status, reason: &str| ApiError::Api {
            method: "POST".into(),
            path: "/x".into(),
            status,
            errors: vec![FieldError {
                reason: reason.into(),
                field: None,
            }],
        };
        assert!(api(429, "Too many requests").retryable());
        assert!(api(400, "Linode busy.").retryable());
        assert!(api(503, "x").retryable());
        assert!(!api(400, "region is not valid").retryable());
        assert!(!api(401, "Invalid Token").retryable());
        assert!(!api(404, "Not found").retryable());
    }

    #[test]
    fn errors_show_field_and_reason() {
        let e = ApiError::Api {
            method: "POST".into(),
            path: "/linode/instances".into(),
            status: 400,
            errors: vec![FieldError {
                reason: "region is not valid".into(),
                field: Some("region".into()),
            }],
        };
        assert!(e.to_string().contains("region: region is not valid"));
    }

    #[test]
    fn create_body_never_leaks_the_password() {
        let body = CreateInstance {
            region: "us-ord".into(),
            linode_type: "g6-standard-2".into(),
            image: "linode/ubuntu24.04".into(),
            label: "build-ai-x".into(),
            tags: vec![],
            root_pass: "SUPERSECRET".into(),
            authorized_keys: vec![],
            authorized_users: vec![],
            metadata: Metadata {
                user_data: "I2Nsb3VkLWNvbmZpZwo=".into(),
            },
            booted: true,
        };
        assert!(!format!("{body:?}").contains("SUPERSECRET"));
        assert!(!body.redacted_json().to_string().contains("SUPERSECRET"));
        assert!(serde_json::to_string(&body)
            .unwrap()
            .contains("SUPERSECRET"));
    }
}
