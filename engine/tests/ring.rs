//! The engine from the outside: a small in-test network drives several `Engine`s only through
//! the public calling contract — `handle_datagram`, `handle_stream`, `handle_timeout` in,
//! `poll_timeout`, `poll_event` and the `Outbox` out — as a production driver or the simulator
//! would. Every loop is bounded in virtual time.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::{id, Net};
use engine::{DropReason, Event, Health, MemberEventKind, MemberId, ServiceGroup, ServiceSpec};

#[test]
fn members_that_join_through_one_seed_all_see_each_other_alive() {
    let mut net = Net::new(6, 1);
    net.run_for(Duration::from_secs(20));
    for i in 0..6 {
        for j in (0..6).filter(|&j| j != i) {
            assert_eq!(net.health(i, j), Some(Health::Alive), "{i} about {j}");
        }
    }
    let joined = net
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Member(m) if m.kind == MemberEventKind::Joined))
        .count();
    assert_eq!(joined, 6 * 5, "each member reports each other joining once");
}

#[test]
fn a_crashed_member_is_suspected_then_confirmed_by_everyone_else() {
    let mut net = Net::new(5, 2);
    net.run_for(Duration::from_secs(20));
    net.crashed.insert(4);
    net.run_for(Duration::from_secs(60));
    for i in 0..4 {
        assert_eq!(
            net.health(i, 4),
            Some(Health::Confirmed),
            "{i} about the crashed member"
        );
        for j in (0..4).filter(|&j| j != i) {
            assert_eq!(net.health(i, j), Some(Health::Alive), "{i} about live {j}");
        }
    }
    let suspected = net.events.iter().any(|(_, e)| {
        matches!(e, Event::Member(m) if m.subject == id(4) && m.kind == MemberEventKind::Suspected)
    });
    assert!(suspected, "the crash is suspected before it is confirmed");
}

#[test]
fn the_same_seeds_send_the_same_bytes() {
    let run = |seed| {
        let mut net = Net::new(5, seed);
        net.run_for(Duration::from_secs(30));
        net.sent
    };
    let (a, b) = (run(3), run(3));
    assert!(!a.is_empty());
    assert_eq!(a, b, "same seeds and inputs, same bytes");
    assert_ne!(a, run(4), "another seed orders probes differently");
}

#[test]
fn a_config_applied_on_one_member_reaches_every_census() {
    let mut net = Net::new(5, 5);
    net.run_for(Duration::from_secs(10));
    let group: ServiceGroup = "redis.default".parse().expect("a valid group");
    for i in 0..5 {
        net.nodes[i]
            .announce_service(group.clone(), ServiceSpec::default())
            .expect("announce");
        net.flush(i);
    }
    net.nodes[2]
        .apply_config(group.clone(), 7, b"port = 6380".to_vec())
        .expect("apply");
    net.flush(2);
    net.run_for(Duration::from_secs(30));
    for i in 0..5 {
        let census = net.nodes[i]
            .census_group(&group)
            .expect("the group is known");
        assert_eq!(census.members.len(), 5, "member {i} sees every service");
        let config = census.config.expect("a config is in force");
        assert_eq!(config.incarnation.0, 7);
        assert_eq!(config.config, b"port = 6380");
    }
}

#[test]
fn a_member_that_departs_is_departed_everywhere_and_stays_out() {
    let mut net = Net::new(4, 6);
    net.run_for(Duration::from_secs(15));
    net.nodes[3].depart();
    net.flush(3);
    net.run_for(Duration::from_secs(5));
    net.crashed.insert(3);
    net.run_for(Duration::from_secs(30));
    assert!(net.nodes[3].is_departed());
    for i in 0..3 {
        assert_eq!(
            net.health(i, 3),
            Some(Health::Departed),
            "{i} about the departed member"
        );
    }
}

#[test]
fn garbage_on_either_channel_is_dropped_and_counted_not_fatal() {
    let mut net = Net::new(3, 7);
    net.run_for(Duration::from_secs(10));
    let stranger = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)), 9638);
    let inputs: [&[u8]; 4] = [
        b"",
        &[0xff; 3],
        &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
        &[0; 2000],
    ];
    for bytes in inputs {
        net.nodes[0].handle_datagram(stranger, bytes);
        net.nodes[0].handle_stream(stranger, bytes);
    }
    net.flush(0);
    let dropped = net.nodes[0].metrics().dropped_total();
    assert!(dropped >= 8, "every bad input is counted, got {dropped}");
    let reported = net
        .events
        .iter()
        .filter(|(i, e)| *i == 0 && matches!(e, Event::Dropped { .. }));
    assert!(reported.count() >= 8, "and reported as an event");
    assert!(net.nodes[0].metrics().dropped(DropReason::ALL[0]) <= dropped);
    // The ring goes on as if nothing had happened.
    net.run_for(Duration::from_secs(10));
    for i in 0..3 {
        for j in (0..3).filter(|&j| j != i) {
            assert_eq!(net.health(i, j), Some(Health::Alive));
        }
    }
}

/// Datagrams from a stranger that, together, claim `count` members nobody ever heard from
/// (at addresses where nothing answers), twenty records to a datagram.
fn invented_members(count: usize) -> Vec<Vec<u8>> {
    use engine::wire::{self, Swim, SwimPayload, SwimType};
    let stranger = engine::Member::new(
        MemberId::from_u128(0x5157_0000),
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 66, 0, 1)), 9638),
    );
    let records: Vec<wire::Membership> = (0..count)
        .map(|k| {
            let ip = Ipv4Addr::new(10, 77, (k / 250) as u8, (k % 250) as u8 + 1);
            let member = engine::Member::new(
                MemberId::from_u128(0x1_0000_0000 + k as u128),
                SocketAddr::new(IpAddr::V4(ip), 9638),
            );
            wire::Membership::from(&engine::Membership {
                member,
                health: Health::Alive,
            })
        })
        .collect();
    records
        .chunks(20)
        .map(|chunk| {
            wire::seal_plain(&Swim {
                r#type: SwimType::Ping as i32,
                seq: None,
                extensions: None,
                membership: chunk.to_vec(),
                payload: Some(SwimPayload::Ping(wire::Ping {
                    from: Some(wire::Member::from(&stranger)),
                    ..Default::default()
                })),
            })
        })
        .collect()
}

