//! Small HTTP apps that stand in for the deployed container's health
//! endpoint (Ollama's `/api/tags`, vLLM's or TEI's `/health`).

use std::sync::{Arc, Mutex};

use crate::http::Server;

/// Serves `path` with a settable status and body; anything else is 404.
pub struct AppServer {
    _server: Server,
    answer: Arc<Mutex<(u16, String)>>,
    pub port: u16,
}

impl AppServer {
    pub fn start(path: &str, status: u16, body: &str) -> AppServer {
        let answer = Arc::new(Mutex::new((status, body.to_string())));
        let (a, p) = (answer.clone(), path.to_string());
        let server = Server::start(
            crate::listen(0).expect("bind 127.0.0.1"),
            Arc::new(move |req| {
                let (status, body) = if req.url().split('?').next() == Some(p.as_str()) {
                    a.lock().unwrap().clone()
                } else {
                    (404, "404 page not found".into())
                };
                req.respond(
                    status,
                    vec![("Content-Type".into(), "application/json".into())],
                    body,
                );
            }),
        )
        .expect("serve");
        AppServer {
            port: server.port,
            _server: server,
            answer,
        }
    }

    pub fn set(&self, status: u16, body: &str) {
        *self.answer.lock().unwrap() = (status, body.to_string());
    }
}
