//! Hostile and broken input: corrupt data-dir files, malformed HTTP, unauthenticated
//! mutations, garbage UDP and TCP. The node keeps serving and the ring keeps working.
#![cfg(feature = "node")]

mod common;

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use common::{all_hold, has_file_starting, http, logs, raw_exchange, wait_for, Node, TempDir};

const CONVERGE: Duration = Duration::from_secs(20);

fn metric(node: &Node, name: &str) -> Option<f64> {
    let (status, text) = http(node.http, "GET", "/metrics", &[], b"")?;
    if status != 200 {
        return None;
    }
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn corrupt_data_dir_files_are_moved_aside_and_the_node_starts() {
    let dir = TempDir::new("corrupt");
    let mut a = Node::start("a", &dir, &[], &[]);
    let id = wait_for(CONVERGE, || a.member_id()).unwrap_or_else(|| panic!("{}", logs(&[&a])));
    let status = a.signal_and_wait("TERM", Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(0));

    // Truncated state, garbage member view, a broken secret; member.json intact.
    let d = a.data_dir.clone();
    let state = std::fs::read(d.join("state.json")).expect("state.json");
    std::fs::write(d.join("state.json"), &state[..state.len() / 2]).expect("truncate");
    std::fs::write(d.join("members.json"), b"\x00\xff garbage {{{").expect("corrupt");
    std::fs::write(d.join("ctl_secret"), b"not a secret").expect("corrupt");
    a.spawn();
    let back = wait_for(CONVERGE, || a.member_id());
    assert_eq!(back.as_deref(), Some(id.as_str()), "{}", logs(&[&a]));
    for name in [
        "state.json.corrupt-",
        "members.json.corrupt-",
        "ctl_secret.corrupt-",
    ] {
        assert!(has_file_starting(&d, name), "{name} not moved aside");
    }
    // A fresh secret was made and works.
    let secret = a.secret();
    let auth = format!("Bearer {secret}");
    let (status, _) = http(
        a.http,
        "POST",
        "/depart/zz",
        &[("Authorization", &auth)],
        b"",
    )
    .expect("gateway answers");
    assert_eq!(status, 400);

    // Now a corrupt member id: a new identity, with a warning, still starting.
    let status = a.signal_and_wait("TERM", Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    std::fs::write(
        d.join("member.json"),
        b"{\"version\":1,\"member_id\":\"xyz\"}",
    )
    .expect("w");
    a.spawn();
    let new_id = wait_for(CONVERGE, || a.member_id()).expect("starts");
    assert_ne!(new_id, id);
    assert!(has_file_starting(&d, "member.json.corrupt-"));
}

#[test]
fn hostile_input_leaves_the_node_serving() {
    let dir = TempDir::new("hostile");
    let a = Node::start("a", &dir, &[], &[]);
    let b = Node::start("b", &dir, &[a.gossip], &[]);
    let ids: Vec<String> = [&a, &b]
        .iter()
        .map(|n| wait_for(CONVERGE, || n.member_id()).expect("serves"))
        .collect();
    assert!(
        wait_for(CONVERGE, || all_hold(&[&a, &b], &ids, "Alive")
            .then_some(()))
        .is_some(),
        "{}",
        logs(&[&a, &b])
    );

    // Malformed HTTP: garbage, a bad request line, an absurd header, a bad Content-Length.
    for bytes in [
        &b"\x00\x01\x02garbage\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"BREW /coffee HTCPCP/1.0\r\n\r\n",
        b"POST /depart/x HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    ] {
        let _ = raw_exchange(a.http, bytes);
    }
    let mut huge = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    huge.extend(vec![b'a'; 200_000]);
    huge.extend_from_slice(b"\r\n\r\n");
    let _ = raw_exchange(a.http, &huge);
    let (status, body) = http(a.http, "GET", "/nope", &[], b"").expect("answers");
    assert_eq!(status, 404);
    assert!(body.contains("\"error\""), "{body}");

    // Unauthenticated and wrongly authenticated mutations: 401, nothing changes.
    let path = format!("/depart/{}", ids[0]);
    for headers in [
        vec![],
        vec![("Authorization", "Bearer 0123456789abcdef0123456789abcdef")],
    ] {
        let (status, body) = http(a.http, "POST", &path, &headers, b"").expect("answers");
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("\"error\""), "{body}");
    }
    let (status, _) = http(a.http, "POST", "/config/web.prod?version=1", &[], b"x=1").expect("a");
    assert_eq!(status, 401);
    // Authenticated but bad: 4xx with a JSON error.
    let auth = format!("Bearer {}", a.secret());
    for (path, want) in [
        ("/depart/not-an-id", 400),
        ("/config/nogroup?version=1", 400),
        ("/config/web.prod", 400),
        ("/nothing/here", 404),
    ] {
        let (status, body) =
            http(a.http, "POST", path, &[("Authorization", &auth)], b"").expect("answers");
        assert_eq!(status, want, "{path}: {body}");
        assert!(body.contains("\"error\""), "{body}");
    }

    // Garbage UDP.
    let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for len in [0usize, 1, 7, 100, 1000, 1400, 9000, 65_000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        let _ = udp.send_to(&bytes, a.gossip);
    }
    // Garbage TCP: random bytes, a 4 GiB length prefix, a garbage frame, a half frame, and
    // a pile of idle connections.
    let garbage_frames: Vec<Vec<u8>> = vec![
        b"\x13\x37 definitely not a frame".to_vec(),
        vec![0xff, 0xff, 0xff, 0xff, 1, 2, 3],
        [&10u32.to_be_bytes()[..], b"0123456789"].concat(),
        [&100u32.to_be_bytes()[..], b"short"].concat(),
    ];
    for f in &garbage_frames {
        if let Ok(mut s) = TcpStream::connect_timeout(&a.gossip, Duration::from_secs(2)) {
            let _ = s.write_all(f);
        }
    }
    let idle: Vec<TcpStream> = (0..50)
        .filter_map(|_| TcpStream::connect_timeout(&a.gossip, Duration::from_secs(2)).ok())
        .collect();

    // Still serving, still in the ring, and the garbage was counted.
    assert!(a.butterfly().is_some(), "{}", logs(&[&a]));
    std::thread::sleep(Duration::from_secs(2));
    assert!(all_hold(&[&a, &b], &ids, "Alive"), "{}", logs(&[&a, &b]));
    let dropped = wait_for(Duration::from_secs(5), || {
        let m = metric(&a, "swallowtail_dropped_input_total{reason=\"malformed\"}")?
            + metric(&a, "swallowtail_dropped_input_total{reason=\"oversized\"}")?;
        (m > 0.0).then_some(m)
    });
    assert!(dropped.is_some(), "garbage was not counted");
    let framing = metric(&a, "swallowtail_transport_inbound_bad_framing").unwrap_or(0.0);
    assert!(framing >= 1.0, "bad framing not counted");
    drop(idle);
}

#[test]
fn a_bad_ring_key_stops_the_node_with_a_clear_error() {
    let dir = TempDir::new("ringkey");
    let key = dir.join("ring.key");
    std::fs::write(
        &key,
        "SYM-SEC-1\nswallowtail-20260101000000\n\nnot base64!\n",
    )
    .expect("write key");
    let key = key.to_string_lossy().into_owned();
    let mut a = Node::start("a", &dir, &[], &["--ring-key", &key]);
    let status = a.wait_exit(Duration::from_secs(10));
    assert_eq!(status.and_then(|s| s.code()), Some(1));
    let log = std::fs::read_to_string(&a.log).unwrap_or_default();
    assert!(log.contains("bad keys"), "{log}");
}

#[test]
fn oversized_and_bad_rumor_requests_get_json_errors_and_change_nothing() {
    let dir = TempDir::new("rumors");
    let a = Node::start("a", &dir, &[], &[]);
    wait_for(CONVERGE, || a.member_id()).expect("serves");
    let auth = format!("Bearer {}", a.secret());
    let headers = [("Authorization", auth.as_str())];
    // Above the ring's max_rumor_payload (64 KiB) but within the gateway's body limit.
    let big = vec![b'x'; 200 * 1024];
    let (status, body) =
        http(a.http, "POST", "/config/web.prod?version=1", &headers, &big).expect("answers");
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("max_rumor_payload"), "{body}");
    // Above the gateway's own limit.
    let huge = vec![b'x'; 2 * 1024 * 1024];
    let (status, body) = http(
        a.http,
        "POST",
        "/config/web.prod?version=1",
        &headers,
        &huge,
    )
    .expect("answers");
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("1048576 bytes"), "{body}");
    // Encrypted without a sealed body, a bad group, no version.
    for path in [
        "/config/web.prod?version=1&encrypted=true",
        "/config/nodot?version=1",
        "/config/web.prod",
    ] {
        let (status, body) = http(a.http, "POST", path, &headers, b"port = 1").expect("answers");
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("\"error\""), "{body}");
    }
    let census = a.get_json("/census").expect("census");
    assert_eq!(census["groups"], serde_json::json!({}), "{census}");
    // A version not newer than the one in force is refused.
    let ok = http(
        a.http,
        "POST",
        "/config/web.prod?version=2",
        &headers,
        b"a = 1",
    )
    .expect("answers");
    assert_eq!(ok.0, 200, "{}", ok.1);
    let (status, body) = http(
        a.http,
        "POST",
        "/config/web.prod?version=2",
        &headers,
        b"a = 2",
    )
    .expect("answers");
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("not newer"), "{body}");
}

#[test]
fn a_corrupt_rumor_store_is_moved_aside() {
    let dir = TempDir::new("rumorfile");
    let mut a = Node::start("a", &dir, &[], &[]);
    wait_for(CONVERGE, || a.member_id()).expect("serves");
    let status = a.signal_and_wait("TERM", Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    std::fs::write(a.data_dir.join("rumors.pb"), b"\xff\xff\xff\xff garbage").expect("corrupt");
    a.spawn();
    assert!(
        wait_for(CONVERGE, || a.member_id()).is_some(),
        "{}",
        logs(&[&a])
    );
    assert!(
        has_file_starting(&a.data_dir, "rumors.pb.corrupt-"),
        "{}",
        logs(&[&a])
    );
}
