//! Attacks on a ring with a key, in the in-test network (engines driven only through the public
//! API): replayed sealed datagrams (attack #6) — an attacker who recorded a member's datagrams
//! and replays them after the member died must not keep it Alive — and an insider holding the
//! key who forges refutations for a dead member, which must not keep it Alive either.

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

/// A datagram an insider holding the ring key seals: a Ping from a member of its own (at
/// 10.66.0.3) numbered `seq`, carrying `records`.
fn insider_datagram(key: &RingKey, seq: u64, records: Vec<engine::Membership>) -> Vec<u8> {
    use engine::wire::{self, Swim, SwimPayload, SwimType};
    use prost::Message as _;
    let insider = engine::Member::new(
        engine::MemberId::from_u128(0x1d51_de00),
        "10.66.0.3:9638".parse().expect("addr"),
    );
    let swim = Swim {
        r#type: SwimType::Ping as i32,
        seq: Some(seq),
        extensions: None,
        membership: records.iter().map(wire::Membership::from).collect(),
        payload: Some(SwimPayload::Ping(wire::Ping {
            from: Some(wire::Member::from(&insider)),
            ..Default::default()
        })),
    };
    let mut nonce = [0u8; 24];
    nonce[..8].copy_from_slice(&seq.to_be_bytes());
    engine::crypto::seal_wire(&Keyring::single(key.clone()), &swim.encode_to_vec(), nonce)
}

fn ring_key() -> RingKey {
    RingKey::from_bytes("ring-20260101000000".parse().expect("name"), [9; 32])
}

/// Member 3 of four crashes; for 40 s an attacker sends the others, every 500 ms, a record
/// claiming 3 Alive at an incarnation one higher each time (a forged refutation). The health
/// each live member holds 3 in at the end.
fn forged_refutations_of_a_dead_member(keyed: bool) -> Vec<Option<Health>> {
    let mut net = if keyed {
        keyed_ring(4, 13)
    } else {
        Net::new(4, 13)
    };
    net.run_for(Duration::from_secs(20));
    net.crashed.insert(3);
    let dead = engine::Member::new(common::id(3), addr(3));
    let stranger: std::net::SocketAddr = "10.66.0.3:9638".parse().expect("addr");
    for k in 1..=80u64 {
        let claim = engine::Membership {
            member: engine::Member {
                incarnation: engine::Incarnation(k),
                ..dead
            },
            health: Health::Alive,
        };
        let bytes = if keyed {
            insider_datagram(&ring_key(), k, vec![claim])
        } else {
            engine::wire::seal_plain(&engine::wire::Swim {
                r#type: engine::wire::SwimType::Ping as i32,
                seq: None,
                extensions: None,
                membership: vec![engine::wire::Membership::from(&claim)],
                payload: Some(engine::wire::SwimPayload::Ping(engine::wire::Ping {
                    from: Some(engine::wire::Member::from(&engine::Member::new(
                        engine::MemberId::from_u128(0x1d51_de00),
                        stranger,
                    ))),
                    ..Default::default()
                })),
            })
        };
        for i in 0..3 {
            net.nodes[i].handle_datagram(stranger, &bytes);
            net.flush(i);
        }
        net.run_for(Duration::from_millis(500));
    }
    (0..3).map(|i| net.health(i, 3)).collect()
}

#[test]
fn with_a_ring_key_a_member_cannot_refute_for_a_dead_one() {
    let keyed = forged_refutations_of_a_dead_member(true);
    assert!(
        keyed.iter().all(|h| *h == Some(Health::Confirmed)),
        "the dead member is confirmed despite the forged refutations: {keyed:?}"
    );
    // Without a ring key anyone speaks for anyone: the same forgeries keep it from being
    // confirmed everywhere (what the check above prevents).
    let open = forged_refutations_of_a_dead_member(false);
    assert!(
        open.iter().any(|h| *h != Some(Health::Confirmed)),
        "unkeyed: {open:?}"
    );
}

#[test]
fn with_a_ring_key_a_real_refutation_is_still_believed() {
    let mut net = keyed_ring(4, 14);
    net.run_for(Duration::from_secs(15));
    // An insider accuses member 2 (Suspect at its incarnation) to members 0 and 1.
    let held = net.nodes[0]
        .members()
        .get(common::id(2))
        .expect("2 is known");
    let stranger: std::net::SocketAddr = "10.66.0.3:9638".parse().expect("addr");
    let accusation = engine::Membership {
        health: Health::Suspect,
        ..held
    };
    let bytes = insider_datagram(&ring_key(), 1, vec![accusation]);
    for i in 0..2 {
        net.nodes[i].handle_datagram(stranger, &bytes);
        net.flush(i);
    }
    net.run_for(Duration::from_secs(30));
    for i in (0..4).filter(|&i| i != 2) {
        assert_eq!(net.health(i, 2), Some(Health::Alive), "{i} about 2");
    }
    assert!(
        net.nodes[2].metrics().refutations >= 1,
        "2 refuted the accusation"
    );
    let checked: u64 = (0..4)
        .map(|i| net.nodes[i].metrics().refutations_checked)
        .sum();
    assert!(
        checked >= 1,
        "second-hand news of the refutation was checked with 2"
    );
}
