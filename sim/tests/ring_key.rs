//! `[protocol] ring_key = true`: the same run, sealed.

use std::path::Path;
use std::process::Command;

mod common;
use common::summary;

fn run(extra: &str, out: &Path) -> (i32, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(env!("CARGO_BIN_EXE_sim"))
        .current_dir(&root)
        .args(["run", "scenarios/crash_detect.toml", "-q", "--out"])
        .arg(out)
        .args(["--set", extra])
        .output()
        .expect("sim runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_keyed_run_decides_the_same_and_sends_more_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (plain_code, _) = run("protocol.ring_key=false", &dir.path().join("plain"));
    let (sealed_code, _) = run("protocol.ring_key=true", &dir.path().join("sealed"));
    assert_eq!((plain_code, sealed_code), (0, 0));
    let plain = summary(&dir.path().join("plain"));
    let sealed = summary(&dir.path().join("sealed"));
    assert_eq!(
        plain["detection"], sealed["detection"],
        "encryption changes no decision"
    );
    assert_eq!(
        sealed["dropped_inputs"], 0,
        "every member opens every message"
    );
    let bytes = |s: &serde_json::Value| s["bytes_sent"].as_u64().expect("bytes_sent");
    assert!(bytes(&sealed) > bytes(&plain), "nonce and tag cost bytes");
}

#[test]
fn a_ring_key_that_is_not_a_boolean_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, stderr) = run("protocol.ring_key=7", dir.path());
    assert_eq!(code, 2);
    assert!(stderr.contains("protocol.ring_key"), "{stderr}");
}
