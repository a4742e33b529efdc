//! Golden bytes, both ways: every kind of message an engine in `compat = "habitat"` mode sends
//! to a Butterfly peer decodes with Butterfly's schema (`protoc --decode`, the schema in
//! `habitat/proto/`), with no field Butterfly does not know in a rumor; and samples encoded
//! from Butterfly's schema (`protoc --encode`) decode in swallowtail, keeping Butterfly's own
//! fields when re-encoded for relaying. And hostile ZMTP on a real node's gossip port is
//! closed at once.

mod common;
mod habitat;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use engine::config::Compat;
use engine::rumor::{
    decode_rumor, encode_rumor, Departure, Election, Rumor, Service, ServiceConfig, ServiceFile,
    SysInfo,
};
use engine::wire::{self, Swim, SwimPayload};
use engine::{
    for_butterfly, Config, Engine, Health, Incarnation, Instant, ManualClock, Member, MemberId,
    Outbox,
};
use habitat::{protoc_decode, protoc_encode};
use prost::Message;

fn payload_of(datagram: &[u8]) -> Vec<u8> {
    wire::Wire::decode(datagram)
        .expect("wire")
        .payload
        .expect("payload")
}

/// Field numbers `protoc --decode` printed as unknown (lines `N: value` or `N {`).
fn unknown_fields(text: &str) -> BTreeSet<u32> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let end = l.find([':', ' '])?;
            l[..end].parse().ok()
        })
        .collect()
}

fn butterfly_addr() -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 9], 7000))
}

/// A Ping exactly as Butterfly encodes it, from `protoc --encode`.
fn butterfly_ping() -> Vec<u8> {
    let swim = protoc_encode(
        "butterfly.swim.Swim",
        r#"type: PING
ping { from { id: "000000000000000000000000000000bf" incarnation: 0 swim_port: 7000 gossip_port: 7000 persistent: false departed: false probe_ping: false } }
membership { member { id: "000000000000000000000000000000cc" incarnation: 3 address: "10.0.0.12" swim_port: 7000 gossip_port: 7000 persistent: false departed: false } health: ALIVE }"#,
    );
    wire::Wire {
        encrypted: None,
        nonce: None,
        payload: Some(swim),
    }
    .encode_to_vec()
}