/// Seconds (virtual) from a crash until every live member holds the crashed one Confirmed,
/// in a ring of four that a stranger has first told about 500 members who do not exist; `None`
/// if that takes more than 120 s.
fn detection_among_invented_members(config: engine::Config) -> Option<u64> {
    let mut net = Net::with_config(4, 9, config);
    net.run_for(Duration::from_secs(20));
    let stranger = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 66, 0, 1)), 9638);
    for datagram in invented_members(500) {
        for i in 0..4 {
            net.nodes[i].handle_datagram(stranger, &datagram);
            net.flush(i);
        }
    }
    net.crashed.insert(3);
    for second in 1..=120 {
        net.run_for(Duration::from_secs(1));
        if (0..3).all(|i| net.health(i, 3) == Some(Health::Confirmed)) {
            for i in 0..3 {
                for j in (0..3).filter(|&j| j != i) {
                    assert_eq!(net.health(i, j), Some(Health::Alive), "{i} about {j}");
                }
            }
            return Some(second);
        }
    }
    None
}

#[test]
fn invented_members_do_not_hold_up_the_detection_of_a_real_crash() {
    let fair = detection_among_invented_members(engine::Config::local())
        .expect("the crash is confirmed within 120 s despite 500 invented members");
    // Detection in an honest ring of four takes a few seconds (`local`: 0.5 s periods, 2 s
    // suspicion, stretched by Lifeguard); the invented members may cost a few periods more.
    assert!(fair <= 20, "confirmed after {fair} s");
    // Without the rule the same attack holds detection up for much longer: the fix, not
    // luck, makes the difference.
    let unfair = detection_among_invented_members(engine::Config {
        fair_probing: false,
        ..engine::Config::local()
    });
    assert!(
        unfair.is_none_or(|s| s > 2 * fair),
        "fair {fair} s, round-robin over everyone {unfair:?} s"
    );
}

/// An operator key pair, named `ops`, from a fixed seed.
fn operator_key(seed: u64) -> engine::crypto::OperatorSecretKey {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let name = engine::crypto::KeyName::new(
        "ops",
        engine::crypto::Revision::from_unix_seconds(1_700_000_000),
    )
    .expect("name");
    engine::crypto::OperatorSecretKey::generate(name, &mut rng)
}

/// A stream frame's payload carrying the Departure of `member`, as anyone could send it.
fn departure_from_a_stranger(member: MemberId, signature: Option<[u8; 64]>) -> Vec<u8> {
    let rumor = engine::Rumor::Departure(engine::rumor::Departure {
        member_id: member,
        signature,
    });
    engine::wire::seal_plain(&engine::rumor::encode_rumor(&rumor))
}

#[test]
fn with_operator_keys_only_a_signed_departure_departs_a_member() {
    let operator = operator_key(11);
    let mut net = Net::new(4, 12);
    for node in &mut net.nodes {
        node.set_operator_keys(Some(vec![operator.public_key()]));
    }
    net.run_for(Duration::from_secs(15));
    let stranger = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 66, 0, 2)), 9638);
    // Unsigned, signed by another key, and a signature of another member's departure.
    let forged = [
        departure_from_a_stranger(id(3), None),
        departure_from_a_stranger(id(3), Some(operator_key(99).sign_departure(id(3)))),
        departure_from_a_stranger(id(3), Some(operator.sign_departure(id(2)))),
    ];
    for frame in &forged {
        for i in 0..4 {
            net.nodes[i].handle_stream(stranger, frame);
            net.flush(i);
        }
    }
    net.run_for(Duration::from_secs(10));
    for i in 0..4 {
        assert!(!net.nodes[i].is_departed(), "{i} was departed");
        assert_eq!(
            net.nodes[i].metrics().dropped(DropReason::Unsigned),
            3,
            "{i} counts each forged departure"
        );
    }
    for i in 0..3 {
        assert_eq!(net.health(i, 3), Some(Health::Alive), "{i} about 3");
    }
    // An operator command without a signature is refused too.
    assert!(matches!(
        net.nodes[0].depart_member(id(3)),
        Err(engine::RumorError::Unsigned)
    ));
    // The operator's signed departure goes through, from any member, and reaches member 3.
    net.nodes[1]
        .depart_member_signed(id(3), operator.sign_departure(id(3)))
        .expect("a signed departure");
    net.flush(1);
    net.run_for(Duration::from_secs(10));
    assert!(net.nodes[3].is_departed(), "the departed member stops");
    assert!(net.nodes[3].departed_by_operator());
    for i in 0..3 {
        assert_eq!(net.health(i, 3), Some(Health::Departed), "{i} about 3");
    }
}

#[test]
fn without_operator_keys_departures_are_taken_from_anyone_as_in_butterfly() {
    let mut net = Net::new(3, 13);
    net.run_for(Duration::from_secs(10));
    let stranger = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 66, 0, 2)), 9638);
    net.nodes[0].handle_stream(stranger, &departure_from_a_stranger(id(2), None));
    net.flush(0);
    net.run_for(Duration::from_secs(10));
    assert!(net.nodes[2].is_departed());
    assert_eq!(net.health(1, 2), Some(Health::Departed));
}
