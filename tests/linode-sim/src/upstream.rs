//! Stand-ins for the apps behind the proxy, recording what reaches them:
//! an Ollama (`/api/version`, `/api/tags`, `/api/chat` streamed as NDJSON,
//! and Ollama's CORS check: a request whose `Origin` is neither its own host
//! nor a local one gets 403, as gin-contrib/cors does), and an echo server
//! that answers 200 to anything (vLLM, TEI).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::http::{Method, Request, Server};

/// What one request looked like when it reached the app.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub origin: Option<String>,
    pub host: Option<String>,
    pub cookie: Option<String>,
    /// Bytes of request body received.
    pub body_len: usize,
}

/// Which app to imitate.
#[derive(Debug, Clone)]
pub enum Kind {
    Ollama { models: Vec<String> },
    Echo,
}

pub struct Upstream {
    _server: Server,
    seen: Arc<Mutex<Vec<Seen>>>,
    pub port: u16,
}

fn origin_allowed(origin: &str, host: Option<&str>) -> bool {
    if let Some(h) = host {
        if origin == format!("http://{h}") || origin == format!("https://{h}") {
            return true;
        }
    }
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    let name = rest.split(':').next().unwrap_or("");
    matches!(name, "localhost" | "127.0.0.1" | "0.0.0.0")
}

fn ollama(req: Request, models: &[String]) {
    let json_headers = vec![(
        "Content-Type".to_string(),
        "application/json; charset=utf-8".to_string(),
    )];
    let path = req.url().split('?').next().unwrap_or("").to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::Get, "/") => req.respond(200, vec![], "Ollama is running".into()),
        (Method::Get, "/api/version") => {
            req.respond(200, json_headers, json!({"version": "0.13.4"}).to_string())
        }
        (Method::Get, "/api/tags") => {
            let list: Vec<Value> = models
                .iter()
                .map(|m| json!({"name": m, "model": m, "size": 1_300_000_000u64, "details": {"family": "llama"}}))
                .collect();
            req.respond(200, json_headers, json!({ "models": list }).to_string())
        }
        (Method::Post, "/api/chat") => {
            let body: Value = serde_json::from_str(req.body()).unwrap_or(Value::Null);
            let model = body["model"].as_str().unwrap_or("").to_string();
            if !models.contains(&model) {
                return req.respond(
                    404,
                    json_headers,
                    json!({"error": format!("model '{model}' not found")}).to_string(),
                );
            }
            let said = body["messages"]
                .as_array()
                .and_then(|m| m.last())
                .and_then(|m| m["content"].as_str())
                .unwrap_or("")
                .to_string();
            let answer = format!("Hello from the stand-in Ollama ({model}). You said: {said}");
            let tx = req.respond_stream(
                200,
                vec![("Content-Type".into(), "application/x-ndjson".into())],
            );
            for word in answer.split_inclusive(' ') {
                let line = json!({"model": model, "created_at": "2026-11-28T12:00:00Z",
                                  "message": {"role": "assistant", "content": word}, "done": false});
                if tx.blocking_send(format!("{line}\n")).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(15));
            }
            let _ = tx.blocking_send(format!(
                "{}\n",
                json!({"model": model, "created_at": "2026-11-28T12:00:01Z", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop"})
            ));
        }
        _ => req.respond(404, vec![], "404 page not found".into()),
    }
}

impl Upstream {
    pub fn start(kind: Kind) -> Upstream {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let s = seen.clone();
        let server = Server::start(
            crate::listen(0).expect("bind 127.0.0.1"),
            Arc::new(move |req: Request| {
                let host = req.header("Host");
                let origin = req.header("Origin");
                s.lock().unwrap().push(Seen {
                    method: req.method().to_string(),
                    path: req.url().to_string(),
                    authorization: req.header("Authorization"),
                    origin: origin.clone(),
                    host: host.clone(),
                    cookie: req.header("Cookie"),
                    body_len: req.body().len(),
                });
                if let Some(o) = &origin {
                    if matches!(kind, Kind::Ollama { .. }) && !origin_allowed(o, host.as_deref()) {
                        return req.respond(403, vec![], String::new());
                    }
                }
                match &kind {
                    Kind::Ollama { models } => ollama(req, models),
                    Kind::Echo => {
                        let body = json!({"path": req.url(), "method": req.method().to_string()})
                            .to_string();
                        req.respond(
                            200,
                            vec![("Content-Type".into(), "application/json".into())],
                            body,
                        )
                    }
                }
            }),
        )
        .expect("serve");
        Upstream {
            port: server.port,
            _server: server,
            seen,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ollamas_origin_rule() {
        assert!(origin_allowed("https://a.example", Some("a.example")));
        assert!(origin_allowed("http://localhost:3000", Some("x")));
        assert!(!origin_allowed(
            "https://a-b-c-d.ip.linodeusercontent.com",
            Some("ollama:11434")
        ));
    }
}