#[test]
fn every_datagram_kind_decodes_with_butterflys_schema_and_butterflys_decode_here() {
    if !habitat::protoc_available() {
        return;
    }
    let clock = ManualClock::new(Instant::from_secs(1));
    let config = Config {
        compat: Compat::Habitat,
        max_datagram_size: 1024,
        lifeguard: false,
        ..Config::local()
    };
    let me = Member::new(
        MemberId::from_u128(1),
        "10.0.0.1:9638".parse().expect("addr"),
    );
    let mut e = Engine::new(config, me, [1; 32], clock.clone(), Outbox::default()).expect("engine");

    // Butterfly's Ping (no from.address) is understood: its sender and its record are taken.
    e.handle_datagram(butterfly_addr(), &butterfly_ping());
    assert_eq!(e.metrics().dropped_total(), 0);
    let bf = MemberId::from_u128(0xbf);
    assert_eq!(
        e.members().get(bf).map(|m| (m.member.addr, m.health)),
        Some((butterfly_addr(), Health::Alive))
    );
    assert!(e.members().get(MemberId::from_u128(0xcc)).is_some());

    // A claim that 0xcc, which we hold Alive, is Confirmed: a ProbePing checks it.
    let mut sent = std::mem::take(&mut e.network_mut().datagrams);
    let confirmed = protoc_encode(
        "butterfly.swim.Swim",
        r#"type: PING
ping { from { id: "000000000000000000000000000000bf" incarnation: 0 swim_port: 7000 gossip_port: 7000 } }
membership { member { id: "000000000000000000000000000000cc" incarnation: 3 address: "10.0.0.12" swim_port: 7000 gossip_port: 7000 } health: CONFIRMED }"#,
    );
    let wire_bytes = wire::Wire {
        payload: Some(confirmed),
        ..Default::default()
    }
    .encode_to_vec();
    e.handle_datagram(butterfly_addr(), &wire_bytes);
    sent.append(&mut e.network_mut().datagrams);
    // Then let both stay silent: Pings, PingReqs.
    for _ in 0..400 {
        clock.advance(Duration::from_millis(10));
        e.handle_timeout();
        sent.append(&mut e.network_mut().datagrams);
    }

    let mut kinds = BTreeSet::new();
    for (_, d) in &sent {
        assert!(d.len() <= 1024);
        protoc_decode("butterfly.common.Wire", d).expect("a Wire for Butterfly");
        let text = protoc_decode("butterfly.swim.Swim", &payload_of(d))
            .unwrap_or_else(|e| panic!("Butterfly cannot decode {d:?}: {e}"));
        let kind = text.lines().next().unwrap_or_default().to_owned();
        // Only fields Butterfly's decoder skips: the view and rumor hashes (3, 4 of Ping and
        // Ack; 3 of Membership is the accuser), and the extension marker (17).
        let unknown = unknown_fields(&text);
        assert!(unknown.is_subset(&BTreeSet::from([3, 4, 17])), "{text}");
        kinds.insert(kind);
    }
    for k in [
        "type: PING",
        "type: ACK",
        "type: PINGREQ",
        "type: PROBEPING",
    ] {
        assert!(kinds.contains(k), "{k} not sent: {kinds:?}");
    }
    // And swallowtail decodes them back, of course.
    for (_, d) in &sent {
        wire::open_plain::<Swim>(d).expect("ours");
    }
    // Butterfly's ProbePing (from.probe_ping = true, field 8) and its Ack without address.
    for text in [
        r#"type: PROBEPING
probeping { from { id: "000000000000000000000000000000bf" incarnation: 0 swim_port: 7000 gossip_port: 7000 probe_ping: true } }"#,
        r#"type: ACK
ack { from { id: "000000000000000000000000000000bf" incarnation: 0 swim_port: 7000 gossip_port: 7000 } }"#,
    ] {
        let bytes = wire::Wire {
            payload: Some(protoc_encode("butterfly.swim.Swim", text)),
            ..Default::default()
        }
        .encode_to_vec();
        let before = e.metrics().dropped_total();
        e.handle_datagram(butterfly_addr(), &bytes);
        assert_eq!(e.metrics().dropped_total(), before, "{text}");
        let s: Swim = wire::open_plain(&bytes).expect("decodes");
        assert!(matches!(
            s.payload,
            Some(SwimPayload::ProbePing(_) | SwimPayload::Ack(_))
        ));
    }
}

fn group(s: &str) -> engine::ServiceGroup {
    s.parse().expect("group")
}

