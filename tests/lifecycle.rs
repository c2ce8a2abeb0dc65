//! End-to-end tests of the real binary against the local Linode API stand-in.

mod support;

use std::time::Duration;

use base64::Engine;
use support::*;

fn write_env(dir: &std::path::Path, text: &str) {
    std::fs::write(dir.join(".env"), text).unwrap();
}

#[test]
fn templates_list_and_show() {
    let env = Env::new();
    let out = env.run(&["templates", "list"], None).ok();
    assert!(out.stdout.starts_with("NAME"), "{}", out.stdout);
    for name in ["chat-agent", "llm-api", "embeddings"] {
        assert!(out.stdout.contains(name));
    }
    let j = env.run(&["templates", "list", "--json"], None).ok().json();
    assert_eq!(j.as_array().unwrap().len(), 3);
    let show = env.run(&["templates", "show", "chat-agent"], None).ok();
    for want in [
        "Default region:  us-ord",
        "g6-standard-2",
        "ollama/ollama",
        "GET /api/tags on port 80",
        "OLLAMA_MODEL",
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
    assert_eq!(j["env"]["required"][0]["name"], "API_KEY");
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
fn init_writes_files_and_refuses_to_overwrite() {
    let env = Env::new();
    let dir = env.project("embeddings");
    let manifest = std::fs::read_to_string(dir.join("ai.linode.yml")).unwrap();
    assert!(manifest.contains("name: embeddings") && manifest.contains("region: us-ord"));
    let example = std::fs::read_to_string(dir.join(".env.example")).unwrap();
    assert!(
        example.contains("API_KEY=") && example.contains("# TOKENIZATION_WORKERS=2"),
        "{example}"
    );
    assert!(dir.join("README.md").exists());
    // Non-empty directory: refused, nothing touched.
    let before = std::fs::read_to_string(dir.join("ai.linode.yml")).unwrap();
    let out = env
        .run(
            &["init", "chat-agent", "--directory", dir.to_str().unwrap()],
            None,
        )
        .fails();
    assert!(out.stderr.contains("not empty"), "{}", out.stderr);
    // Existing manifest in the current directory: refused.
    let out = env.run(&["init", "chat-agent"], Some(&dir)).fails();
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("ai.linode.yml")).unwrap(),
        before
    );
}

#[test]
fn dry_run_works_offline_without_token_and_redacts_secrets() {
    let mut env = Env::new();
    let dir = env.project("embeddings");
    write_env(&dir, "API_KEY='s3cr3t-$value \"q\" #x'\n");
    // No token and an unreachable API.
    env.extra = vec![
        ("LINODE_CLI_TOKEN".into(), "".into()),
        ("LINODE_CLI_API_HOST".into(), "127.0.0.1:1".into()),
    ];
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).ok();
    assert!(out.stdout.contains("POST /linode/instances"));
    assert!(out.stdout.contains("#cloud-config"));
    assert!(out.stdout.contains("skipped: the API"), "{}", out.stdout);
    assert!(!out.stdout.contains("s3cr3t") && !out.stderr.contains("s3cr3t"));
    assert!(!env.registry_path().exists(), "dry run changes nothing");
    let j = env.dry_run_json(&dir);
    assert_eq!(j["request"]["body"]["region"], "us-ord");
    assert!(j["request"]["body"]["root_pass"]
        .as_str()
        .unwrap()
        .contains("redacted"));
}

#[test]
fn dry_run_checks_region_and_plan_when_the_api_answers() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).ok();
    assert!(out.stdout.contains("API checks:  passed"), "{}", out.stdout);
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
    let cases: &[(&[&str], &str)] = &[
        (&["--region", "us-chi"], "does not exist"),
        (&["--region", "ap-west"], "no Metadata service"),
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
    ];
    for (flags, want) in cases {
        let mut args = vec!["deploy"];
        args.extend_from_slice(flags);
        let out = env.run(&args, Some(&dir)).fails();
        assert!(out.stderr.contains(want), "{flags:?}: {}", out.stderr);
    }
    let llm = env.project("llm-api");
    write_env(&llm, "VLLM_API_KEY=k\n");
    let out = env
        .run(&["deploy", "--linode-type", "g6-standard-6"], Some(&llm))
        .fails();
    assert!(out.stderr.contains("needs an NVIDIA GPU"), "{}", out.stderr);
    assert!(env.posts().is_empty(), "no create call was made");
    assert!(env.registry()["deployments"].as_array().unwrap().is_empty());
}

