//! The one client every Linode API request goes through: auth, base URL
//! overrides, bounded bodies, typed errors scrubbed of the token, retries
//! within a time budget, and creates that happen exactly once.

pub mod lke;
pub mod model;

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use lke::*;
pub use model::*;

use crate::sanitize;
use crate::settings::{ApiSettings, Tuning};

/// API answers larger than this are refused (500 instances are about 1 MB).
pub const BODY_LIMIT: usize = 16 << 20;

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

/// What can go wrong talking to the API; callers branch on the kind. Texts
/// are scrubbed of the token when the error is made and escaped when shown.
#[derive(Debug, Clone, thiserror::Error)]
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
    #[error("cannot reach the Linode API at {base}: {}", sanitize::line(message))]
    Network { base: String, message: String },
    #[error(
        "unexpected response from Linode API {method} {path}: {}",
        sanitize::line(message)
    )]
    Decode {
        method: String,
        path: String,
        message: String,
    },
    #[error("{0}")]
    MissingToken(String),
    /// A create that may have happened: an earlier try's answer was lost, and
    /// what came after (`last`) cannot tell.
    #[error("{last} (an earlier try whose answer was lost may have created it)")]
    MaybeCreated { last: Box<ApiError> },
    /// After a try whose answer was lost, the API says the label is taken:
    /// that try created it, but the account's list does not show it yet.
    #[error(
        "the API says {} is taken after a try whose answer was lost, so that try created it; the account's list has not shown it yet",
        sanitize::quote(label)
    )]
    CreatedNotListed { path: String, label: String },
}

fn describe(errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return "no reason given".into();
    }
    errors
        .iter()
        .map(|e| {
            let reason = sanitize::line(&sanitize::cut(&e.reason, 300));
            match &e.field {
                Some(f) => format!("{}: {reason}", sanitize::line(&sanitize::cut(f, 80))),
                None => reason,
            }
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
    /// The API refused the request for good (4xx other than rate limits and busy).
    pub fn is_rejection(&self) -> bool {
        matches!(self.status(), Some(400..=499)) && !self.retryable()
            || matches!(self, ApiError::MissingToken(_))
    }
    /// Could the server have acted on the request though we saw no answer?
    pub fn maybe_applied(&self) -> bool {
        matches!(
            self,
            ApiError::Timeout { .. }
                | ApiError::Network { .. }
                | ApiError::MaybeCreated { .. }
                | ApiError::CreatedNotListed { .. }
        ) || matches!(self.status(), Some(500..=599))
    }
    /// The request certainly did nothing: the API refused it, or rate
    /// limits or a busy answer held every try back.
    pub fn nothing_created(&self) -> bool {
        !self.maybe_applied()
    }
    fn has_reason(&self, needle: &str) -> bool {
        match self {
            ApiError::Api { errors, .. } => errors
                .iter()
                .any(|e| e.reason.to_ascii_lowercase().contains(needle)),
            _ => false,
        }
    }
    /// 400 `Label must be unique` (the label is taken).
    pub fn is_label_taken(&self) -> bool {
        self.status() == Some(400) && self.has_reason("unique")
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

/// Capped exponential backoff with jitter, within an overall time budget.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Tries for errors other than 429 (which retries while the budget lasts).
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
    /// No retry starts after this much time has passed since the first try.
    pub budget: Duration,
}

impl RetryPolicy {
    pub fn from_tuning(t: &Tuning) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base: t.retry_base,
            cap: Duration::from_secs(30),
            budget: t.retry_budget,
        }
    }

    /// No retries at all.
    pub fn once() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(1),
            budget: Duration::ZERO,
        }
    }

    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(Duration::from_secs(120));
        }
        let backoff = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.cap);
        // Full jitter in [backoff/2, backoff]: concurrent clients do not retry in lockstep.
        let mut b = [0u8; 4];
        let r = getrandom::fill(&mut b)
            .map(|()| u32::from_le_bytes(b))
            .unwrap_or(0);
        let half = backoff / 2;
        half + half.mul_f64(f64::from(r) / f64::from(u32::MAX))
    }
}

/// Items per list page: the most the API allows.
const PAGE_SIZE: u32 = 500;
/// Pages of one list read at most (an answer claiming more is refused).
const MAX_PAGES: u32 = 100;

#[derive(Debug, Deserialize)]
struct Page<T> {
    data: Vec<T>,
    #[serde(default)]
    pages: u32,
}

