//! Real `engine-node` processes on loopback: a three-node ring forms, a killed member is
//! Confirmed, comes back with its data dir under the same id, and a SIGTERM departs cleanly.

mod common;

use std::time::{Duration, Instant};

use common::{all_hold, cli, logs, wait_for, Node, TempDir};

/// `--preset local`: 0.5 s periods, 0.4 s of probe timeouts, 2 s suspicion. With two
/// observers probing in turn, a dead member is Suspect within about two periods and Confirmed
/// 2 s later; 10 s leaves room for a loaded CI machine.
const CONFIRM_BOUND: Duration = Duration::from_secs(10);
const CONVERGE: Duration = Duration::from_secs(20);

#[test]
fn three_nodes_form_a_ring_detect_a_kill_and_take_it_back() {
    let dir = TempDir::new("ring");
    let a = Node::start("a", &dir, &[], &[]);
    let b = Node::start("b", &dir, &[a.gossip], &[]);
    let mut c = Node::start("c", &dir, &[a.gossip], &[]);
    let ids: Vec<String> = [&a, &b, &c]
        .iter()
        .map(|n| wait_for(CONVERGE, || n.member_id()).unwrap_or_else(|| panic!("{}", logs(&[n]))))
        .collect();

    let formed = wait_for(CONVERGE, || {
        all_hold(&[&a, &b, &c], &ids, "Alive").then_some(())
    });
    assert!(
        formed.is_some(),
        "ring did not form\n{}",
        logs(&[&a, &b, &c])
    );

    // The operator's view through the CLI.
    let (code, out, err) = cli(&["members", "--http", &a.http.to_string()], &[]);
    assert_eq!(code, 0, "{err}");
    for id in &ids {
        assert!(out.contains(id.as_str()), "{out}");
    }
    assert_eq!(out.matches("Alive").count(), 3, "{out}");
    println!("engine-node members:\n{out}");

    // SIGKILL c: a and b must hold it Confirmed within the preset's bounds.
    let c_id = ids[2].clone();
    let (_, inc_before) = a.health_of(&c_id).expect("a knows c");
    c.kill();
    let killed = Instant::now();
    let confirmed = wait_for(CONFIRM_BOUND, || {
        all_hold(&[&a, &b], std::slice::from_ref(&c_id), "Confirmed").then_some(())
    });
    assert!(
        confirmed.is_some(),
        "c not Confirmed within {CONFIRM_BOUND:?}\n{}",
        logs(&[&a, &b])
    );
    println!(
        "kill -> Confirmed on both survivors: {:?}",
        killed.elapsed()
    );

    // Restart c with its data dir: same id, higher incarnation, Alive everywhere again.
    c.spawn();
    let back = wait_for(CONVERGE, || {
        (c.member_id().as_deref() == Some(c_id.as_str()) && all_hold(&[&a, &b, &c], &ids, "Alive"))
            .then_some(())
    });
    assert!(
        back.is_some(),
        "c did not come back\n{}",
        logs(&[&a, &b, &c])
    );
    let (_, inc_after) = a.health_of(&c_id).expect("a knows c");
    assert!(
        inc_after > inc_before,
        "incarnation {inc_after} not above {inc_before}"
    );
}

#[test]
fn sigterm_departs_exits_zero_and_a_restart_rejoins() {
    let dir = TempDir::new("term");
    let a = Node::start("a", &dir, &[], &[]);
    let mut b = Node::start("b", &dir, &[a.gossip], &[]);
    let b_id = wait_for(CONVERGE, || b.member_id()).expect("b serves");
    let ids = vec![b_id.clone()];
    assert!(
        wait_for(CONVERGE, || all_hold(&[&a], &ids, "Alive").then_some(())).is_some(),
        "{}",
        logs(&[&a, &b])
    );

    let t = Instant::now();
    let status = b.signal_and_wait("TERM", Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", logs(&[&b]));
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "shutdown took {:?}",
        t.elapsed()
    );
    let departed = wait_for(Duration::from_secs(5), || {
        all_hold(&[&a], &ids, "Departed").then_some(())
    });
    assert!(
        departed.is_some(),
        "a does not hold b Departed\n{}",
        logs(&[&a, &b])
    );
    let (_, inc_departed) = a.health_of(&b_id).expect("a knows b");

    // A graceful leave is not forever: the same data dir rejoins, above the departure.
    b.spawn();
    let back = wait_for(CONVERGE, || all_hold(&[&a], &ids, "Alive").then_some(()));
    assert!(back.is_some(), "b did not rejoin\n{}", logs(&[&a, &b]));
    assert_eq!(b.member_id().as_deref(), Some(b_id.as_str()));
    assert!(a.health_of(&b_id).expect("known").1 > inc_departed);
}

#[test]
fn an_operator_departure_keeps_the_member_out() {
    // Unsigned departures, as in Butterfly (node_rumors departs with an operator key).
    let dir = TempDir::new("opdepart");
    let trust = ["--trust-unsigned-departures"];
    let a = Node::start("a", &dir, &[], &trust);
    let mut b = Node::start("b", &dir, &[a.gossip], &trust);
    let b_id = wait_for(CONVERGE, || b.member_id()).expect("b serves");
    let ids = vec![b_id.clone()];
    assert!(wait_for(CONVERGE, || all_hold(&[&a], &ids, "Alive").then_some(())).is_some());

    // Without the secret: 401 and nothing changes.
    let (code, _, err) = cli(&["depart", &b_id, "--http", &b.http.to_string()], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(b.butterfly().is_some(), "b must still serve");

    let data_dir = b.data_dir.to_string_lossy().into_owned();
    let (code, out, err) = cli(
        &[
            "depart",
            &b_id,
            "--http",
            &b.http.to_string(),
            "--data-dir",
            &data_dir,
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    // It stops with exit code 3 (departed by an operator), having told the ring.
    let status = b.wait_exit(Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(3), "{}", logs(&[&b]));
    assert!(
        wait_for(Duration::from_secs(5), || all_hold(&[&a], &ids, "Departed")
            .then_some(()))
        .is_some()
    );

    // It refuses to come back, saying why (exit code 3).
    b.spawn();
    let status = b.wait_exit(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(3), "{}", logs(&[&b]));
    let log = std::fs::read_to_string(&b.log).unwrap_or_default();
    assert!(
        log.contains("departed from the ring by an operator"),
        "{log}"
    );
}
