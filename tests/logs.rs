//! `linode-ai logs` through the system ssh to a real sshd on loopback (Debian's
//! openssh-server), with stand-in `cloud-init` and `docker` commands on the
//! "instance": the boot log, an app's logs, host keys pinned on first contact
//! and refused when they change, forgotten on destroy, and the boot log shown
//! when `deploy --wait` gives up.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use support::*;

struct Sshd {
    child: Child,
    port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (apt-get install openssh-client)");
    assert!(ok.success());
}

/// sshd on 127.0.0.1 accepting `client_key` for root, with stand-ins first on PATH.
fn sshd(dir: &Path, client_key: &Path, host_key: &str) -> Sshd {
    let sshd_bin = Path::new("/usr/sbin/sshd");
    assert!(
        sshd_bin.is_file(),
        "sshd is missing: run .ci/run (or: apt-get install openssh-server)"
    );
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(
        bin.join("cloud-init"),
        "#!/bin/sh\n[ \"$1 $2\" = \"status --long\" ] && { echo 'status: error'; echo 'detail:'; echo '  DataSourceNoCloud'; exit 1; }\nexit 0\n",
    )
    .unwrap();
    std::fs::write(
        bin.join("docker"),
        "#!/bin/sh\n[ \"$1\" = logs ] && { echo \"app log of $(eval echo \\${$#}): listening on 11434\"; exit 0; }\nexit 1\n",
    )
    .unwrap();
    for f in ["cloud-init", "docker"] {
        let _ = Command::new("chmod").arg("755").arg(bin.join(f)).status();
    }
    let log = dir.join("cloud-init-output.log");
    std::fs::write(
        &log,
        "linode-ai: start ollama\nlinode-ai: FAILED at step \"wait for ollama\" (exit 1)\n",
    )
    .unwrap();
    let hk = dir.join(host_key);
    if !hk.exists() {
        keygen(&hk);
    }
    let port = free_port();
    let auth = dir.join("authorized_keys");
    std::fs::copy(client_key.with_extension("pub"), &auth).unwrap();
    let _ = Command::new("chmod").arg("600").arg(&auth).status();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "ListenAddress 127.0.0.1:{port}\nHostKey {}\nAuthorizedKeysFile {}\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile {}\n\
             SetEnv PATH={}:/usr/local/bin:/usr/bin:/bin LINODE_AI_BOOT_LOG={}\n",
            hk.display(),
            auth.display(),
            dir.join("sshd.pid").display(),
            bin.display(),
            log.display()
        ),
    )
    .unwrap();
    let _ = std::fs::create_dir_all("/run/sshd");
    let child = Command::new(sshd_bin)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
        .spawn()
        .expect("start sshd");
    wait_for("sshd to listen", std::time::Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Sshd { child, port }
}

#[test]
fn logs_over_ssh_with_pinned_host_keys() {
    let mut env = Env::new();
    let key = env.home().join("id_ed25519");
    keygen(&key);
    let server_dir = env.home().join("server");
    std::fs::create_dir_all(&server_dir).unwrap();
    let server = sshd(&server_dir, &key, "host_key_a");
    env.extra
        .push(("LINODE_AI_SSH_PORT".into(), server.port.to_string()));
    let dir = env.project("chat-agent");
    let pubkey = key.with_extension("pub");
    env.run(
        &["deploy", "--ssh-key", pubkey.to_str().unwrap()],
        Some(&dir),
    )
    .ok();
    let id = env.records()[0]["linode_id"].as_u64().unwrap();

    let boot = env
        .run(&["logs", "--boot", "-i", key.to_str().unwrap()], None)
        .ok();
    assert!(
        boot.stdout.contains("status: error")
            && boot.stdout.contains("FAILED at step \"wait for ollama\""),
        "{}{}",
        boot.stdout,
        boot.stderr
    );
    let app = env
        .run(&["logs", "-i", key.to_str().unwrap(), "--lines", "5"], None)
        .ok();
    assert!(
        app.stdout.contains("app log of ollama"),
        "{}{}",
        app.stdout,
        app.stderr
    );
    // The host key is pinned under the Linode's alias.
    let known = env.home().join("config/linode-ai/known_hosts");
    let pinned = std::fs::read_to_string(&known).unwrap();
    assert!(pinned.contains(&format!("linode-ai-{id}")), "{pinned}");

    // Another host key on the same address: refused (and never silently replaced).
    drop(server);
    let server = sshd(&server_dir, &key, "host_key_b");
    env.extra.retain(|(k, _)| k != "LINODE_AI_SSH_PORT");
    env.extra
        .push(("LINODE_AI_SSH_PORT".into(), server.port.to_string()));
    let out = env.run(&["logs", "--boot", "-i", key.to_str().unwrap()], None);
    assert_ne!(out.code, 0);
    assert!(
        !out.stdout.contains("FAILED at step"),
        "a changed host key is not trusted: {}",
        out.stdout
    );
    assert_eq!(std::fs::read_to_string(&known).unwrap(), pinned);

    // destroy forgets the pinned key.
    env.run(&["destroy", "--yes"], None).ok();
    assert!(!std::fs::read_to_string(&known)
        .unwrap()
        .contains(&format!("linode-ai-{id}")));
    drop(server);
}

#[test]
fn deploy_wait_shows_the_boot_log_when_it_gives_up() {
    let mut env = Env::new();
    let key = env.home().join("id_ed25519");
    keygen(&key);
    let server_dir = env.home().join("server");
    std::fs::create_dir_all(&server_dir).unwrap();
    let server = sshd(&server_dir, &key, "host_key");
    env.extra
        .push(("LINODE_AI_SSH_PORT".into(), server.port.to_string()));
    // The key given with --ssh-key is remembered (its private half, by path) for logs.
    let app = env.https_app();
    app.set_path(
        "/healthz/boot",
        200,
        r#"{"state":"running","step":"wait for ollama"}"#,
    );
    let dir = env.project("chat-agent");
    let out = env
        .run(
            &[
                "deploy",
                "--port",
                &app.port.to_string(),
                "--ssh-key",
                key.with_extension("pub").to_str().unwrap(),
                "--wait",
                "--timeout",
                "2",
            ],
            Some(&dir),
        )
        .fails();
    assert!(out.stderr.contains("timed out after 2s"), "{}", out.stderr);
    assert!(
        out.stderr.contains("Last lines of the boot log")
            && out.stderr.contains("FAILED at step \"wait for ollama\""),
        "{}",
        out.stderr
    );
    drop(server);
}
