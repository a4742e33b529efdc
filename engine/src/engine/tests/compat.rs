//! Habitat compatibility mode: Butterfly's datagrams (no `from.address`) are understood, and a
//! peer not known to speak the extensions only ever gets what Butterfly accepts.

use prost::Message;

use super::*;
use crate::config::Compat;
use crate::rumor::{ServiceGroup, ServiceSpec, SysInfo};
use crate::wire::{Rumor as WireRumor, RumorPayload, RumorType};

fn compat() -> Config {
    Config {
        compat: Compat::Habitat,
        max_datagram_size: 1024,
        ..local()
    }
}

/// Where the Butterfly peer of these tests lives: SWIM on 7000, gossip on 7001.
fn butterfly_swim() -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 9], 7000))
}

fn butterfly_gossip() -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 9], 7001))
}

fn butterfly_id() -> MemberId {
    MemberId::from_u128(0xbf)
}

/// A Ping as Butterfly sends it: its own record without an address.
fn butterfly_ping() -> Vec<u8> {
    wire::seal_plain(&Swim {
        r#type: SwimType::Ping as i32,
        seq: None,
        extensions: None,
        membership: vec![],
        payload: Some(SwimPayload::Ping(wire::Ping {
            from: Some(wire::Member {
                id: Some(butterfly_id().to_string()),
                incarnation: Some(0),
                address: None,
                swim_port: Some(7000),
                gossip_port: Some(7001),
                persistent: Some(false),
                departed: Some(false),
            }),
            ..Default::default()
        })),
    })
}

fn engine(config: Config) -> TestEngine {
    let clock = ManualClock::new(Instant::from_secs(1));
    Engine::new(config, member(0), [7; 32], clock, Outbox::default()).expect("valid")
}

#[test]
fn a_ping_without_from_address_is_answered_from_its_source_in_compat_mode_only() {
    let mut e = engine(compat());
    e.handle_datagram(butterfly_swim(), &butterfly_ping());
    let held = e.members().get(butterfly_id()).expect("known");
    assert_eq!(held.member.addr, butterfly_swim());
    assert_eq!(held.member.gossip_port, 7001);
    assert_eq!(held.health, Health::Alive);
    let acks: Vec<Swim> = e
        .network()
        .datagrams
        .iter()
        .filter(|(to, _)| *to == butterfly_swim())
        .map(|(_, b)| wire::open_plain(b).expect("decodes"))
        .collect();
    assert_eq!(acks.len(), 1);
    assert!(matches!(acks[0].payload, Some(SwimPayload::Ack(_))));
    assert_eq!(acks[0].extensions, Some(true));

    // Without compat mode, the same datagram is invalid, as before.
    let mut plain = engine(local());
    plain.handle_datagram(butterfly_swim(), &butterfly_ping());
    assert!(plain.members().get(butterfly_id()).is_none());
    assert_eq!(plain.metrics().dropped(DropReason::Invalid), 1);
    assert!(plain.network().datagrams.is_empty());
}

#[test]
fn compat_mode_refuses_ipv6_sources_and_records() {
    let mut e = engine(compat());
    e.handle_datagram("[fe80::1]:7000".parse().expect("addr"), &butterfly_ping());
    assert!(e.members().get(butterfly_id()).is_none());
    let record = wire::Membership {
        member: Some(wire::Member {
            id: Some(MemberId::from_u128(0x66).to_string()),
            address: Some("fe80::2".into()),
            swim_port: Some(1),
            gossip_port: Some(1),
            ..Default::default()
        }),
        health: None,
        accuser: None,
    };
    let mut ping = Swim::decode(
        wire::Wire::decode(butterfly_ping().as_slice())
            .expect("wire")
            .payload
            .expect("payload")
            .as_slice(),
    )
    .expect("swim");
    ping.membership.push(record);
    e.handle_datagram(butterfly_swim(), &wire::seal_plain(&ping));
    assert!(e.members().get(butterfly_id()).is_some());
    assert!(e.members().get(MemberId::from_u128(0x66)).is_none());
    // Nor does a restored view bring one in.
    let v6 = Member::new(
        MemberId::from_u128(0x67),
        "[fe80::3]:1".parse().expect("addr"),
    );
    e.insert_members([Membership {
        member: v6,
        health: Health::Alive,
    }]);
    assert!(e.members().get(MemberId::from_u128(0x67)).is_none());
}

#[test]
fn compat_members_learn_each_other_as_extension_speakers() {
    let mut ring = Ring::new(3, compat(), &[]);
    ring.run_for(Duration::from_secs(10));
    for i in 0..3 {
        for j in 0..3 {
            if i != j {
                assert_eq!(ring.health(i, j), Some(Health::Alive));
                assert!(ring.engine(i).speaks_extensions(addr(j)), "{i} knows {j}");
            }
        }
    }
}

