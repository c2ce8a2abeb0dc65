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

/// Installs `tpl` by copying it into the template store, as a hand copy (or
/// an older linode-ai) would, bypassing the checks of `templates add`.
fn copy_into_store(env: &Env, name: &str, tpl: &Path) {
    let dest = env.home().join("data/linode-ai/templates").join(name);
    std::fs::create_dir_all(&dest).unwrap();
    for f in ["template.yml", "hook.wasm"] {
        std::fs::copy(tpl.join(f), dest.join(f)).unwrap();
    }
}

#[test]
fn hostile_hooks_are_stopped_at_add_and_before_any_api_call() {
    let env = Env::new();
    // (guest, cause shown, refused by `templates add`)
    let cases = [
        ("endless-loop", "ran out of fuel", true),
        (
            "memory-bomb",
            "memory limit (256 MiB across all its memories)",
            true,
        ),
        ("oversized", "16384", true),
        ("invalid-yaml", "not valid YAML", true),
        ("trap", "crashed", true),
        ("sleep", "deadline", true),
        (
            "health-loop",
            "evaluate-health failed on a synthetic probe",
            true,
        ),
        // An err(...) is the hook's answer, not a fault: add accepts it, deploy stops.
        ("file-read", "file read denied", false),
        ("socket", "socket denied", false),
    ];
    for (name, want, refused) in cases {
        let tpl = template_with_hook(&env, name, &guest(name));
        let start = Instant::now();
        let add = env.run(&["templates", "add", tpl.to_str().unwrap()], None);
        let took = start.elapsed();
        assert_no_hang(&format!("{name}: add"), took, Duration::from_secs(20));
        assert!(!add.stderr.contains("panicked"), "{name}: {}", add.stderr);
        if refused {
            let add = add.fails();
            assert!(
                add.stderr.contains(&format!(
                    "the hook of template \"{name}\" 0.1.0 cannot be used"
                )) && add.stderr.contains(want),
                "{name}: expected {want:?} in {}",
                add.stderr
            );
            assert!(
                !env.home()
                    .join("data/linode-ai/templates")
                    .join(name)
                    .exists(),
                "{name}: nothing installed"
            );
            copy_into_store(&env, name, &tpl);
        } else {
            add.ok();
        }
        if name == "health-loop" {
            continue; // renders fine; its loop is in evaluate-health (status)
        }
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
        assert_no_hang(&format!("{name}: deploy"), took, Duration::from_secs(20));
        assert!(!out.stderr.contains("panicked"), "{name}: {}", out.stderr);
    }
    assert!(env.posts().is_empty(), "no create call was made");

    // The looping health hook, installed by hand, is stopped in status with its cause.
    let dir = env.project("health-loop");
    let app = env.https_app();
    app.set_path("/healthz/app", 200, "{}");
    env.run(&["deploy", "--port", &app.port.to_string()], Some(&dir))
        .ok();
    env.wait_running();
    let start = Instant::now();
    let st = env.run(&["status", "--json"], None).code(3).json();
    assert_no_hang(
        "status with a looping health hook",
        start.elapsed(),
        Duration::from_secs(20),
    );
    let row = &st["rows"][0];
    assert_eq!(row["status"], "degraded", "{st}");
    assert!(
        row["detail"].as_str().unwrap().contains("ran out of fuel"),
        "{st}"
    );
}

/// A core module in tests/guests/wat/ wrapped as a linode-ai:hooks@0.2.0
/// component (what `wasm-tools component new` does).
fn wat_guest(env: &Env, name: &str) -> PathBuf {
    let text =
        std::fs::read_to_string(root().join(format!("tests/guests/wat/{name}.wat"))).unwrap();
    let mut module = wat::parse_str(&text).unwrap();
    let mut resolve = wit_parser::Resolve::default();
    let wit = std::fs::read_to_string(root().join("wit/hooks.wit")).unwrap();
    let pkg = resolve.push_str("hooks.wit", &wit).unwrap();
    let world = resolve
        .select_world(&[pkg], Some("template-hooks"))
        .unwrap();
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .unwrap();
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap();
    let path = env.home().join(format!("{name}.wasm"));
    std::fs::write(&path, component).unwrap();
    path
}

