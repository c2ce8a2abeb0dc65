//! Criterion benchmark of cloud-init rendering: `cargo bench -p linode-ai --bench render`.

use criterion::{criterion_group, criterion_main, Criterion};
use linode_ai::blueprint::catalog::Catalog;
use linode_ai::blueprint::stack::Stack;
use linode_ai::blueprint::template::EnvVars;
use linode_ai::targets::vm::boot::{render, BootInput};
use linode_ai::targets::vm::cloud_init::validate_user_data;

fn bench(c: &mut Criterion) {
    let catalog = Catalog::stock();
    let t = catalog.get("chat-agent").expect("stock template");
    let stack = Stack::from_spec(&t.spec).expect("valid");
    let mut env = EnvVars::new();
    for i in 0..20 {
        env.insert(
            format!("VAR_{i}"),
            format!("value with 'quotes' $dollars #{i}\nand a second line"),
        );
    }
    c.bench_function("render+validate chat-agent user-data (20 env vars)", |b| {
        b.iter(|| {
            let doc = render(&BootInput {
                stack: &stack,
                env: &env,
                domain: None,
                https_port: 443,
                nvidia_driver: None,
                acme_ca: None,
                public_env: &[],
                cache_volume: None,
            })
            .render();
            validate_user_data(&doc).expect("valid");
            doc
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
