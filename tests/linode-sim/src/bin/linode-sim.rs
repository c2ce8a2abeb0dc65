//! `linode-sim [--port P] [--latency-ms N] [--token T] [--provisioning-ms N]
//! [--booting-ms N] [--volume-ready-ms N] [--seed N] [--app CA_FILE] [--ipv4
//! ADDR]`: runs the Linode API stand-in on 127.0.0.1 until killed and prints
//! its base URL.
//!
//! `--ipv4 ADDR`: the public IPv4 every new instance gets (default
//! 127.0.0.1); a test that boots the user-data on a host of its own (a network
//! namespace it made) hands out that host's address. Only loopback and the
//! RFC 1918 ranges are taken: never a public or documentation address.
//!
//! For benchmarks: `--seed N` adds N running instances tagged as linode-ai
//! deployments `d0..d{N-1}` (app `app<i>`, env `default`), each with its
//! firewall; `--app CA_FILE`
//! starts an HTTPS stand-in for their proxies with a certificate for
//! `*.linode-ai.test` (so every deployment has its own hostname), answering
//! `/healthz/<service>` with 200, writes the CA that signed it to CA_FILE and
//! prints its port on a second line.

use linode_sim::{Sim, SimConfig};

fn main() {
    let mut config = SimConfig::default();
    let mut port = 0u16;
    let mut seed = 0u64;
    let mut app_ca: Option<String> = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let val = args.get(i + 1).cloned().unwrap_or_default();
        let num = || match val.parse::<u64>() {
            Ok(n) => n,
            Err(_) => {
                eprintln!("{} needs a number", args[i]);
                std::process::exit(2);
            }
        };
        match args[i].as_str() {
            "--port" => port = num() as u16,
            "--latency-ms" => config.latency_ms = num(),
            "--provisioning-ms" => config.provisioning_ms = num(),
            "--booting-ms" => config.booting_ms = num(),
            "--volume-ready-ms" => config.volume_ready_ms = num(),
            "--token" => config.token = val.clone(),
            "--seed" => seed = num(),
            "--app" if val.is_empty() || val.starts_with("--") => {
                eprintln!("--app needs the file to write the test CA to");
                std::process::exit(2);
            }
            "--app" => app_ca = Some(val.clone()),
            "--ipv4" => match val.parse::<std::net::Ipv4Addr>() {
                Ok(ip) if ip.is_loopback() || ip.is_private() => config.ipv4 = ip.to_string(),
                _ => {
                    eprintln!("--ipv4 takes a loopback or private address (a test's own host), not {val:?}");
                    std::process::exit(2);
                }
            },
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let sim = match Sim::start_on(port, config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    for i in 0..seed {
        let tags = vec!["build_ai".to_string(), format!("build_ai_id=d{i}")];
        let id = sim.seed_tagged(&format!("build-ai-app{i}-default-20261126T143000Z"), &tags);
        sim.seed_tagged_firewall(&format!("build-ai-app{i}-d{i}"), &tags, id);
    }
    println!("http://127.0.0.1:{}/v4", sim.port);
    let _app = app_ca.map(|ca_file| {
        let ca = linode_sim::app::TestCa::new();
        ca.write(std::path::Path::new(&ca_file));
        let a = linode_sim::app::AppServer::https(&ca, &["*.linode-ai.test", "localhost"]);
        for service in ["app", "tei", "ollama", "vllm", "chat"] {
            a.set_path(&format!("/healthz/{service}"), 200, "ok");
        }
        println!("{}", a.port);
        a
    });
    use std::io::Write;
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