/// An item of a list that the API described in a shape linode-ai cannot read
/// (`"status": 5`, `"ipv4": "x"`, a negative id): left out, and said.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// `instance` or `firewall`.
    pub kind: &'static str,
    /// The item's `id` as the answer had it (escaped, cut).
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Which field, and what was wrong with it (escaped, cut).
    pub reason: String,
    /// Its tags when they could be read (to tell its deployment).
    #[serde(skip)]
    pub tags: Vec<String>,
}

impl Skipped {
    fn of(kind: &'static str, item: &serde_json::Value, why: String) -> Skipped {
        let short = |s: &str, n: usize| sanitize::line(&sanitize::cut(s, n));
        Skipped {
            kind,
            id: short(
                &item.get("id").map(|v| v.to_string()).unwrap_or_default(),
                24,
            ),
            label: item
                .get("label")
                .and_then(serde_json::Value::as_str)
                .map(|l| short(l, 64)),
            reason: short(&why, 200),
            tags: item
                .get("tags")
                .and_then(serde_json::Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// `instance 7001 "odd-status": status: invalid type: ...`
    pub fn describe(&self) -> String {
        format!(
            "{} {}{}: {}",
            self.kind,
            self.id,
            self.label
                .as_deref()
                .map(|l| format!(" \"{l}\""))
                .unwrap_or_default(),
            self.reason
        )
    }
}

/// Decodes each item on its own: the ones that do not read are returned apart.
fn decode_each<T: DeserializeOwned>(
    kind: &'static str,
    items: Vec<serde_json::Value>,
) -> (Vec<T>, Vec<Skipped>) {
    let mut ok = Vec::with_capacity(items.len());
    let mut skipped = Vec::new();
    for item in items {
        match serde_path_to_error::deserialize::<_, T>(&item) {
            Ok(x) => ok.push(x),
            Err(e) => {
                let path = e.path().to_string();
                let why = if path.is_empty() || path == "." {
                    e.into_inner().to_string()
                } else {
                    format!("{path}: {}", e.into_inner())
                };
                skipped.push(Skipped::of(kind, &item, why));
            }
        }
    }
    (ok, skipped)
}

/// The client.
#[derive(Debug, Clone)]
pub struct LinodeClient {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
    retry: RetryPolicy,
}

impl LinodeClient {
    pub fn new(settings: &ApiSettings, tuning: &Tuning) -> anyhow::Result<LinodeClient> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("linode-ai/", env!("CARGO_PKG_VERSION")))
            .timeout(tuning.api_timeout)
            .connect_timeout(tuning.api_timeout.min(Duration::from_secs(10)));
        if let Some(ca) = &settings.ca_file {
            use anyhow::Context;
            let pem = crate::files::read_text(ca, "CA certificate (LINODE_CLI_CA)", 1 << 20)?;
            let cert = reqwest::Certificate::from_pem(pem.as_bytes())
                .with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
            builder = builder.add_root_certificate(cert);
        }
        Ok(LinodeClient {
            http: builder.build()?,
            base_url: settings.base_url.trim_end_matches('/').to_string(),
            token: settings.token.clone(),
            retry: RetryPolicy::from_tuning(tuning),
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

    fn scrub(&self, text: &str) -> String {
        sanitize::scrub(text, &[self.token.as_deref().unwrap_or("")])
    }

    fn network_error(&self, e: &reqwest::Error) -> ApiError {
        let mut message = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            message = format!("{message}: {s}");
            src = s.source();
        }
        ApiError::Network {
            base: self.base_url.clone(),
            message: self.scrub(&sanitize::cut(&message, 500)),
        }
    }

    /// Reads at most [`BODY_LIMIT`] bytes.
    async fn read_body(
        &self,
        mut resp: reqwest::Response,
        m: &str,
        path: &str,
    ) -> Result<Vec<u8>, ApiError> {
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > BODY_LIMIT {
                        return Err(ApiError::Decode {
                            method: m.into(),
                            path: path.into(),
                            message: format!("the answer is larger than {} MiB", BODY_LIMIT >> 20),
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) if e.is_timeout() => {
                    return Err(ApiError::Timeout {
                        method: m.into(),
                        path: path.into(),
                    })
                }
                Err(e) => return Err(self.network_error(&e)),
            }
        }
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
            Err(e) => return Err((self.network_error(&e), None)),
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = self
            .read_body(resp, &m, path)
            .await
            .map_err(|e| (e, None))?;
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
            })
            .into_iter()
            .map(|e| FieldError {
                reason: self.scrub(&e.reason),
                field: e.field.map(|f| self.scrub(&f)),
            })
            .collect();
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

    /// Sends with retries. Idempotent requests are retried after a timeout;
    /// a POST only on errors that prove the server did nothing.
    async fn request<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        filter: Option<&serde_json::Value>,
        auth: bool,
    ) -> Result<T, ApiError> {
        let idempotent = method != Method::POST;
        let started = Instant::now();
        let mut attempt = 0u32;
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
                    let rate_limited = err.status() == Some(429);
                    let may_retry = err.retryable() && (idempotent || !err.maybe_applied());
                    let delay = self.retry.delay(attempt - 1, retry_after);
                    let within_budget = started.elapsed() + delay <= self.retry.budget;
                    let attempts_left = if rate_limited {
                        attempt < 100
                    } else {
                        attempt < self.retry.max_attempts
                    };
                    if !may_retry || !attempts_left || !within_budget {
                        return Err(err);
                    }
                    tokio::time::sleep(delay).await;
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
        // Page 1 says how many there are; the rest are asked for at once.
        let get = |page: u32| async move {
            self.request::<Page<T>, ()>(
                Method::GET,
                &format!("{path}?page={page}&page_size={PAGE_SIZE}"),
                None,
                filter,
                auth,
            )
            .await
        };
        let first = get(1).await?;
        let pages = first.pages.max(1);
        if pages > MAX_PAGES {
            return Err(ApiError::Decode {
                method: "GET".into(),
                path: path.into(),
                message: format!(
                    "it reports {pages} pages; linode-ai reads at most {MAX_PAGES} ({} items)",
                    MAX_PAGES * PAGE_SIZE
                ),
            });
        }
        let mut out = first.data;
        let rest = futures_util::future::try_join_all((2..=pages).map(get)).await?;
        for p in rest {
            out.extend(p.data);
        }
        Ok(out)
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

    /// Every instance matching `filter` (`X-Filter`), all pages of 500.
    pub async fn list_instances(
        &self,
        filter: Option<&serde_json::Value>,
    ) -> Result<Vec<Instance>, ApiError> {
        self.list_all("/linode/instances", filter, true).await
    }

    /// Like [`LinodeClient::list_instances`], but an instance that does not
    /// read is skipped (and returned apart) instead of failing the list.
    pub async fn list_instances_lenient(
        &self,
        filter: Option<&serde_json::Value>,
    ) -> Result<(Vec<Instance>, Vec<Skipped>), ApiError> {
        let raw = self
            .list_all::<serde_json::Value>("/linode/instances", filter, true)
            .await?;
        Ok(decode_each("instance", raw))
    }

    /// Every firewall matching `filter`; those that do not read are returned apart.
    pub async fn list_firewalls_lenient(
        &self,
        filter: Option<&serde_json::Value>,
    ) -> Result<(Vec<Firewall>, Vec<Skipped>), ApiError> {
        let raw = self
            .list_all::<serde_json::Value>("/networking/firewalls", filter, true)
            .await?;
        Ok(decode_each("firewall", raw))
    }

    pub async fn find_by_label(&self, label: &str) -> Result<Option<Instance>, ApiError> {
        self.find_labelled("/linode/instances", label).await
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

    /// The resource of type `T` labelled `label` in the list at `list_path`.
    async fn find_labelled<T: DeserializeOwned + Labelled>(
        &self,
        list_path: &str,
        label: &str,
    ) -> Result<Option<T>, ApiError> {
        let filter = serde_json::json!({ "label": label });
        Ok(self
            .list_all::<T>(list_path, Some(&filter), true)
            .await?
            .into_iter()
            .find(|x| x.label() == Some(label)))
    }

    /// Creates once: after a try that may have reached the API (timeout,
    /// connection lost, 5xx) the label is looked up before trying again, and
    /// a `Label must be unique` answer to a retry means the first try worked.
    ///
    /// Once a try may have gone through, every error says so
    /// ([`ApiError::MaybeCreated`]); a taken label then means created, and
    /// the list is asked again while the retry budget lasts (it can lag behind
    /// the create) before [`ApiError::CreatedNotListed`].
    async fn create_once<T: DeserializeOwned + Labelled, B: Serialize>(
        &self,
        path: &str,
        body: &B,
        label: &str,
    ) -> Result<T, ApiError> {
        let started = Instant::now();
        let mut maybe_created = false;
        let uncertain = |e: ApiError, maybe_created: bool| {
            if maybe_created && !e.maybe_applied() {
                ApiError::MaybeCreated { last: Box::new(e) }
            } else {
                e
            }
        };
        let mut attempt = 0;
        loop {
            let err = match self
                .request::<T, _>(Method::POST, path, Some(body), None, true)
                .await
            {
                Ok(x) => return Ok(x),
                Err(e) => e,
            };
            attempt += 1;
            if maybe_created && err.is_label_taken() {
                // Our earlier try created it; the list may lag behind.
                let mut i = 0u32;
                loop {
                    match self.find_labelled(path, label).await {
                        Ok(Some(existing)) => return Ok(existing),
                        Ok(None) => {}
                        Err(e) => return Err(uncertain(e, true)),
                    }
                    let delay = self.retry.delay(i.min(4), None);
                    if started.elapsed() + delay > self.retry.budget {
                        return Err(ApiError::CreatedNotListed {
                            path: path.into(),
                            label: label.into(),
                        });
                    }
                    tokio::time::sleep(delay).await;
                    i += 1;
                }
            }
            if !err.maybe_applied() || attempt >= self.retry.max_attempts {
                return Err(uncertain(err, maybe_created));
            }
            maybe_created = true;
            tokio::time::sleep(self.retry.delay(attempt - 1, None)).await;
            match self.find_labelled(path, label).await {
                Ok(Some(existing)) => return Ok(existing),
                Ok(None) => {}
                Err(e) => return Err(uncertain(e, true)),
            }
        }
    }

    /// Creates an instance exactly once (see [`LinodeClient::create_once`]).
    pub async fn create_instance(&self, body: &CreateInstance) -> Result<Instance, ApiError> {
        self.create_once("/linode/instances", body, &body.label)
            .await
    }

    /// Creates a firewall exactly once.
    pub async fn create_firewall(&self, body: &CreateFirewall) -> Result<Firewall, ApiError> {
        self.create_once("/networking/firewalls", body, &body.label)
            .await
    }

    /// The account's DNS zones (`GET /domains`, all pages).
    pub async fn list_domains(&self) -> Result<Vec<Domain>, ApiError> {
        self.list_all("/domains", None, true).await
    }

    pub async fn domain_records(&self, domain_id: u64) -> Result<Vec<DomainRecord>, ApiError> {
        self.list_all(&format!("/domains/{domain_id}/records"), None, true)
            .await
    }

    /// Creates a record. A POST is not retried (see `request`): a caller that
    /// got an uncertain error looks the record up before trying again.
    pub async fn create_domain_record(
        &self,
        domain_id: u64,
        body: &CreateRecord,
    ) -> Result<DomainRecord, ApiError> {
        self.request(
            Method::POST,
            &format!("/domains/{domain_id}/records"),
            Some(body),
            None,
            true,
        )
        .await
    }

    pub async fn delete_domain_record(
        &self,
        domain_id: u64,
        record_id: u64,
    ) -> Result<(), ApiError> {
        let _: serde_json::Value = self
            .request::<_, ()>(
                Method::DELETE,
                &format!("/domains/{domain_id}/records/{record_id}"),
                None,
                None,
                true,
            )
            .await?;
        Ok(())
    }

    /// Replaces an instance's tags (`PUT /linode/instances/{id}`; a PUT is
    /// idempotent, so it is retried like a GET).
    pub async fn set_instance_tags(&self, id: u64, tags: &[String]) -> Result<Instance, ApiError> {
        self.request(
            Method::PUT,
            &format!("/linode/instances/{id}"),
            Some(&TagsUpdate { tags }),
            None,
            true,
        )
        .await
    }

    /// Replaces a firewall's tags (`PUT /networking/firewalls/{id}`).
    pub async fn set_firewall_tags(&self, id: u64, tags: &[String]) -> Result<Firewall, ApiError> {
        self.request(
            Method::PUT,
            &format!("/networking/firewalls/{id}"),
            Some(&TagsUpdate { tags }),
            None,
            true,
        )
        .await
    }

    /// Turns the Shutdown Watchdog on or off (`PUT /linode/instances/{id}`).
    pub async fn set_watchdog(&self, id: u64, enabled: bool) -> Result<Instance, ApiError> {
        self.request(
            Method::PUT,
            &format!("/linode/instances/{id}"),
            Some(&WatchdogUpdate {
                watchdog_enabled: enabled,
            }),
            None,
            true,
        )
        .await
    }

    /// Boots a Linode made with `booted: false` (`POST .../boot`; booting a
    /// booted one is refused, so it is not retried after a timeout).
    pub async fn boot_instance(&self, id: u64) -> Result<(), ApiError> {
        let _: serde_json::Value = self
            .request::<_, ()>(
                Method::POST,
                &format!("/linode/instances/{id}/boot"),
                None,
                None,
                true,
            )
            .await?;
        Ok(())
    }

    /// A Linode's disks.
    pub async fn instance_disks(&self, id: u64) -> Result<Vec<Disk>, ApiError> {
        self.list_all(&format!("/linode/instances/{id}/disks"), None, true)
            .await
    }

    /// Every Image this token sees: the public ones (a few dozen) and the
    /// account's own (`is_public: false`), read whole and picked here.
    pub async fn list_images(&self) -> Result<Vec<Image>, ApiError> {
        self.list_all("/images", None, true).await
    }

    pub async fn get_image(&self, id: &str) -> Result<Image, ApiError> {
        self.request::<_, ()>(Method::GET, &format!("/images/{id}"), None, None, true)
            .await
    }

    /// Captures a disk as a private Image (a POST: not retried once it may
    /// have been applied; the Image carries our tags, so `image list` sees it).
    pub async fn create_image(&self, body: &CreateImage) -> Result<Image, ApiError> {
        self.request(Method::POST, "/images", Some(body), None, true)
            .await
    }

    pub async fn delete_image(&self, id: &str) -> Result<(), ApiError> {
        let _: serde_json::Value = self
            .request::<_, ()>(Method::DELETE, &format!("/images/{id}"), None, None, true)
            .await?;
        Ok(())
    }

    /// Creates a volume exactly once (by its label, unique in the account).
    pub async fn create_volume(&self, body: &CreateVolume) -> Result<Volume, ApiError> {
        self.create_once("/volumes", body, &body.label).await
    }

    /// Volumes, optionally filtered (`X-Filter`), every page.
    pub async fn list_volumes(
        &self,
        filter: Option<&serde_json::Value>,
    ) -> Result<Vec<Volume>, ApiError> {
        self.list_all("/volumes", filter, true).await
    }

    pub async fn get_volume(&self, id: u64) -> Result<Volume, ApiError> {
        self.request::<_, ()>(Method::GET, &format!("/volumes/{id}"), None, None, true)
            .await
    }

    /// Attaches a volume to a Linode (kept in its config across reboots).
    pub async fn attach_volume(&self, id: u64, linode_id: u64) -> Result<Volume, ApiError> {
        self.request(
            Method::POST,
            &format!("/volumes/{id}/attach"),
            Some(&AttachVolume {
                linode_id,
                persist_across_boots: true,
            }),
            None,
            true,
        )
        .await
    }

    /// Attaches a volume once the API lets go of it (a deleted Linode's
    /// volumes detach a moment later; until then the attach is refused).
    pub async fn attach_volume_after(
        &self,
        id: u64,
        linode_id: u64,
        wait: Duration,
    ) -> Result<Volume, ApiError> {
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            match self.attach_volume(id, linode_id).await {
                Ok(v) => return Ok(v),
                Err(e) if e.status() == Some(400) && started.elapsed() < wait => {
                    // Attached to this Linode already (an earlier try's answer was lost)?
                    if let Ok(v) = self.get_volume(id).await {
                        if v.linode_id == Some(linode_id) {
                            return Ok(v);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
            attempt += 1;
            tokio::time::sleep(self.retry.delay(attempt.min(4), None)).await;
        }
    }

    /// Deletes a volume once the API lets go of it: a deleted Linode's
    /// volumes detach a moment later (until then the delete is refused).
    pub async fn delete_volume_after(&self, id: u64, wait: Duration) -> Result<(), ApiError> {
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            let e = match self
                .request::<serde_json::Value, ()>(
                    Method::DELETE,
                    &format!("/volumes/{id}"),
                    None,
                    None,
                    true,
                )
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => e,
            };
            if e.status() != Some(400) || started.elapsed() >= wait {
                return Err(e);
            }
            attempt += 1;
            tokio::time::sleep(self.retry.delay(attempt.min(4), None)).await;
        }
    }

    pub async fn get_firewall(&self, id: u64) -> Result<Firewall, ApiError> {
        self.request::<_, ()>(
            Method::GET,
            &format!("/networking/firewalls/{id}"),
            None,
            None,
            true,
        )
        .await
    }

    pub async fn list_firewalls(
        &self,
        filter: Option<&serde_json::Value>,
    ) -> Result<Vec<Firewall>, ApiError> {
        self.list_all("/networking/firewalls", filter, true).await
    }

    pub async fn find_firewall_by_label(&self, label: &str) -> Result<Option<Firewall>, ApiError> {
        self.find_labelled("/networking/firewalls", label).await
    }

    pub async fn firewall_devices(&self, id: u64) -> Result<Vec<FirewallDevice>, ApiError> {
        self.list_all(&format!("/networking/firewalls/{id}/devices"), None, true)
            .await
    }

    pub async fn delete_firewall(&self, id: u64) -> Result<(), ApiError> {
        let _: serde_json::Value = self
            .request::<_, ()>(
                Method::DELETE,
                &format!("/networking/firewalls/{id}"),
                None,
                None,
                true,
            )
            .await?;
        Ok(())
    }

    /// Deletes a firewall once `instance` is no longer attached to it (the API
    /// does not cascade and detaches a deleted Linode a moment later); a
    /// firewall that is already gone counts as deleted.
    pub async fn delete_firewall_after(
        &self,
        id: u64,
        instance: Option<u64>,
        wait: Duration,
    ) -> Result<(), ApiError> {
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            let attached = match instance {
                Some(linode) => match self.firewall_devices(id).await {
                    Ok(devices) => devices
                        .iter()
                        .any(|d| d.entity.as_ref().is_some_and(|e| e.id == linode)),
                    Err(e) if e.is_not_found() => return Ok(()),
                    Err(e) => return Err(e),
                },
                None => false,
            };
            if !attached {
                match self.delete_firewall(id).await {
                    Ok(()) => return Ok(()),
                    Err(e) if e.is_not_found() => return Ok(()),
                    // Still attached as far as the API is concerned: wait and retry.
                    Err(e) if e.status() == Some(400) && started.elapsed() < wait => {}
                    Err(e) => return Err(e),
                }
            } else if started.elapsed() >= wait {
                return Err(ApiError::Api {
                    method: "DELETE".into(),
                    path: format!("/networking/firewalls/{id}"),
                    status: 400,
                    errors: vec![FieldError {
                        reason: format!(
                            "the firewall is still attached to Linode {} after {}s",
                            instance.unwrap_or(0),
                            wait.as_secs()
                        ),
                        field: None,
                    }],
                });
            }
            attempt += 1;
            tokio::time::sleep(self.retry.delay(attempt.min(4), None)).await;
        }
    }
}

/// Resources found by their label.
pub trait Labelled {
    fn label(&self) -> Option<&str>;
}
impl Labelled for Instance {
    fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }
}
impl Labelled for Volume {
    fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }
}

impl Labelled for Firewall {
    fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, reason: &str) -> ApiError {
        ApiError::Api {
            method: "POST".into(),
            path: "/x".into(),
            status,
            errors: vec![FieldError {
                reason: reason.into(),
                field: None,
            }],
        }
    }

