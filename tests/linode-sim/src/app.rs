//! Small HTTP apps that stand in for the deployed container's health
//! endpoint (Ollama's `/api/tags`, vLLM's or TEI's `/health`).

use std::sync::{Arc, Mutex};

use tiny_http::{Header, Response, Server};

/// Serves `path` with a settable status and body; anything else is 404.
pub struct AppServer {
    server: Arc<Server>,
    answer: Arc<Mutex<(u16, String)>>,
    pub port: u16,
}

impl Drop for AppServer {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

impl AppServer {
    pub fn start(path: &str, status: u16, body: &str) -> AppServer {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let port = server.server_addr().to_ip().expect("ip").port();
        let answer = Arc::new(Mutex::new((status, body.to_string())));
        let (s, a, p) = (server.clone(), answer.clone(), path.to_string());
        std::thread::spawn(move || {
            for req in s.incoming_requests() {
                let (status, body) = if req.url().split('?').next() == Some(p.as_str()) {
                    a.lock().unwrap().clone()
                } else {
                    (404, "404 page not found".into())
                };
                let resp = Response::from_string(body)
                    .with_status_code(status)
                    .with_header(
                        Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).unwrap(),
                    );
                let _ = req.respond(resp);
            }
        });
        AppServer {
            server,
            answer,
            port,
        }
    }

    pub fn set(&self, status: u16, body: &str) {
        *self.answer.lock().unwrap() = (status, body.to_string());
    }
}
