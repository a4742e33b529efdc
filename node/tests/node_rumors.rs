//! Rumors through real `engine-node` processes: a config applied through one node is served
//! by `/census` on every node, files and services spread, the rumor store survives a restart,
//! and an operator's departure of another member stops it for good.

mod common;

use std::time::Duration;

use common::{all_hold, cli, formed, logs, wait_for, Node, TempDir};
use serde_json::Value;

const CONVERGE: Duration = Duration::from_secs(20);

fn config_content(n: &Node, group: &str) -> Option<String> {
    let c = n.get_json("/census")?;
    Some(c["groups"][group]["config"]["content"].as_str()?.to_owned())
}

fn run_cli(node: &Node, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(node.client_args());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    cli(&refs, &[])
}

#[test]
fn a_config_applied_through_one_node_is_in_every_census() {
    let dir = TempDir::new("census");
    let (public, secret) = operator_keys(&dir);
    let trust = ["--operator-key", public.as_str()];
    let a = Node::start("a", &dir, &[], &trust);
    let b = Node::start(
        "b",
        &dir,
        &[a.gossip],
        &["--service", "web.prod", "--operator-key", public.as_str()],
    );
    let mut c = Node::start("c", &dir, &[a.gossip], &trust);
    let nodes = [&a, &b, &c];
    let ids = formed(&nodes, CONVERGE);

    // Config through a (the CLI), file through c.
    let cfg = dir.join("web.toml");
    std::fs::write(&cfg, "port = 8080\n").expect("write");
    let (code, out, err) = run_cli(
        &a,
        &["config", "apply", "web.prod", "3", &cfg.to_string_lossy()],
    );
    assert_eq!(code, 0, "{out}{err}");
    let file = dir.join("motd.txt");
    std::fs::write(&file, "hello\n").expect("write");
    let (code, out, err) = run_cli(
        &c,
        &["file", "upload", "web.prod", "1", &file.to_string_lossy()],
    );
    assert_eq!(code, 0, "{out}{err}");

    let everywhere = wait_for(CONVERGE, || {
        nodes
            .iter()
            .all(|n| {
                let Some(census) = n.get_json("/census") else {
                    return false;
                };
                let g = &census["groups"]["web.prod"];
                g["config"]["content"] == "port = 8080\n"
                    && g["config"]["version"] == 3
                    && g["files"]["motd.txt"]["content"] == "hello\n"
                    && g["members"]
                        .as_array()
                        .is_some_and(|m| m.iter().any(|r| r["member_id"] == ids[1].as_str()))
            })
            .then_some(())
    });
    assert!(
        everywhere.is_some(),
        "config/file/service not everywhere: {:?}\n{}",
        c.get_json("/census"),
        logs(&nodes)
    );
    let bf = c.butterfly().expect("butterfly");
    assert_eq!(bf["configs"]["web.prod"]["version"], 3, "{bf}");
    assert!(
        bf["services"]["web.prod"][ids[1].as_str()].is_object(),
        "{bf}"
    );
    assert!(
        bf["elections"].is_array() && bf["departures"].is_array(),
        "{bf}"
    );
    let services = a.get_json("/services").expect("services");
    assert!(
        services["services"]
            .as_array()
            .is_some_and(|s| s.len() == 1),
        "{services}"
    );
    let (_, metrics) = common::http(a.http, "GET", "/metrics", &[], b"").expect("metrics");
    assert!(
        metrics.contains("swallowtail_rumors{kind=\"service_config\"} 1"),
        "{metrics}"
    );

    withdrawn_services_leave_every_census(&nodes, &b);
    the_rumor_store_survives_a_restart(&a, &b, &mut c, &ids);
    an_operator_departure_stops_the_member_for_good(&a, &b, &mut c, &ids, &secret);
}

