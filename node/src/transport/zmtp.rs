//! ZMTP 3.0 (ZeroMQ's wire protocol, rfc.zeromq.org/spec/23), only as far as Butterfly uses
//! it: the NULL mechanism, a PUSH socket sending single-part messages to a PULL socket. A
//! Habitat Supervisor pushes each rumor as one message to the PULL socket bound on its gossip
//! port, and expects the same from us (`--compat habitat`).
//!
//! ```text
//!  PUSH (connects)                                  PULL (listens on the gossip port)
//!  ── greeting: FF 0*7 01 7F, 3 0, "NULL", 0 ─────▶  (64 bytes; the 0xFF is what the gossip
//!  ◀───────────── greeting: …, "NULL", as-server 1 ─   listener tells apart from a native
//!  ── READY {Socket-Type: PUSH} ──────────────────▶   length prefix)
//!  ◀──────────────────── READY {Socket-Type: PULL} ─
//!  ── message (one frame, MORE clear) ────────────▶  one `Wire`
//! ```
//!
//! Both sides write their greeting before reading the peer's (libzmq waits for our signature
//! before it sends the rest of its own). Everything read is bounded: the greeting is 64 bytes,
//! a command at most [`MAX_COMMAND`] bytes, a message at most the caller's `max` (the native
//! transport's frame limit); each read runs under the caller's timeouts. This is a small
//! implementation of our own rather than a ZeroMQ crate: those own their sockets, runtimes
//! and queues, while the gossip listener must take over a connection it already accepted and
//! whose first bytes it already read, under its own connection limits and frame budget.

use std::io;

use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes in a ZMTP 3 greeting.
pub const GREETING_LEN: usize = 64;

/// The first byte of every ZMTP greeting (a native frame never starts with it: its length
/// would pass 4 GiB).
pub const SIGNATURE_START: u8 = 0xFF;

/// The longest command (READY, and any other a peer may send) accepted, in bytes.
pub const MAX_COMMAND: usize = 4096;

const FLAG_MORE: u8 = 0x01;
const FLAG_LONG: u8 = 0x02;
const FLAG_COMMAND: u8 = 0x04;

/// Our greeting: ZMTP 3.0, mechanism NULL.
pub fn greeting(as_server: bool) -> [u8; GREETING_LEN] {
    let mut g = [0u8; GREETING_LEN];
    g[0] = SIGNATURE_START;
    g[8] = 1; // ZMTP 1.0's identity length, as libzmq sends it
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = 0;
    g[12..16].copy_from_slice(b"NULL");
    g[32] = u8::from(as_server);
    g
}

/// Checks a peer's greeting: the signature, version 3 or later, mechanism NULL.
pub fn check_greeting(g: &[u8; GREETING_LEN]) -> io::Result<()> {
    if g[0] != SIGNATURE_START || g[9] != 0x7F {
        return Err(invalid("not a ZMTP greeting"));
    }
    if g[10] < 3 {
        return Err(invalid("ZMTP before 3.0"));
    }
    let mechanism = &g[12..32];
    let name_len = mechanism.iter().position(|b| *b == 0).unwrap_or(20);
    if &mechanism[..name_len] != b"NULL" {
        return Err(invalid("ZMTP mechanism other than NULL"));
    }
    Ok(())
}

/// A READY command naming our socket type.
pub fn ready(socket_type: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(32);
    body.push(5);
    body.extend_from_slice(b"READY");
    let name = b"Socket-Type";
    body.push(name.len() as u8);
    body.extend_from_slice(name);
    body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    body.extend_from_slice(socket_type.as_bytes());
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(FLAG_COMMAND);
    out.push(body.len() as u8); // well under 256
    out.extend_from_slice(&body);
    out
}

/// The socket type a READY command's body names (`None` for another command).
pub fn parse_ready(body: &[u8]) -> io::Result<Option<String>> {
    let name_len = usize::from(*body.first().ok_or_else(|| invalid("empty command"))?);
    let name = body
        .get(1..1 + name_len)
        .ok_or_else(|| invalid("truncated command name"))?;
    if name != b"READY" {
        return Ok(None);
    }
    let mut rest = &body[1 + name_len..];
    let mut socket_type = None;
    while !rest.is_empty() {
        let n = usize::from(rest[0]);
        let key = rest
            .get(1..1 + n)
            .ok_or_else(|| invalid("truncated property"))?;
        let len_bytes: [u8; 4] = rest
            .get(1 + n..5 + n)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| invalid("truncated property"))?;
        let v = u32::from_be_bytes(len_bytes) as usize;
        let value = rest
            .get(5 + n..5 + n + v)
            .ok_or_else(|| invalid("truncated property value"))?;
        if key.eq_ignore_ascii_case(b"Socket-Type") {
            socket_type = Some(String::from_utf8_lossy(value).into_owned());
        }
        rest = &rest[5 + n + v..];
    }
    socket_type
        .map(Some)
        .ok_or_else(|| invalid("READY without Socket-Type"))
}