#[test]
fn every_rumor_kind_decodes_with_butterflys_schema_and_butterflys_decode_here() {
    if !habitat::protoc_available() {
        return;
    }
    let me = MemberId::from_u128(1).to_string();
    let member = MemberId::from_u128(2);
    let service = Rumor::Service(Service {
        member_id: member,
        group: group("shop.prod#redis.default@acme"),
        incarnation: Incarnation(4),
        initialized: true,
        pkg: "core/redis/7.2.4/20240305120000".into(),
        pkg_incarnation: 9,
        cfg: b"port = 6379\n".to_vec(),
        sys: Some(Box::new(SysInfo {
            ip: "10.0.0.2".into(),
            hostname: "h2".into(),
            gossip_ip: "10.0.0.2".into(),
            gossip_port: 9638,
            http_gateway_ip: "10.0.0.2".into(),
            http_gateway_port: 9631,
            ctl_gateway_ip: Some("127.0.0.1".into()),
            ctl_gateway_port: Some(9632),
        })),
        withdrawn: false,
    });
    let election = Election::new(member, group("redis.default"), 2, 7);
    let rumors = [
        (service.clone(), "Service", member.to_string()),
        (
            Rumor::ServiceConfig(ServiceConfig {
                group: group("redis.default"),
                incarnation: Incarnation(3),
                encrypted: false,
                config: b"a = 1".to_vec(),
            }),
            "ServiceConfig",
            me.clone(),
        ),
        (
            Rumor::ServiceFile(ServiceFile {
                group: group("redis.default"),
                incarnation: Incarnation(1),
                encrypted: false,
                filename: "motd".into(),
                body: b"hi".to_vec(),
            }),
            "ServiceFile",
            me.clone(),
        ),
        (
            Rumor::Election(election.clone()),
            "Election",
            member.to_string(),
        ),
        (
            Rumor::ElectionUpdate(election),
            "ElectionUpdate",
            member.to_string(),
        ),
        (
            Rumor::Departure(Departure {
                member_id: member,
                signature: None,
            }),
            "Departure",
            "butterflyclient".to_string(),
        ),
    ];
    for (rumor, kind, from_id) in rumors {
        let sent = for_butterfly(encode_rumor(&rumor), &me).expect("sent to Butterfly");
        let bytes = wire::seal_plain(&sent);
        let text = protoc_decode("butterfly.newscast.Rumor", &payload_of(&bytes))
            .unwrap_or_else(|e| panic!("Butterfly cannot decode {kind}: {e}"));
        assert!(text.starts_with(&format!("type: {kind}\n")), "{text}");
        assert!(text.contains(&format!("from_id: \"{from_id}\"")), "{text}");
        assert!(
            unknown_fields(&text).is_empty(),
            "unknown to Butterfly: {text}"
        );
    }
    // A tombstone is never sent to Butterfly.
    let Rumor::Service(mut s) = service.clone() else {
        unreachable!()
    };
    s.withdrawn = true;
    assert!(for_butterfly(encode_rumor(&Rumor::Service(s)), &me).is_none());

    // Butterfly's own encoding of each kind decodes here; a Service keeps pkg_incarnation and
    // the control gateway when re-encoded (relayed).
    let samples = [
        r#"type: Service from_id: "00000000000000000000000000000002"
service { member_id: "00000000000000000000000000000002" service_group: "shop.prod#redis.default@acme" incarnation: 4 initialized: true pkg: "core/redis/7.2.4/20240305120000" pkg_incarnation: 9 cfg: "port = 6379\n" sys { ip: "10.0.0.2" hostname: "h2" gossip_ip: "10.0.0.2" gossip_port: 9638 http_gateway_ip: "10.0.0.2" http_gateway_port: 9631 ctl_gateway_ip: "127.0.0.1" ctl_gateway_port: 9632 } }"#,
        r#"type: ServiceConfig from_id: "00000000000000000000000000000002"
service_config { service_group: "redis.default" incarnation: 3 encrypted: false config: "a = 1" }"#,
        r#"type: ServiceFile from_id: "00000000000000000000000000000002"
service_file { service_group: "redis.default" incarnation: 1 encrypted: false filename: "motd" body: "hi" }"#,
        r#"type: Election from_id: "00000000000000000000000000000002"
election { member_id: "00000000000000000000000000000002" service_group: "redis.default" term: 2 suitability: 7 status: Running votes: "00000000000000000000000000000002" }"#,
        r#"type: ElectionUpdate from_id: "00000000000000000000000000000002"
election { member_id: "00000000000000000000000000000002" service_group: "redis.default" term: 2 suitability: 7 status: Finished votes: "00000000000000000000000000000002" }"#,
        r#"type: Departure from_id: "butterflyclient"
departure { member_id: "00000000000000000000000000000002" }"#,
    ];
    for text in samples {
        let bytes = protoc_encode("butterfly.newscast.Rumor", text);
        let w = wire::Rumor::decode(bytes.as_slice()).expect("decodes");
        let typed = decode_rumor(&w)
            .expect("valid")
            .unwrap_or_else(|| panic!("not a rumor: {text}"));
        let back = encode_rumor(&typed);
        if matches!(typed, Rumor::Service(_)) {
            assert_eq!(typed, service, "Butterfly's fields kept");
            let again =
                protoc_decode("butterfly.newscast.Rumor", &back.encode_to_vec()).expect("decodes");
            assert!(again.contains("pkg_incarnation: 9"), "{again}");
            assert!(again.contains("ctl_gateway_port: 9632"), "{again}");
        }
    }
}

