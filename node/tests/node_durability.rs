//! Acknowledged means durable, on real `engine-node` processes: a mutation answered 2xx is on
//! disk even after `kill -9`; one process per data dir; a damaged rumors.pb is refused whole; a
//! full disk is answered 507 with no temp file left, and the exit status says the final save
//! failed.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{has_file_starting, http, logs, wait_for, Node, TempDir};

const UP: Duration = Duration::from_secs(10);

fn post_config(node: &Node, group: &str, version: u64, body: &[u8]) -> Option<(u16, String)> {
    let auth = format!("Bearer {}", node.secret());
    let path = format!("/config/{group}?version={version}");
    http(node.http, "POST", &path, &[("Authorization", &auth)], body)
}

fn config_version(node: &Node, group: &str) -> Option<u64> {
    node.get_json("/census")?["groups"][group]["config"]["version"].as_u64()
}

#[test]
fn every_acknowledged_config_survives_kill_9() {
    let dir = TempDir::new("durable");
    let mut a = Node::start("a", &dir, &[], &[]);
    assert!(wait_for(UP, || a.member_id()).is_some(), "{}", logs(&[&a]));
    // Several groups, uploads back to back, then SIGKILL in the middle of them.
    let groups = ["web.a", "web.b", "web.c"];
    let mut acked = [0u64; 3];
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut version = 0;
    while Instant::now() < deadline && version < 400 {
        version += 1;
        for (i, g) in groups.iter().enumerate() {
            let body = format!("v = {version}\n");
            if let Some((200, _)) = post_config(&a, g, version, body.as_bytes()) {
                acked[i] = version;
            }
        }
    }
    assert!(
        acked.iter().all(|&v| v > 5),
        "uploads were acknowledged: {acked:?}"
    );
    a.kill();
    a.spawn();
    let restored = wait_for(UP, || {
        let v: Option<Vec<u64>> = groups.iter().map(|g| config_version(&a, g)).collect();
        v.filter(|v| v.iter().zip(&acked).all(|(have, want)| have >= want))
    });
    assert!(
        restored.is_some(),
        "acknowledged {acked:?}, restored {:?}\n{}",
        groups.map(|g| config_version(&a, g)),
        logs(&[&a])
    );
}

#[test]
fn a_second_process_on_a_data_dir_is_refused_naming_the_first() {
    let dir = TempDir::new("lock");
    let a = Node::start("a", &dir, &[], &[]);
    assert!(wait_for(UP, || a.member_id()).is_some(), "{}", logs(&[&a]));
    let pid = a.pid().expect("running").to_string();
    // The same data dir, other ports.
    let mut b = Node::start("b", &dir, &[], &[]);
    b.data_dir = a.data_dir.clone();
    b.kill();
    b.spawn();
    let status = b.wait_exit(UP).expect("the second process exits by itself");
    assert!(!status.success());
    let log = std::fs::read_to_string(&b.log).unwrap_or_default();
    assert!(
        log.contains("in use by process") && log.contains(&pid),
        "{log}"
    );
    // The first keeps its id and keeps serving.
    assert!(a.member_id().is_some(), "{}", logs(&[&a]));
}

#[test]
fn a_cut_rumor_store_is_moved_aside_not_half_loaded() {
    let dir = TempDir::new("cut");
    let mut a = Node::start("a", &dir, &[], &[]);
    assert!(wait_for(UP, || a.member_id()).is_some(), "{}", logs(&[&a]));
    for (i, g) in ["web.a", "web.b", "web.c", "web.d"].iter().enumerate() {
        let body = format!("payload = \"{}\"\n", "x".repeat(200));
        let r = post_config(&a, g, i as u64 + 1, body.as_bytes());
        assert_eq!(r.map(|r| r.0), Some(200));
    }
    let status = a.signal_and_wait("TERM", UP).expect("stops");
    assert!(status.success());
    let path = a.data_dir.join("rumors.pb");
    let whole = std::fs::read(&path).expect("rumors.pb");
    std::fs::write(&path, &whole[..whole.len() - 250]).expect("cut");
    a.spawn();
    assert!(wait_for(UP, || a.member_id()).is_some(), "{}", logs(&[&a]));
    assert!(has_file_starting(&a.data_dir, "rumors.pb.corrupt-"));
    let census = a.get_json("/census").expect("census");
    assert!(
        census["groups"].as_object().is_none_or(|g| g.is_empty()),
        "nothing half-loaded: {census}"
    );
    let log = std::fs::read_to_string(&a.log).unwrap_or_default();
    assert!(
        log.contains("truncated"),
        "the reason is logged: {}",
        a.log_tail()
    );
}

/// A tmpfs of 1 MiB as the data dir (needs root and `mount`; skipped with a message otherwise).
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(at: std::path::PathBuf) -> Option<SmallDisk> {
        std::fs::create_dir_all(&at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs"])
            .arg(&at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk(at))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_answered_507_and_leaves_no_temp_file() {
    let dir = TempDir::new("full");
    let Some(disk) = SmallDisk::mount(dir.join("disk")) else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root); full-disk test not run");
        return;
    };
    let mut a = Node::start("a", &dir, &[], &[]);
    a.kill();
    a.data_dir = disk.0.join("a");
    a.spawn();
    assert!(wait_for(UP, || a.member_id()).is_some(), "{}", logs(&[&a]));
    // 48 KiB configs into a 1 MiB disk: the store outgrows it within ~20.
    let body = vec![b'x'; 48 * 1024];
    let mut answers = Vec::new();
    for i in 0..40u64 {
        let r = post_config(&a, &format!("big.g{i}"), 1, &body);
        let status = r.as_ref().map(|r| r.0);
        answers.push(status);
        if status == Some(507) {
            let why = r.map(|r| r.1).unwrap_or_default();
            assert!(why.contains("not on disk"), "{why}");
            break;
        }
        assert_eq!(status, Some(200), "until the disk fills: {answers:?}");
    }
    assert_eq!(
        answers.last(),
        Some(&Some(507)),
        "{answers:?}\n{}",
        logs(&[&a])
    );
    let tmp = std::fs::read_dir(&a.data_dir)
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count();
    assert_eq!(tmp, 0, "no temp file left behind");
    let status = a.signal_and_wait("TERM", UP).expect("stops");
    assert!(
        !status.success(),
        "the final save failed, so the exit status says so"
    );
    assert!(
        std::fs::read_to_string(&a.log)
            .unwrap_or_default()
            .contains("final save failed"),
        "{}",
        a.log_tail()
    );
}
