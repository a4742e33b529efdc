//! The `slow` fault: overloaded members accuse healthy ones, and Lifeguard stops that.

use std::path::Path;
use std::process::Command;

fn summary(lifeguard: bool, out: &Path) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(env!("CARGO_BIN_EXE_sim"))
        .current_dir(&root)
        .args(["run", "scenarios/slow_members.toml", "-q", "--out"])
        .arg(out)
        .args(["--set", "members=60", "--set", "duration=100s"])
        .args([
            "--set",
            "at.0.members=10,30,50",
            "--set",
            "at.0.duration=70s",
        ])
        .args(["--set", "at.1.time=60s", "--set", "at.1.members=5"])
        .args(["--set", "expect.0.members=5", "--set", "expect.0.after=60s"])
        .args(["--set", &format!("protocol.lifeguard={lifeguard}")])
        .status()
        .expect("sim runs");
    assert!(
        status.success(),
        "the crash is detected (lifeguard={lifeguard})"
    );
    let text = std::fs::read_to_string(out.join("summary.json")).expect("summary");
    serde_json::from_str(&text).expect("json")
}

/// Since membership updates also travel on the gossip channel, refutations outrun most
/// suspicion timeouts even without Lifeguard (false Confirmed at this size: 6 off, 5 on, seed
/// 9); the storm of suspicions the slow members raise is what Lifeguard still cuts (12,959 vs
/// 3,266 Suspect events).
#[test]
fn slow_members_cause_false_suspicions_that_lifeguard_reduces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let off = summary(false, &dir.path().join("off"));
    let on = summary(true, &dir.path().join("on"));
    let fc = |s: &serde_json::Value| s["false_confirmed"].as_u64().expect("false_confirmed");
    let fs = |s: &serde_json::Value| s["false_suspected"].as_u64().expect("false_suspected");
    assert!(
        fs(&off) > 1000,
        "slow members wreak havoc without Lifeguard: {}",
        fs(&off)
    );
    assert!(fs(&on) * 3 < fs(&off), "on {} vs off {}", fs(&on), fs(&off));
    assert!(fc(&on) <= fc(&off), "on {} vs off {}", fc(&on), fc(&off));
}