/// One message as a single frame.
pub fn encode_message(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 9);
    match u8::try_from(payload.len()) {
        Ok(n) => {
            out.push(0);
            out.push(n);
        }
        Err(_) => {
            out.push(FLAG_LONG);
            out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

/// A frame header: what follows and how long it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// A command (READY, PING, …) rather than a message part.
    pub command: bool,
    /// More parts of the same message follow.
    pub more: bool,
    /// Body length in bytes (as announced; not yet checked against any limit).
    pub len: u64,
}

/// Reads a frame header; `Ok(None)` on a clean end of stream before it.
pub async fn read_header<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Option<Header>> {
    let mut flags = [0u8; 1];
    if r.read(&mut flags).await? == 0 {
        return Ok(None);
    }
    let flags = flags[0];
    if flags & !(FLAG_MORE | FLAG_LONG | FLAG_COMMAND) != 0 {
        return Err(invalid("reserved ZMTP frame flags set"));
    }
    let len = if flags & FLAG_LONG != 0 {
        let mut b = [0u8; 8];
        r.read_exact(&mut b).await?;
        u64::from_be_bytes(b)
    } else {
        let mut b = [0u8; 1];
        r.read_exact(&mut b).await?;
        u64::from(b[0])
    };
    Ok(Some(Header {
        command: flags & FLAG_COMMAND != 0,
        more: flags & FLAG_MORE != 0,
        len,
    }))
}

/// Reads a body of `len` bytes, which the caller has checked against its limit; the buffer
/// grows as bytes arrive.
pub async fn read_body<R: AsyncRead + Unpin>(r: &mut R, len: usize) -> io::Result<Vec<u8>> {
    super::framing::read_body(r, len).await
}

/// Reads the command that must come next during the handshake (at most [`MAX_COMMAND`]
/// bytes) and returns the socket type of its READY.
async fn read_ready<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<String> {
    let header = read_header(r)
        .await?
        .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
    if !header.command || header.more {
        return Err(invalid("expected a READY command"));
    }
    let len = usize::try_from(header.len)
        .ok()
        .filter(|n| *n <= MAX_COMMAND)
        .ok_or_else(|| invalid("ZMTP command too long"))?;
    let body = read_body(r, len).await?;
    parse_ready(&body)?.ok_or_else(|| invalid("expected a READY command"))
}

/// The listening side's handshake, as a PULL socket, on a connection whose first `prefix`
/// bytes (at most the whole greeting) were already read. The caller bounds it in time.
pub async fn accept_pull<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut S,
    prefix: &[u8],
) -> io::Result<()> {
    if prefix.len() > GREETING_LEN {
        return Err(invalid("prefix longer than a greeting"));
    }
    conn.write_all(&greeting(true)).await?;
    let mut peer = [0u8; GREETING_LEN];
    peer[..prefix.len()].copy_from_slice(prefix);
    conn.read_exact(&mut peer[prefix.len()..]).await?;
    check_greeting(&peer)?;
    conn.write_all(&ready("PULL")).await?;
    conn.flush().await?;
    let socket_type = read_ready(conn).await?;
    if !socket_type.eq_ignore_ascii_case("PUSH") {
        return Err(invalid("a PULL socket only takes PUSH peers"));
    }
    Ok(())
}