#[test]
fn missing_required_env_vars_are_named_together() {
    let env = Env::new();
    let dir = env.project("llm-api");
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).fails();
    assert!(
        out.stderr.contains("VLLM_API_KEY") && out.stderr.contains(".env"),
        "{}",
        out.stderr
    );
    write_env(&dir, "HF_TOKEN=x\n");
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).fails();
    assert!(
        out.stderr.contains("missing required env var in") && out.stderr.contains("VLLM_API_KEY"),
        "{}",
        out.stderr
    );
    write_env(&dir, "VLLM_API_KEY='unterminated\n");
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).fails();
    assert!(out.stderr.contains(".env:1"), "{}", out.stderr);
}

#[test]
fn full_lifecycle_provisioning_to_running_to_destroyed() {
    let env = Env::new();
    let app = AppServer::start("/api/tags", 200, r#"{"models":[]}"#);
    let dir = env.project("chat-agent");
    let ssh = env.home().join("id.pub");
    std::fs::write(&ssh, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE test@host\n").unwrap();
    write_env(
        &dir,
        "OLLAMA_MODEL=qwen2.5:0.5b\nSECRET_THING='p@ss w0rd $x'\n",
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
            ],
            Some(&dir),
        )
        .ok();
    assert!(
        out.stdout.contains("Deployed chat-agent (env: default)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Status:    provisioning"));
    assert!(
        out.stdout
            .contains(&format!("URL:       http://localhost:{port}")),
        "{}",
        out.stdout
    );

    // The one create request is one the real API accepts.
    let posts = env.posts();
    assert_eq!(posts.len(), 1);
    let body = &posts[0];
    let label = body["label"].as_str().unwrap();
    assert!(linode_sim::label_ok(label), "{label}");
    for t in body["tags"].as_array().unwrap() {
        let n = t.as_str().unwrap().len();
        assert!((3..=50).contains(&n), "{t}");
    }
    assert_eq!(body["root_pass"].as_str().unwrap().len(), 68);
    assert_eq!(
        body["authorized_keys"][0]
            .as_str()
            .unwrap()
            .split(' ')
            .next(),
        Some("ssh-ed25519")
    );
    let ud = body["metadata"]["user_data"].as_str().unwrap();
    assert!(!ud.contains('\n'));
    let doc = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(ud)
            .unwrap(),
    )
    .unwrap();
    assert!(doc.starts_with("#cloud-config\n"));
    assert!(
        doc.contains("SECRET_THING=$'p@ss w0rd $x'"),
        "values reach the instance intact"
    );
    assert!(doc.contains(&format!("-p {port}:11434")));

    // Secrets never reach stdout or the registry.
    let registry_text = std::fs::read_to_string(env.registry_path()).unwrap();
    for secret in [
        body["root_pass"].as_str().unwrap(),
        "p@ss w0rd",
        "test-token",
    ] {
        assert!(
            !registry_text.contains(secret)
                && !out.stdout.contains(secret)
                && !out.stderr.contains(secret)
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(env.registry_path())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let rec = &env.registry()["deployments"][0];
    assert_eq!(rec["hostname"], "localhost");
    assert_eq!(rec["health"]["port"], app.port);

    // Right after creation the instance is provisioning.
    let j = env.run(&["status", "--json"], None).ok().json();
    assert_eq!(j[0]["status"], "provisioning", "{j}");
    // Once booted, the health probe decides.
    std::thread::sleep(Duration::from_millis(700));
    app.set(503, "loading");
    let out = env.run(&["status"], None).ok();
    assert!(out.stdout.contains("degraded"), "{}", out.stdout);
    app.set(200, r#"{"models":[]}"#);
    let out = env.run(&["status", "--verbose"], None).ok();
    assert!(out.stdout.starts_with("APP"), "{}", out.stdout);
    assert!(
        out.stdout.contains("running") && out.stdout.contains("LINODE"),
        "{}",
        out.stdout
    );
    assert_eq!(env.registry()["deployments"][0]["last_status"], "running");

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
    assert!(env.registry()["deployments"].as_array().unwrap().is_empty());
}

#[test]
fn deploy_wait_reports_progress_and_times_out_clearly() {
    let env = Env::new();
    let app = AppServer::start("/health", 200, "ok");
    let dir = env.project("embeddings");
    write_env(&dir, "API_KEY=k\n");
    let port = app.port.to_string();
    let out = env
        .run(
            &["deploy", "--port", &port, "--wait", "--timeout", "30"],
            Some(&dir),
        )
        .ok();
    assert!(out.stdout.contains("Status:    running"), "{}", out.stdout);
    let progress = &out.stderr;
    let (p, b, h) = (
        progress.find("provisioning"),
        progress.find("booting"),
        progress.find("healthy"),
    );
    assert!(
        p.is_some() && b.is_some() && h.is_some() && p < b && b < h,
        "progress order:\n{progress}"
    );
    assert_eq!(env.registry()["deployments"][0]["last_status"], "running");

    // An app that never answers: a clear failure at the timeout, record kept.
    let dead = AppServer::start("/health", 503, "no");
    let port = dead.port.to_string();
    let out = env
        .run(
            &[
                "deploy",
                "--port",
                &port,
                "--app-name",
                "second",
                "--wait",
                "--timeout",
                "2",
            ],
            Some(&dir),
        )
        .fails();
    assert!(out.stderr.contains("timed out after 2s"), "{}", out.stderr);
    assert_eq!(env.registry()["deployments"].as_array().unwrap().len(), 2);
}

#[test]
fn retries_honour_rate_limits_and_never_create_twice() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    // 429 with Retry-After, then a 500 on create (the create may have happened:
    // looked up by label first), then success.
    env.sim.add_fault(Fault {
        method: "GET".into(),
        path: "/v4/regions".into(),
        status: 429,
        reason: "Too many requests".into(),
        retry_after: Some(1),
        ..Default::default()
    });
    env.sim.add_fault(Fault {
        method: "POST".into(),
        path: "/v4/linode/instances".into(),
        status: 500,
        reason: "Internal".into(),
        ..Default::default()
    });
    env.sim.add_fault(Fault {
        method: "POST".into(),
        path: "/v4/linode/instances".into(),
        status: 400,
        reason: "Linode busy.".into(),
        ..Default::default()
    });
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
    assert!(env.registry()["deployments"][0]["linode_id"]
        .as_u64()
        .is_some());
}

#[test]
fn api_errors_are_shown_with_reason_and_leave_no_record() {
    let mut env = Env::new();
    let dir = env.project("chat-agent");
    env.extra.push(("LINODE_CLI_TOKEN".into(), "wrong".into()));
    let out = env.run(&["deploy"], Some(&dir)).fails();
    assert!(
        out.stderr.contains("Invalid Token") && out.stderr.contains("401"),
        "{}",
        out.stderr
    );
    assert!(env.registry()["deployments"].as_array().unwrap().is_empty());
    env.extra = vec![("LINODE_CLI_TOKEN".into(), "".into())];
    let out = env.run(&["deploy"], Some(&dir)).fails();
    assert!(
        out.stderr.contains("LINODE_CLI_TOKEN") && out.stderr.contains("linode-cli configure"),
        "{}",
        out.stderr
    );
    // A validation error with a field, as the real API words it.
    env.extra.clear();
    let before = env.posts().len();
    env.sim.add_fault(Fault {
        method: "POST".into(),
        path: "/v4/linode/instances".into(),
        status: 400,
        reason: "region is not valid".into(),
        ..Default::default()
    });
    let out = env.run(&["deploy"], Some(&dir)).fails();
    assert!(out.stderr.contains("region is not valid"), "{}", out.stderr);
    assert_eq!(
        env.posts().len(),
        before + 1,
        "validation errors are not retried"
    );
}

#[test]
fn destroy_of_an_instance_already_gone_cleans_the_registry() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    env.run(&["deploy"], Some(&dir)).ok();
    env.run(&["deploy", "--env", "staging"], Some(&dir)).ok();
    let id = env.registry()["deployments"][0]["linode_id"]
        .as_u64()
        .unwrap();
    // Deleted behind our back.
    let c = reqwest_free_delete(env.sim.port, id);
    assert_eq!(c, 200);
    let j = env.run(&["status", "--json"], None).ok().json();
    assert_eq!(j[0]["status"], "missing");
    // Two deployments and no filter: ambiguous.
    let out = env.run(&["destroy", "--yes"], None).fails();
    assert!(out.stderr.contains("2 deployments match"), "{}", out.stderr);
    let out = env
        .run(&["destroy", "--env", "default", "--yes", "--json"], None)
        .ok();
    assert!(out.json()[0]["result"]
        .as_str()
        .unwrap()
        .contains("already gone"));
    assert_eq!(env.registry()["deployments"].as_array().unwrap().len(), 1);
}

/// DELETE through a raw socket (keeps reqwest out of the test's deps).
fn reqwest_free_delete(port: u16, id: u64) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "DELETE /v4/linode/instances/{id} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer test-token\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_whitespace().nth(1).unwrap().parse().unwrap()
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

#[test]
fn status_checks_deployments_concurrently() {
    let env = Env::new();
    env.sim.set_latency(100);
    let app = AppServer::start("/health", 200, "ok");
    let mut deployments = Vec::new();
    for i in 0..40 {
        let id = env
            .sim
            .seed_instance(&format!("build-ai-app{i}-default-20261126T143000Z"));
        deployments.push(serde_json::json!({
            "deployment_id": format!("d-{i}"), "app_name": format!("app{i}"), "env": "default",
            "template": "embeddings", "template_version": "0.1.0", "region": "us-ord",
            "linode_id": id, "ipv4": "127.0.0.1", "hostname": "localhost",
            "url": format!("http://localhost:{}", app.port),
            "health": {"http_path": "/health", "port": app.port},
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
    let j = env.run(&["status", "--json"], None).ok().json();
    assert_eq!(j.as_array().unwrap().len(), 40);
    assert!(
        j.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "running"),
        "{j}"
    );
    assert!(
        env.sim.max_in_flight() >= 20,
        "requests overlapped: max in flight {}",
        env.sim.max_in_flight()
    );
    // The bound is honoured.
    let env2 = Env::new();
    env2.sim.set_latency(50);
    std::fs::create_dir_all(env2.registry_path().parent().unwrap()).unwrap();
    std::fs::write(env2.registry_path(), std::fs::read(&path).unwrap()).unwrap();
    env2.run(&["status", "--concurrency", "4"], None).ok();
    assert!(
        env2.sim.max_in_flight() <= 4,
        "max in flight {}",
        env2.sim.max_in_flight()
    );
}

#[test]
fn rendered_user_data_passes_cloud_init_schema() {
    let env = Env::new();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("data/schema-cloud-config-v1.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for t in ["chat-agent", "llm-api", "embeddings"] {
        let dir = env.project(t);
        write_env(
            &dir,
            "VLLM_API_KEY=a\nAPI_KEY='x y'\nWEIRD=\"multi\\nline $HOME 'q'\"\n",
        );
        let j = env.dry_run_json(&dir);
        let doc = j["user_data"].as_str().unwrap();
        let value: serde_json::Value = serde_yaml::from_str(doc).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{t}: {errors:?}\n{doc}");
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
