//! Ring encryption and sealed configs through real `engine-node` processes: an encrypted ring
//! forms and keeps a member with the wrong key out; a config sealed with `--encrypt-to` is
//! readable on the node holding the service key and "encrypted" elsewhere; the ring key is
//! rotated on a running ring through the gateway with no member ever Suspect.
#![cfg(feature = "node")]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{all_hold, cli, logs, wait_for, Node, TempDir};

const CONVERGE: Duration = Duration::from_secs(20);

fn run_cli(args: &[&str]) -> String {
    let (code, out, err) = cli(args, &[]);
    assert_eq!(code, 0, "engine-node {args:?}: {out}{err}");
    out
}

fn node_cli(node: &Node, args: &[&str]) -> String {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(node.client_args());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    run_cli(&refs)
}

/// The one file in `dir` whose name ends with `suffix`.
fn file_ending(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

fn ring_key(dir: &TempDir, sub: &str, ring: &str) -> PathBuf {
    let out = dir.join(sub);
    run_cli(&["key", "generate", ring, "--out", &out.to_string_lossy()]);
    let key = file_ending(&out, ".sym.key");
    let name = key
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    assert!(name.starts_with(&format!("{ring}-")) && name.len() == ring.len() + 1 + 14 + 8);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    key
}

fn ids_of(nodes: &[&Node]) -> Vec<String> {
    nodes
        .iter()
        .map(|n| wait_for(CONVERGE, || n.member_id()).unwrap_or_else(|| panic!("{}", logs(&[n]))))
        .collect()
}

#[test]
fn an_encrypted_ring_keeps_outsiders_out_and_seals_configs_to_the_service() {
    let dir = TempDir::new("crypto");
    let key = ring_key(&dir, "ring", "prod");
    let wrong = ring_key(&dir, "wrong", "prod");
    let keys = dir.join("keys");
    let keys_s = keys.to_string_lossy().into_owned();
    run_cli(&["key", "generate-service", "web.prod", "--out", &keys_s]);
    run_cli(&["key", "generate-user", "ops", "--out", &keys_s]);
    let svc_pub = std::fs::read_dir(&keys)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            let n = p.to_string_lossy();
            n.contains("web.prod-") && n.ends_with(".pub")
        })
        .expect("service public key");
    let find = |prefix: &str, suffix: &str| {
        std::fs::read_dir(&keys)
            .expect("list")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                let n = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                n.starts_with(prefix) && n.ends_with(suffix)
            })
            .expect("key file")
            .to_string_lossy()
            .into_owned()
    };
    let svc_sec = find("web.prod-", ".box.key");
    let user_pub = find("ops-", ".pub");
    let user_sec = find("ops-", ".box.key");
    let k = key.to_string_lossy().into_owned();

    let a = Node::start(
        "a",
        &dir,
        &[],
        &[
            "--ring-key",
            &k,
            "--service-key",
            &svc_sec,
            "--user-public-key",
            &user_pub,
        ],
    );
    let b = Node::start("b", &dir, &[a.gossip], &["--ring-key", &k]);
    let c = Node::start("c", &dir, &[a.gossip], &["--ring-key", &k]);
    let nodes = [&a, &b, &c];
    let ids = ids_of(&nodes);
    let formed = wait_for(CONVERGE, || all_hold(&nodes, &ids, "Alive").then_some(()));
    assert!(
        formed.is_some(),
        "encrypted ring did not form\n{}",
        logs(&nodes)
    );
    let rk = a.get_json("/ring-keys").expect("ring keys");
    assert_eq!(rk["keys"].as_array().map(Vec::len), Some(1), "{rk}");

    // A node with the wrong key (same ring name, other bytes) is never admitted.
    let w = wrong.to_string_lossy().into_owned();
    let d = Node::start("d", &dir, &[a.gossip, b.gossip], &["--ring-key", &w]);
    let d_id = wait_for(CONVERGE, || d.member_id()).unwrap_or_else(|| panic!("{}", logs(&[&d])));
    let deadline = Instant::now() + Duration::from_secs(6);
    while Instant::now() < deadline {
        for n in nodes {
            let bf = n.butterfly().expect("butterfly");
            assert!(
                bf["membership"].get(&d_id).is_none(),
                "{} admitted d: {bf}",
                n.name
            );
        }
        let bf = d.butterfly().expect("butterfly");
        for id in &ids {
            assert!(bf["membership"].get(id).is_none(), "d admitted {id}: {bf}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let (_, metrics) = common::http(a.http, "GET", "/metrics", &[], b"").expect("metrics");
    assert!(
        metrics.lines().any(|l| l
            .starts_with("swallowtail_dropped_input_total{reason=\"unauthenticated\"}")
            && !l.ends_with(" 0")),
        "{metrics}"
    );
    drop(d);

    // A config sealed to web.prod from ops, applied through b.
    let cfg = dir.join("web.toml");
    std::fs::write(&cfg, "password = \"s3cret\"\n").expect("write");
    let out = node_cli(
        &b,
        &[
            "config",
            "apply",
            "web.prod",
            "1",
            &cfg.to_string_lossy(),
            "--encrypt-to",
            &svc_pub.to_string_lossy(),
            "--user",
            &user_sec,
        ],
    );
    assert!(out.contains("encrypted"), "{out}");
    let spread = wait_for(CONVERGE, || {
        let on = |n: &Node| {
            n.get_json("/census")
                .map(|c| c["groups"]["web.prod"]["config"].clone())
        };
        let (ca, cb, cc) = (on(&a)?, on(&b)?, on(&c)?);
        (ca["status"] == "opened" && cb["status"] == "encrypted" && cc["status"] == "encrypted")
            .then_some((ca, cb))
    });
    let (ca, cb) =
        spread.unwrap_or_else(|| panic!("sealed config did not spread\n{}", logs(&nodes)));
    assert_eq!(ca["content"], "password = \"s3cret\"\n", "{ca}");
    assert_eq!(ca["encrypted"], true);
    assert_eq!(cb["content"], "encrypted", "{cb}");
    assert!(!cb.to_string().contains("s3cret"));

    // A file sealed to web.prod by a user a does not trust: reported, never shown.
    let eve_dir = dir.join("eve");
    let eve_s = eve_dir.to_string_lossy().into_owned();
    run_cli(&["key", "generate-user", "eve", "--out", &eve_s]);
    let eve_sec = file_ending(&eve_dir, ".box.key");
    let file = dir.join("motd.txt");
    std::fs::write(&file, "from eve\n").expect("write");
    node_cli(
        &c,
        &[
            "file",
            "upload",
            "web.prod",
            "1",
            &file.to_string_lossy(),
            "--encrypt-to",
            &svc_pub.to_string_lossy(),
            "--user",
            &eve_sec.to_string_lossy(),
        ],
    );
    let unreadable = wait_for(CONVERGE, || {
        let f = a.get_json("/census")?["groups"]["web.prod"]["files"]["motd.txt"].clone();
        (f["status"] == "unreadable").then_some(f)
    });
    let f = unreadable.unwrap_or_else(|| panic!("{}", logs(&nodes)));
    assert!(f.get("content").is_none(), "{f}");
    assert!(
        f["error"].as_str().is_some_and(|e| e.contains("eve-")),
        "{f}"
    );
    let log = std::fs::read_to_string(&a.log).unwrap_or_default();
    assert!(log.contains("sealed payload cannot be opened"), "{log}");
}

#[test]
fn the_ring_key_rotates_on_a_running_ring_with_no_member_ever_suspect() {
    let dir = TempDir::new("rotate");
    let old = ring_key(&dir, "old", "prod");
    // A newer revision: the key name's revision is the wall clock's second.
    std::thread::sleep(Duration::from_millis(1100));
    let new = ring_key(&dir, "new", "prod");
    let new_name = new
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".sym.key").to_owned())
        .expect("name");
    let old_name = old
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".sym.key").to_owned())
        .expect("name");
    let o = old.to_string_lossy().into_owned();
    let a = Node::start("a", &dir, &[], &["--ring-key", &o]);
    let b = Node::start("b", &dir, &[a.gossip], &["--ring-key", &o]);
    let c = Node::start("c", &dir, &[a.gossip], &["--ring-key", &o]);
    let nodes = [&a, &b, &c];
    let ids = ids_of(&nodes);
    let formed = wait_for(CONVERGE, || all_hold(&nodes, &ids, "Alive").then_some(()));
    assert!(formed.is_some(), "ring did not form\n{}", logs(&nodes));

    // Watch every node's view of every member during the whole rotation.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let watched: Vec<(String, std::net::SocketAddr)> =
        nodes.iter().map(|n| (n.name.clone(), n.http)).collect();
    let watcher = {
        let (stop, seen) = (stop.clone(), seen.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                for (name, http) in &watched {
                    let Some((200, body)) = common::http(*http, "GET", "/butterfly", &[], b"")
                    else {
                        continue;
                    };
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
                        continue;
                    };
                    if let Some(m) = v["membership"].as_object() {
                        for (id, r) in m {
                            if r["health"] != "Alive" {
                                if let Ok(mut s) = seen.lock() {
                                    s.push(format!("{name} held {id} {}", r["health"]));
                                }
                            }
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let pause = || std::thread::sleep(Duration::from_secs(2));
    let n = new.to_string_lossy().into_owned();
    // 1. install the new key everywhere (old still primary), 2. use it, 3. remove the old one.
    for node in nodes {
        let out = node_cli(node, &["key", "install", &n]);
        assert!(out.contains(&new_name), "{out}");
        pause();
    }
    for node in nodes {
        let out = node_cli(node, &["key", "use", &new_name]);
        assert!(
            out.contains(&format!("\"primary\": \"{new_name}\"")),
            "{out}"
        );
        pause();
    }
    for node in nodes {
        let out = node_cli(node, &["key", "remove", &old_name]);
        assert!(!out.contains(&old_name), "{out}");
        pause();
    }
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(
        seen.is_empty(),
        "not Alive during the rotation: {seen:?}\n{}",
        logs(&nodes)
    );
    assert!(all_hold(&nodes, &ids, "Alive"), "{}", logs(&nodes));

    // Only the new key is held now: a node with just the old key is not admitted.
    let late = Node::start("late", &dir, &[a.gossip], &["--ring-key", &o]);
    let late_id = wait_for(CONVERGE, || late.member_id()).expect("late serves");
    std::thread::sleep(Duration::from_secs(4));
    let bf = a.butterfly().expect("butterfly");
    assert!(bf["membership"].get(&late_id).is_none(), "{bf}");
    let rk = b.get_json("/ring-keys").expect("keys");
    assert_eq!(rk["keys"], serde_json::json!([new_name]), "{rk}");
}
