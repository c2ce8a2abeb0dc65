//! Criterion benchmark of cloud-init rendering: `cargo bench -p linode-ai --bench render`.

use criterion::{criterion_group, criterion_main, Criterion};
use linode_ai::cloud_init::{default_config, validate_user_data, RenderInput};
use linode_ai::template::{Catalog, EnvVars};

fn render(c: &mut Criterion) {
    let catalog = Catalog::stock();
    let t = catalog.get("chat-agent").expect("stock template");
    let mut env = EnvVars::new();
    for i in 0..20 {
        env.insert(
            format!("VAR_{i}"),
            format!("value with 'quotes' $dollars #{i}\nand a second line"),
        );
    }
    let input =
        RenderInput::for_template(t, &t.container().image, t.container().external_port, &env);
    c.bench_function("render+validate chat-agent user-data (20 env vars)", |b| {
        b.iter(|| {
            let doc = default_config(&input).render();
            validate_user_data(&doc).expect("valid");
            doc
        })
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
