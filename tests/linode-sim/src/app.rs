//! Small HTTP(S) apps that stand in for a deployed instance: the proxy's
//! public paths (`/healthz/boot`, `/healthz/<service>`) over HTTPS with a
//! certificate from a test CA, or a bare app over HTTP (older deployments).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::http::Server;

type Answers = Arc<Mutex<(HashMap<String, (u16, String)>, (u16, String))>>;

/// Serves set answers per path (anything else: the default answer).
pub struct AppServer {
    _server: Server,
    answers: Answers,
    load: Arc<Mutex<(usize, usize, usize)>>,
    pub port: u16,
}

/// A CA that signs server certificates for tests.
pub struct TestCa {
    ca: rcgen::Certificate,
    key: rcgen::KeyPair,
    pub pem: String,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "linode-ai test CA");
        let ca = params.self_signed(&key).expect("self-signed CA");
        let pem = ca.pem();
        TestCa { ca, key, pem }
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.pem).expect("write CA");
    }

    /// A certificate for `names` and its key, as PEM (for servers started as processes).
    pub fn issue_pem(&self, names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        let cert = params.signed_by(&key, &self.ca, &self.key).expect("sign");
        (cert.pem(), key.serialize_pem())
    }

    /// A server config with a certificate for `names`, signed by this CA.
    pub fn server_config(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
        let key = rcgen::KeyPair::generate().expect("key");
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        let cert = params.signed_by(&key, &self.ca, &self.key).expect("sign");
        let chain = vec![cert.der().clone()];
        let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("key der");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .expect("server config"),
        )
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl AppServer {
    /// Plain HTTP: `path` answers `status`/`body`, anything else 404.
    pub fn start(path: &str, status: u16, body: &str) -> AppServer {
        let app = Self::serve(None, (404, "404 page not found".into()));
        app.set_path(path, status, body);
        app
    }

    /// HTTPS with a certificate for `names` from `ca`: the proxy of a
    /// deployment whose boot is done; set answers with [`AppServer::set_path`].
    pub fn https(ca: &TestCa, names: &[&str]) -> AppServer {
        let app = Self::serve(
            Some(ca.server_config(names)),
            (404, "404 Not Found\n".into()),
        );
        app.set_path(
            "/healthz/boot",
            200,
            r#"{"state":"done","step":"ready","at":"2026-11-26T14:30:00Z"}"#,
        );
        app
    }

    fn serve(tls: Option<Arc<rustls::ServerConfig>>, default: (u16, String)) -> AppServer {
        let answers: Answers = Arc::new(Mutex::new((HashMap::new(), default)));
        // (in flight, most in flight, total)
        let load = Arc::new(Mutex::new((0usize, 0usize, 0usize)));
        let (a, l) = (answers.clone(), load.clone());
        let server = Server::start_with(
            crate::listen(0).expect("bind 127.0.0.1"),
            Arc::new(move |req| {
                {
                    let mut l = l.lock().unwrap();
                    l.0 += 1;
                    l.1 = l.1.max(l.0);
                    l.2 += 1;
                }
                let path = req.url().split('?').next().unwrap_or("").to_string();
                let (status, body) = {
                    let a = a.lock().unwrap();
                    a.0.get(&path).cloned().unwrap_or_else(|| a.1.clone())
                };
                // A little work, so concurrent probes overlap measurably.
                std::thread::sleep(std::time::Duration::from_millis(5));
                l.lock().unwrap().0 -= 1;
                req.respond(
                    status,
                    vec![("Content-Type".into(), "application/json".into())],
                    body,
                );
            }),
            tls,
        )
        .expect("serve");
        AppServer {
            port: server.port,
            _server: server,
            answers,
            load,
        }
    }

    /// Most requests seen at once.
    pub fn max_in_flight(&self) -> usize {
        self.load.lock().unwrap().1
    }

    /// Requests served.
    pub fn requests(&self) -> usize {
        self.load.lock().unwrap().2
    }

    /// Sets the answer for `path`.
    pub fn set_path(&self, path: &str, status: u16, body: &str) {
        self.answers
            .lock()
            .unwrap()
            .0
            .insert(path.to_string(), (status, body.to_string()));
    }

    /// Sets the answer of the one path of a plain app (the old single-path form).
    pub fn set(&self, status: u16, body: &str) {
        let mut a = self.answers.lock().unwrap();
        let paths: Vec<String> = a.0.keys().cloned().collect();
        for p in paths {
            a.0.insert(p, (status, body.to_string()));
        }
    }
}
