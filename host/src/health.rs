//! The HTTP health probe and the built-in health verdict.

use std::time::Duration;

use serde::Serialize;

use crate::registry::Deployment;

/// Bodies are read up to this many bytes (hooks see at most this much).
pub const BODY_LIMIT: usize = 64 * 1024;

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
        message: String,
    },
}

/// The health verdict, from the built-in rule or a template's hook.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "verdict", content = "reason", rename_all = "snake_case")]
pub enum HealthVerdict {
    Healthy,
    Starting(String),
    Unhealthy(String),
}

impl HealthVerdict {
    /// The status word shown to users.
    pub fn status(&self) -> &'static str {
        match self {
            HealthVerdict::Healthy => "running",
            HealthVerdict::Starting(_) => "starting",
            HealthVerdict::Unhealthy(_) => "degraded",
        }
    }
    pub fn reason(&self) -> Option<&str> {
        match self {
            HealthVerdict::Healthy => None,
            HealthVerdict::Starting(r) | HealthVerdict::Unhealthy(r) => Some(r),
        }
    }
}

/// A client for probes: short timeouts, no proxy surprises.
pub fn probe_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!(
            "linode-ai/",
            env!("CARGO_PKG_VERSION"),
            " health-probe"
        ))
        .connect_timeout(Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::limited(3))
        // Each probe goes to a different host; idle keep-alive connections only tie up servers.
        .pool_max_idle_per_host(0)
        .build()
        .expect("probe client builds")
}

/// `http://host[:port]`: the URL users open.
pub fn app_url(hostname: &str, port: u16) -> String {
    if port == 80 {
        format!("http://{hostname}")
    } else {
        format!("http://{hostname}:{port}")
    }
}

/// Where a deployment's health check goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    /// The URL actually fetched: the recorded IPv4 when there is one.
    pub url: String,
    /// `Host` header naming the deployment's hostname when `url` uses its IP.
    pub host: Option<String>,
}

impl Deployment {
    /// The health check of the published port: `http://<ipv4>:<port><path>` with
    /// `Host: <hostname>`, so checking many deployments needs no DNS lookups
    /// (the hostname is the IP's own rDNS name); the recorded URL otherwise.
    pub fn probe_target(&self) -> Option<ProbeTarget> {
        let path = &self.health.http_path;
        match (&self.ipv4, &self.hostname) {
            (Some(ip), Some(host)) => Some(ProbeTarget {
                url: format!("{}{path}", app_url(ip, self.health.port)),
                host: Some(if self.health.port == 80 {
                    host.clone()
                } else {
                    format!("{host}:{}", self.health.port)
                }),
            }),
            _ => self.url.as_ref().map(|u| ProbeTarget {
                url: format!("{u}{path}"),
                host: None,
            }),
        }
    }
}

/// GETs the target with a timeout, reading at most [`BODY_LIMIT`] bytes of body.
pub async fn probe(
    client: &reqwest::Client,
    target: &ProbeTarget,
    timeout: Duration,
) -> ProbeResult {
    let fut = async {
        let mut req = client.get(&target.url);
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
        Ok(Err(e)) => ProbeResult::Error {
            message: short_error(&e),
        },
        Err(_) => ProbeResult::Error {
            message: format!("no answer within {}s", timeout.as_secs_f32()),
        },
    }
}

fn short_error(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection refused or unreachable".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else {
        let mut m = e.to_string();
        if let Some(s) = std::error::Error::source(e) {
            m = format!("{m}: {s}");
        }
        m
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
        ProbeResult::Error { message } => {
            HealthVerdict::Starting(format!("app not answering yet ({message})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let ok = ProbeResult::Response {
            status: 200,
            headers: vec![],
            body: String::new(),
            truncated: false,
        };
        assert_eq!(default_verdict(&[200], &ok), HealthVerdict::Healthy);
        let bad = ProbeResult::Response {
            status: 502,
            headers: vec![],
            body: String::new(),
            truncated: false,
        };
        assert_eq!(default_verdict(&[200], &bad).status(), "degraded");
        let err = ProbeResult::Error {
            message: "x".into(),
        };
        assert_eq!(default_verdict(&[200], &err).status(), "starting");
        assert_eq!(app_url("h", 80), "http://h");
        assert_eq!(app_url("h", 8080), "http://h:8080");
    }

    #[test]
    fn probes_go_to_the_recorded_ip_with_the_hostname_as_host() {
        let mut d: Deployment = serde_json::from_value(serde_json::json!({
            "deployment_id": "d", "app_name": "a", "env": "e", "template": "t", "template_version": "1",
            "region": "us-ord", "ipv4": "203.0.113.9", "hostname": "203-0-113-9.ip.linodeusercontent.com",
            "url": "http://203-0-113-9.ip.linodeusercontent.com",
            "health": {"http_path": "/api/tags", "port": 80},
            "created_at": "2026-11-26T14:30:00Z", "last_status": "running"
        }))
        .unwrap();
        let t = d.probe_target().unwrap();
        assert_eq!(t.url, "http://203.0.113.9/api/tags");
        assert_eq!(
            t.host.as_deref(),
            Some("203-0-113-9.ip.linodeusercontent.com")
        );
        d.health.port = 8080;
        assert_eq!(
            d.probe_target().unwrap().host.as_deref(),
            Some("203-0-113-9.ip.linodeusercontent.com:8080")
        );
        d.ipv4 = None;
        let t = d.probe_target().unwrap();
        assert_eq!(
            (t.url.as_str(), t.host),
            ("http://203-0-113-9.ip.linodeusercontent.com/api/tags", None)
        );
    }
}