/// Runs `cmd` to the end; its output and peak resident memory in MiB.
fn run_measured(mut cmd: std::process::Command) -> (Run, u64) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // Reaped below by wait4, which also reports its peak memory.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().unwrap();
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t = std::thread::spawn(move || {
        let mut b = Vec::new();
        so.read_to_end(&mut b).unwrap();
        b
    });
    let mut stderr = Vec::new();
    se.read_to_end(&mut stderr).unwrap();
    let stdout = t.join().unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid);
    let out = std::process::Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout,
        stderr,
    };
    (Run::from(out), usage.ru_maxrss as u64 / 1024)
}

#[test]
fn instance_limits_hold_across_memories_and_tables() {
    let env = Env::new();
    let cases = [
        ("tables", "the table limit (1048576 elements)"),
        ("memories", "the limit of 8 memories"),
        (
            "memory-total",
            "the memory limit (256 MiB across all its memories)",
        ),
        ("table-count", "the limit of 32 tables"),
    ];
    for (name, want) in cases {
        let tpl = template_with_hook(&env, name, &wat_guest(&env, name));
        let (out, rss) = run_measured(env.cmd(&["templates", "add", tpl.to_str().unwrap()], None));
        let out = out.fails();
        assert!(
            out.stderr.contains(want),
            "{name}: expected {want:?} in {}",
            out.stderr
        );
        assert!(
            !out.stderr.contains("backtrace") && out.stderr.lines().count() <= 4,
            "one cause, no backtrace: {}",
            out.stderr
        );
        eprintln!("{name}: peak RSS {rss} MiB");
        assert!(rss < 400, "{name}: linode-ai reached {rss} MiB");
        // Installed by hand, the deploy stops the same way.
        copy_into_store(&env, name, &tpl);
        let dir = env.project(name);
        let out = env.run(&["deploy", "--dry-run"], Some(&dir)).fails();
        assert!(out.stderr.contains(want), "{name}: {}", out.stderr);
    }
}

#[test]
fn secrets_never_reach_the_terminal() {
    let env = Env::new();
    let token = "Sup3rSecretTokenValue";
    let short = "%q%";
    let forms = |v: &str| {
        vec![
            v.to_string(),
            v.chars().rev().collect::<String>(),
            v.to_uppercase(),
            v.bytes().map(|b| format!("{b:02x}")).collect::<String>(),
        ]
    };
    let mut forbidden = forms(token);
    forbidden.extend([short.to_string(), short.to_uppercase()]);
    let clean = |what: &str, text: &str| {
        for f in &forbidden {
            assert!(!text.contains(f.as_str()), "{what} shows {f:?}: {text}");
        }
    };
    for name in ["err-secrets", "log-secrets"] {
        let tpl = template_with_hook(&env, name, &guest(name));
        env.run(&["templates", "add", tpl.to_str().unwrap()], None)
            .ok();
        let dir = env.project(name);
        write_env(
            &dir,
            &format!("OLLAMA_MODEL=qwen2.5:0.5b\nPRIVATE_TOKEN={token}\nPIN={short}\n"),
        );
        let dry = env.run(&["deploy", "--dry-run"], Some(&dir));
        let json = env.run(&["deploy", "--dry-run", "--json"], Some(&dir));
        let real = env.run(&["deploy"], Some(&dir));
        for (what, r) in [("dry-run", &dry), ("--json", &json), ("deploy", &real)] {
            clean(&format!("{name} {what} stdout"), &r.stdout);
            clean(&format!("{name} {what} stderr"), &r.stderr);
        }
        if name == "err-secrets" {
            let dry = dry.fails();
            // Its words are shown, from the run that saw placeholders.
            assert!(
                dry.stderr.contains("refusing: ")
                    && dry
                        .stderr
                        .contains("PRIVATE_TOKEN=<redacted> rev=>detcader<")
                    && dry.stderr.contains("OLLAMA_MODEL=qwen2.5:0.5b"),
                "{}",
                dry.stderr
            );
            real.fails();
        } else {
            let dry = dry.ok();
            assert!(
                dry.stdout.contains("warn: ") && dry.stdout.contains("PRIVATE_TOKEN=<redacted>"),
                "{}",
                dry.stdout
            );
            real.ok();
        }
    }
    // The hook did see the real values in the run whose document is sent.
    let posts = env.posts();
    assert_eq!(posts.len(), 1, "only log-secrets deployed");
    let sent = user_data(&posts[0]);
    let rev: String = token.chars().rev().collect();
    assert!(sent.contains(&format!("rev={rev}")), "{sent}");
    let registry = std::fs::read_to_string(env.registry_path()).unwrap();
    clean("registry", &registry);
}

