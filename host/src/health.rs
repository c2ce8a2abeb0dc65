//! Health probes and the built-in verdicts.
//!
//! A deployment is probed through its proxy over HTTPS: the request goes to
//! the recorded IPv4 with the hostname as SNI and `Host` (no DNS lookup) and
//! the certificate is verified for real. The proxy's public `/healthz/boot`
//! says how far the first boot got; `/healthz/<service>` reaches each
//! service's health check. Records made before the proxy are probed over
//! plain HTTP as they were.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::registry::Deployment;
use crate::state::Status;

/// Bodies are read up to this many bytes (hooks see at most this much).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Why a probe got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeErrorKind {
    /// No valid certificate (yet): the TLS handshake failed.
    Tls,
    /// Nothing listens (connection refused or unreachable).
    Refused,
    Timeout,
    Other,
}

/// What the probe saw.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProbeResult {
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
        truncated: bool,
    },
    Error {
        error: ProbeErrorKind,
        message: String,
    },
}

impl ProbeResult {
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ProbeResult::Response { status, .. } => Some(*status),
            ProbeResult::Error { .. } => None,
        }
    }
}

/// The health verdict, from the built-in rule or a template's hook.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "verdict", content = "reason", rename_all = "snake_case")]
pub enum HealthVerdict {
    Healthy,
    Starting(String),
    Unhealthy(String),
    /// A step of the first boot failed: waiting will not heal it.
    BootFailed(String),
}

impl HealthVerdict {
    pub fn status(&self) -> Status {
        match self {
            HealthVerdict::Healthy => Status::Running,
            HealthVerdict::Starting(_) => Status::Starting,
            HealthVerdict::Unhealthy(_) | HealthVerdict::BootFailed(_) => Status::Degraded,
        }
    }
    pub fn reason(&self) -> Option<&str> {
        match self {
            HealthVerdict::Healthy => None,
            HealthVerdict::Starting(r)
            | HealthVerdict::Unhealthy(r)
            | HealthVerdict::BootFailed(r) => Some(r),
        }
    }
}

/// One HTTP(S) request a probe sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    /// The URL fetched: `https://<hostname>:<port><path>` (connecting to the
    /// recorded IPv4), or `http://<ipv4>:<port><path>` for old records.
    pub url: String,
    /// `Host` header for plain-HTTP probes that go to the IP.
    pub host: Option<String>,
}

/// Sends probes. One client for many deployments: every hostname resolves to
/// its recorded address, so no DNS lookup is made.
#[derive(Clone)]
pub struct Prober {
    client: reqwest::Client,
}

/// Resolves the deployments' hostnames to their recorded addresses.
struct Pinned(Arc<HashMap<String, IpAddr>>);

impl reqwest::dns::Resolve for Pinned {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let found = self.0.get(name.as_str()).copied();
        let name = name.as_str().to_string();
        Box::pin(async move {
            match found {
                Some(ip) => Ok(Box::new(std::iter::once(SocketAddr::new(ip, 0)))
                    as Box<dyn Iterator<Item = SocketAddr> + Send>),
                None => Err(format!("{name} is not a deployment's hostname; not looked up").into()),
            }
        })
    }
}

