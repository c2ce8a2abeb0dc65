//! `linode-sim [--port P] [--latency-ms N] [--token T] [--provisioning-ms N] [--booting-ms N] [--seed N] [--app]`:
//! runs the Linode API stand-in on 127.0.0.1 until killed; prints its base URL.

use linode_sim::{Sim, SimConfig};

fn main() {
    let mut config = SimConfig::default();
    let mut port = 0u16;
    let mut seed = 0u64;
    let mut app = false;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let val = args.get(i + 1).cloned().unwrap_or_default();
        let num = || {
            val.parse::<u64>()
                .unwrap_or_else(|_| panic!("{} needs a number", args[i]))
        };
        match args[i].as_str() {
            "--port" => port = num() as u16,
            "--latency-ms" => config.latency_ms = num(),
            "--provisioning-ms" => config.provisioning_ms = num(),
            "--booting-ms" => config.booting_ms = num(),
            "--token" => config.token = val.clone(),
            "--seed" => seed = num(),
            "--app" => {
                app = true;
                i += 1;
                continue;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    let sim = Sim::start_on(port, config).expect("bind 127.0.0.1");
    // Running instances with ids 1001.. for benchmarks.
    for i in 0..seed {
        sim.seed_instance(&format!("bench-{i}"));
    }
    println!("http://127.0.0.1:{}/v4", sim.port);
    // With --app, a health endpoint (GET /health -> 200) for benchmarks, on a second line.
    let _app = app.then(|| {
        let a = linode_sim::app::AppServer::start("/health", 200, "ok");
        println!("http://127.0.0.1:{}/health", a.port);
        a
    });
    use std::io::Write;
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