/// The connecting side's handshake, as a PUSH socket. The caller bounds it in time.
pub async fn connect_push<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut S) -> io::Result<()> {
    conn.write_all(&greeting(false)).await?;
    conn.flush().await?;
    let mut peer = [0u8; GREETING_LEN];
    conn.read_exact(&mut peer).await?;
    check_greeting(&peer)?;
    conn.write_all(&ready("PUSH")).await?;
    conn.flush().await?;
    let socket_type = read_ready(conn).await?;
    if !socket_type.eq_ignore_ascii_case("PULL") {
        return Err(invalid("a PUSH socket only talks to PULL peers"));
    }
    Ok(())
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::transport::pool::timeout;

    #[test]
    fn greetings_check_signature_version_and_mechanism() {
        let g = greeting(false);
        check_greeting(&g).expect("ours is valid");
        let mut bad = g;
        bad[9] = 0;
        assert!(check_greeting(&bad).is_err());
        let mut old = g;
        old[10] = 2;
        assert!(check_greeting(&old).is_err());
        let mut curve = g;
        curve[12..17].copy_from_slice(b"CURVE");
        assert!(check_greeting(&curve).is_err());
        let mut long_name = g;
        long_name[12..32].copy_from_slice(&[b'N'; 20]);
        assert!(check_greeting(&long_name).is_err());
    }

    #[test]
    fn ready_round_trips_and_truncations_are_errors() {
        let frame = ready("PUSH");
        let body = &frame[2..];
        assert_eq!(parse_ready(body).expect("valid"), Some("PUSH".to_owned()));
        for cut in 0..body.len() {
            // Every truncation is an error or a clean "not READY", never a panic.
            let _ = parse_ready(&body[..cut]);
        }
        // A property announcing 4 GiB of value is refused without reading past the body.
        let mut huge = body.to_vec();
        let at = 1 + 5 + 1 + b"Socket-Type".len();
        huge[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_ready(&huge).is_err());
        let mut ping = vec![4u8];
        ping.extend_from_slice(b"PING");
        assert_eq!(parse_ready(&ping).expect("valid"), None);
    }

    #[test]
    fn messages_use_short_and_long_frames() {
        let short = encode_message(&[7; 10]);
        assert_eq!(&short[..2], &[0, 10]);
        let long = encode_message(&[7; 300]);
        assert_eq!(long[0], FLAG_LONG);
        assert_eq!(&long[1..9], &300u64.to_be_bytes());
        smol::block_on(async {
            let mut r = long.as_slice();
            let h = read_header(&mut r).await.expect("ok").expect("header");
            assert_eq!(
                h,
                Header {
                    command: false,
                    more: false,
                    len: 300
                }
            );
            let mut reserved: &[u8] = &[0x80, 1, 0];
            assert!(read_header(&mut reserved).await.is_err());
            let mut empty: &[u8] = &[];
            assert!(read_header(&mut empty).await.expect("ok").is_none());
            let mut cut: &[u8] = &[FLAG_LONG, 0, 0];
            assert!(read_header(&mut cut).await.is_err());
        });
    }

    #[test]
    fn push_and_pull_handshake_with_each_other() {
        smol::block_on(async {
            let l = smol::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let to = l.local_addr().expect("addr");
            let server = smol::spawn(async move {
                let (mut s, _) = l.accept().await.expect("accept");
                let mut prefix = [0u8; 4];
                s.read_exact(&mut prefix).await.expect("prefix");
                assert_eq!(prefix[0], SIGNATURE_START);
                accept_pull(&mut s, &prefix).await.expect("handshake");
                let h = read_header(&mut s).await.expect("ok").expect("frame");
                read_body(&mut s, h.len as usize).await.expect("body")
            });
            let mut c = smol::net::TcpStream::connect(to).await.expect("connect");
            timeout(Duration::from_secs(5), connect_push(&mut c))
                .await
                .expect("in time")
                .expect("handshake");
            c.write_all(&encode_message(b"hello")).await.expect("send");
            let got = timeout(Duration::from_secs(5), server)
                .await
                .expect("in time");
            assert_eq!(got, b"hello");
        });
    }

    #[test]
    fn a_peer_of_the_wrong_socket_type_or_mechanism_is_refused() {
        smol::block_on(async {
            // A PULL peer answering a PULL: refused.
            let (a, b) = smol_pair().await;
            let (mut a, mut b) = (a, b);
            let server = smol::spawn(async move { accept_pull(&mut b, &[]).await });
            a.write_all(&greeting(false)).await.expect("greeting");
            a.write_all(&ready("PULL")).await.expect("ready");
            let r = timeout(Duration::from_secs(5), server)
                .await
                .expect("in time");
            assert!(r.is_err());
            // A greeting that never ends: the caller's timeout ends it.
            let (mut a, mut b) = smol_pair().await;
            a.write_all(&[SIGNATURE_START, 0, 0]).await.expect("start");
            let r = timeout(Duration::from_millis(200), accept_pull(&mut b, &[])).await;
            assert!(r.is_none(), "still waiting for the rest of the greeting");
        });
    }

    async fn smol_pair() -> (smol::net::TcpStream, smol::net::TcpStream) {
        let l = smol::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let to = l.local_addr().expect("addr");
        let c = smol::net::TcpStream::connect(to).await.expect("connect");
        let (s, _) = l.accept().await.expect("accept");
        (c, s)
    }
}