    #[test]
    fn busy_and_rate_limits_retry_but_validation_does_not() {
        assert!(api(429, "Too many requests").retryable());
        assert!(api(400, "Linode busy.").retryable());
        assert!(api(503, "x").retryable());
        assert!(!api(400, "region is not valid").retryable());
        assert!(api(400, "region is not valid").is_rejection());
        assert!(!api(401, "Invalid Token").retryable());
        assert!(!api(404, "Not found").retryable());
        assert!(api(400, "Label must be unique among your linodes").is_label_taken());
    }

    #[test]
    fn errors_show_field_and_reason_escaped() {
        let e = ApiError::Api {
            method: "POST".into(),
            path: "/linode/instances".into(),
            status: 400,
            errors: vec![FieldError {
                reason: "region is not valid\x1b[2J".into(),
                field: Some("region".into()),
            }],
        };
        let s = e.to_string();
        assert!(s.contains("region: region is not valid\\x1b[2J"), "{s}");
    }

    #[test]
    fn jittered_backoff_stays_within_bounds() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            budget: Duration::from_secs(10),
        };
        for attempt in 0..10 {
            let d = p.delay(attempt, None);
            let full = Duration::from_millis(100 * (1 << attempt.min(16))).min(p.cap);
            assert!(d >= full / 2 && d <= full, "{attempt}: {d:?}");
        }
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
    }
}