/// A complete ZMTP 3.0 handshake as a PUSH peer sends it (greeting, then READY).
fn zmtp_push_handshake() -> Vec<u8> {
    let mut g = vec![0u8; 64];
    g[0] = 0xFF;
    g[8] = 1;
    g[9] = 0x7F;
    g[10] = 3;
    g[12..16].copy_from_slice(b"NULL");
    let mut body = vec![5];
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    body.extend_from_slice(&4u32.to_be_bytes());
    body.extend_from_slice(b"PUSH");
    g.push(0x04);
    g.push(body.len() as u8);
    g.extend_from_slice(&body);
    g
}

/// Hostile ZMTP on a real node's gossip port: a frame announcing 2^62 bytes, a multi-part
/// message, reserved flags and a garbage message each close their connection at once, nothing
/// is allocated for them, and the node keeps serving its ring.
#[test]
fn hostile_zmtp_on_the_gossip_port_is_closed_and_counted() {
    use common::{formed, metric, raw_exchange, wait_for, Node, TempDir};
    let dir = TempDir::new("habitat-zmtp");
    let a = Node::start("a", &dir, &[], &["--compat", "habitat"]);
    let b = Node::start("b", &dir, &[a.gossip], &["--compat", "habitat"]);
    let nodes = [&a, &b];
    assert_eq!(formed(&nodes, Duration::from_secs(30)).len(), 2);

    let mut huge = zmtp_push_handshake();
    huge.push(0x02);
    huge.extend_from_slice(&(1u64 << 62).to_be_bytes());
    let mut multi = zmtp_push_handshake();
    multi.extend_from_slice(&[0x01, 3, 1, 2, 3]);
    let mut reserved = zmtp_push_handshake();
    reserved.extend_from_slice(&[0x80, 1, 0]);
    let mut wrong_socket = zmtp_push_handshake();
    let at = wrong_socket.len() - 4;
    wrong_socket[at..].copy_from_slice(b"PULL");
    for (what, bytes) in [
        ("2^62-byte frame", &huge),
        ("multi-part", &multi),
        ("reserved flags", &reserved),
        ("PULL peer", &wrong_socket),
    ] {
        let start = std::time::Instant::now();
        let reply = raw_exchange(a.gossip, bytes).expect("connects");
        // The node answered with its greeting (and READY) and closed: well before the
        // 5-second read timeout of raw_exchange.
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "{what}: kept open"
        );
        assert_eq!(reply.first(), Some(&0xFF), "{what}: a ZMTP greeting first");
    }
    let bad = wait_for(Duration::from_secs(5), || {
        metric(&a, "swallowtail_transport_inbound_bad_framing").filter(|n| *n >= 4.0)
    });
    assert!(
        bad.is_some(),
        "not counted: {:?}",
        metric(&a, "swallowtail_transport_inbound_bad_framing")
    );

    // A message the engine cannot open closes the connection too.
    let mut garbage = zmtp_push_handshake();
    garbage.extend_from_slice(&[0x00, 4, 0xde, 0xad, 0xbe, 0xef]);
    let start = std::time::Instant::now();
    raw_exchange(a.gossip, &garbage).expect("connects");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "garbage: kept open"
    );

    // The ring is unharmed.
    assert_eq!(formed(&nodes, Duration::from_secs(30)).len(), 2);
}