#[test]
fn hook_text_is_escaped() {
    let env = Env::new();
    let tpl = template_with_hook(&env, "ansi", &guest("ansi"));
    env.run(&["templates", "add", tpl.to_str().unwrap()], None)
        .ok();
    let dir = env.project("ansi");
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).fails();
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !all.contains('\x1b') && !all.contains('\x07'),
        "raw escapes: {all:?}"
    );
    for l in all.lines() {
        assert!(
            !l.starts_with("error: forged") && !l.starts_with("Token:"),
            "a forged line: {all}"
        );
    }
    // Shown, escaped: its error and what it logged before it.
    assert!(
        out.stderr
            .contains(r"\x1b[31mred\x1b[0m\nerror: forged line"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(r"hook log: info: \x1b[2J\x1b]0;pwned\x07cleared")
            && out.stderr.contains(r"hook log: info: ok\nToken: found"),
        "{}",
        out.stderr
    );
}

#[test]
fn clocks_are_fixed_and_randomness_is_seeded() {
    let env = Env::new();
    let tpl = template_with_hook(&env, "clocks", &guest("clocks"));
    env.run(&["templates", "add", tpl.to_str().unwrap()], None)
        .ok();
    let dir = env.project("clocks");
    let seen = |j: &serde_json::Value| -> (u64, String, String) {
        let doc = j["user_data"].as_str().unwrap();
        let line = doc
            .lines()
            .find(|l| l.starts_with("# wall="))
            .unwrap_or_else(|| panic!("{doc}"));
        let mut parts = line.trim_start_matches("# ").split(' ');
        let mut field = |k: &str| parts.next().unwrap().strip_prefix(k).unwrap().to_string();
        (
            field("wall=").parse().unwrap(),
            field("monotonic_delta="),
            field("random="),
        )
    };
    let before = chrono::Utc::now().timestamp() as u64;
    let a = seen(&env.dry_run_json(&dir));
    let b = seen(&env.dry_run_json(&dir));
    let after = chrono::Utc::now().timestamp() as u64;
    // The wall clock is the plan's time, the monotonic clock stands still,
    // randomness is the same every run.
    assert!(
        before <= a.0 && b.0 <= after,
        "{a:?} {b:?} not in {before}..{after}"
    );
    assert_eq!(a.1, "0ns");
    assert_eq!(a.2, b.2, "seeded randomness");
    let sent = env.run(&["deploy"], Some(&dir)).ok();
    drop(sent);
    let doc = user_data(&env.posts()[0]);
    assert!(
        doc.contains(&format!("random={}", a.2)),
        "the sent document has the same value"
    );
}