/// An operator key pair made by `engine-node key generate-operator`: the public and the
/// secret file.
fn operator_keys(dir: &TempDir) -> (String, String) {
    let out = dir.join("operator");
    let (code, stdout, err) = common::cli(
        &[
            "key",
            "generate-operator",
            "ops",
            "--out",
            &out.to_string_lossy(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{stdout}{err}");
    let find = |suffix: &str| {
        std::fs::read_dir(&out)
            .expect("the key folder")
            .filter_map(Result::ok)
            .map(|e| e.path().to_string_lossy().into_owned())
            .find(|p| p.ends_with(suffix) && !(suffix == ".pub" && p.ends_with(".sig.key")))
            .unwrap_or_else(|| panic!("no {suffix} in {}", out.display()))
    };
    (find(".pub"), find(".sig.key"))
}

/// Withdraw b's service through the CLI: it leaves every census.
fn withdrawn_services_leave_every_census(nodes: &[&Node; 3], b: &Node) {
    let (code, out, err) = run_cli(b, &["service", "withdraw", "web.prod"]);
    assert_eq!(code, 0, "{out}{err}");
    let gone = wait_for(CONVERGE, || {
        nodes
            .iter()
            .all(|n| {
                n.get_json("/census").is_some_and(|c| {
                    c["groups"]["web.prod"]["members"]
                        .as_array()
                        .is_some_and(Vec::is_empty)
                })
            })
            .then_some(())
    });
    assert!(gone.is_some(), "withdrawal did not spread\n{}", logs(nodes));
}

/// c comes back from a restart knowing the config before anyone tells it.
fn the_rumor_store_survives_a_restart(a: &Node, b: &Node, c: &mut Node, ids: &[String]) {
    let status = c.signal_and_wait("TERM", Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", logs(&[c]));
    assert!(c.data_dir.join("rumors.pb").exists());
    // Alone this time (no peers flag change needed: it rejoins, but the census is local).
    c.spawn();
    let back = wait_for(CONVERGE, || config_content(c, "web.prod"));
    assert_eq!(back.as_deref(), Some("port = 8080\n"), "{}", logs(&[c]));
    let alive = wait_for(CONVERGE, || {
        all_hold(&[a, b, c], ids, "Alive").then_some(())
    });
    assert!(alive.is_some(), "c did not rejoin\n{}", logs(&[a, b, c]));
}

/// Depart c through a: c stops with the documented code, everyone holds it Departed, and a
/// restart refuses with a clear message.
fn an_operator_departure_stops_the_member_for_good(
    a: &Node,
    b: &Node,
    c: &mut Node,
    ids: &[String],
    operator_secret: &str,
) {
    // Unsigned, the nodes refuse it (they hold an operator key).
    let (code, out, err) = run_cli(a, &["depart", &ids[2]]);
    assert_ne!(code, 0, "an unsigned departure was taken: {out}{err}");
    assert!(
        err.contains("403") && err.contains("--operator-key"),
        "{err}"
    );
    let (code, out, err) = run_cli(
        a,
        &["depart", &ids[2], "--operator-secret", operator_secret],
    );
    assert_eq!(code, 0, "{out}{err}");
    let exited = c.wait_exit(CONVERGE);
    assert_eq!(
        exited.and_then(|s| s.code()),
        Some(3),
        "c did not stop as departed\n{}",
        logs(&[c])
    );
    let departed = wait_for(CONVERGE, || {
        all_hold(&[a, b], std::slice::from_ref(&ids[2]), "Departed").then_some(())
    });
    assert!(departed.is_some(), "{}", logs(&[a, b]));
    let bf: Value = a.butterfly().expect("butterfly");
    assert!(
        bf["departures"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == ids[2].as_str())),
        "{bf}"
    );
    c.spawn();
    let again = c.wait_exit(Duration::from_secs(10));
    assert_eq!(again.and_then(|s| s.code()), Some(3), "{}", logs(&[c]));
    let log = std::fs::read_to_string(&c.log).unwrap_or_default();
    assert!(
        log.contains("departed from the ring by an operator"),
        "{log}"
    );
}

#[test]
fn a_leader_group_elects_one_leader_shown_in_every_census() {
    let dir = TempDir::new("elect");
    let flags = ["--service", "db.prod", "--topology", "leader"];
    let a = Node::start("a", &dir, &[], &flags);
    let b = Node::start("b", &dir, &[a.gossip], &flags);
    let c = Node::start("c", &dir, &[a.gossip], &flags);
    let nodes = [&a, &b, &c];
    let ids: Vec<String> = nodes
        .iter()
        .map(|n| wait_for(CONVERGE, || n.member_id()).unwrap_or_else(|| panic!("{}", logs(&[n]))))
        .collect();
    let leader = wait_for(CONVERGE, || {
        let leaders: Vec<String> = nodes
            .iter()
            .filter_map(|n| {
                let c = n.get_json("/census")?;
                let g = &c["groups"]["db.prod"];
                (g["members"].as_array()?.len() == 3)
                    .then(|| g["leader"].as_str().map(str::to_owned))?
            })
            .collect();
        (leaders.len() == 3 && leaders.iter().all(|l| *l == leaders[0])).then(|| leaders[0].clone())
    });
    let leader = leader.unwrap_or_else(|| panic!("no common leader\n{}", logs(&nodes)));
    assert!(ids.contains(&leader), "{leader} not a member");
    let bf = b.butterfly().expect("butterfly");
    let elections = bf["elections"].as_array().cloned().unwrap_or_default();
    assert!(
        elections.iter().any(|e| e["service_group"] == "db.prod"
            && e["status"] == "Finished"
            && e["member_id"] == leader.as_str()),
        "{bf}"
    );
}
