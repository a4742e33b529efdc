//! Simulator throughput: events per second of `scenarios/scale_10k.toml`'s steady state (the
//! first 20 s of a converged ring under 1 % loss, before any fault) at 1,000 and 10,000
//! members. Each iteration builds the world (every member holding every other) and runs it,
//! writing its CSV files to a temporary directory, as `sim run` does. The 10,000-member case
//! needs about 4 GB of memory.
//!
//! `cargo bench -p benches --bench sim`

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn steady_state(members: u32) -> sim::plan::Plan {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/scale_10k.toml");
    let options = sim::RunOptions {
        seed: None,
        out: None,
        sets: vec![
            format!("members={members}"),
            "duration=\"20s\"".into(),
            // Every action at the end of the run: steady state only.
            "at.0.time=\"20s\"".into(),
            "at.1.time=\"20s\"".into(),
            "at.2.time=\"20s\"".into(),
            "expect.0.after=\"20s\"".into(),
            "expect.1.after=\"20s\"".into(),
        ],
        progress: false,
    };
    sim::load(&file, &options).expect("scale_10k.toml is valid")
}

fn throughput(c: &mut Criterion) {
    let out = tempfile::tempdir().expect("tempdir");
    let mut group = c.benchmark_group("sim_steady_state_20s");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(60));
    for members in [1_000u32, 10_000] {
        let plan = steady_state(members);
        let dir = out.path().join(members.to_string());
        let events = sim::world::run(&plan, &dir, false)
            .expect("runs")
            .summary
            .events_processed;
        group.throughput(Throughput::Elements(events));
        group.bench_function(format!("{members}_members"), |b| {
            b.iter(|| sim::world::run(&plan, &dir, false).expect("runs"))
        });
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