impl Prober {
    /// A prober for `deployments`, trusting the public roots plus `extra_ca`.
    pub fn new<'a>(
        deployments: impl IntoIterator<Item = &'a Deployment>,
        extra_ca: Option<&Path>,
    ) -> Result<Prober> {
        let mut pinned = HashMap::new();
        for d in deployments {
            if let (Some(host), Some(ip)) = (&d.hostname, &d.ipv4) {
                if let Ok(ip) = ip.parse::<IpAddr>() {
                    pinned.entry(host.to_ascii_lowercase()).or_insert(ip);
                }
            }
        }
        let mut b = reqwest::Client::builder()
            .user_agent(concat!(
                "linode-ai/",
                env!("CARGO_PKG_VERSION"),
                " health-probe"
            ))
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(Pinned(Arc::new(pinned))))
            // The probes of one deployment share a connection; deployments never do.
            .pool_idle_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(1);
        if let Some(ca) = extra_ca {
            let pem = crate::files::read_text(ca, "probe CA certificate", 1 << 20)?;
            let cert = reqwest::Certificate::from_pem(pem.as_bytes())
                .with_context(|| format!("{} is not a PEM certificate", ca.display()))?;
            b = b.add_root_certificate(cert);
        }
        Ok(Prober {
            client: b.build().context("cannot set up the health probe client")?,
        })
    }

    /// GETs the target with a timeout, reading at most [`BODY_LIMIT`] bytes of body.
    pub async fn get(&self, target: &ProbeTarget, timeout: Duration) -> ProbeResult {
        let fut = async {
            let mut req = self.client.get(&target.url);
            if let Some(host) = &target.host {
                req = req.header(reqwest::header::HOST, host);
            }
            let mut resp = req.send().await?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .take(64)
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes())
                            .chars()
                            .take(1024)
                            .collect(),
                    )
                })
                .collect();
            let mut body = Vec::new();
            let mut truncated = false;
            while let Some(chunk) = resp.chunk().await? {
                let room = BODY_LIMIT - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    truncated = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>(ProbeResult::Response {
                status,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
                truncated,
            })
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => classify(&e),
            Err(_) => ProbeResult::Error {
                error: ProbeErrorKind::Timeout,
                message: format!("no answer within {}s", timeout.as_secs_f32()),
            },
        }
    }
}

/// Whether `e` or anything it wraps (io errors nest: `get_ref`, not `source`) is `T`.
fn wraps<T: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static), depth: u8) -> bool {
    if depth == 0 {
        return false;
    }
    if e.downcast_ref::<T>().is_some() {
        return true;
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        if let Some(inner) = io.get_ref() {
            if wraps::<T>(inner, depth - 1) {
                return true;
            }
        }
    }
    e.source().is_some_and(|s| wraps::<T>(s, depth - 1))
}

/// The first io error kind found in `e`'s chain.
fn io_kind(e: &(dyn std::error::Error + 'static), depth: u8) -> Option<std::io::ErrorKind> {
    if depth == 0 {
        return None;
    }
    if let Some(io) = e.downcast_ref::<std::io::Error>() {
        if io.kind() != std::io::ErrorKind::Other {
            return Some(io.kind());
        }
        if let Some(k) = io.get_ref().and_then(|i| io_kind(i, depth - 1)) {
            return Some(k);
        }
    }
    e.source().and_then(|s| io_kind(s, depth - 1))
}

/// Sorts a request error into TLS, refused, timeout or other.
fn classify(e: &reqwest::Error) -> ProbeResult {
    let tls = wraps::<rustls::Error>(e, 16);
    let refused = matches!(
        io_kind(e, 16),
        Some(
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::HostUnreachable
                | std::io::ErrorKind::NetworkUnreachable
                | std::io::ErrorKind::ConnectionReset
        )
    );
    let (error, message) = if tls {
        (
            ProbeErrorKind::Tls,
            "no valid TLS certificate yet".to_string(),
        )
    } else if refused {
        (ProbeErrorKind::Refused, "connection refused".to_string())
    } else if e.is_timeout() {
        (ProbeErrorKind::Timeout, "timed out".to_string())
    } else {
        let mut m = e.to_string();
        if let Some(s) = std::error::Error::source(e) {
            m = format!("{m}: {s}");
        }
        (ProbeErrorKind::Other, crate::sanitize::cut(&m, 200))
    };
    ProbeResult::Error { error, message }
}

/// `https://host[:port]`: the URL users open.
pub fn app_url(hostname: &str, port: u16) -> String {
    if port == 443 {
        format!("https://{hostname}")
    } else {
        format!("https://{hostname}:{port}")
    }
}

impl Deployment {
    /// Where a probe of `path` goes.
    pub fn probe_target(&self, path: &str) -> Option<ProbeTarget> {
        if self.is_https() {
            let host = self.hostname.as_ref()?;
            return Some(ProbeTarget {
                url: format!("{}{path}", app_url(host, self.health.port)),
                host: None,
            });
        }
        // Plain HTTP (records from before the proxy): to the IP, with the hostname as Host.
        let port = self.health.port;
        let with_port = |h: &str| {
            if port == 80 {
                format!("http://{h}")
            } else {
                format!("http://{h}:{port}")
            }
        };
        match (&self.ipv4, &self.hostname) {
            (Some(ip), Some(host)) => Some(ProbeTarget {
                url: format!("{}{path}", with_port(ip)),
                host: Some(if port == 80 {
                    host.clone()
                } else {
                    format!("{host}:{port}")
                }),
            }),
            _ => self.url.as_ref().map(|u| ProbeTarget {
                url: format!("{u}{path}"),
                host: None,
            }),
        }
    }
}

/// The built-in rule: a success code is healthy; no answer yet is starting;
/// any other answer is unhealthy.
pub fn default_verdict(success_codes: &[u16], probe: &ProbeResult) -> HealthVerdict {
    match probe {
        ProbeResult::Response { status, .. } if success_codes.contains(status) => {
            HealthVerdict::Healthy
        }
        ProbeResult::Response { status, .. } => {
            HealthVerdict::Unhealthy(format!("health check answered HTTP {status}"))
        }
        ProbeResult::Error {
            error: ProbeErrorKind::Tls,
            ..
        } => HealthVerdict::Starting("waiting for TLS certificate".into()),
        ProbeResult::Error { message, .. } => {
            HealthVerdict::Starting(format!("app not answering yet ({message})"))
        }
    }
}

/// What `/healthz/boot` says.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct BootProgress {
    pub state: String,
    #[serde(default)]
    pub step: String,
}

