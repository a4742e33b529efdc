//! Replayed sealed datagrams (attack #6): with a ring key, an attacker who recorded a member's
//! datagrams and replays them after the member died must not keep it Alive. The engines run
//! in the in-test network, driven only through the public API.

mod common;

use std::time::Duration;

use common::{addr, Net};
use engine::crypto::{Keyring, RingKey};
use engine::{DropReason, Health};

fn keyed_ring(n: usize, seed: u8) -> Net {
    let mut net = Net::new(n, seed);
    let key = RingKey::from_bytes("ring-20260101000000".parse().expect("name"), [9; 32]);
    for node in &mut net.nodes {
        node.set_ring_keys(Some(Keyring::single(key.clone())));
    }
    net
}

#[test]
fn replayed_datagrams_of_a_dead_member_do_not_keep_it_alive() {
    let mut net = keyed_ring(4, 11);
    net.run_for(Duration::from_secs(20));
    assert_eq!(net.health(0, 3), Some(Health::Alive));
    // What member 3 sent member 0 while alive: the attacker's recording.
    let recorded: Vec<Vec<u8>> = net
        .sent
        .iter()
        .filter(|(from, to, _)| *from == 3 && *to == addr(0))
        .map(|(_, _, bytes)| bytes.clone())
        .collect();
    assert!(recorded.len() > 10, "a recording to replay");
    net.crashed.insert(3);
    let dropped_before = net.nodes[0].metrics().dropped_total();
    // Replay the recording to member 0, one datagram every 100 ms, for 40 s.
    for i in 0..400 {
        net.nodes[0].handle_datagram(addr(3), &recorded[i % recorded.len()]);
        net.flush(0);
        net.run_for(Duration::from_millis(100));
    }
    assert_eq!(
        net.health(0, 3),
        Some(Health::Confirmed),
        "the dead member is confirmed"
    );
    for i in 1..3 {
        assert_eq!(net.health(i, 3), Some(Health::Confirmed));
    }
    // Every replay is dropped: as a replay, or (the few sent before the ring key was set) as
    // unauthenticated.
    let dropped = net.nodes[0].metrics().dropped_total() - dropped_before;
    assert!(dropped >= 400, "every replay dropped: {dropped}");
    let replayed = net.nodes[0].metrics().dropped(DropReason::Replayed);
    assert!(replayed >= 300, "most as replays: {replayed}");
}

#[test]
fn a_keyed_ring_with_numbered_datagrams_still_forms_and_detects() {
    let mut net = keyed_ring(5, 12);
    net.run_for(Duration::from_secs(15));
    for i in 0..5 {
        for j in (0..5).filter(|&j| j != i) {
            assert_eq!(net.health(i, j), Some(Health::Alive), "{i} about {j}");
        }
    }
    net.crashed.insert(4);
    net.run_for(Duration::from_secs(40));
    for i in 0..4 {
        assert_eq!(net.health(i, 4), Some(Health::Confirmed));
        assert_eq!(
            net.nodes[i].metrics().dropped(DropReason::Replayed),
            0,
            "no false replays"
        );
    }
}
