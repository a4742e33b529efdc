//! Elections under random loss and delay, over many seeds (issue 4).
//!
//! Each election scenario runs over 50 seeds with 5 % message loss (datagrams and streams) and
//! a one-way delay of 1 ms plus an exponential tail of mean 10 ms. Safety (`single_leader`)
//! and liveness (`leader_elected`, `no_quorum`) are the scenario's own expectations, judged on
//! every seed; every failure is printed with the scenario's verdict.
//!
//! `election_growth` once broke safety on 3 of these 50 seeds (4, 30, 42; later commits moved
//! them elsewhere: 46 of seeds 1-2000): a member joining under loss took the answer to its first
//! rumor pull for the rumors themselves, which come in a later reply, sometimes lost, and
//! finished term 0 alone beside the group's leader of that term. A candidate now needs two pull
//! answers with its view of the group unchanged, and a member holding an election further along
//! than one it receives spreads its own again; no seed of 1-2000 breaks it now, so every
//! scenario is held to full safety.

use std::path::PathBuf;

use sim::RunOptions;

const SEEDS: u64 = 50;

/// (safety failures, liveness failures) of `name` over the seeds, printed as they come.
fn run_seeds(name: &str) -> (Vec<String>, Vec<String>) {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.toml"));
    let out = tempfile::tempdir().expect("tempdir");
    let (mut safety, mut liveness) = (Vec::new(), Vec::new());
    for seed in 1..=SEEDS {
        let options = RunOptions {
            seed: Some(seed),
            out: None,
            sets: vec![
                "network.loss_probability=0.05".into(),
                "network.one_way_delay_min=\"1ms\"".into(),
                "network.one_way_delay_mean=\"11ms\"".into(),
            ],
            progress: false,
        };
        // The library's run without the plots (`sim::run_file` also draws them).
        let plan = sim::load(&file, &options).expect("the scenario is valid");
        let dir = out.path().join(seed.to_string());
        let report = sim::world::run(&plan, &dir, false).expect("the scenario runs");
        for outcome in report.summary.expectations.iter().filter(|o| !o.passed) {
            let line = format!("{name} seed {seed}: {}: {}", outcome.kind, outcome.detail);
            eprintln!("{line}");
            if outcome.kind == "single_leader" {
                safety.push(line);
            } else {
                liveness.push(line);
            }
        }
    }
    (safety, liveness)
}

#[test]
fn elections_are_safe_and_live_over_fifty_lossy_seeds() {
    for name in ["election_basic", "leader_crash", "election_partition"] {
        let (safety, liveness) = run_seeds(name);
        assert!(
            safety.is_empty(),
            "two leaders for one term:\n{}",
            safety.join("\n")
        );
        assert!(
            liveness.is_empty(),
            "liveness failures:\n{}",
            liveness.join("\n")
        );
    }
}

#[test]
fn a_growing_group_elects_over_fifty_lossy_seeds() {
    let (safety, liveness) = run_seeds("election_growth");
    assert!(
        liveness.is_empty(),
        "liveness failures:\n{}",
        liveness.join("\n")
    );
    assert!(
        safety.is_empty(),
        "two leaders for one term:\n{}",
        safety.join("\n")
    );
}
