//! Attacks on what a stranger can reach before anything is authenticated, on real
//! `engine-node` processes with a ring key: frames that announce megabytes and never finish,
//! and one host filling the gossip port with connections. Each test performs the attack and
//! asserts the ring is unharmed: memory stays bounded, rumors keep flowing, the gateway answers.
//! Attackers connect from their own loopback addresses (127.0.0.2 and up), as another host on
//! the network would.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use common::{all_hold, cli, logs, metric, wait_for, Node, TempDir};

const CONVERGE: Duration = Duration::from_secs(20);

/// A ring key in `dir`, made by `engine-node key generate`.
fn ring_key(dir: &TempDir) -> PathBuf {
    let out = dir.join("keys");
    let (code, o, e) = cli(
        &["key", "generate", "attack", "--out", &out.to_string_lossy()],
        &[],
    );
    assert_eq!(code, 0, "{o}{e}");
    std::fs::read_dir(&out)
        .expect("keys")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".sym.key"))
        .expect("a ring key")
}

/// Two members with the key, Alive to each other.
fn ring(dir: &TempDir) -> (Node, Node) {
    let key = ring_key(dir);
    let key = key.to_string_lossy();
    let a = Node::start("a", dir, &[], &["--ring-key", &key]);
    let b = Node::start("b", dir, &[a.gossip], &["--ring-key", &key]);
    let ids: Vec<String> = [&a, &b]
        .iter()
        .map(|n| wait_for(CONVERGE, || n.member_id()).expect("started"))
        .collect();
    let formed = wait_for(CONVERGE, || {
        all_hold(&[&a, &b], &ids, "Alive").then_some(())
    });
    assert!(formed.is_some(), "ring did not form\n{}", logs(&[&a, &b]));
    (a, b)
}

/// A TCP connection to `to` from the loopback address 127.0.0.`host`.
fn connect_from(host: u8, to: SocketAddr) -> Option<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
    let from = SocketAddr::from(([127, 0, 0, host], 0));
    socket.bind(&from.into()).ok()?;
    socket
        .connect_timeout(&to.into(), Duration::from_secs(2))
        .ok()?;
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_millis(20)))
        .ok()?;
    Some(stream)
}

/// Whether the node has closed `s` (end of stream or reset; a timeout means still open).
fn is_closed(s: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match s.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

fn rss_kib(node: &Node) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.pid()?)).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The config version `node` holds for `group`.
fn config_version(node: &Node, group: &str) -> Option<u64> {
    node.get_json("/census")?["groups"][group]["config"]["version"].as_u64()
}

fn apply_config(node: &Node, dir: &TempDir, group: &str, version: u64) {
    let file = dir.join(&format!("{group}-{version}.toml"));
    std::fs::write(&file, format!("v = {version}\n")).expect("write");
    let mut args = vec!["config".to_owned(), "apply".into(), group.into()];
    args.extend([version.to_string(), file.to_string_lossy().into_owned()]);
    args.extend(node.client_args());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, o, e) = cli(&refs, &[]);
    assert_eq!(code, 0, "{o}{e}");
}

#[test]
fn frames_that_announce_megabytes_reserve_no_memory_beyond_the_budget() {
    let dir = TempDir::new("budget");
    let (a, b) = ring(&dir);
    let before = rss_kib(&a).expect("rss");
    // 100 connections from 20 hosts, each announcing a 4 MiB frame (the largest allowed) and
    // sending 64 KiB of it, then waiting.
    let chunk = vec![0x5a_u8; 64 * 1024];
    let mut held = Vec::new();
    for i in 0..100u8 {
        let Some(mut s) = connect_from(2 + i % 20, a.gossip) else {
            continue;
        };
        let mut frame = (4 * 1024 * 1024u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&chunk);
        if s.write_all(&frame).is_ok() {
            held.push(s);
        }
    }
    assert!(
        held.len() >= 90,
        "the attack ran: {} connections",
        held.len()
    );
    std::thread::sleep(Duration::from_millis(500));
    let during = rss_kib(&a).expect("rss");
    let frame_bytes = metric(&a, "swallowtail_transport_inbound_frame_bytes").unwrap_or(-1.0);
    assert!(
        (0.0..=6.0 * 1024.0 * 1024.0).contains(&frame_bytes),
        "held frame bytes within the budget: {frame_bytes}"
    );
    let refused = metric(&a, "swallowtail_transport_inbound_budget_full").unwrap_or(0.0);
    assert!(
        refused >= 90.0,
        "connections past the budget closed: {refused}"
    );
    // Unbounded, this was ~400 MB; bounded, a few MiB at most.
    assert!(
        during.saturating_sub(before) < 32 * 1024,
        "RSS grew from {before} KiB to {during} KiB"
    );
    // The ring still carries rumors both ways.
    apply_config(&b, &dir, "web.prod", 3);
    let arrived = wait_for(CONVERGE, || {
        (config_version(&a, "web.prod") == Some(3)).then_some(())
    });
    assert!(
        arrived.is_some(),
        "a config crossed the ring\n{}",
        logs(&[&a, &b])
    );
    drop(held);
}

#[test]
fn one_host_cannot_fill_the_gossip_port_and_silent_connections_are_closed() {
    let dir = TempDir::new("slots");
    let (a, b) = ring(&dir);
    // One host opens 200 connections and sends nothing.
    let mut flood: Vec<TcpStream> = (0..200).filter_map(|_| connect_from(7, a.gossip)).collect();
    assert!(
        flood.len() >= 150,
        "the attack ran: {} connections",
        flood.len()
    );
    std::thread::sleep(Duration::from_millis(500));
    let refused = metric(&a, "swallowtail_transport_inbound_source_refused").unwrap_or(0.0);
    assert!(
        refused >= 150.0,
        "a host gets its share of slots and no more: {refused}"
    );
    // Rumors still flow to the victim, and its gateway answers.
    apply_config(&b, &dir, "web.prod", 5);
    let arrived = wait_for(CONVERGE, || {
        (config_version(&a, "web.prod") == Some(5)).then_some(())
    });
    assert!(
        arrived.is_some(),
        "a config crossed the ring\n{}",
        logs(&[&a, &b])
    );
    // A connection that never sends an accepted frame is closed within the short timeout.
    let closed = wait_for(Duration::from_secs(20), || {
        flood.iter_mut().all(is_closed).then_some(())
    });
    assert!(
        closed.is_some(),
        "silent connections were closed\n{}",
        logs(&[&a])
    );
    let timed_out = metric(&a, "swallowtail_transport_inbound_untrusted_timeout").unwrap_or(0.0);
    assert!(timed_out >= 1.0, "counted: {timed_out}");
    // A member with garbage for frames is cut off at its first one.
    let mut liar = connect_from(8, a.gossip).expect("connect");
    let mut garbage = 16u32.to_be_bytes().to_vec();
    garbage.extend_from_slice(&[0xee; 16]);
    liar.write_all(&garbage).expect("send");
    let cut = wait_for(Duration::from_secs(5), || {
        is_closed(&mut liar).then_some(())
    });
    assert!(
        cut.is_some(),
        "a connection whose frame fails authentication is closed"
    );
}