/// The verdict from the boot progress, or `None` once the boot is done (then
/// the services' own checks decide).
pub fn boot_verdict(probe: &ProbeResult) -> Option<HealthVerdict> {
    match probe {
        ProbeResult::Error {
            error: ProbeErrorKind::Tls,
            ..
        } => Some(HealthVerdict::Starting(
            "waiting for TLS certificate".into(),
        )),
        ProbeResult::Error { message, .. } => Some(HealthVerdict::Starting(format!(
            "proxy not answering yet ({message})"
        ))),
        // Not written yet (the proxy started first), or an older boot script.
        ProbeResult::Response { status: 404, .. } => None,
        ProbeResult::Response {
            status: 200, body, ..
        } => match serde_json::from_str::<BootProgress>(body) {
            Ok(p) if p.state == "done" => None,
            Ok(p) if p.state == "failed" => Some(HealthVerdict::BootFailed(format!(
                "boot failed at step \"{}\" (see 'linode-ai logs --boot')",
                crate::sanitize::line(&p.step)
            ))),
            Ok(p) => Some(HealthVerdict::Starting(format!(
                "boot: {}",
                crate::sanitize::line(&p.step)
            ))),
            Err(_) => None,
        },
        ProbeResult::Response { status, .. } => Some(HealthVerdict::Unhealthy(format!(
            "the proxy answered HTTP {status} for its boot progress"
        ))),
    }
}

/// One service's probe: the service, what came back, the codes that mean healthy.
pub type ServiceProbe = (String, ProbeResult, Vec<u16>);

/// The built-in verdict over every service's probe (reasons name the service
/// when there are several).
pub fn builtin_verdict(probes: &[ServiceProbe]) -> HealthVerdict {
    combine(
        probes
            .iter()
            .map(|(s, p, codes)| (s.clone(), default_verdict(codes, p)))
            .collect(),
        probes.len() > 1,
    )
}

/// The probes as a hook's `evaluate-health` receives them.
pub fn hook_probes(probes: &[ServiceProbe]) -> Vec<(String, ProbeResult)> {
    probes
        .iter()
        .map(|(s, p, _)| (s.clone(), p.clone()))
        .collect()
}

