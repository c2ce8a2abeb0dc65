//! Template hooks end to end: the example Rust hook and hostile guests.
//! Guests are built by tests/build-guests.sh (tests/run.sh runs it first).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn guest(name: &str) -> PathBuf {
    let p = root().join("target/guests").join(format!("{name}.wasm"));
    assert!(
        p.is_file(),
        "{} is missing: run tests/build-guests.sh first",
        p.display()
    );
    p
}

fn example_dir() -> PathBuf {
    let d = root().join("templates/examples/ollama-ready");
    assert!(
        d.join("hook.wasm").is_file(),
        "example hook not built: run tests/build-guests.sh first"
    );
    d
}

/// A template directory named `name` using `wasm` as its hook.
fn template_with_hook(env: &Env, name: &str, wasm: &Path) -> PathBuf {
    let dir = env.home().join(format!("tpl-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(example_dir().join("template.yml"))
        .unwrap()
        .replace("name: ollama-ready", &format!("name: {name}"));
    std::fs::write(dir.join("template.yml"), text).unwrap();
    std::fs::copy(wasm, dir.join("hook.wasm")).unwrap();
    dir
}

#[test]
fn example_hook_end_to_end() {
    let env = Env::new();
    let out = env
        .run(&["templates", "add", example_dir().to_str().unwrap()], None)
        .ok();
    assert!(
        out.stdout.contains("Installed template ollama-ready 0.1.0"),
        "{}",
        out.stdout
    );
    let list = env.run(&["templates", "list"], None).ok();
    assert!(
        list.stdout.contains("ollama-ready") && list.stdout.contains("[installed]"),
        "{}",
        list.stdout
    );
    // A second add clashes unless --force; stock names clash too.
    let out = env
        .run(&["templates", "add", example_dir().to_str().unwrap()], None)
        .fails();
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    env.run(
        &[
            "templates",
            "add",
            "--force",
            example_dir().to_str().unwrap(),
        ],
        None,
    )
    .ok();

    let dir = env.project("ollama-ready");
    std::fs::write(
        dir.join(".env"),
        "OLLAMA_MODEL=qwen2.5:0.5b\nPRIVATE_TOKEN='not-for-the-registry'\n",
    )
    .unwrap();
    let dry = env.run(&["deploy", "--dry-run"], Some(&dir)).ok();
    assert!(dry.stdout.contains("(with hook)"), "{}", dry.stdout);
    // The hook's edit shows; the model is a public value, the token a secret.
    assert!(
        dry.stdout
            .contains("docker exec app ollama pull qwen2.5:0.5b"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("Hook log:    info: added pull of qwen2.5:0.5b"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("Hook:        changed runcmd +3/-0"),
        "{}",
        dry.stdout
    );
    assert!(
        !dry.stdout.contains("not-for-the-registry"),
        "{}",
        dry.stdout
    );
    let j = env.dry_run_json(&dir);
    assert_eq!(
        j["hook_load"], "cached",
        "second run uses the compile cache"
    );

    // Deploy and watch Ollama's /api/tags (through the proxy's /healthz/app) before and after the pull.
    let ollama = env.https_app();
    ollama.set_path("/healthz/app", 200, r#"{"models":[]}"#);
    let port = ollama.port.to_string();
    env.run(&["deploy", "--port", &port], Some(&dir)).ok();
    let posts = env.posts();
    assert_eq!(posts.len(), 1);
    let doc = user_data(&posts[0]);
    assert!(
        doc.contains("docker exec app ollama pull qwen2.5:0.5b"),
        "the real request carries the hook's edit"
    );
    env.wait_running();
    let j = env.run(&["status", "--json"], None).code(3).json();
    let j = &j["rows"];
    assert_eq!(j[0]["status"], "starting", "{j}");
    // The model is a `public` var: kept in the registry, so the hook waits for the right one.
    assert_eq!(j[0]["detail"], "pulling model qwen2.5:0.5b", "{j}");
    let registry = std::fs::read_to_string(env.registry_path()).unwrap();
    assert!(
        registry.contains("\"OLLAMA_MODEL\": \"qwen2.5:0.5b\""),
        "{registry}"
    );
    assert!(
        !registry.contains("not-for-the-registry"),
        "secrets are never stored"
    );
    ollama.set_path(
        "/healthz/app",
        200,
        r#"{"models":[{"name":"llama3.2:1b","size":1}]}"#,
    );
    let j = env.run(&["status", "--json"], None).code(3).json();
    assert_eq!(
        j["rows"][0]["status"], "starting",
        "another model is not the one asked for: {j}"
    );
    ollama.set_path(
        "/healthz/app",
        200,
        r#"{"models":[{"name":"qwen2.5:0.5b","size":1}]}"#,
    );
    let j = env.run(&["status", "--json"], None).ok().json();
    assert_eq!(j["rows"][0]["status"], "running", "{j}");

    env.run(&["templates", "remove", "ollama-ready"], None).ok();
    let out = env
        .run(&["templates", "remove", "chat-agent"], None)
        .fails();
    assert!(out.stderr.contains("stock template"), "{}", out.stderr);
}

#[test]
fn hostile_hooks_fail_cleanly_before_any_api_call() {
    let env = Env::new();
    let cases = [
        ("endless-loop", "ran out of fuel"),
        ("memory-bomb", "memory limit"),
        ("oversized", "16384"),
        ("invalid-yaml", "not valid YAML"),
        ("trap", "crashed"),
        ("file-read", "file read denied"),
        ("socket", "socket denied"),
        ("sleep", "deadline"),
    ];
    for (name, want) in cases {
        let tpl = template_with_hook(&env, name, &guest(name));
        env.run(&["templates", "add", tpl.to_str().unwrap()], None)
            .ok();
        let dir = env.project(name);
        let start = Instant::now();
        let out = env.run(&["deploy"], Some(&dir)).fails();
        let took = start.elapsed();
        assert!(
            out.stderr
                .contains(&format!("hook of template \"{name}\" 0.1.0")),
            "{name}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(want),
            "{name}: expected {want:?} in {}",
            out.stderr
        );
        assert!(took < Duration::from_secs(20), "{name} took {took:?}");
        assert!(!out.stderr.contains("panicked"), "{name}: {}", out.stderr);
    }
    assert!(env.posts().is_empty(), "no create call was made");
}

#[test]
fn wrong_interface_version_is_refused_at_install() {
    let env = Env::new();
    let tpl = template_with_hook(&env, "future", &guest("wrong-version"));
    let out = env
        .run(&["templates", "add", tpl.to_str().unwrap()], None)
        .fails();
    assert!(
        out.stderr.contains("interface 0.9.0") && out.stderr.contains("accepts 0.1.x"),
        "{}",
        out.stderr
    );
    // Not a component at all.
    let junk = env.home().join("junk.wasm");
    std::fs::write(&junk, b"\0asm not really").unwrap();
    let tpl = template_with_hook(&env, "junk", &junk);
    let out = env
        .run(&["templates", "add", tpl.to_str().unwrap()], None)
        .fails();
    assert!(
        out.stderr.contains("not a valid WebAssembly component"),
        "{}",
        out.stderr
    );
}

#[test]
fn broken_cache_entries_are_misses() {
    let env = Env::new();
    let tpl = template_with_hook(&env, "cachetest", &example_dir().join("hook.wasm"));
    env.run(&["templates", "add", tpl.to_str().unwrap()], None)
        .ok();
    let cache = env.home().join("cache/linode-ai/hooks");
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 1);
    std::fs::write(&entries[0], b"garbage").unwrap();
    let dir = env.project("cachetest");
    let j = env.dry_run_json(&dir);
    assert_eq!(
        j["hook_load"], "compiled",
        "a broken entry is recompiled, not an error"
    );
    let j = env.dry_run_json(&dir);
    assert_eq!(j["hook_load"], "cached");
}