#[test]
fn the_whole_interface_is_checked_at_add() {
    let env = Env::new();
    let cases = [
        (
            "wrong-version",
            vec!["hooks interface \"0.9.0\"", "runs 0.1.x and 0.2.x"],
        ),
        ("guestx", vec!["linode-ai:hooks/guest", "guestx"]),
        (
            "bad-signature",
            vec![
                "its exports do not match linode-ai:hooks@0.2.x",
                "type mismatch",
            ],
        ),
    ];
    for (name, wants) in cases {
        let tpl = template_with_hook(&env, name, &guest(name));
        let out = env
            .run(&["templates", "add", tpl.to_str().unwrap()], None)
            .fails();
        for w in wants {
            assert!(out.stderr.contains(w), "{name}: {w:?} in {}", out.stderr);
        }
        // Language-neutral: authors of Python or JS hooks have no Rust SDK.
        assert!(!out.stderr.contains("guest-sdk"), "{}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
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

#[test]
fn cache_entries_are_bound_to_their_component() {
    let env = Env::new();
    let a = template_with_hook(&env, "tpl-a", &example_dir().join("hook.wasm"));
    let b = template_with_hook(&env, "tpl-b", &guest("v01-hook"));
    for t in [&a, &b] {
        env.run(&["templates", "add", t.to_str().unwrap()], None)
            .ok();
    }
    let cache = env.home().join("cache/linode-ai/hooks");
    let mut stems: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .map(|p| p.with_extension(""))
        .collect();
    stems.sort();
    assert_eq!(stems.len(), 2, "{stems:?}");
    // Swap both halves of the two entries: each key now holds the other's code.
    for ext in ["cwasm", "json"] {
        let (x, y) = (stems[0].with_extension(ext), stems[1].with_extension(ext));
        let tmp = cache.join("swap");
        std::fs::rename(&x, &tmp).unwrap();
        std::fs::rename(&y, &x).unwrap();
        std::fs::rename(&tmp, &y).unwrap();
    }
    let dir = env.project("tpl-a");
    let j = env.dry_run_json(&dir);
    assert_eq!(j["hook_load"], "compiled", "a swapped entry is not trusted");
    let doc = j["user_data"].as_str().unwrap();
    assert!(doc.contains("ollama pull"), "its own code ran: {doc}");
    assert!(!doc.contains("rendered by a 0.1.0 hook"), "{doc}");
    assert_eq!(env.dry_run_json(&dir)["hook_load"], "cached");

    // A cache directory others can write is refused (and said so), not used.
    std::fs::set_permissions(&cache, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let j = env.dry_run_json(&dir);
    assert_eq!(j["hook_load"], "compiled");
    let notes = j["notes"].to_string();
    assert!(
        notes.contains("is not used") && notes.contains("others can write it (mode 0777)"),
        "{notes}"
    );
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).ok();
    assert!(
        out.stdout.contains("others can write it") || out.stderr.contains("others can write it"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(&cache.metadata().unwrap().permissions());
    assert_eq!(mode & 0o777, 0o777, "left as it is for its owner to fix");
}

#[test]
fn hooks_built_for_0_1_keep_working() {
    let env = Env::new();
    let tpl = template_with_hook(&env, "old-hook", &guest("v01-hook"));
    env.run(&["templates", "add", tpl.to_str().unwrap()], None)
        .ok();
    let dir = env.project("old-hook");
    let dry = env.run(&["deploy", "--dry-run"], Some(&dir)).ok();
    assert!(
        dry.stdout
            .contains("# rendered by a 0.1.0 hook for old-hook on port 443")
            && dry.stdout.contains("info: 0.1 hook rendering old-hook"),
        "{}",
        dry.stdout
    );
    let app = env.https_app();
    app.set_path("/healthz/app", 200, "warming up");
    env.run(&["deploy", "--port", &app.port.to_string()], Some(&dir))
        .ok();
    env.wait_running();
    let j = env.run(&["status", "--json"], None).code(3).json();
    assert_eq!(j["rows"][0]["status"], "starting", "{j}");
    assert_eq!(j["rows"][0]["detail"], "0.1 hook: not ready", "{j}");
    app.set_path("/healthz/app", 200, "ready");
    let j = env.run(&["status", "--json"], None).ok().json();
    assert_eq!(j["rows"][0]["status"], "running", "{j}");
}

#[test]
fn hook_test_runs_health_on_a_given_probe() {
    let env = Env::new();
    env.run(&["templates", "add", example_dir().to_str().unwrap()], None)
        .ok();
    let ex = PathBuf::from("ollama-ready");
    let body = env.home().join("tags.json");
    std::fs::write(&body, r#"{"models":[]}"#).unwrap();
    let args = |extra: &[&str]| {
        let mut v = vec!["hook", "test", ex.to_str().unwrap()];
        v.extend_from_slice(extra);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        env.run(&a, None)
    };
    let out = run(args(&[
        "--probe-status",
        "200",
        "--probe-body",
        body.to_str().unwrap(),
    ]))
    .code(3);
    assert!(
        out.stdout.contains("starting") && out.stdout.contains("pulling model llama3.2:1b"),
        "the template's default model: {}",
        out.stdout
    );
    std::fs::write(&body, r#"{"models":[{"name":"qwen2.5:0.5b"}]}"#).unwrap();
    let out = run(args(&[
        "--probe-status",
        "200",
        "--probe-body",
        body.to_str().unwrap(),
        "--var",
        "OLLAMA_MODEL=qwen2.5:0.5b",
        "--json",
    ]))
    .ok();
    let j = out.json();
    assert_eq!(j["status"], "running", "{j}");
    assert_eq!(j["verdict"]["verdict"], "healthy", "{j}");
    assert_eq!(j["from_hook"], true, "{j}");
    let out = run(args(&["--probe-error", "connection refused"])).code(3);
    assert!(out.stdout.contains("starting"), "{}", out.stdout);
    // A template without a hook says so.
    let out = env.run(&["hook", "test", "chat-agent"], None).fails();
    assert!(out.stderr.contains("has no hook"), "{}", out.stderr);
}

/// The README's authoring path: four commands from nothing to the hook's
/// effect in a dry-run, then an edit seen without re-adding (`--dev`).
#[test]
fn authoring_path_new_add_dev_init_dry_run() {
    let mut env = Env::new();
    env.extra.extend(toolchain_env());
    let tpl = env.home().join("my-chat");
    let start = Instant::now();
    let out = env
        .run(
            &[
                "templates",
                "new",
                "my-chat",
                "--from",
                "chat-agent",
                "--hook",
                "rust",
                "-d",
                tpl.to_str().unwrap(),
            ],
            None,
        )
        .ok();
    assert!(out.stdout.contains("templates add --dev"), "{}", out.stdout);
    for f in [
        "template.yml",
        "README.md",
        "hook/Cargo.toml",
        "hook/src/lib.rs",
        "hook/vendor/linode-ai-guest-sdk/wit/hooks.wit",
    ] {
        assert!(tpl.join(f).is_file(), "{f} missing");
    }
    let manifest = std::fs::read_to_string(tpl.join("hook/Cargo.toml")).unwrap();
    assert!(
        !manifest.contains(root().to_str().unwrap()),
        "no path into this checkout: {manifest}"
    );
    let add = env.cmd(&["templates", "add", "--dev", tpl.to_str().unwrap()], None);
    let out = Run::from(run_limited(
        add,
        Duration::from_secs(600),
        "templates add --dev",
    ))
    .ok();
    assert!(out.stdout.contains("my-chat"), "{}", out.stdout);
    let dir = env.home().join("proj");
    env.run(&["init", "my-chat", "-d", dir.to_str().unwrap()], None)
        .ok();
    let dry = env.run(&["deploy", "--dry-run"], Some(&dir)).ok();
    eprintln!("authoring path: {:?} (build included)", start.elapsed());
    assert!(dry.stdout.contains("(with hook)"), "{}", dry.stdout);
    assert!(
        dry.stdout.contains("added /etc/motd for my-chat"),
        "{}",
        dry.stdout
    );
    // Edit the hook; the next dry-run rebuilds it from the directory.
    let lib = tpl.join("hook/src/lib.rs");
    let src = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, src.replace("added /etc/motd for", "edited hook for")).unwrap();
    let dry = env.cmd(&["deploy", "--dry-run"], Some(&dir));
    let dry = Run::from(run_limited(
        dry,
        Duration::from_secs(600),
        "dry-run after edit",
    ))
    .ok();
    assert!(
        dry.stdout.contains("edited hook for my-chat"),
        "{}",
        dry.stdout
    );
}

/// The user's Rust toolchain and crate caches, for children whose HOME is a temp dir.
fn toolchain_env() -> Vec<(String, String)> {
    let home = std::env::var("HOME").unwrap_or_default();
    [("CARGO_HOME", ".cargo"), ("RUSTUP_HOME", ".rustup")]
        .into_iter()
        .map(|(k, d)| {
            (
                k.to_string(),
                std::env::var(k).unwrap_or_else(|_| format!("{home}/{d}")),
            )
        })
        .collect()
}

/// The Python (componentize-py) and JavaScript (componentize-js) examples,
/// written from wit/hooks.wit alone, behave like the Rust one. Built by
/// tests/build-guests.sh when their toolchains installed (.ci/run installs
/// them); skipped with the reason it wrote otherwise, except in CI (`CI`
/// set), where a missing toolchain fails the test: it may not pass untested.
#[test]
fn python_and_javascript_hooks_work_like_the_rust_one() {
    let env = Env::new();
    for (lang, dir, marker) in [
        ("Python", "ollama-ready-py", "skipped-python"),
        ("JavaScript", "ollama-ready-js", "skipped-js"),
    ] {
        let tpl = root().join("templates/examples").join(dir);
        let skipped = root().join("target/guests").join(marker);
        if skipped.is_file() {
            let why = std::fs::read_to_string(&skipped).unwrap();
            assert!(
                !in_ci(),
                "the {lang} hook example was not built ({}): in CI its toolchain must install, \
                 or this test would pass without testing",
                why.trim()
            );
            eprintln!("SKIPPED: the {lang} hook example: {}", why.trim());
            continue;
        }
        assert!(
            tpl.join("hook.wasm").is_file(),
            "{dir}/hook.wasm is missing: run tests/build-guests.sh"
        );
        env.run(&["templates", "add", tpl.to_str().unwrap()], None)
            .ok();
        let project = env.project(dir);
        write_env(&project, "OLLAMA_MODEL=qwen2.5:0.5b\n");
        let dry = env.run(&["deploy", "--dry-run"], Some(&project)).ok();
        assert!(
            dry.stdout
                .contains("docker exec app ollama pull qwen2.5:0.5b")
                && dry.stdout.contains("info: added pull of qwen2.5:0.5b")
                && dry.stdout.contains("Hook:        changed runcmd +"),
            "{lang}: {}",
            dry.stdout
        );
        assert_eq!(env.dry_run_json(&project)["hook_load"], "cached", "{lang}");
        // Its err(...) stops the deploy with its words.
        write_env(&project, "OLLAMA_MODEL=bad model;rm\n");
        let out = env.run(&["deploy", "--dry-run"], Some(&project)).fails();
        assert!(
            out.stderr.contains("is not a model name"),
            "{lang}: {}",
            out.stderr
        );
        // Health: starting until the model is listed.
        let body = env.home().join(format!("{dir}.json"));
        std::fs::write(&body, r#"{"models":[{"name":"llama3.2:1b"}]}"#).unwrap();
        let args = |model: &str| {
            vec![
                "hook".to_string(),
                "test".into(),
                dir.into(),
                "--probe-status".into(),
                "200".into(),
                "--probe-body".into(),
                body.to_str().unwrap().into(),
                "--env".into(),
                format!("OLLAMA_MODEL={model}"),
                "--json".into(),
            ]
        };
        let run = |a: Vec<String>, code: i32| {
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            env.run(&a, None).code(code).json()
        };
        let j = run(args("qwen2.5:0.5b"), 3);
        assert_eq!(j["verdict"]["verdict"], "starting", "{lang}: {j}");
        let peak = j["memory_peak_bytes"].as_u64().unwrap();
        eprintln!("{lang} hook: memory peak {} MiB", peak >> 20);
        assert!(
            peak > 0 && peak < j["memory_limit_bytes"].as_u64().unwrap(),
            "{j}"
        );
        assert_eq!(
            j["verdict"]["reason"], "pulling model qwen2.5:0.5b",
            "{lang}: {j}"
        );
        let j = run(args("llama3.2:1b"), 0);
        assert_eq!(j["verdict"]["verdict"], "healthy", "{lang}: {j}");
        std::fs::write(&body, "<html>").unwrap();
        let j = run(args("llama3.2:1b"), 3);
        assert_eq!(j["verdict"]["verdict"], "unhealthy", "{lang}: {j}");
    }
}

/// Issue 15 (review item 4): the compiler child gets the exact bytes the
/// parent hashed, not the file as it is by then (a `--dev` rebuild in
/// between would store one component's native code under another's hash).
/// Here the file on disk is no component at all any more: the load still
/// compiles and caches the bytes it was given.
#[test]
fn the_compiler_gets_the_bytes_that_were_hashed() {
    use linode_ai::hooks::cache::{Cache, LoadKind};
    let bytes = std::fs::read(guest("ansi")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hook.wasm");
    std::fs::write(&path, b"rebuilt meanwhile: not a component").unwrap();
    let cache = Cache::open(&dir.path().join("cache"))
        .with_compiler(PathBuf::from(env!("CARGO_BIN_EXE_linode-ai")));
    let engine = linode_ai::hooks::engine().unwrap();
    let (_, kind) = cache
        .load(engine, &path, &bytes, &|_| {})
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(kind, LoadKind::Compiled);
    let (_, kind) = cache.load(engine, &path, &bytes, &|_| {}).unwrap();
    assert_eq!(
        kind,
        LoadKind::Cached,
        "stored under the hash of what was compiled"
    );
}
