//! The engine from the outside: a small in-test network drives several `Engine`s only through
//! the public calling contract — `handle_datagram`, `handle_stream`, `handle_timeout` in,
//! `poll_timeout`, `poll_event` and the `Outbox` out — as a production driver or the simulator
//! would. Every loop is bounded in virtual time.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::{id, Net};
use engine::{DropReason, Event, Health, MemberEventKind, ServiceGroup, ServiceSpec};

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
