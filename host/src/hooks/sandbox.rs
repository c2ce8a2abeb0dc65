//! What a hook's WASI sees: nothing from the host. No files, no network, no
//! environment or arguments; the clocks are fixed and randomness is seeded,
//! so a hook renders the same document every time (linode-ai renders twice:
//! once with the real values to send, once with secrets as `<redacted>` to
//! show, and the two must differ only there).

use std::time::Duration;

use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

/// The wall clock a hook reads: a fixed instant (the deployment's time).
struct FixedWall(Duration);

impl HostWallClock for FixedWall {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

/// The monotonic clock a hook reads: always zero.
struct StoppedClock;

impl HostMonotonicClock for StoppedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// A WASI context that grants nothing; `now` is the fixed wall clock.
pub fn wasi(now: Duration) -> WasiCtx {
    use rand::SeedableRng;
    WasiCtxBuilder::new()
        .wall_clock(FixedWall(now))
        .monotonic_clock(StoppedClock)
        .secure_random(rand::rngs::StdRng::seed_from_u64(0x6c69_6e6f_6465_2d61))
        .insecure_random(rand::rngs::StdRng::seed_from_u64(0x6c69_6e6f_6465_2d62))
        .insecure_random_seed(0x6c69_6e6f_6465_2d63)
        .build()
}