fn group() -> ServiceGroup {
    "redis.default".parse().expect("group")
}

fn spec() -> ServiceSpec {
    ServiceSpec {
        pkg: "core/redis/7.0.0/20240101".into(),
        cfg: b"port = 6379".to_vec(),
        initialized: true,
        sys: Some(SysInfo {
            ip: "10.0.0.1".into(),
            hostname: "h0".into(),
            ..SysInfo::default()
        }),
        ..ServiceSpec::default()
    }
}

#[test]
fn a_butterfly_peer_only_gets_single_rumors_it_accepts() {
    let mut e = engine(compat());
    e.handle_datagram(butterfly_swim(), &butterfly_ping());
    e.announce_service(group(), spec()).expect("announce");
    e.apply_config(group(), 3, b"a = 1".to_vec())
        .expect("config");
    e.depart_member(MemberId::from_u128(0x77)).expect("depart");
    let mut frames = Vec::new();
    let mut datagrams = Vec::new();
    let mut pass = |e: &mut TestEngine| {
        let out = std::mem::take(e.network_mut());
        frames.extend(out.streams);
        datagrams.extend(out.datagrams);
    };
    for step in 0..200 {
        if step == 100 {
            e.withdraw_service(&group()).expect("withdraw");
        }
        e.clock().advance(Duration::from_millis(50));
        e.handle_timeout();
        pass(&mut e);
        // The Butterfly peer answers every Ping, as Butterfly does.
        e.handle_datagram(butterfly_swim(), &butterfly_ping());
        pass(&mut e);
    }
    let kinds: Vec<(i32, String)> = frames
        .iter()
        .filter(|(to, _)| *to == butterfly_gossip())
        .map(|(_, b)| {
            let r: WireRumor = wire::open_plain(b).expect("decodes");
            let from = r.from_id.clone().expect("from_id always set");
            match (&r.payload, RumorType::try_from(r.r#type)) {
                (Some(RumorPayload::Service(s)), Ok(RumorType::Service)) => {
                    assert_eq!(s.withdrawn, None, "no tombstone");
                    assert!(s.pkg.is_some() && s.sys.is_some());
                    assert_eq!(from, id(0).to_string(), "the service's member");
                }
                (Some(RumorPayload::ServiceConfig(_)), Ok(RumorType::ServiceConfig)) => {}
                (Some(RumorPayload::Departure(_)), Ok(RumorType::Departure)) => {
                    assert_eq!(from, "butterflyclient");
                }
                (Some(RumorPayload::Member(_)), Ok(RumorType::Member)) => {}
                other => panic!("sent to Butterfly: {other:?}"),
            }
            (r.r#type, from)
        })
        .collect();
    for kind in [
        RumorType::Service,
        RumorType::ServiceConfig,
        RumorType::Departure,
    ] {
        assert!(
            kinds.iter().any(|(t, _)| *t == kind as i32),
            "{kind:?} reached the Butterfly peer: {kinds:?}"
        );
    }
    for (to, bytes) in &datagrams {
        assert!(bytes.len() <= 1024);
        if *to == butterfly_swim() {
            let s: Swim = wire::open_plain(bytes).expect("decodes");
            assert!(s.r#type <= SwimType::ProbePing as i32, "{s:?}");
        }
    }
    assert!(
        e.metrics().compat_withheld > 0,
        "the tombstone was withheld"
    );
}

#[test]
fn an_election_naming_us_as_candidate_in_from_id_is_applied() {
    // Butterfly sends an election with from_id = its candidate, which may be us.
    let mut e = engine(compat());
    e.handle_datagram(butterfly_swim(), &butterfly_ping());
    let election = WireRumor {
        r#type: RumorType::Election as i32,
        tag: vec![],
        from_id: Some(id(0).to_string()),
        payload: Some(RumorPayload::Election(wire::Election {
            member_id: Some(id(0).to_string()),
            service_group: Some("redis.default".into()),
            term: Some(0),
            suitability: Some(0),
            status: Some(wire::ElectionStatus::Running as i32),
            votes: vec![id(0).to_string(), butterfly_id().to_string()],
        })),
    };
    e.handle_stream(butterfly_gossip(), &wire::seal_plain(&election));
    assert_eq!(e.metrics().dropped(DropReason::NotForUs), 0);
    assert!(e
        .election(crate::rumor::ElectionKind::Leader, &group())
        .is_some());
}