/// Several services' verdicts as one: all healthy is healthy, any unhealthy
/// is unhealthy, otherwise starting (reasons name the service).
pub fn combine(verdicts: Vec<(String, HealthVerdict)>, name_services: bool) -> HealthVerdict {
    let label = |s: &str, r: &str| {
        if name_services {
            format!("{s}: {r}")
        } else {
            r.to_string()
        }
    };
    let bad: Vec<String> = verdicts
        .iter()
        .filter_map(|(s, v)| match v {
            HealthVerdict::Unhealthy(r) => Some(label(s, r)),
            _ => None,
        })
        .collect();
    if !bad.is_empty() {
        return HealthVerdict::Unhealthy(bad.join("; "));
    }
    let waiting: Vec<String> = verdicts
        .iter()
        .filter_map(|(s, v)| match v {
            HealthVerdict::Starting(r) => Some(label(s, r)),
            _ => None,
        })
        .collect();
    if !waiting.is_empty() {
        return HealthVerdict::Starting(waiting.join("; "));
    }
    HealthVerdict::Healthy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> ProbeResult {
        ProbeResult::Response {
            status,
            headers: vec![],
            body: body.into(),
            truncated: false,
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(
            default_verdict(&[200], &resp(200, "")),
            HealthVerdict::Healthy
        );
        assert_eq!(
            default_verdict(&[200], &resp(502, "")).status(),
            Status::Degraded
        );
        let tls = ProbeResult::Error {
            error: ProbeErrorKind::Tls,
            message: "x".into(),
        };
        assert_eq!(
            default_verdict(&[200], &tls),
            HealthVerdict::Starting("waiting for TLS certificate".into())
        );
        assert_eq!(app_url("h", 443), "https://h");
        assert_eq!(app_url("h", 8443), "https://h:8443");
    }

    #[test]
    fn boot_progress_decides_until_done() {
        assert_eq!(
            boot_verdict(&resp(
                200,
                r#"{"state":"running","step":"pull model llama3.2:1b"}"#
            )),
            Some(HealthVerdict::Starting(
                "boot: pull model llama3.2:1b".into()
            ))
        );
        let failed = boot_verdict(&resp(
            200,
            r#"{"state":"failed","step":"NVIDIA: driver 580-server"}"#,
        ))
        .unwrap();
        assert_eq!(failed.status(), Status::Degraded);
        assert!(failed
            .reason()
            .unwrap()
            .contains("NVIDIA: driver 580-server"));
        assert_eq!(
            boot_verdict(&resp(200, r#"{"state":"done","step":"ready"}"#)),
            None
        );
        assert_eq!(boot_verdict(&resp(404, "")), None);
        let hostile = boot_verdict(&resp(
            200,
            "{\"state\":\"running\",\"step\":\"\\u001b[2Jx\"}",
        ))
        .unwrap();
        assert!(!hostile.reason().unwrap().contains('\u{1b}'));
    }

    #[test]
    fn combined_verdicts_name_the_service() {
        let v = combine(
            vec![
                ("ollama".into(), HealthVerdict::Healthy),
                (
                    "webui".into(),
                    HealthVerdict::Starting("app not answering yet".into()),
                ),
            ],
            true,
        );
        assert_eq!(
            v,
            HealthVerdict::Starting("webui: app not answering yet".into())
        );
        let v = combine(
            vec![
                ("a".into(), HealthVerdict::Unhealthy("HTTP 500".into())),
                ("b".into(), HealthVerdict::Starting("x".into())),
            ],
            true,
        );
        assert_eq!(v.status(), Status::Degraded);
    }

    #[test]
    fn old_records_are_probed_over_http_to_the_ip() {
        let mut d: Deployment = serde_json::from_value(serde_json::json!({
            "deployment_id": "d", "app_name": "a", "env": "e", "template": "t", "template_version": "1",
            "region": "us-ord", "ipv4": "203.0.113.9", "hostname": "203-0-113-9.ip.linodeusercontent.com",
            "url": "http://203-0-113-9.ip.linodeusercontent.com",
            "health": {"http_path": "/api/tags", "port": 80},
            "created_at": "2026-11-26T14:30:00Z", "last_status": "running"
        }))
        .unwrap();
        let t = d.probe_target("/api/tags").unwrap();
        assert_eq!(t.url, "http://203.0.113.9/api/tags");
        assert_eq!(
            t.host.as_deref(),
            Some("203-0-113-9.ip.linodeusercontent.com")
        );
        d.probes = vec![crate::state::Probe {
            service: "ollama".into(),
            path: "/healthz/ollama".into(),
            success_codes: vec![200],
            timeout_seconds: 2,
        }];
        d.health.port = 443;
        let t = d.probe_target("/healthz/ollama").unwrap();
        assert_eq!(
            t.url,
            "https://203-0-113-9.ip.linodeusercontent.com/healthz/ollama"
        );
        assert_eq!(t.host, None);
    }
}
